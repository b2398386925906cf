"""The operator's web console, driven through its real HTML forms (WebTest)."""

import pytest
from django.test import Client

from opsn.communes.models import Commune, OnboardingBatch
from tests.helpers.communes import BOTH_DATABASES, EAST
from tests.helpers.identity import make_account, sign_in, sign_in_webtest

CONSOLE = {"HTTP_HOST": "console.localhost"}


@pytest.fixture
def browser(django_app, operator):
    """A WebTest browser signed in through the console's login form."""
    return sign_in_webtest(django_app, "console.localhost", operator.username)


def test_the_console_requires_an_operator_account(db):
    anonymous = Client(**CONSOLE)
    response = anonymous.get("/communes/")
    assert response.status_code == 302
    assert response["Location"].startswith("/compte/connexion/")

    make_account("agent@venissieux.fr")
    agent = sign_in("console.localhost", "agent@venissieux.fr")
    assert agent.get("/communes/").status_code == 403


def test_the_console_is_not_reachable_from_a_commune_domain(console, operator):
    commune_host = sign_in("venissieux.localhost", operator.username)
    assert commune_host.get("/communes/").status_code == 404


def test_list_search_and_filter(console):
    page = console.get("/communes/").content.decode()
    assert "Vénissieux" in page and "Vaulx-en-Velin" in page
    assert "65\xa0502" in page  # population municipale, French thousands separator

    page = console.get("/communes/?q=69256").content.decode()
    assert "Vaulx-en-Velin" in page and "Vénissieux" not in page
    page = console.get("/communes/?q=venissieux.localhost").content.decode()
    assert "Vénissieux" in page and "Vaulx-en-Velin" not in page
    page = console.get("/communes/?status=suspended").content.decode()
    assert "Aucune commune ne correspond" in page


def confirm(page):
    """The confirmation step's form (the one that carries ``confirmed``)."""
    return next(f for f in page.forms.values() if "confirmed" in f.fields)


def test_onboard_a_commune_through_the_form(browser):
    page = browser.get("/communes/accueillir/", extra_environ=CONSOLE)
    form = page.forms[1]
    form["insee_code"] = "69273"
    form["custom_domains"] = "paiements.corbas.fr"
    check = form.submit(extra_environ=CONSOLE)
    assert "Confirmer l'accueil de Corbas (69273)" in check.text.replace("&#x27;", "'")
    assert not Commune.objects.filter(insee_code="69273").exists()  # nothing yet
    detail = confirm(check).submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "Corbas est accueillie : corbas.localhost." in detail.text
    assert "paiements.corbas.fr" in detail.text
    assert Commune.objects.filter(insee_code="69273").exists()


@BOTH_DATABASES
def test_the_operator_chooses_the_database_of_a_new_commune(browser):
    page = browser.get("/communes/accueillir/", extra_environ=CONSOLE)
    form = page.forms[1]
    form["insee_code"] = "69273"
    form["database"] = EAST
    check = form.submit(extra_environ=CONSOLE)
    assert "base « east »" in check.text
    detail = confirm(check).submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "c_69273 (base « east »)" in detail.text
    assert Commune.objects.get(insee_code="69273").database == EAST


def test_a_refused_onboarding_shows_why_and_keeps_what_was_typed(browser):
    page = browser.get("/communes/accueillir/", extra_environ=CONSOLE)
    form = page.forms[1]
    form["insee_code"] = "69152"
    form["admin_email"] = "maire@pierre-benite.fr"
    response = form.submit(extra_environ=CONSOLE, status=404)
    assert "Oullins-Pierre-Bénite (69149)" in response.text
    assert 'value="maire@pierre-benite.fr"' in response.text
    assert not Commune.objects.filter(insee_code__in=["69152", "69149"]).exists()


