"""Pricing rules set from the operator console (WebTest) and the operator API, through the
service ``opsn billing_rule`` calls: every kind, the same refusals next to their field,
nothing saved on a refusal, each change in the billing trail."""

import datetime
from decimal import Decimal
from html import unescape

import pytest
from django.core.management import CommandError, call_command

from opsn.billing import issuing, services
from opsn.billing.computation import compute_year
from opsn.billing.models import BillingEvent, PricingRule
from opsn.communes.models import CommuneModule
from tests.helpers.identity import sign_in_webtest

CONSOLE = {"HTTP_HOST": "console.localhost"}


@pytest.fixture
def communes_2024(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))


@pytest.fixture
def browser(django_app, operator):
    return sign_in_webtest(django_app, "console.localhost", operator.username)


def _form(browser, year=2024):
    page = browser.get(f"/facturation/{year}/regles/", extra_environ=CONSOLE)
    return next(f for f in page.forms.values() if "kind" in f.fields)


def _amounts(year):
    return {(line.insee_code, line.module): line.amount for line in compute_year(year).lines}


def test_every_kind_of_rule_is_set_from_the_console(communes_2024, browser, operator):
    form = _form(browser)
    form["module"] = "regies"
    form["kind"] = "flat"
    form["flat_amount"] = "14 000"
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "Règle 2024 de" in page.text and "forfait par commune" in unescape(page.text)
    assert "€ par commune" in unescape(page.text)
    assert _amounts(2024)[("69259", "regies")] == Decimal("14000.00")

    form = _form(browser)
    form["module"] = "e-administration"
    form["kind"] = "per_inhabitant"
    form["annual_cost"] = "21000"
    form["operator_share_fraction"] = "0,5"
    form["population_kind"] = "totale"
    form["population_year"] = "2023"
    form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)

    form = _form(browser)
    form["module"] = "espace-citoyen"
    form["kind"] = "tiers"
    form["brackets"] = "0-50000:7500, 50000-:15000"
    form["population_year"] = "2023"
    form["newcomer_double"] = True
    form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)

    form = _form(browser)
    form["module"] = "open-data"
    form["kind"] = "free"
    form["population_year"] = ""
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)

    rules = {r.module_id: r for r in PricingRule.objects.filter(year=2024)}
    assert rules["regies"].flat_amount == Decimal("14000.00")
    assert (rules["e-administration"].annual_cost, rules["e-administration"]
            .operator_share_fraction, rules["e-administration"].population_kind) == (
        Decimal("21000.00"), Decimal("0.5000"), "totale")
    assert [(b.lower, b.upper, b.amount) for b in rules["espace-citoyen"].brackets.all()] == [
        (0, 50000, Decimal("7500.00")), (50000, None, Decimal("15000.00"))]
    assert rules["espace-citoyen"].newcomer_double
    assert rules["open-data"].kind == "free"
    trail = BillingEvent.objects.filter(code="rule.set")
    assert trail.count() == 4
    assert {e.actor for e in trail} == {operator.username}
    assert "Règle regies 2024 : forfait par commune, 14000.00 € par commune" in {
        e.summary for e in trail}
    # the year's page shows the rules, the billing page links to them
    assert "gratuit" in page.text
    years = browser.get("/facturation/", extra_environ=CONSOLE)
    assert "/facturation/2024/regles/" in years.text


def test_setting_a_rule_again_replaces_it(communes_2024, browser):
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")
    form = _form(browser)
    form["module"] = "regies"
    form["kind"] = "flat"
    form["flat_amount"] = "1500"
    form.submit(extra_environ=CONSOLE)
    assert PricingRule.objects.get(module="regies", year=2024).flat_amount == Decimal("1500")


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"kind": "flat", "flat_amount": ""}, "flat", "montant du forfait manque"),
    ({"kind": "flat", "flat_amount": "-3"}, "flat", "Forfait"),
    ({"kind": "flat", "flat_amount": "1e9"}, "flat", "n'est pas un montant"),
    ({"kind": "flat", "flat_amount": "9" * 40}, "flat", "Forfait"),
    ({"kind": "flat", "flat_amount": "10", "annual_cost": "5"}, "cost", "ne prend pas"),
    ({"kind": "per_inhabitant", "annual_cost": ""}, "cost", "coût annuel global"),
    ({"kind": "per_inhabitant", "annual_cost": "100", "operator_share_fraction": "1,5"},
     "fraction", "entre 0 et 1"),
    ({"kind": "per_inhabitant", "annual_cost": "100", "operator_share_fraction": "abc"},
     "fraction", "n'est pas une fraction"),
    ({"kind": "per_inhabitant", "annual_cost": "100", "operator_share_fraction": "0.5",
      "operator_share_amount": "10"}, "fraction", "pas les deux"),
    ({"kind": "per_inhabitant", "annual_cost": "100", "population_year": ""}, "popyear",
     "année de référence"),
    ({"kind": "per_inhabitant", "annual_cost": "100", "population_year": "99999999"},
     "popyear", "n'est pas une année"),
    ({"kind": "tiers", "brackets": "0-1000:10,900-:20"}, "brackets", "chevauchent"),
    ({"kind": "tiers", "brackets": "0-1000:10,2000-:20"}, "brackets", "trou"),
    ({"kind": "tiers", "brackets": "0-1000:10"}, "brackets", "sans limite haute"),
    ({"kind": "tiers", "brackets": "n'importe quoi"}, "brackets", "illisible"),
    ({"kind": "tiers", "brackets": "0-99999999999:10,99999999999-:20"}, "brackets",
     "100 000 000"),
    ({"kind": "tiers", "brackets": ""}, "brackets", "strates"),
])
def test_a_bad_rule_is_refused_next_to_its_field(communes_2024, browser, data, field,
                                                 message):
    form = _form(browser)
    form["module"] = "regies"
    form["population_year"] = "2023"
    for name, value in data.items():
        form[name] = value
    response = form.submit(extra_environ=CONSOLE, status=400)
    page = unescape(response.text)
    assert message in page
    assert f'id="r-{field}" ' in page and f'aria-describedby="r-{field}-error"' in page
    assert not PricingRule.objects.exists()
    assert not BillingEvent.objects.filter(code="rule.set").exists()


