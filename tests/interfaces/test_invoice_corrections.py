"""A contested titre is corrected from the console and the operator API (a credit note and
a new titre, with the reason), « transmis à Chorus Pro » is marked with its day; each in
the operator's billing trail; bad input refused in French, nothing issued."""

import datetime
from decimal import Decimal
from html import unescape

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from opsn.billing import documents, issuing, services
from opsn.billing.models import BillingEvent, Invoice, ServiceCharge
from opsn.communes.models import CommuneModule
from tests.helpers.en16931 import en16931_failures
from tests.helpers.identity import sign_in_webtest

CONSOLE = {"HTTP_HOST": "console.localhost"}


@pytest.fixture
def issued_2024(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")
    ServiceCharge.objects.create(commune=venissieux, year=2024, label="Formation des régisseurs",
                                 amount_excl_vat=Decimal("500"))
    issuing.billing_issue(year=2024)
    return Invoice.objects.get(insee_code="69259")


@pytest.fixture
def browser(django_app, operator):
    return sign_in_webtest(django_app, "console.localhost", operator.username)


def test_the_operator_marks_sent_with_the_day_then_corrects_a_contested_titre(issued_2024,
                                                                            browser):
    titre = issued_2024
    page = browser.get("/facturation/2024/titres/", extra_environ=CONSOLE)
    form = next(f for f in page.forms.values()
                if f.action.endswith(f"/titres/{titre.number}/send/"))
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    form["sent_on"] = yesterday.isoformat()
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert f"Titre {titre.number} : transmis." in unescape(page.text)
    titre.refresh_from_db()
    assert timezone.localtime(titre.sent_at).date() == yesterday

    issuing.invoice_contest(invoice=titre, reason="Population 2023 erronée", by="admin@ven.fr")

    page = browser.get(f"/facturation/titres/{titre.number}/corriger/", extra_environ=CONSOLE)
    assert "Population 2023 erronée" in page.text  # the commune's reason, to start from
    form = next(f for f in page.forms.values() if "reason" in f.fields)
    assert form["line-1-amount"].value == "1000.00"
    assert form["line-2-label"].value == "Formation des régisseurs"
    assert form["line-2-vat"].value == "20.00"
    form["reason"] = "Contestation reçue : population 2023 corrigée, forfait réduit"
    form["line-1-amount"] = "800,00"
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    text = unescape(page.text)
    assert f"Titre {titre.number} annulé par l'avoir 2024-000003 et remplacé par le titre " \
           "2024-000004" in text
    assert "Motif de la correction : Contestation reçue" in text

    credit = Invoice.objects.get(number="2024-000003")
    replacement = Invoice.objects.get(number="2024-000004")
    titre.refresh_from_db()
    assert titre.status == Invoice.Status.CORRECTED
    assert (credit.kind, credit.total) == (Invoice.Kind.CREDIT_NOTE, -titre.total)
    # 800 net of VAT + the training 500 HT at 20 %: the service keeps its VAT.
    assert replacement.total == Decimal("800.00") + Decimal("600.00")
    assert replacement.vat_total == Decimal("100.00")
    assert replacement.correction_reason.startswith("Contestation reçue")
    for document in (credit, replacement):
        assert en16931_failures(documents.invoice_xml(document)) == [], document.number

    codes = list(BillingEvent.objects.filter(invoice_number=titre.number)
                 .order_by("at", "id").values_list("code", "actor"))
    assert codes == [("invoice.sent", "operateur@opsn.test"),
                     ("invoice.contested", "admin@ven.fr"),
                     ("invoice.corrected", "operateur@opsn.test")]
    trail = unescape(browser.get("/facturation/journal/", extra_environ=CONSOLE).text)
    assert (f"Titre {titre.number} annulé par l'avoir 2024-000003 et remplacé par le titre "
            "2024-000004") in trail
    with pytest.raises(IntegrityError), transaction.atomic():
        BillingEvent.objects.filter(invoice_number=titre.number).delete()

    # A corrected titre offers no second correction.
    page = browser.get(f"/facturation/titres/{titre.number}/corriger/", extra_environ=CONSOLE)
    assert "ne se corrige plus" in page.text and "reason" not in {
        name for f in page.forms.values() for name in f.fields}


@pytest.mark.parametrize(("typed", "message"), [
    ({"reason": "   "}, "Donnez le motif de la correction"),
    ({"line-1-amount": "-5"}, "Ligne 1, montant"),
    ({"line-1-amount": "1e9"}, "n'est pas un montant"),
    ({"line-1-amount": "9" * 40}, "Ligne 1, montant"),
    ({"line-1-label": "", "line-1-amount": "10"}, "Ligne 1 : donnez son intitulé"),
    ({"line-2-vat": "100"}, "n'est pas un taux de TVA"),
    ({"line-1-label": "", "line-1-amount": "", "line-2-label": "", "line-2-amount": ""},
     "au moins une ligne"),
    ({"line-1-module": "inconnue"}, "application inconnue"),
])
def test_a_bad_correction_is_refused_and_nothing_is_issued(issued_2024, browser, typed,
                                                           message):
    page = browser.get(f"/facturation/titres/{issued_2024.number}/corriger/",
                       extra_environ=CONSOLE)
    form = next(f for f in page.forms.values() if "reason" in f.fields)
    form["reason"] = "erreur de population"
    for name, value in typed.items():
        if name.endswith("-module"):
            form[name].force_value(value)
        else:
            form[name] = value
    response = form.submit(extra_environ=CONSOLE, status=400)
    assert message in unescape(response.text)
    assert 'aria-invalid="true"' in response.text or 'role="alert"' in response.text
    assert Invoice.objects.count() == 2
    assert not BillingEvent.objects.filter(code="invoice.corrected").exists()


@pytest.mark.parametrize(("day", "message"), [
    ("demain", "n'est pas une date"),
    ((timezone.localdate() + datetime.timedelta(days=2)).isoformat(), "dans le futur"),
    ("2023-12-31", "précède l'exercice 2024"),
])
def test_a_bad_sending_day_is_refused(issued_2024, console, day, message):
    page = console.post(f"/facturation/titres/{issued_2024.number}/send/",
                        {"sent_on": day}, follow=True, **CONSOLE)
    assert message in unescape(page.content.decode())
    issued_2024.refresh_from_db()
    assert issued_2024.status == Invoice.Status.ISSUED


def test_a_paid_titre_and_a_credit_note_are_not_corrected(issued_2024):
    issuing.invoice_send(invoice=issued_2024)
    issuing.invoice_mark_paid(invoice=issued_2024, by="x")
    with pytest.raises(issuing.BillingError, match="ne peut pas être corrigé"):
        issuing.invoice_correct(invoice=issued_2024, lines=[("regies", "Régies", "1")],
                                reason="x")


def test_the_command_line_corrects_a_titre(issued_2024, capsys):
    call_command("billing_invoice", "send", issued_2024.number, "--on",
                 timezone.localdate().strftime("%d/%m/%Y"))
    call_command("billing_invoice", "correct", issued_2024.number, "--reason", "erreur",
                 "--line", "regies:Contribution 2024 — Régies:900",
                 "--line", ":Formation:500:20")
    assert Invoice.objects.get(number="2024-000004").total == Decimal("1500.00")
    assert "Avoir 2024-000003" in capsys.readouterr().out


# --- The same over the operator API ---------------------------------------------------------

def _post(api, url, data=None):
    return api.post(url, data or {}, content_type="application/json")


def test_the_operator_api_sends_corrects_and_pays(issued_2024, api):
    number = issued_2024.number
    listed = api.get("/api/v1/invoices?year=2024&insee_code=69259").json()
    assert listed["count"] == 1 and listed["items"][0]["total"] == "1600.00"

    refused = _post(api, f"/api/v1/invoices/{number}/send", {"sent_on": "2099-01-01"})
    assert (refused.status_code, refused.json()["field"]) == (400, "sent_on")
    assert "dans le futur" in refused.json()["message"]
    sent = _post(api, f"/api/v1/invoices/{number}/send",
                 {"sent_on": timezone.localdate().isoformat()})
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert sent.json()["contest_deadline"] is not None

    refused = _post(api, f"/api/v1/invoices/{number}/correct", {"reason": "", "lines": [
        {"module": "regies", "label": "Régies", "amount": "900"}]})
    assert (refused.status_code, refused.json()["field"]) == (400, "reason")
    refused = _post(api, f"/api/v1/invoices/{number}/correct", {"reason": "x", "lines": []})
    assert (refused.status_code, refused.json()["field"]) == (400, "lines")
    assert Invoice.objects.count() == 2

    done = _post(api, f"/api/v1/invoices/{number}/correct", {
        "reason": "Population corrigée",
        "lines": [{"module": "regies", "label": "Contribution 2024 — Régies", "amount": "900"},
                  {"label": "Formation", "amount": "500", "vat_rate": "20"}]})
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["credit_note"]["total"] == "-1600.00"
    assert body["credit_note"]["corrects"] == number
    assert (body["replacement"]["total"], body["replacement"]["correction_reason"]) == (
        "1500.00", "Population corrigée")
    assert api.get(f"/api/v1/invoices/{number}").json()["status"] == "corrected"

    new = body["replacement"]["number"]
    _post(api, f"/api/v1/invoices/{new}/send")
    paid = _post(api, f"/api/v1/invoices/{new}/paid")
    assert paid.json()["status"] == "paid"
    assert BillingEvent.objects.filter(invoice_number=new, code="invoice.paid",
                                       actor="api:tests").exists()
    missing = api.get("/api/v1/invoices/2024-999999")
    assert missing.status_code == 404 and "Aucun titre" in missing.json()["message"]
