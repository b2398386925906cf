"""The console and the operator API refuse the registry's bad inputs with the message of
communes.services, next to the field, and nothing is created."""

from html import unescape

import pytest

from opsn.communes.models import Commune, OnboardingBatch
from tests.helpers.identity import sign_in_webtest

CONSOLE = {"HTTP_HOST": "console.localhost"}


@pytest.fixture
def browser(django_app, operator):
    return sign_in_webtest(django_app, "console.localhost", operator.username)


def _post(api, url, data):
    return api.post(url, data, content_type="application/json")


def test_a_code_typed_after_a_space_is_not_cut_by_the_form(browser):
    page = browser.get("/communes/accueillir/", extra_environ=CONSOLE)
    assert 'maxlength="5"' not in page.text  # the browser cut " 69273" to " 6927"
    form = page.forms[1]
    form["insee_code"] = " 69273"
    check = form.submit(extra_environ=CONSOLE)
    confirm = next(f for f in check.forms.values() if "confirmed" in f.fields)
    confirm.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert Commune.objects.get(insee_code="69273").name == "Corbas"


def test_a_four_digit_code_is_refused_next_to_its_field(browser):
    form = browser.get("/communes/accueillir/", extra_environ=CONSOLE).forms[1]
    form["insee_code"] = "9273"
    response = form.submit(extra_environ=CONSOLE, status=400)
    assert "« 9273 » n'est pas un code INSEE" in unescape(response.text)
    assert not Commune.objects.filter(insee_code="09273").exists()


def test_an_onboarding_without_any_module_is_refused(browser):
    form = browser.get("/communes/accueillir/", extra_environ=CONSOLE).forms[1]
    form["insee_code"] = "69273"
    for field in form.fields["modules"]:
        field.checked = False
    response = form.submit(extra_environ=CONSOLE, status=400)
    assert "au moins un module" in unescape(response.text)
    assert not Commune.objects.filter(insee_code="69273").exists()


def test_a_batch_of_only_unknown_codes_is_refused_listing_them(browser):
    form = browser.get("/communes/lots/nouveau/", extra_environ=CONSOLE).forms[1]
    form["insee_codes"] = "99999, 99998"
    response = form.submit(extra_environ=CONSOLE, status=404)
    page = unescape(response.text)
    assert "99999, 99998" in page and "Rien n'a été lancé" in page
    assert not OnboardingBatch.objects.exists()


def test_a_suspension_without_reason_is_refused(console):
    page = console.post("/communes/69259/suspendre/", {"reason": "  "},
                        HTTP_HOST="console.localhost", follow=True)
    assert "Donnez le motif de la suspension" in unescape(page.content.decode())
    assert Commune.objects.get(insee_code="69259").status == Commune.Status.ACTIVE


def test_the_api_refuses_the_same_inputs(api):
    response = _post(api, "/api/v1/communes", {"insee_code": "9273"})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_insee_code")
    response = _post(api, "/api/v1/communes", {"insee_code": "69273", "modules": []})
    assert (response.status_code, response.json()["code"]) == (400, "no_module")
    response = _post(api, "/api/v1/communes/69259/suspend", {})
    assert (response.status_code, response.json()["field"]) == (400, "reason")
    assert not Commune.objects.filter(insee_code="69273").exists()
    assert Commune.objects.get(insee_code="69259").status == Commune.Status.ACTIVE
