"""The family's invoice as a PDF/UA document: every mention a commune's invoice carries,
and the yearly certificate of what was paid."""

import datetime
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError

from opsn.branding.models import CommuneProfile
from opsn.regies.errors import RegieError
from opsn.regies.invoice_documents import (
    Renderer,
    certificate_pdf,
    invoice_pdf,
    merged,
    paid_in_year,
    render_many,
)
from opsn.regies.models import Invoice, Regie
from opsn.regies.services import founding, invoicing
from opsn.regies.services.payments import payment_record, payment_reverse
from opsn.regies.typesetting import INVOICE, typeset_json
from tests.helpers.communes import host_of, in_schema
from tests.helpers.documents import is_pdf_ua, page_count, pdf_text
from tests.helpers.regies import ADMIN, MANDATAIRE, make_payer, make_regie

IBAN = "FR7630001007941234567890185"


def branded() -> None:
    CommuneProfile.objects.update(
        official_name="Ville de Vénissieux", address_line="5 avenue Marcel Houël",
        postal_code="69200", city="Vénissieux", phone="04 72 21 44 44",
        email="regies@ville-venissieux.fr", siret="21690259300005")


def canteen() -> Regie:
    regie = make_regie(accepted_modes=["cash", "cheque", "card", "transfer", "online"],
                       founding_act="arrêté n° 2020-12 du 2 janvier 2020")
    return founding.regie_amend(regie=regie, actor=ADMIN, iban="fr76 3000 1007 9412 3456 "
                                "7890 185", counter_hours="lundi à vendredi, 8 h 30 – 12 h")


def family_invoice(regie: Regie, **payer_fields) -> Invoice:
    payer = make_payer(regie, "Famille Martin", address_line="12 rue de la République",
                       postal_code="69200", city="Vénissieux", **payer_fields)
    nov = (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
    lines = [invoicing.line_draft(label="Restauration scolaire", quantity="12",
                                  unit_price="3.20", beneficiary="Léa Martin",
                                  period_start=nov[0], period_end=nov[1]),
             invoicing.line_draft(label="Accueil périscolaire", quantity="1.5",
                                  unit_price="10", beneficiary="Noé Martin",
                                  period_start=nov[0], period_end=nov[1])]
    return invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, lines=lines,
                                   number="CAN-2026-11-0042", label="Cantine de novembre",
                                   issued_on=datetime.date(2026, 12, 1),
                                   due_on=datetime.date(2026, 12, 31))


def test_the_invoice_carries_every_mention(venissieux):
    with in_schema(venissieux):
        branded()
        regie = canteen()
        invoice = family_invoice(regie)
        payment_record(regie=regie, actor=MANDATAIRE, amount="20", mode="cash",
                       payer=invoice.payer, invoices=[invoice])
        invoice.refresh_from_db()
        data = invoice_pdf(invoice)
    assert is_pdf_ua(data)
    text = " ".join(pdf_text(data).split())
    host = host_of(venissieux)
    # who sends it: the commune and its régie
    for mention in ("Ville de Vénissieux", "5 avenue Marcel Houël", "69200 Vénissieux",
                    "SIRET 21690259300005", "04 72 21 44 44", "regies@ville-venissieux.fr",
                    "Cantine et périscolaire — régie de recettes n° R-001",
                    "instituée par arrêté n° 2020-12 du 2 janvier 2020"):
        assert mention in text, mention
    # to whom, which invoice, when
    assert "Famille Martin" in text and "12 rue de la République" in text
    assert "Facture n° CAN-2026-11-0042" in text and "Cantine de novembre" in text
    assert "Date de la facture : 01/12/2026" in text
    assert "À payer avant le : 31/12/2026" in text
    # each line: what, for whom, when, how many, at what price, how much
    assert ("Restauration scolaire Léa Martin du 01/11/2026 au 30/11/2026 12 3,20 € "
            "38,40 €") in text
    assert ("Accueil périscolaire Noé Martin du 01/11/2026 au 30/11/2026 1,5 10,00 € "
            "15,00 €") in text
    assert "Montant de la facture 53,40 €" in text
    assert "Déjà payé 20,00 €" in text and "Reste à payer 33,40 €" in text
    # how to pay: online by reference (address and QR code), at the counter, by transfer
    flat = "".join(text.split())
    assert f"http://{host}/payer/?facture=CAN-2026-11-0042" in flat
    assert "En ligne, sans compte" in text
    assert "Au guichet de la régie" in text and "lundi à vendredi, 8 h 30 – 12 h" in text
    assert "espèces, chèque, carte bancaire (TPE)" in text
    assert "IBAN : FR76 3000 1007 9412 3456 7890 185" in text
    assert "Référence à indiquer dans le libellé du virement : CAN-2026-11-0042" in text
    # the link code and what it is for
    assert f"Code de rattachement : {invoice.payer.link_code}" in text
    assert "Mes rattachements" in text and "« Mes paiements »" in text
    assert f"http://{host}/mon-espace/rattachements/" in flat
    # routes of appeal and legal mentions
    assert "deux mois" in text and "L1617-5" in text
    assert "tribunal judiciaire ou le tribunal administratif" in text
    assert "comptable public assignataire : SGC de Vénissieux" in text
    assert "Données personnelles" in text


def test_the_qr_code_leads_to_the_payment_page(venissieux):
    with in_schema(venissieux):
        regie = canteen()
        invoice = family_invoice(regie)
        context = Renderer().invoice_data(invoice)["pay"]
    assert context["url"] == f"http://{host_of(venissieux)}/payer/?facture=CAN-2026-11-0042"
    assert context["qr"].startswith("<svg") and "</svg>" in context["qr"]


