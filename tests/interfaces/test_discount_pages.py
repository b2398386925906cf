"""Discounts set from the console (and the command line) instead of the database: the
50 % first-year discount of the Vaulx-en-Velin convention lands on its contribution;
bad input is refused next to its field, nothing saved."""

import datetime
from decimal import Decimal
from html import unescape

import pytest
from django.core.management import CommandError, call_command

from opsn.billing import issuing, services
from opsn.billing.computation import compute_year
from opsn.billing.models import BillingEvent, Discount, ServiceCharge
from opsn.communes.models import CommuneModule

CONSOLE = {"HTTP_HOST": "console.localhost"}


@pytest.fixture
def year_2024(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")


def amounts(year):
    return {line.insee_code: line.amount for line in compute_year(year).lines}


def test_the_first_year_discount_is_set_from_the_console(year_2024, console):
    assert amounts(2024)["69256"] == Decimal("1000.00")
    page = console.post("/facturation/2024/remises/", {
        "commune": "69256", "module": "", "percent": "50",
        "reason": "Convention Vaulx-en-Velin : première année"}, follow=True, **CONSOLE)
    assert "Remise de 50,00 % pour Vaulx-en-Velin en 2024 enregistrée" in unescape(
        page.content.decode())
    assert "Convention Vaulx-en-Velin : première année" in page.content.decode()
    assert amounts(2024) == {"69256": Decimal("500.00"), "69259": Decimal("1000.00")}


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"percent": "150"}, "percent", "dépasse 100 %"),
    ({"percent": "0"}, "percent", "Remise"),
    ({"percent": "-5"}, "percent", "Remise"),
    ({"percent": "1e2"}, "percent", "n'est pas un montant"),
    ({"percent": "9" * 40}, "percent", "Remise"),
    ({"reason": "  "}, "reason", "motif de la remise"),
    ({"commune": "99999"}, "commune", "99999"),
    ({"module": "inconnu"}, "module", "Application inconnue"),
])
def test_a_bad_discount_is_refused_next_to_its_field(year_2024, console, data, field,
                                                     message):
    typed = {"commune": "69256", "module": "", "percent": "50", "reason": "pilote", **data}
    response = console.post("/facturation/2024/remises/", typed, **CONSOLE)
    page = unescape(response.content.decode())
    assert response.status_code in (400, 404)
    assert message in page
    assert f'id="d-{field}" ' in page and 'aria-invalid="true"' in page
    assert not Discount.objects.exists()


def test_a_second_discount_on_the_same_scope_is_refused(year_2024, console):
    call_command("billing_discount", "69256", "2024", "50", "--reason", "pilote",
                 verbosity=0)
    response = console.post("/facturation/2024/remises/", {
        "commune": "69256", "module": "", "percent": "30", "reason": "autre"}, **CONSOLE)
    assert "a déjà une remise sur toutes les applications en 2024 (50,00 %)" in unescape(
        response.content.decode())
    assert Discount.objects.count() == 1


def test_an_issued_year_takes_no_discount(year_2024, console):
    issuing.billing_issue(year=2024)
    with pytest.raises(CommandError, match="déjà émises"):
        call_command("billing_discount", "69256", "2024", "50", "--reason", "trop tard",
                     verbosity=0)
    page = unescape(console.get("/facturation/2024/remises/", **CONSOLE).content.decode())
    assert "les remises ne se changent plus" in page
    assert not Discount.objects.exists()


def test_a_discount_is_removed_before_issuing(year_2024, console):
    call_command("billing_discount", "69256", "2024", "50", "--reason", "pilote",
                 verbosity=0)
    discount = Discount.objects.get()
    console.post(f"/facturation/remises/{discount.pk}/retirer/", **CONSOLE)
    assert not Discount.objects.exists()
    assert amounts(2024)["69256"] == Decimal("1000.00")


# --- One-off services ------------------------------------------------------------------------

def test_a_one_off_service_is_added_from_the_console_and_lands_on_the_titre(year_2024,
                                                                            console):
    page = console.post("/facturation/2024/prestations/", {
        "commune": "69259", "label": "Formation des régisseurs", "amount_excl_vat": "1 200,50",
        "vat_rate": "20"}, follow=True, **CONSOLE)
    assert "Prestation « Formation des régisseurs » ajoutée au titre 2024 de Vénissieux" in (
        unescape(page.content.decode()))
    plan = issuing.issue_plan(year=2024)
    totals = {code: total for code, _, total in plan.titres}
    assert totals["69259"] == Decimal("1000.00") + Decimal("1200.50") + Decimal("240.10")


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"label": " "}, "label", "intitulé de la prestation"),
    ({"amount_excl_vat": "0"}, "amount_excl_vat", "Montant HT"),
    ({"amount_excl_vat": "12,345"}, "amount_excl_vat", "plus de deux décimales"),
    ({"amount_excl_vat": "1e9"}, "amount_excl_vat", "n'est pas un montant"),
    ({"vat_rate": "100"}, "vat_rate", "n'est pas un taux"),
    ({"vat_rate": "-1"}, "vat_rate", "Taux de TVA"),
    ({"commune": "1053"}, "commune", "1053"),
])
def test_a_bad_service_is_refused_next_to_its_field(year_2024, console, data, field, message):
    typed = {"commune": "69259", "label": "Formation", "amount_excl_vat": "100",
             "vat_rate": "20", **data}
    response = console.post("/facturation/2024/prestations/", typed, **CONSOLE)
    page = unescape(response.content.decode())
    assert response.status_code in (400, 404)
    assert message in page and 'aria-invalid="true"' in page
    assert not ServiceCharge.objects.exists()


