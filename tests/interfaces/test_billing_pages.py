"""The operator issues and follows invoices in the console; the commune contests from its
space and sees only its own invoices."""

import datetime
import re
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from opsn.agents.models import AgentRole, Role
from opsn.billing import issuing, services
from opsn.billing.models import Invoice
from opsn.communes.models import CommuneModule
from tests.helpers.communes import in_schema
from tests.helpers.identity import agent


@pytest.fixture
def rules(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")


def admin_of(commune, account="admin@venissieux.fr"):
    return agent(commune, account, Role.ADMINISTRATOR)


def test_the_operator_issues_sends_and_downloads(rules, console):
    check = console.get("/facturation/2024/emettre/").content.decode()
    assert "2 titres de recette" in check and "2\u202f000,00 €" in check
    token = re.search(r'name="confirmed" value="([^"]+)"', check).group(1)
    job_page = console.post("/facturation/2024/emettre/", {"confirmed": token},
                            follow=True).content.decode()
    assert "Terminé — terminé" in job_page
    assert "Documents : 2 sur 2" in job_page
    page = console.get("/facturation/2024/titres/").content.decode()
    assert "2024-000001" in page and "2024-000002" in page
    assert "2 titres émis" in page

    again = console.post("/facturation/2024/emettre/", {"confirmed": token},
                         follow=True)  # a second time
    assert "Rien n'a été émis : les contributions 2024 ont déjà été émises" in (
        again.content.decode().replace("&#x27;", "'"))
    assert Invoice.objects.count() == 2

    console.post("/facturation/titres/2024-000002/send/")
    assert Invoice.objects.get(number="2024-000002").status == Invoice.Status.SENT
    pdf = console.get("/facturation/titres/2024-000002.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_the_commune_contests_its_own_invoice_only(rules, venissieux):
    issuing.billing_issue(year=2024)
    own = Invoice.objects.get(insee_code="69259")
    other = Invoice.objects.get(insee_code="69256")
    issuing.invoice_send(invoice=own)
    issuing.invoice_send(invoice=other)
    client = admin_of(venissieux)

    page = client.get("/espace/titres-operateur/").content.decode()
    assert own.number in page
    assert other.number not in page
    assert client.get(f"/espace/titres-operateur/{other.number}.pdf").status_code == 404
    assert client.post("/espace/titres-operateur/", {"number": other.number,
                                                     "reason": "x"}).status_code == 404

    client.post("/espace/titres-operateur/", {"number": own.number,
                                              "reason": "Nous avons quitté le module régies"})
    own.refresh_from_db()
    assert own.status == Invoice.Status.CONTESTED
    assert own.contest_reason == "Nous avons quitté le module régies"
    other.refresh_from_db()
    assert other.status == Invoice.Status.SENT


def test_a_late_contest_is_refused_with_the_deadline(rules, venissieux):
    issuing.billing_issue(year=2024)
    own = Invoice.objects.get(insee_code="69259")

    # 8 jours francs after receipt (the day after sending), moved past weekends and
    # holidays: 20 days after sending is always too late.
    issuing.invoice_send(invoice=own, when=timezone.now() - datetime.timedelta(days=20))
    client = admin_of(venissieux)
    response = client.post("/espace/titres-operateur/", {"number": own.number,
                                                         "reason": "trop tard"}, follow=True)
    assert "Le délai de contestation" in response.content.decode()
    own.refresh_from_db()
    assert own.status == Invoice.Status.SENT


def test_revenue_charts_show_paid_and_unpaid(rules, console):
    issuing.billing_issue(year=2024)
    paid = Invoice.objects.get(insee_code="69259")
    issuing.invoice_send(invoice=paid)
    issuing.invoice_mark_paid(invoice=paid)
    page = console.get("/facturation/2024/tableau/").content.decode()
    assert ("Attendu <strong>2\u202f000,00 €</strong> : payé 1\u202f000,00 €, "
            "à payer 1\u202f000,00 €") in page
    assert page.count("<svg") == 2
    assert "<title>payé 1\u202f000,00 €</title>" in page
    assert "<td>Vénissieux</td><td>1\u202f000,00 €</td><td>0,00 €</td>" in page


def test_public_statistics_need_no_sign_in(db):
    page = Client(HTTP_HOST="localhost").get("/statistiques/").content.decode()
    assert "Communes servies</th><td>2</td>" in page
    # Vénissieux 65 502 + Vaulx-en-Velin 53 069 (population municipale 2023)
    assert "118\xa0571" in page


def test_sending_an_invoice_mails_it_to_the_commune(rules, venissieux,
                                                    django_capture_on_commit_callbacks):
    with in_schema(venissieux):
        AgentRole.objects.create(account="finances@venissieux.fr", role=Role.FINANCE)
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.get(insee_code="69259")
    with django_capture_on_commit_callbacks(execute=True):
        issuing.invoice_send(invoice=invoice)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["finances@venissieux.fr"]
    assert invoice.number in message.subject
    assert "de 1\u202f000,00 € (2024)" in message.body
    name, content, mimetype = message.attachments[0]
    assert (name, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")


def _years_page(console, today: datetime.date) -> str:
    with mock.patch("django.utils.timezone.localdate", return_value=today):
        return console.get("/facturation/").content.decode().replace("&#x27;", "'")


def test_the_billing_page_reminds_that_titres_go_out_by_30_september(rules, console):
    assert "À faire" not in _years_page(console, datetime.date(2024, 8, 31))
    assert ("Les titres 2024 doivent partir par Chorus Pro au plus tard le 30/09/2024 "
            "(il reste 29 jours) : ils ne sont pas encore émis.") in _years_page(
        console, datetime.date(2024, 9, 1))
    assert ("Les titres 2024 devaient partir par Chorus Pro au plus tard le 30/09/2024 : "
            "ils ne sont toujours pas émis.") in _years_page(console, datetime.date(2024, 10, 1))

    issuing.billing_issue(year=2024)
    assert ("2 titres 2024 émis mais pas encore transmis : ils doivent partir par Chorus Pro "
            "au plus tard le 30/09/2024.") in _years_page(console, datetime.date(2024, 9, 20))
    for invoice in Invoice.objects.all():
        issuing.invoice_send(invoice=invoice)
    assert "À faire" not in _years_page(console, datetime.date(2024, 9, 20))
