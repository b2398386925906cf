"""A convention fixes the yearly cost of an application for its commune: while it is in
force the preview and the issued titre use that cost instead of the pricing rule; an
amendment changes it from the year of its date. Set from the console and the operator
API, written in the billing trail; bad input refused in French, nothing saved."""

import datetime
from decimal import Decimal
from html import unescape

import pytest

from opsn.billing import conventions, issuing, services
from opsn.billing.computation import BillingError, compute_year
from opsn.billing.models import BillingEvent, ConventionCost, Invoice
from opsn.communes.models import CommuneModule
from tests.helpers.identity import sign_in_webtest

CONSOLE = {"HTTP_HOST": "console.localhost"}


@pytest.fixture
def years(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    for year in (2024, 2025, 2026):
        services.rule_set(module="regies", year=year, kind="flat", flat_amount="1000")
    return conventions.convention_set(commune=venissieux, number="CONV-2024-01",
                                      starts_on="2024-01-01", ends_on="2025-12-31")


@pytest.fixture
def browser(django_app, operator):
    return sign_in_webtest(django_app, "console.localhost", operator.username)


def _amounts(year):
    return {line.insee_code: (line.amount, line.explanation) for line in
            compute_year(year).lines}


def _form(page, action):
    return next(f for f in page.forms.values()
                if "action" in f.fields and f["action"].value == action)


def test_the_convention_cost_is_used_for_its_term_and_an_amendment_changes_it(years, browser,
                                                                              operator):
    page = browser.get("/facturation/conventions/69259/", extra_environ=CONSOLE)
    form = _form(page, "cost")
    form["module"] = "regies"
    form["yearly_cost"] = "600"
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "Régies, 600,00" in unescape(page.text) and "par an dès 2024" in unescape(page.text)

    amounts = _amounts(2024)
    assert amounts["69259"][0] == Decimal("600.00")
    assert "convention n° CONV-2024-01" in amounts["69259"][1]
    assert amounts["69256"][0] == Decimal("1000.00")  # no convention: the rule
    preview = unescape(browser.get("/facturation/2024/", extra_environ=CONSOLE).text)
    assert "coût annuel fixé par la convention n° CONV-2024-01" in preview

    # an amendment dated in 2025 changes the cost from 2025
    conventions.amendment_add(convention=years, signed_on="2025-02-01",
                              subject="Révision du coût des régies")
    form = _form(browser.get("/facturation/conventions/69259/", extra_environ=CONSOLE), "cost")
    form["module"] = "regies"
    form["yearly_cost"] = "750"
    form["amendment"] = "1"
    form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert _amounts(2024)["69259"][0] == Decimal("600.00")
    assert _amounts(2025)["69259"][0] == Decimal("750.00")
    assert "(avenant n° 1)" in _amounts(2025)["69259"][1]
    assert _amounts(2026)["69259"][0] == Decimal("1000.00")  # the convention has ended

    issuing.billing_issue(year=2025)
    titre = Invoice.objects.get(year=2025, insee_code="69259")
    line = titre.lines.get(module="regies")
    assert (line.amount, line.rule_kind) == (Decimal("750.00"), "convention")
    assert titre.total == Decimal("750.00")
    trail = BillingEvent.objects.filter(code="convention.cost").order_by("id")
    assert [e.actor for e in trail] == [operator.email.lower()] * 2
    assert "Révision" not in trail[1].summary and "avenant n° 1" in trail[1].summary


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"yearly_cost": "-5"}, "yearly_cost", "Coût annuel"),
    ({"yearly_cost": "abc"}, "yearly_cost", "n'est pas un montant"),
    ({"yearly_cost": "9" * 40}, "yearly_cost", "Coût annuel"),
    ({"module": "inconnue"}, "module", "Application inconnue"),
    ({"amendment": "7"}, "amendment", "pas d'avenant n° « 7 »"),
])
def test_a_bad_cost_is_refused_next_to_its_field(years, browser, data, field, message):
    page = browser.get("/facturation/conventions/69259/", extra_environ=CONSOLE)
    form = _form(page, "cost")
    fields = {"module": "regies", "yearly_cost": "600", **data}
    for name, value in fields.items():
        if name in ("module", "amendment"):
            form[name].force_value(value)
        else:
            form[name] = value
    response = form.submit(extra_environ=CONSOLE, status=400)
    assert message in unescape(response.text)
    assert f'aria-describedby="c-{years.pk}-{field}-error"' in response.text
    assert not ConventionCost.objects.exists()


def test_twice_the_same_cost_and_an_issued_year_are_refused(years):
    conventions.convention_cost_set(convention=years, module="regies", yearly_cost="600")
    with pytest.raises(BillingError, match="fixe déjà le coût de Régies"):
        conventions.convention_cost_set(convention=years, module="regies", yearly_cost="500")
    issuing.billing_issue(year=2024)
    amendment = conventions.amendment_add(convention=years, signed_on="2024-06-01",
                                          subject="Révision")
    with pytest.raises(BillingError, match="2024 de Vénissieux sont déjà émises"):
        conventions.convention_cost_set(convention=years, module="regies", yearly_cost="500",
                                        amendment=amendment)
    assert ConventionCost.objects.count() == 1


def test_the_operator_api_fixes_a_cost(years, api):
    url = f"/api/v1/communes/69259/conventions/{years.pk}/costs"
    response = api.post(url, {"module": "regies", "yearly_cost": "600"},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["costs"] == [{"module": "regies", "yearly_cost": "600.00",
                                         "amendment": None, "applies_from": "2024-01-01"}]
    refused = api.post(url, {"module": "regies", "yearly_cost": "1", "amendment": 3},
                       content_type="application/json")
    assert (refused.status_code, refused.json()["field"]) == (400, "amendment")
    assert _amounts(2024)["69259"][0] == Decimal("600.00")
    assert BillingEvent.objects.get(code="convention.cost").actor.startswith("api:")
