"""The deposit slip (bordereau de versement) as PDF and CSV, and the receipt register
(journal à souches)."""

import datetime
import io

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from opsn.audit.models import AuditEvent
from opsn.branding.models import CommuneProfile
from opsn.regies import reports
from opsn.regies.documents import deposit_slip_pdf
from opsn.regies.errors import RegieError
from opsn.regies.exports import deposit_slip_csv
from opsn.regies.services import cashdesk
from opsn.regies.services.mailing import receipt_email
from opsn.regies.services.payments import payment_record, payment_reverse
from tests.helpers.communes import in_schema
from tests.helpers.documents import is_pdf_ua, pdf_text
from tests.helpers.regies import MANDATAIRE, TITULAIRE, make_payer, make_regie


def takings(regie):
    """Two cash payments (one cancelled), a cheque, a card payment."""
    martin = make_payer(regie, "Famille Martin")
    nguyen = make_payer(regie, "Famille Nguyễn")
    cash = payment_record(regie=regie, actor=MANDATAIRE, amount="12.50", mode="cash",
                          payer=martin)
    wrong = payment_record(regie=regie, actor=MANDATAIRE, amount="7.50", mode="cash",
                           payer=nguyen)
    cheque = payment_record(regie=regie, actor=TITULAIRE, amount="1045", mode="cheque",
                            payer=martin,
                            details={"cheque_number": "8812", "bank": "Crédit Agricole"})
    card = payment_record(regie=regie, actor=TITULAIRE, amount="30", mode="card",
                          payer=nguyen, details={"terminal_ref": "T-77"})
    reversal = payment_reverse(entry=wrong, actor=MANDATAIRE, reason="double saisie")
    return cash, wrong, cheque, card, reversal


def test_the_slip_pdf_lists_modes_totals_payments_and_reversals(venissieux):
    with in_schema(venissieux):
        CommuneProfile.objects.update(official_name="Ville de Vénissieux",
                                      siret="21690259300005")
        regie = make_regie(cash_limit="5000")
        cash, wrong, cheque, card, reversal = takings(regie)
        deposit = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        data = deposit_slip_pdf(deposit)
    assert is_pdf_ua(data)
    text = pdf_text(data)
    assert f"Bordereau de versement n° {deposit.slip}" in text
    assert "Ville de Vénissieux" in text and "SIRET 21690259300005" in text
    assert "Cantine et périscolaire" in text and "n° R-001" in text
    assert "SGC de Vénissieux" in text and "Versé par Marie Lefèvre" in text
    assert f"{timezone.localdate():%d/%m/%Y}" in text
    # per mode, the count and total
    assert "Espèces — 3 écritures, 12,50 €" in text
    assert "Chèque — 1 écriture, 1 045,00 €" in text
    assert "Carte bancaire (TPE) — 1 écriture, 30,00 €" in text
    assert "Total versé : 1 087,50 €" in text
    assert "mille quatre-vingt-sept euros et cinquante centimes" in text
    # the payments, the cheque's number and bank, the reversal negative
    for entry in (cash, wrong, cheque, card, reversal):
        assert entry.receipt in text
    assert "Famille Martin" in text and "Famille Nguyễn" in text
    assert "8812" in text and "Crédit Agricole" in text
    assert "-7,50 €" in text and f"annule la quittance {wrong.receipt}" in text
    assert f"annulée par la quittance {reversal.receipt}" in text
    assert "Le régisseur" in text and "Le comptable public" in text


def test_the_slip_csv_has_one_line_per_payment(venissieux):
    with in_schema(venissieux):
        regie = make_regie(cash_limit="5000")
        cash, wrong, cheque, card, reversal = takings(regie)
        intruder = make_payer(regie, "=HYPERLINK(\"http://x\")")
        odd = payment_record(regie=regie, actor=TITULAIRE, amount="3", mode="cash",
                             payer=intruder, external_ref="CAISSE-9")
        deposit = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        csv = deposit_slip_csv(deposit)
    day = f"{timezone.localdate():%d/%m/%Y}"
    assert csv == (
        "\ufeffquittance;date;mode;payeur;montant;cheque;banque;reference\r\n"
        f"{cash.receipt};{day};espèces;Famille Martin;12,50;;;\r\n"
        f"{wrong.receipt};{day};espèces;Famille Nguyễn;7,50;;;\r\n"
        f"{reversal.receipt};{day};espèces;Famille Nguyễn;-7,50;;;annule {wrong.receipt}\r\n"
        f"{odd.receipt};{day};espèces;\"'=HYPERLINK(\"\"http://x\"\")\";3,00;;;CAISSE-9\r\n"
        f"{cheque.receipt};{day};chèque;Famille Martin;1045,00;8812;Crédit Agricole;\r\n"
        f"{card.receipt};{day};carte bancaire (TPE);Famille Nguyễn;30,00;;;T-77\r\n")


