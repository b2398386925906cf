"""The finance pages as their users see them: the commune's budgets (administrator,
finance staff), a régie's budget and imputation and its products', the budget identity on
the founding act, « Impayés » with its chart and exports, and the commune API's
``GET /regies/{n}/owed``."""

from __future__ import annotations

import datetime
import io
import re
import zipfile

import pytest
from django.test import Client
from django.utils import timezone
from webtest import Upload

from opsn.agents.models import AgentRole
from opsn.agents.services import service_credential_issue
from opsn.finance.handover import handover_create
from opsn.finance.models import Budget
from opsn.regies.models import Product, Regie
from opsn.regies.services import founding, invoicing
from tests.commune.test_finance_acks import ack_xml
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import grant, make_account, sign_in_webtest
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    OPENED,
    PRINCIPAL_SIRET,
    make_agents,
    make_budget,
    make_payer,
    make_regie,
)

BASE = "/espace/regies"


def browser(django_app, commune, account: str):
    make_account(account)
    with in_schema(commune):
        roles = list(AgentRole.objects.filter(account=account).values_list("role", flat=True))
    grant(commune, account, *roles)
    sign_in_webtest(django_app, host_of(commune), account)
    django_app.extra_environ = {**django_app.extra_environ, "HTTP_HOST": host_of(commune)}
    return django_app


def form_of(page, action_suffix: str):
    return next(f for f in page.forms.values()
                if f.method.lower() == "post" and f.action.endswith(action_suffix))


def text_of(page) -> str:
    text = page.html.get_text(" ")
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


def unique_ids(page) -> bool:
    ids = [tag["id"] for tag in page.html.find_all(id=True)]
    return len(ids) == len(set(ids))


@pytest.fixture
def regie(venissieux):
    with in_schema(venissieux):
        return make_regie()


def late_invoices(regie):
    """Three invoices past due today: 10, 40 and 100 days."""
    today = timezone.localdate()
    payer = make_payer(regie, "Famille Martin", external_ref="FAM-0042")
    other = make_payer(regie, "Famille Diallo", external_ref="FAM-0043")
    for who, days, amount in ((payer, 10, "12.00"), (payer, 40, "30.00"), (other, 100, "8.50")):
        due = today - datetime.timedelta(days=days)
        invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=who, issued_on=due, due_on=due,
                                number=f"F-{days}",
                                lines=[invoicing.line_draft(label="Repas", unit_price=amount)])


def test_the_administrator_describes_the_budgets(venissieux, regie, django_app):
    app = browser(django_app, venissieux, ADMIN.account)
    page = app.get(f"{BASE}/budgets/")
    assert "Aucun budget : commencez par le budget principal." in text_of(page)
    form = form_of(page, "/budgets/")
    for name, value in {"kind": "principal", "name": "Ville de Vénissieux – budget principal",
                        "siret": "216 902 593 00006", "collectivity_code": "047",
                        "budget_code": "00", "post_code": "069027",
                        "post_name": "SGC de Vénissieux"}.items():
        form[name] = value
    refused = form.submit(status=400)
    assert ("« 216 902 593 00006 » n'est pas un SIRET : 14 chiffres dont le dernier est une "
            "clé de contrôle") in text_of(refused)
    assert refused.html.find(attrs={"role": "alert"}).find("a")["href"] == "#id_siret"
    assert unique_ids(refused)
    with in_schema(venissieux):
        assert not Budget.objects.exists()
    again = form_of(refused, "/budgets/")
    assert again["name"].value == "Ville de Vénissieux – budget principal"
    again["siret"] = "216 902 593 00005"
    listed = again.submit().follow()
    assert "Budget « Ville de Vénissieux – budget principal » enregistré." in text_of(listed)
    assert f"{PRINCIPAL_SIRET} 047 / 00 SGC de Vénissieux (069027)" in text_of(listed)

    # The founding act shows whom the régie collects for.
    admin = app.get(f"{BASE}/R-001/administration/")
    assert ("Budget Ville de Vénissieux – budget principal (budget principal) SIRET du budget "
            f"{PRINCIPAL_SIRET} Codes Hélios (collectivité / budget) 047 / 00 Poste "
            "comptable SGC de Vénissieux (069027)") in text_of(admin)