def test_onboard_an_epci_and_watch_the_progress(browser):
    page = browser.get("/communes/lots/nouveau/", extra_environ=CONSOLE)
    form = page.forms[1]
    form["insee_codes"] = "69273, 69091 69259"
    check = form.submit(extra_environ=CONSOLE)
    assert "2 communes à accueillir" in check.text
    assert "déjà accueillies, ignorées : Vénissieux" in check.text
    assert not OnboardingBatch.objects.exists()  # nothing yet
    progress = confirm(check).submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "3 sur 3 communes traitées" in progress.text
    assert "déjà accueillie" in progress.text
    assert OnboardingBatch.objects.get().status == "done"


def test_suspend_then_resume_from_the_commune_page(browser):
    page = browser.get("/communes/69259/", extra_environ=CONSOLE)
    form = next(f for f in page.forms.values() if f.action.endswith("/suspendre/"))
    form["reason"] = "convention échue"
    check = form.submit(extra_environ=CONSOLE)
    assert "venissieux.localhost" in check.text and "« convention échue »" in check.text
    assert Client(HTTP_HOST="venissieux.localhost").get("/").status_code == 200  # not yet
    page = confirm(check).submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "Vénissieux est suspendue" in page.text
    assert Client(HTTP_HOST="venissieux.localhost").get("/").status_code == 503

    form = next(f for f in page.forms.values() if f.action.endswith("/reprendre/"))
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "Vénissieux est de nouveau en service" in page.text
    assert Client(HTTP_HOST="venissieux.localhost").get("/").status_code == 200


def test_offboarding_needs_the_insee_code_typed_again(browser):
    page = browser.get("/communes/69259/", extra_environ=CONSOLE)
    form = next(f for f in page.forms.values() if f.action.endswith("/depart/"))
    form["confirm"] = "69256"
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "Départ non confirmé" in page.text
    assert Commune.objects.filter(insee_code="69259").exists()


def test_a_bad_custom_domain_is_refused_on_the_commune_page(browser):
    page = browser.get("/communes/69259/", extra_environ=CONSOLE)
    form = next(f for f in page.forms.values() if f.action.endswith("/domaines/ajouter/"))
    form["domain"] = "vaulx-en-velin.localhost"
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "déjà attribué" in page.text


def test_the_commune_page_sets_its_chorus_pro_routing(browser):
    page = browser.get("/communes/69259/", extra_environ=CONSOLE)
    form = next(f for f in page.forms.values() if "/facturation/" in f.action)
    form["billing_siret"] = " 216 902 593 00013 "
    form["service_code"] = "FINANCES"
    form["service_code_required"] = True
    form["engagement_number"] = "EJ-2027-12"
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "Facturation Chorus Pro de Vénissieux enregistrée" in page.text
    commune = Commune.objects.get(insee_code="69259")
    assert (commune.billing_siret, commune.service_code, commune.service_code_required,
            commune.engagement_number, commune.engagement_number_required) == (
        "21690259300013", "FINANCES", True, "EJ-2027-12", False)
    form = next(f for f in page.forms.values() if "/facturation/" in f.action)
    assert form["billing_siret"].value == "21690259300013"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("billing_siret", "2169025930001", "n'est pas un SIRET : 14 chiffres attendus"),
    ("billing_siret", "21690259300014", "clé de contrôle fausse"),
    ("billing_siret", "21690256900013", "n'est pas un établissement de la commune"),
    ("service_code", "", "Vénissieux exige un code service"),
])
def test_a_bad_chorus_pro_routing_is_refused_next_to_its_field(browser, field, value,
                                                               message):
    page = browser.get("/communes/69259/", extra_environ=CONSOLE)
    form = next(f for f in page.forms.values() if "/facturation/" in f.action)
    form["billing_siret"] = "21690259300013"
    form["service_code_required"] = True
    form["service_code"] = "FIN"
    form[field] = value
    page = form.submit(extra_environ=CONSOLE)
    assert page.status_code == 200
    error = page.html.find("input", {"name": field}).find_next("div", class_="error")
    assert message in error.text
    form = next(f for f in page.forms.values() if "/facturation/" in f.action)
    assert form[field].value == value  # what was typed stays
    commune = Commune.objects.get(insee_code="69259")
    assert (commune.billing_siret, commune.service_code) == ("", "")  # nothing saved