def test_a_deposit_covers_only_its_own_payments(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        other = make_regie("R-002", "Piscine")
        payer, swimmer = make_payer(regie), make_payer(other, "Famille Petit")
        first = payment_record(regie=regie, actor=TITULAIRE, amount="10", mode="cash",
                               payer=payer)
        cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        payment_record(regie=other, actor=TITULAIRE, amount="4", mode="cash", payer=swimmer)
        second = payment_record(regie=regie, actor=TITULAIRE, amount="20", mode="cash",
                                payer=payer)
        deposit = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        assert list(reports.deposit_entries(deposit)) == [second]
        assert first.receipt not in deposit_slip_csv(deposit)


def test_the_register_lists_receipts_newest_first_with_their_reversals(venissieux):
    with in_schema(venissieux):
        regie = make_regie(cash_limit="5000")
        cash, wrong, cheque, card, reversal = takings(regie)
        register = list(reports.receipt_register(regie))
        assert [(e.receipt, e.note) for e in register] == [
            (reversal.receipt, f"annule la quittance {wrong.receipt}"),
            (card.receipt, ""), (cheque.receipt, ""),
            (wrong.receipt, f"annulée par la quittance {reversal.receipt}"),
            (cash.receipt, "")]
        assert [e.receipt for e in reports.receipt_register(regie, mode="cash")] == [
            reversal.receipt, wrong.receipt, cash.receipt]
        assert [e.receipt for e in reports.receipt_register(regie, agent=TITULAIRE.account)
                ] == [card.receipt, cheque.receipt]
        today = timezone.localdate()
        assert reports.receipt_register(regie, since=today, until=today).count() == 5
        yesterday = today - datetime.timedelta(days=1)
        assert not reports.receipt_register(regie, until=yesterday).exists()
        assert not reports.receipt_register(
            regie, since=today + datetime.timedelta(days=1)).exists()
        with pytest.raises(RegieError, match="Mode de paiement inconnu"):
            reports.receipt_register(regie, mode="bitcoin")


def test_the_receipt_goes_by_email_to_the_payer_with_its_pdf(venissieux):
    with in_schema(venissieux):
        CommuneProfile.objects.update(email="regies@ville-venissieux.fr")
        regie = make_regie()
        payer = make_payer(regie, "Famille Martin", email="martin@example.org")
        entry = payment_record(regie=regie, actor=MANDATAIRE, amount="12.50", mode="cash",
                               payer=payer)
        mail.outbox.clear()
        assert receipt_email(entry=entry, actor=MANDATAIRE) == "martin@example.org"
        [message] = mail.outbox
        assert message.to == ["martin@example.org"]
        assert message.from_email == "Mairie de Vénissieux <support@opsn.example.fr>"
        assert message.reply_to == ["regies@ville-venissieux.fr"]
        assert message.subject == f"Quittance n° {entry.receipt} — Mairie de Vénissieux"
        assert f"la quittance n° {entry.receipt} de 12,50 € (espèces)" in message.body
        assert "régie « Cantine et périscolaire » de Mairie de Vénissieux" in message.body
        [(name, content, kind)] = message.attachments
        assert (name, kind) == (f"quittance-{entry.receipt}.pdf", "application/pdf")
        assert f"Quittance n° {entry.receipt}" in pdf_text(content)
        event = AuditEvent.objects.get(code="receipt.emailed")
        assert (event.actor, event.target, event.summary) == (
            MANDATAIRE.account, f"entry:{entry.pk}",
            f"Quittance {entry.receipt} envoyée par courriel à martin@example.org")

        assert receipt_email(entry=entry, actor=MANDATAIRE, to=" autre@example.org ") == \
            "autre@example.org"
        assert mail.outbox[-1].to == ["autre@example.org"]


def test_a_receipt_without_a_valid_address_is_not_sent(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        entry = payment_record(regie=regie, actor=MANDATAIRE, amount="5", mode="cash",
                               payer=make_payer(regie, "Famille Sans Courriel"))
        counter = payment_record(regie=regie, actor=MANDATAIRE, amount="5", mode="cash",
                                 payer=make_payer(regie))
        mail.outbox.clear()
        with pytest.raises(RegieError, match="Famille Sans Courriel n'a pas d'adresse"):
            receipt_email(entry=entry, actor=MANDATAIRE)
        with pytest.raises(RegieError, match="« martin@ » n'est pas une adresse électronique"):
            receipt_email(entry=counter, actor=MANDATAIRE, to="martin@")
        with pytest.raises(RegieError, match="n'est pas une adresse"):
            receipt_email(entry=counter, actor=MANDATAIRE, to="a@b.fr\nBcc: x@y.fr")
        assert mail.outbox == []
        assert not AuditEvent.objects.filter(code="receipt.emailed").exists()


def test_the_slip_carries_the_communes_logo(venissieux, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    image = io.BytesIO()
    Image.new("RGB", (60, 60), "#1F4E79").save(image, "PNG")
    with in_schema(venissieux):
        profile = CommuneProfile.objects.get()
        profile.logo.save("logo.png", ContentFile(image.getvalue()))
        regie = make_regie()
        payment_record(regie=regie, actor=TITULAIRE, amount="5", mode="cash",
                       payer=make_payer(regie))
        data = deposit_slip_pdf(cashdesk.deposit_make(regie=regie, actor=TITULAIRE))
    assert is_pdf_ua(data)
    assert PdfReader(io.BytesIO(data)).pages[0].images