def test_a_mandataire_does_not_open_the_budgets(venissieux, regie, django_app):
    app = browser(django_app, venissieux, MANDATAIRE.account)
    app.get(f"{BASE}/budgets/", status=403)


def test_the_administrator_imputes_the_regie_and_its_products(venissieux, regie, django_app):
    app = browser(django_app, venissieux, ADMIN.account)
    admin = app.get(f"{BASE}/R-001/administration/")
    assert unique_ids(admin) and admin.html.title.get_text().startswith(
        "Administration – Cantine et périscolaire – ")
    assert admin.html.find("datalist", id="m57-natures").find("option", value="7067")
    assert not admin.html.find("datalist", id="m57-natures").find("option", value="706")
    product = form_of(admin, "/produits/")
    product["code"] = "repas"
    product["name"] = "Repas"
    product["unit_price"] = "3,50"
    product["nature"] = "7069"
    refused = product.submit(status=400)
    assert "Le compte par nature 7069 n'est pas dans le plan de comptes M57 chargé" in text_of(
        refused)
    assert refused.html.find(id="produit_nature_error")
    product = form_of(refused, "/produits/")
    product["nature"] = "7067"
    product["fonction"] = "281"
    admin = product.submit().follow()
    assert "Repas 3,50 € 7067 / 281 oui" in text_of(admin)

    imputation = form_of(admin, "/imputation/")
    imputation["nature"] = "70688"
    imputation["fonction"] = "020"
    admin = imputation.submit().follow()
    assert "Budget et imputation par défaut de la régie enregistrés." in text_of(admin)
    assert form_of(admin, "/imputation/")["nature"].value == "70688"
    with in_schema(venissieux):
        regie = Regie.objects.get(number="R-001")
        assert (regie.nature_id, regie.fonction_id) == ("70688", "020")
        assert (Product.objects.get(code="repas").nature_id) == "7067"


def test_what_is_owed_the_page_and_its_exports(venissieux, regie, django_app):
    with in_schema(venissieux):
        late_invoices(regie)
    app = browser(django_app, venissieux, MANDATAIRE.account)
    page = app.get(f"{BASE}/R-001/impayes/")
    text = text_of(page)
    assert ("Reste dû par tranche de retard Retard Factures Reste dû 0 à 30 jours 1 12,00 € "
            "31 à 60 jours 1 30,00 € 61 à 90 jours 0 0,00 € plus de 90 jours 1 8,50 € "
            "Total 3 50,50 €") in text
    assert ("Famille Martin 2 12,00 € 30,00 € 0,00 € 0,00 € 42,00 € "
            "Famille Diallo 1 0,00 € 0,00 € 0,00 € 8,50 € 8,50 €") in text
    assert "F-100 Famille Diallo" in text and "100 j" in text
    chart = page.html.find("svg")
    assert chart["role"] == "img" and chart["aria-labelledby"] == "chart-caption"
    assert [r["width"] for r in chart.find_all("rect")] == ["40", "100", "0.5", "28"]
    assert unique_ids(page)

    csv = page.click(href=r"impayes\.csv")
    assert csv.content_type == "text/csv"
    assert "impayes-R-001-" in csv.headers["Content-Disposition"]
    assert csv.text.splitlines()[-1] == "total;;;;;;;;;;;50,50"
    ods = page.click(href=r"impayes\.ods")
    assert ods.content_type == "application/vnd.oasis.opendocument.spreadsheet"
    assert 'office:value="50.50"' in zipfile.ZipFile(io.BytesIO(ods.body)).read(
        "content.xml").decode()

    earlier = app.get(f"{BASE}/R-001/impayes/", {"au": (timezone.localdate() - datetime
                                                         .timedelta(days=20)).isoformat()})
    assert "Total 2 38,50 €" in text_of(earlier)


