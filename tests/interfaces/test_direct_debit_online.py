"""A mandate signed online, as the citizens' space calls it: the checked account and the
RUM it will carry, then the signature (the mandate active, recurrent, from today; its
PDF, the wording accepted, when and by whom, kept; the audit log); a second active
mandate is refused; a collection preview counts what ``collect`` would take. The agent
downloads the kept PDF from the mandate's page; a citizen not linked to the payer reaches
nothing."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from pypdf import PdfReader

from opsn.audit.models import AuditEvent
from opsn.citizens.models import PayerLink
from opsn.citizens.personal_data import payer_data_export
from opsn.direct_debit import online
from opsn.direct_debit.errors import DirectDebitConflict, DirectDebitError
from opsn.direct_debit.models import MandateSignature
from opsn.direct_debit.selectors import collection_preview
from opsn.direct_debit.services import collect, creditor_set
from opsn.kernel.actors import Actor
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import agent, make_account, sign_in
from tests.helpers.regies import ADMIN, TITULAIRE, make_invoice, make_payer, make_regie

CITIZEN = Actor(account="citizen:abc", name="Camille Durand", ip="192.0.2.50", kind="citizen")
CA_IBAN, CA_BIC = "FR76 3000 6000 0112 3456 7890 189", "AGRIFRPP"


@pytest.fixture
def payer(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        creditor_set(regie=regie, ics="FR72ZZZ123456", iban="FR7630001007941234567890185",
                     bic="BDFEFRPP", name="Ville de Vénissieux – cantine", actor=ADMIN)
        return make_payer(regie, "Famille Durand")


def pdf_text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in
                                         PdfReader(io.BytesIO(pdf)).pages))


def test_a_mandate_signed_online_keeps_its_pdf_and_wording(venissieux, payer):
    with in_schema(venissieux):
        with pytest.raises(DirectDebitError, match="est erroné"):
            online.prepare(payer=payer, debtor_name="Camille Durand",
                           iban="FR7630006000011234567890188", bic=CA_BIC)
        prepared = online.prepare(payer=payer, debtor_name=" Camille Durand ", iban=CA_IBAN,
                                  bic=CA_BIC)
        assert prepared["iban"] == "FR7630006000011234567890189"
        assert prepared["rum"] == f"123456-R001-{payer.pk}-1"
        mandate = online.mandate_sign(payer=payer, signer="Camille Durand", actor=CITIZEN,
                                      ip="192.0.2.50", **prepared)
        assert (mandate.rum, mandate.source, mandate.kind, mandate.status) == (
            prepared["rum"], "online", "recurrent", "active")
        assert mandate.signed_on == timezone.localdate()
        signature = MandateSignature.objects.get(mandate=mandate)
        assert "8 semaines" in signature.wording and signature.ip == "192.0.2.50"
        text = pdf_text(online.signed_pdf(mandate))
        assert mandate.rum in text and "FR72ZZZ123456" in text and "•••• 0189" in text
        assert "Signé électroniquement le" in text and "1234567890189" not in text
        event = AuditEvent.objects.get(code="sepa.mandate_signed")
        assert event.actor_kind == "citizen" and "•••• 0189" in event.summary
        export = payer_data_export(payer=payer, actor=ADMIN)["direct_debit_mandates"]
        assert export[0]["iban"] == "•••• 0189"
        assert export[0]["signed_online"]["by"] == "Camille Durand"
        with pytest.raises(DirectDebitConflict, match="déjà un mandat de prélèvement actif"):
            online.prepare(payer=payer, debtor_name="X", iban=CA_IBAN, bic=CA_BIC)


def test_a_collection_preview_counts_what_the_collection_takes(venissieux, payer):
    day = datetime.date(2026, 12, 15)
    with in_schema(venissieux):
        make_invoice(payer.regie, payer, "45.00", "12.50")
        make_invoice(payer.regie, payer, "30.00")
        assert collection_preview(payer.regie, day).count == 0  # no mandate yet
        online.mandate_sign(payer=payer, signer="Camille Durand", actor=CITIZEN,
                            **online.prepare(payer=payer, debtor_name="Camille Durand",
                                             iban=CA_IBAN, bic=CA_BIC))
        preview = collection_preview(payer.regie, day)
        assert (preview.count, preview.payers, preview.total) == (2, 1, Decimal("87.50"))
        written = collect(regie=payer.regie, collection_date=day, actor=TITULAIRE,
                          today=datetime.date(2026, 12, 7))
        assert (written.count, written.total) == (preview.count, preview.total)
        assert collection_preview(payer.regie, day).count == 0


def test_the_agent_downloads_the_signed_pdf_and_a_stranger_reaches_nothing(venissieux,
                                                                           payer):
    with in_schema(venissieux):
        mandate = online.mandate_sign(payer=payer, signer="Camille Durand", actor=CITIZEN,
                                      **online.prepare(payer=payer, debtor_name="C. Durand",
                                                       iban=CA_IBAN, bic=CA_BIC))
    client = agent(venissieux, ADMIN.account, "administrator")
    base = f"/espace/regies/R-001/payeurs/{payer.pk}/mandats/{mandate.pk}/"
    page = client.get(base)
    assert "mandat signé (PDF)" in page.content.decode()
    pdf = client.get(f"{base}mandat.pdf")
    assert pdf.status_code == 200 and mandate.rum in pdf_text(pdf.content)

    make_account("stranger@citoyen.test")
    try:
        stranger = sign_in(host_of(venissieux), "stranger@citoyen.test")
        for url in (f"/mon-espace/prelevement/{venissieux.pk}/{payer.pk}/mandat/",
                    f"/mon-espace/prelevement/{venissieux.pk}/{payer.pk}/confirmer/",
                    f"/mon-espace/prelevement/mandats/{venissieux.pk}/{mandate.pk}.pdf"):
            answer = stranger.get(url, follow=True)
            assert answer.status_code == 404, url
        assert "Aucun dossier" in stranger.get("/mon-espace/prelevement/").content.decode()
        assert not PayerLink.objects.exists()
    finally:
        get_user_model().objects.filter(email="stranger@citoyen.test").delete()