def test_an_unknown_application_and_an_issued_year_are_refused(communes_2024, browser,
                                                                  django_app):
    form = _form(browser)
    form["module"].force_value("inconnue")
    form["kind"] = "free"
    response = form.submit(extra_environ=CONSOLE, status=400)
    assert "Application inconnue" in unescape(response.text)

    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")
    issuing.billing_issue(year=2024)
    page = browser.get("/facturation/2024/regles/", extra_environ=CONSOLE)
    assert "les règles ne se changent plus" in unescape(page.text)
    with pytest.raises(CommandError, match="déjà émises"):
        call_command("billing_rule", "regies", "2024", "--flat", "5", verbosity=0)
    assert PricingRule.objects.get(module="regies").flat_amount == Decimal("1000")


def test_the_command_line_goes_through_the_same_service(communes_2024):
    call_command("billing_rule", "regies", "2025", "--flat", "12", verbosity=0)
    assert BillingEvent.objects.get(code="rule.set").actor == "command line"
    with pytest.raises(CommandError, match="ne prend pas"):
        call_command("billing_rule", "regies", "2025", "--flat", "12",
                     "--operator-fraction", "0.5", verbosity=0)


# --- The same over the operator API ---------------------------------------------------------

def _put(api, url, data):
    return api.put(url, data, content_type="application/json")


def test_the_operator_api_sets_every_kind_of_rule(communes_2024, api):
    response = _put(api, "/api/v1/billing/2024/rules/regies", {"kind": "flat",
                                                                "flat_amount": "1000"})
    assert response.status_code == 200, response.content
    assert response.json()["flat_amount"] == "1000.00"
    response = _put(api, "/api/v1/billing/2024/rules/espace-citoyen", {
        "kind": "tiers", "population_year": 2023, "newcomer_double": True,
        "brackets": [{"lower": 0, "upper": 50000, "amount": "7500"},
                     {"lower": 50000, "amount": "15000"}]})
    assert response.status_code == 200, response.content
    assert response.json()["brackets"][1] == {"lower": 50000, "upper": None,
                                              "amount": "15000.00"}
    response = _put(api, "/api/v1/billing/2024/rules/e-administration", {
        "kind": "per_inhabitant", "annual_cost": "21000", "operator_share_amount": "1000",
        "population_year": 2023})
    assert (response.status_code, response.json()["operator_share_amount"]) == (200, "1000.00")
    assert _put(api, "/api/v1/billing/2024/rules/open-data", {"kind": "free"}).status_code == 200
    listed = api.get("/api/v1/billing/2024/rules").json()
    assert [r["module"] for r in listed] == [
        r.module_id for r in PricingRule.objects.filter(year=2024).order_by("module__position")]
    assert len(listed) == 4
    assert BillingEvent.objects.filter(code="rule.set", actor__startswith="api:").count() == 4
    spec = api.get("/api/v1/openapi.json").json()
    assert {"/api/v1/billing/{year}/rules", "/api/v1/billing/{year}/rules/{module}"} <= set(
        spec["paths"])


@pytest.mark.parametrize(("url", "data", "field"), [
    ("/api/v1/billing/2024/rules/regies", {"kind": "flat", "flat_amount": "-1"},
     "flat_amount"),
    ("/api/v1/billing/2024/rules/regies", {"kind": "bientôt"}, "kind"),
    ("/api/v1/billing/2024/rules/inconnue", {"kind": "free"}, "module"),
    ("/api/v1/billing/99999/rules/regies", {"kind": "free"}, "year"),
    ("/api/v1/billing/2024/rules/regies", {"kind": "per_inhabitant", "annual_cost": "10",
                                           "population_year": 2023,
                                           "operator_share_fraction": "2"},
     "operator_share_fraction"),
    ("/api/v1/billing/2024/rules/regies", {"kind": "tiers", "population_year": 2023,
                                           "brackets": [{"lower": 5, "amount": "1"}]},
     "brackets"),
])
def test_the_operator_api_refuses_a_bad_rule_by_field(communes_2024, api, url, data, field):
    response = _put(api, url, data)
    assert (response.status_code, response.json()["field"]) == (400, field), response.content
    assert not PricingRule.objects.exists()