def test_the_commune_api_says_what_is_owed(venissieux, regie):
    with in_schema(venissieux):
        late_invoices(regie)
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
    client = Client(HTTP_HOST=host_of(venissieux), HTTP_AUTHORIZATION=f"Bearer {secret}")
    today = timezone.localdate()
    body = client.get("/api/v1/regies/R-001/owed", {"limit": 2}).json()
    assert body == {
        "on": today.isoformat(), "invoices": 3, "owed": "50.50", "group": "invoice",
        "buckets": [
            {"key": "0-30", "label": "0 à 30 jours", "invoices": 1, "owed": "12.00"},
            {"key": "31-60", "label": "31 à 60 jours", "invoices": 1, "owed": "30.00"},
            {"key": "61-90", "label": "61 à 90 jours", "invoices": 0, "owed": "0.00"},
            {"key": "90+", "label": "plus de 90 jours", "invoices": 1, "owed": "8.50"}],
        "items": [
            {"payer": "FAM-0043", "payer_name": "Famille Diallo", "invoices": 1,
             "owed": "8.50", "by_bucket": {"90+": "8.50"}, "number": "F-100",
             "due_on": (today - datetime.timedelta(days=100)).isoformat(), "days_late": 100,
             "bucket": "90+", "total": "8.50"},
            {"payer": "FAM-0042", "payer_name": "Famille Martin", "invoices": 1,
             "owed": "30.00", "by_bucket": {"31-60": "30.00"}, "number": "F-40",
             "due_on": (today - datetime.timedelta(days=40)).isoformat(), "days_late": 40,
             "bucket": "31-60", "total": "30.00"}],
        "next_offset": 2}
    payers = client.get("/api/v1/regies/R-001/owed", {"group": "payer"}).json()
    assert payers["items"] == [
        {"payer": "FAM-0042", "payer_name": "Famille Martin", "invoices": 2, "owed": "42.00",
         "by_bucket": {"0-30": "12.00", "31-60": "30.00", "61-90": "0.00", "90+": "0.00"},
         "number": None, "due_on": None, "days_late": None, "bucket": None, "total": None},
        {"payer": "FAM-0043", "payer_name": "Famille Diallo", "invoices": 1, "owed": "8.50",
         "by_bucket": {"0-30": "0.00", "31-60": "0.00", "61-90": "0.00", "90+": "8.50"},
         "number": None, "due_on": None, "days_late": None, "bucket": None, "total": None}]
    assert payers["next_offset"] is None
    refused = client.get("/api/v1/regies/R-001/owed", {"group": "famille"})
    assert (refused.status_code, refused.json()["field"]) == (400, "group")
    assert client.get("/api/v1/regies/R-001/owed", {"on": "2026-02-31"}).status_code == 422


def test_budgets_need_no_regie_and_are_the_communes_own(venissieux, vaulx, django_app):
    with in_schema(venissieux):
        make_agents()
        make_budget()
    with in_schema(vaulx):
        assert not Budget.objects.exists()


def test_finance_staff_hand_unpaid_invoices_over_and_download_the_pes_file(
        venissieux, regie, django_app):
    today = timezone.localdate()
    with in_schema(venissieux):
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        late_invoices(regie)
    app = browser(django_app, venissieux, ADMIN.account)
    page = app.get(f"{BASE}/R-001/transmissions/")
    assert "Aucun bordereau transmis." in text_of(page) and unique_ids(page)
    cut = (today - datetime.timedelta(days=20)).isoformat()  # the 40- and 100-day ones
    page = app.get(f"{BASE}/R-001/transmissions/", {"echues_avant": cut})
    text = text_of(page)
    assert "À transmettre : 2 factures, 38,50 €" in text
    assert "F-100" in text and "F-40" in text and "F-10 " not in text
    done = form_of(page, "/transmissions/").submit().follow()
    assert "Bordereau 1/" in text_of(done) and "2 titre(s), 38,50 €" in text_of(done)
    pes = done.click(href=r"pes\.xml")
    assert pes.headers["Content-Type"] == "application/xml"
    assert b"<MtBordHt V=\"38.50\" />" in pes.body
    again = app.get(f"{BASE}/R-001/transmissions/", {"echues_avant": cut})
    assert "À transmettre : 0 facture" in text_of(again)
    assert "Aucune facture à transmettre." in text_of(again) and "Transmettre ces" not in again
    bad = app.get(f"{BASE}/R-001/transmissions/", {"echues_avant": "31/02/2026"}, status=400)
    assert "« 31/02/2026 » n'est pas une date" in text_of(bad)