def test_a_paid_or_cancelled_invoice_says_so_and_offers_no_way_to_pay(venissieux):
    with in_schema(venissieux):
        regie = canteen()
        invoice = family_invoice(regie)
        payment_record(regie=regie, actor=MANDATAIRE, amount="53.40", mode="cash",
                       payer=invoice.payer, invoices=[invoice])
        invoice.refresh_from_db()
        paid = " ".join(pdf_text(invoice_pdf(invoice)).split())
        second = invoicing.invoice_issue(
            regie=regie, actor=ADMIN, payer=invoice.payer,
            lines=[invoicing.line_draft(label="Repas", unit_price="4")])
        invoicing.invoice_cancel(invoice=second, actor=ADMIN, reason="erreur de saisie")
        second.refresh_from_db()
        cancelled = " ".join(pdf_text(invoice_pdf(second)).split())
    assert "Facture payée" in paid and "Reste à payer 0,00 €" in paid
    assert "Comment payer" not in paid
    assert "Facture annulée le" in cancelled and "erreur de saisie" in cancelled
    assert "Comment payer" not in cancelled and "Reste à payer 0,00 €" in cancelled


def test_without_online_payment_or_iban_the_invoice_does_not_offer_them(venissieux):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["cash"])
        invoice = family_invoice(regie)
        text = " ".join(pdf_text(invoice_pdf(invoice)).split())
    assert "/payer/" not in text and "IBAN" not in text
    assert "Au guichet de la régie" in text and "Modes acceptés : espèces." in text


def test_the_iban_is_checked(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        with pytest.raises(RegieError, match="IBAN invalide"):
            founding.regie_amend(regie=regie, actor=ADMIN, iban="FR76 3000 1007 9412 0000")
        with pytest.raises(ValidationError):
            Regie(iban="FR7630001007941234567890100").full_clean(
                exclude=["number", "name", "accepted_modes", "cash_limit", "starts_on"])
        amended = founding.regie_amend(regie=regie, actor=ADMIN, iban=f" {IBAN.lower()} ")
    assert amended.iban == IBAN


def test_many_invoices_render_in_several_processes_as_one_pdf(venissieux):
    with in_schema(venissieux):
        regie = canteen()
        payer = make_payer(regie, "Famille Petit")
        issued = invoicing.invoices_issue(regie=regie, actor=ADMIN, drafts=[
            invoicing.InvoiceDraft(payer=payer, issued_on=datetime.date(2026, 12, 1),
                                   due_on=datetime.date(2026, 12, 31),
                                   lines=[invoicing.line_draft(label="Repas",
                                                               unit_price=f"{n + 1}")])
            for n in range(3)])
        renderer = Renderer()
        invoices = Invoice.objects.filter(pk__in=[i.pk for i in issued]).order_by("number")
        alone = list(render_many(renderer, invoices, workers=1))
        together = list(render_many(renderer, invoices, workers=2, chunk=2))
    assert [i.number for i, _ in together] == [i.number for i in issued]
    for (_, one), (_, other) in zip(alone, together, strict=True):
        assert pdf_text(one) == pdf_text(other)
        assert is_pdf_ua(other)
    batch = merged(pdf for _, pdf in together)
    assert page_count(batch) == 3
    text = " ".join(pdf_text(batch).split())
    assert all(f"Facture n° {i.number}" in text for i in issued)


def test_the_certificate_says_what_was_paid_for_whom_and_when(venissieux):
    with in_schema(venissieux):
        branded()
        regie = canteen()
        invoice = family_invoice(regie)
        payer = invoice.payer
        # 53,40 € paid in two payments; a third payment reversed counts for nothing
        payment_record(regie=regie, actor=MANDATAIRE, amount="40", mode="cash", payer=payer,
                       invoices=[invoice])
        wrong = payment_record(regie=regie, actor=MANDATAIRE, amount="13.40", mode="cash",
                               payer=payer, invoices=[invoice])
        payment_reverse(entry=wrong, actor=MANDATAIRE, reason="chèque sans provision")
        payment_record(regie=regie, actor=MANDATAIRE, amount="13.40", mode="card",
                       payer=payer, invoices=[invoice], details={"terminal_ref": "T-12"})
        year = datetime.date.today().year
        found = paid_in_year(payer, year)
        data = certificate_pdf(payer, year)
        nothing = paid_in_year(payer, year - 1)
    assert [(line.beneficiary, line.label, str(line.amount)) for line in found.lines] == [
        ("Léa Martin", "Restauration scolaire", "38.40"),
        ("Noé Martin", "Accueil périscolaire", "15.00")]
    assert str(found.total) == "53.40" and nothing.lines == []
    assert is_pdf_ua(data)
    text = pdf_text(data)
    flat = " ".join(text.split())
    assert f"Attestation de paiement — année {year}" in flat
    assert "Ville de Vénissieux" in text and "SIRET 21690259300005" in flat
    assert "Famille Martin" in text and "12 rue de la République" in flat
    assert ("Léa Martin Restauration scolaire du 01/11/2026 au 30/11/2026 CAN-2026-11-0042 "
            "38,40 €") in flat
    assert f"Total payé en {year} 53,40 €" in flat
    assert "200 quater B" in flat




def test_several_threads_typeset_invoices_at_once(venissieux):
    """The job worker and the web server typeset from several threads: each gets its PDF
    (one compiler shared by the threads raised « Already borrowed » in the demo)."""
    with in_schema(venissieux):
        data = json.dumps(Renderer().invoice_data(family_invoice(canteen())))
    with ThreadPoolExecutor(max_workers=4) as pool:
        pdfs = list(pool.map(lambda _n: typeset_json(INVOICE, data), range(12)))
    assert all(pdf.startswith(b"%PDF") for pdf in pdfs)
