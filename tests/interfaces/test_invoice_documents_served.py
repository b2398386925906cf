"""Where the invoice document is served: the agent's invoice page (print, e-mail, the
state of its automatic e-mail), a batch printed by a job with its progress, the payer's
yearly certificate, the commune API, and the citizen's « Mes paiements »."""

from __future__ import annotations

import datetime
import html
import re
import smtplib
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.test import Client

from opsn.agents.services import service_credential_issue
from opsn.regies.invoice_documents import Renderer
from opsn.regies.models import DocumentBatch, Invoice, InvoiceMailing
from opsn.regies.services import founding, invoicing
from opsn.regies.services.mailing import invoice_mail_new
from opsn.regies.services.payments import payment_record
from tests.helpers.citizens import family_books
from tests.helpers.communes import host_of, in_schema
from tests.helpers.documents import is_pdf_ua, page_count, pdf_text
from tests.helpers.identity import Browser, grant, make_account, sign_in
from tests.helpers.regies import ADMIN, MANDATAIRE, OPENED, make_payer, make_regie

BASE = "/espace/regies/R-001"
CITIZEN = "camille.durand@citoyen.test"


def agent_client(commune) -> Client:
    make_account(MANDATAIRE.account)
    grant(commune, MANDATAIRE.account, "mandataire")
    return sign_in(host_of(commune), MANDATAIRE.account)


def text_of(response) -> str:
    content = response.content.decode().replace("\u202f", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", content)))


def issue(regie, payer, number: str, amount: str = "45.00", issued_on=None):
    issued_on = issued_on or datetime.date(2026, 11, 5)
    return invoicing.invoice_issue(
        regie=regie, actor=ADMIN, payer=payer, number=number, issued_on=issued_on,
        due_on=issued_on + datetime.timedelta(days=30),
        lines=[invoicing.line_draft(label="Restauration scolaire", quantity="10",
                                    unit_price=str(Decimal(amount) / 10),
                                    beneficiary="Léa Martin",
                                    period_start=issued_on.replace(day=1),
                                    period_end=issued_on)])


@pytest.fixture
def canteen(venissieux):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["cash", "cheque", "online", "transfer"])
        founding.regie_amend(regie=regie, actor=ADMIN, iban="FR7630001007941234567890185")
        payer = make_payer(regie, "Famille Martin", email="martin@example.fr",
                           address_line="3 rue Paul Bert", postal_code="69200",
                           city="Vénissieux")
        invoice = issue(regie, payer, "CANT-2026-11-001")
    return regie, payer, invoice