def test_a_cashier_may_not_hand_over(venissieux, regie, django_app):
    app = browser(django_app, venissieux, MANDATAIRE.account)
    app.get(f"{BASE}/R-001/transmissions/", status=403)


def test_the_accountants_ack_is_imported_on_the_hand_over_page_and_cancel_is_refused_then(
        venissieux, regie, django_app):
    today = timezone.localdate()
    with in_schema(venissieux):
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        late_invoices(regie)
        done = handover_create(regie=regie, due_before=today - datetime.timedelta(days=20),
                               actor=ADMIN)
        pieces = {i.invoice.number: i.piece for i in done.items.select_related("invoice")}
        f40 = done.items.select_related("invoice").get(invoice__number="F-40").invoice
    app = browser(django_app, venissieux, ADMIN.account)
    # the agent sees the invoice handed over, on its page and on its payer's
    invoice_page = text_of(app.get(f"{BASE}/R-001/payeurs/{f40.payer_id}/"))
    assert "Transmise au comptable public (bordereau 1/" in invoice_page
    assert "le payeur paie le Trésor public" in invoice_page
    one = app.get(f"{BASE}/R-001/payeurs/{f40.payer_id}/").click(href=rf"/{f40.pk}/$")
    assert "Transmise au comptable public (bordereau 1/" in text_of(one)
    assert "la régie ne l'encaisse plus" in text_of(one)
    listed = app.get(f"{BASE}/R-001/transmissions/")
    assert "transmis, en attente de l'accusé de réception" in text_of(listed)
    page = listed.click(href=rf"/transmissions/{done.pk}/$")
    assert "Annuler le bordereau" in text_of(page) and unique_ids(page)
    bad = form_of(page, "/accuse/")
    bad["file"] = Upload("ack.xml", b"<html>\x00</html>", "text/xml")
    refused = bad.submit(status=400)
    assert "Rien n'a changé" in text_of(refused) and "caractère nul" in text_of(refused)
    form = form_of(page, "/accuse/")
    form["file"] = Upload("ACK_1.xml", ack_xml(done, {
        pieces["F-40"]: ("2", "Débiteur inconnu à l'adresse"),
        pieces["F-100"]: ("1", "")}, codes=(done.budget.collectivity_code, "00")),
        "text/xml")
    page = form.submit().follow()
    text = text_of(page)
    assert "1 titre(s) accepté(s), 1 rejeté(s)" in text
    assert "accepté en partie" in text
    assert "Débiteur inconnu à l'adresse" in text and "F-40" in text
    assert "Annuler le bordereau" not in text
    # the rejected invoice is the régie's again: no longer shown as handed over
    back = text_of(app.get(f"{BASE}/R-001/payeurs/{f40.payer_id}/"))  # Martin: F-10, F-40
    assert "Transmise au comptable public" not in back and "Encaisser la facture F-40" in back
    refused = app.post(f"{BASE}/R-001/transmissions/{done.pk}/annuler/",
                       {"reason": "erreur",
                        "csrfmiddlewaretoken": form["csrfmiddlewaretoken"].value},
                       status=403)
    assert "ne peut plus être annulé" in text_of(refused)


def test_the_hand_over_page_keeps_only_invoices_owing_at_least_an_amount(
        venissieux, regie, django_app):
    today = timezone.localdate()
    with in_schema(venissieux):
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        late_invoices(regie)
    app = browser(django_app, venissieux, ADMIN.account)
    cut = (today - datetime.timedelta(days=20)).isoformat()  # F-40 (30.00), F-100 (8.50)
    page = app.get(f"{BASE}/R-001/transmissions/", {"echues_avant": cut, "au_moins": "20,00"})
    assert "À transmettre : 1 facture, 30,00 €" in text_of(page) and unique_ids(page)
    done = form_of(page, "/transmissions/").submit().follow()
    assert "1 titre(s), 30,00 €" in text_of(done)
    bad = app.get(f"{BASE}/R-001/transmissions/", {"echues_avant": cut, "au_moins": "beaucoup"},
                  status=400)
    assert "« beaucoup » n'est pas un montant minimum" in text_of(bad)