def test_the_command_line_adds_a_service_through_the_same_checks(year_2024):
    with pytest.raises(CommandError, match="n'est pas un taux"):
        call_command("billing_service", "69259", "2024", "Formation", "100",
                     "--vat-rate", "100", verbosity=0)
    call_command("billing_service", "69259", "2024", "Formation", "100", verbosity=0)
    assert ServiceCharge.objects.get().vat_rate == Decimal("20.00")


# --- The same over the operator API ---------------------------------------------------------

def _post(api, url, data):
    return api.post(url, data, content_type="application/json")


def test_the_operator_api_sets_discounts_and_services(year_2024, api):
    response = _post(api, "/api/v1/communes/69256/discounts",
                     {"year": 2024, "percent": "50", "reason": "Convention : première année"})
    assert response.status_code == 201, response.content
    assert (response.json()["percent"], response.json()["module"]) == ("50.00", None)
    assert amounts(2024)["69256"] == Decimal("500.00")
    refused = _post(api, "/api/v1/communes/69256/discounts",
                    {"year": 2024, "percent": "101", "reason": "x", "module": "regies"})
    assert (refused.status_code, refused.json()["field"]) == (400, "percent")

    response = _post(api, "/api/v1/communes/69259/services",
                     {"year": 2024, "label": "Formation", "amount_excl_vat": "300"})
    assert (response.status_code, response.json()["vat_rate"]) == (201, "20.00")
    refused = _post(api, "/api/v1/communes/69259/services",
                    {"year": 2024, "label": "Formation", "amount_excl_vat": "-3"})
    assert (refused.status_code, refused.json()["field"]) == (400, "amount_excl_vat")
    assert ServiceCharge.objects.count() == 1 and Discount.objects.count() == 1
    spec = api.get("/api/v1/openapi.json").json()
    assert {"/api/v1/communes/{insee_code}/discounts",
            "/api/v1/communes/{insee_code}/services"} <= set(spec["paths"])


# --- The billing trail ---------------------------------------------------------------------

def test_discounts_and_services_are_written_in_the_billing_trail(year_2024, console, api,
                                                                 operator):
    console.post("/facturation/2024/remises/", {
        "commune": "69256", "module": "regies", "percent": "50",
        "reason": "Convention : première année"}, **CONSOLE)
    console.post("/facturation/2024/prestations/", {
        "commune": "69259", "label": "Formation", "amount_excl_vat": "300",
        "vat_rate": "20"}, **CONSOLE)
    _post(api, "/api/v1/communes/69259/discounts",
          {"year": 2024, "percent": "10", "reason": "Fidélité"})
    call_command("billing_service", "69256", "2024", "Reprise de données", "800", verbosity=0)
    console.post(f"/facturation/remises/{Discount.objects.get(percent=50).pk}/retirer/",
                 **CONSOLE)
    console.post(f"/facturation/prestations/{ServiceCharge.objects.get(label='Formation').pk}"
                 "/retirer/", **CONSOLE)
    refused = console.post("/facturation/2024/remises/", {
        "commune": "69256", "module": "", "percent": "150", "reason": "x"}, **CONSOLE)
    assert refused.status_code == 400
    trail = [(e.code, e.insee_code, e.actor) for e in BillingEvent.objects.exclude(
        code="rule.set").order_by("id")]
    assert trail == [
        ("discount.set", "69256", operator.email.lower()),
        ("service.added", "69259", operator.email.lower()),
        ("discount.set", "69259", "api:tests"),
        ("service.added", "69256", "command line"),
        ("discount.removed", "69256", operator.email.lower()),
        ("service.removed", "69259", operator.email.lower()),
    ]
    page = unescape(console.get("/facturation/journal/?q=Formation", **CONSOLE).content.decode())
    assert "Prestation 2024 pour Vénissieux : Formation, 300.00 € HT, TVA 20.00 %" in page
    every = unescape(console.get("/facturation/journal/", **CONSOLE).content.decode())
    assert "Remise 2024 de 50.00 % pour Vaulx-en-Velin (Régies) retirée" in every