def test_the_agent_prints_and_emails_an_invoice(venissieux, canteen):
    _regie, payer, invoice = canteen
    client = agent_client(venissieux)
    page = client.get(f"{BASE}/payeurs/{payer.pk}/")
    assert f'{BASE}/payeurs/{payer.pk}/factures/{invoice.pk}/' in page.content.decode()
    detail = client.get(f"{BASE}/payeurs/{payer.pk}/factures/{invoice.pk}/")
    assert detail.status_code == 200
    assert "Imprimer la facture" in text_of(detail) and "Envoyer par courriel" in text_of(detail)

    pdf = client.get(f"{BASE}/payeurs/{payer.pk}/factures/{invoice.pk}/facture.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert 'filename="facture-CANT-2026-11-001.pdf"' in pdf["Content-Disposition"]
    assert is_pdf_ua(pdf.content)
    assert "Facture n° CANT-2026-11-001" in pdf_text(pdf.content)

    mail.outbox.clear()
    sent = client.post(f"{BASE}/payeurs/{payer.pk}/factures/{invoice.pk}/courriel/",
                       {"to": "autre@example.fr"})
    assert sent.status_code == 302
    [message] = mail.outbox
    assert message.to == ["autre@example.fr"]
    assert message.subject == "Facture n° CANT-2026-11-001 — Mairie de Vénissieux"
    assert "Reste à payer : 45,00 €" in message.body
    assert f"http://{host_of(venissieux)}/payer/?facture=CANT-2026-11-001" in message.body
    [(name, content, kind)] = message.attachments
    assert (name, kind) == ("facture-CANT-2026-11-001.pdf", "application/pdf")
    assert payer.link_code in pdf_text(content)
    after = text_of(client.get(f"{BASE}/payeurs/{payer.pk}/factures/{invoice.pk}/"))
    assert "Envoyée par courriel à autre@example.fr" in after

    refused = client.post(f"{BASE}/payeurs/{payer.pk}/factures/{invoice.pk}/courriel/",
                          {"to": "pas-une-adresse"})
    assert refused.status_code == 400
    assert "« pas-une-adresse » n'est pas une adresse électronique valide" in text_of(refused)
    # another payer's id in the address: not found
    assert client.get(f"{BASE}/payeurs/{payer.pk + 1000}/factures/{invoice.pk}/facture.pdf"
                      ).status_code == 404


def test_a_failed_email_is_shown_to_the_agents(venissieux, canteen):
    _regie, payer, invoice = canteen
    with in_schema(venissieux), mock.patch("django.core.mail.EmailMessage.send",
                                           side_effect=smtplib.SMTPRecipientsRefused({})):
        assert invoice_mail_new(invoice=invoice, actor=ADMIN, renderer=Renderer()) == "failed"
        mailing = InvoiceMailing.objects.get(invoice=invoice)
    assert mailing.status == "failed" and "n'a pas pu être envoyé" in mailing.error
    client = agent_client(venissieux)
    payer_page = text_of(client.get(f"{BASE}/payeurs/{payer.pk}/"))
    assert "Courriel non parti" in payer_page
    detail = text_of(client.get(f"{BASE}/payeurs/{payer.pk}/factures/{invoice.pk}/"))
    assert "Le courriel de la facture n'est pas parti (martin@example.fr, 1 essai" in detail


def test_the_agent_prints_a_month_as_one_pdf_with_its_progress(venissieux, canteen):
    regie, payer, first = canteen
    with in_schema(venissieux):
        second = issue(regie, make_payer(regie, "Famille Nguyen"), "CANT-2026-11-002")
        issue(regie, payer, "CANT-2026-10-009", issued_on=datetime.date(2026, 10, 20))
    client = agent_client(venissieux)
    assert "Imprimer des factures" in text_of(client.get(f"{BASE}/payeurs/"))
    assert client.get(f"{BASE}/factures/impression/").status_code == 200
    refused = client.post(f"{BASE}/factures/impression/", {"month": "novembre"})
    assert refused.status_code == 400 and "au format AAAA-MM" in text_of(refused)
    nothing = client.post(f"{BASE}/factures/impression/", {"month": "2025-01"})
    assert nothing.status_code == 400 and "Aucune facture à imprimer" in text_of(nothing)

    started = client.post(f"{BASE}/factures/impression/", {"month": "2026-11"})
    assert started.status_code == 302  # the job ran (inline in the tests)
    with in_schema(venissieux):
        batch = DocumentBatch.objects.get()
    state = client.get(f"{BASE}/factures/impression/{batch.pk}/etat/").json()
    assert state == {"status": "done", "label": "prêt", "done": 2, "total": 2,
                     "percent": 100}
    page = client.get(f"{BASE}/factures/impression/")
    assert "Mois de novembre 2026 — 2 factures" in text_of(page)
    assert 'value="100"' in page.content.decode()
    pdf = client.get(f"{BASE}/factures/impression/{batch.pk}/factures.pdf")
    content = b"".join(pdf.streaming_content)
    assert 'filename="factures-R-001-2026-11.pdf"' in pdf["Content-Disposition"]
    assert page_count(content) == 2
    text = pdf_text(content)
    assert "Facture n° CANT-2026-11-001" in text and "Facture n° CANT-2026-11-002" in text
    assert "CANT-2026-10-009" not in text
    assert first.number and second.number


def test_the_certificate_from_the_payers_page(venissieux, canteen):
    regie, payer, invoice = canteen
    with in_schema(venissieux):
        payment_record(regie=regie, actor=MANDATAIRE, amount="45", mode="cash", payer=payer,
                       invoices=[invoice])
    client = agent_client(venissieux)
    year = datetime.date.today().year
    assert "Attestation de paiement" in text_of(client.get(f"{BASE}/payeurs/{payer.pk}/"))
    pdf = client.get(f"{BASE}/payeurs/{payer.pk}/attestation.pdf", {"annee": str(year)})
    assert pdf["Content-Type"] == "application/pdf" and is_pdf_ua(pdf.content)
    text = " ".join(pdf_text(pdf.content).split())
    assert f"Attestation de paiement — année {year}" in text
    assert f"Total payé en {year} 45,00 €" in text and "Léa Martin" in text
    assert client.get(f"{BASE}/payeurs/{payer.pk}/attestation.pdf",
                      {"annee": "1850"}).status_code == 404


def test_the_api_serves_the_invoice_pdf(venissieux, canteen):
    regie, _payer, invoice = canteen
    with in_schema(venissieux):
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
    api = Client(HTTP_HOST=host_of(venissieux), HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.get("/api/v1/regies/R-001/invoices/CANT-2026-11-001/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'inline; filename="facture-R-001-CANT-2026-11-001.pdf"')
    assert is_pdf_ua(response.content)
    assert "Facture n° CANT-2026-11-001" in pdf_text(response.content)
    missing = api.get("/api/v1/regies/R-001/invoices/CANT-0000/pdf")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert Client(HTTP_HOST=host_of(venissieux)).get(
        "/api/v1/regies/R-001/invoices/CANT-2026-11-001/pdf").status_code == 401
    spec = Client(HTTP_HOST=host_of(venissieux)).get("/api/v1/openapi.json").json()
    documented = spec["paths"]["/api/v1/regies/{number}/invoices/{invoice_number}/pdf"]
    assert "PDF/UA" in documented["get"]["description"]
    assert invoice.pk


def test_a_citizen_downloads_their_invoice_and_certificate_only(venissieux, vaulx):
    books = family_books(venissieux, vaulx)
    _, martin, november, canteen_regie = books["venissieux"]
    with in_schema(venissieux):
        october = Invoice.objects.get(number="CANT-2026-10")
        strangers = Invoice.objects.get(number="CANT-2026-D")
    make_account(CITIZEN)
    browser = Browser()
    browser.sign_in(host_of(venissieux), CITIZEN)
    site = browser.client(host_of(venissieux))
    assert site.post("/mon-espace/rattachements/", {"code": martin.link_code}).status_code == 302

    listing = site.get("/mon-espace/").content.decode()
    assert f"/mon-espace/factures/{venissieux.pk}/{november.pk}.pdf" in listing
    pdf = site.get(f"/mon-espace/factures/{venissieux.pk}/{november.pk}.pdf")
    content = b"".join(pdf.streaming_content)
    assert pdf.status_code == 200 and is_pdf_ua(content)
    assert "Facture n° CANT-2026-11" in pdf_text(content)
    assert martin.link_code in pdf_text(content)
    # another family's invoice of the same commune, an unknown one: not found
    assert site.get(f"/mon-espace/factures/{venissieux.pk}/{strangers.pk}.pdf"
                    ).status_code == 404
    assert site.get(f"/mon-espace/factures/{vaulx.pk}/{november.pk}.pdf").status_code == 404

    year = datetime.date.today().year
    links = site.get("/mon-espace/rattachements/").content.decode()
    assert f"/mon-espace/attestations/{venissieux.pk}/{martin.pk}.pdf" in links
    certificate = site.get(f"/mon-espace/attestations/{venissieux.pk}/{martin.pk}.pdf",
                           {"annee": str(year)})
    content = b"".join(certificate.streaming_content)
    assert certificate.status_code == 200 and is_pdf_ua(content)
    text = " ".join(pdf_text(content).split())
    assert f"Attestation de paiement — année {year}" in text
    assert f"Total payé en {year} 57,50 €" in text and october.number in text
    assert site.get(f"/mon-espace/attestations/{venissieux.pk}/{martin.pk + 1}.pdf",
                    {"annee": str(year)}).status_code == 404
    assert site.get(f"/mon-espace/attestations/{venissieux.pk}/{martin.pk}.pdf",
                    {"annee": "abc"}).status_code == 404
    assert canteen_regie.pk
