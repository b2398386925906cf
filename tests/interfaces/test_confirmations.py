"""Onboarding, suspending and issuing a year's titres say what they will do and wait for a
confirmation: a POST without it changes nothing."""

import datetime
import re
from html import unescape

import pytest
from django.test import Client

from opsn.billing import services as billing
from opsn.billing.models import BillingJob, Invoice
from opsn.communes.models import Commune, CommuneModule, OnboardingBatch

CONSOLE = {"HTTP_HOST": "console.localhost"}


def text(response) -> str:
    return unescape(response.content.decode())


def test_onboarding_says_what_it_will_create_and_waits(console):
    response = console.post("/communes/accueillir/", {
        "insee_code": "69273", "modules": ["regies"], "admin_email": "maire@corbas.fr"},
        **CONSOLE)
    page = text(response)
    assert response.status_code == 200
    assert "Confirmer l'accueil de Corbas (69273)" in page
    assert "c_69273" in page and "corbas.localhost" in page
    assert "maire@corbas.fr" in page
    assert not Commune.objects.filter(insee_code="69273").exists()

    confirmed = console.post("/communes/accueillir/", {
        "insee_code": "69273", "modules": ["regies"], "admin_email": "maire@corbas.fr",
        "confirmed": "69273"}, **CONSOLE)
    assert confirmed.status_code == 302
    commune = Commune.objects.get(insee_code="69273")
    assert list(commune.communemodule_set.values_list("module_id", flat=True)) == ["regies"]


def test_a_confirmation_for_another_code_onboards_nothing(console):
    response = console.post("/communes/accueillir/", {
        "insee_code": "69273", "modules": ["regies"], "confirmed": "69091"}, **CONSOLE)
    assert "Confirmer l'accueil de Corbas" in text(response)
    assert not Commune.objects.filter(insee_code__in=["69273", "69091"]).exists()


def test_a_batch_says_which_communes_it_will_onboard_and_waits(console):
    data = {"insee_codes": "69273 69091 69259 99999", "modules": ["regies"]}
    page = text(console.post("/communes/lots/nouveau/", data, **CONSOLE))
    assert "Confirmer : 2 communes à accueillir" in page
    assert "Corbas (69273)" in page and "Givors (69091)" in page
    assert "déjà accueillies, ignorées : Vénissieux" in page
    assert "notés en erreur : 99999" in page
    assert not OnboardingBatch.objects.exists()
    response = console.post("/communes/lots/nouveau/", {**data, "confirmed": "2"}, **CONSOLE)
    assert response.status_code == 302
    assert OnboardingBatch.objects.get().insee_codes == ["69273", "69091", "69259", "99999"]


def test_suspending_says_what_it_will_do_and_waits(console):
    response = console.post("/communes/69259/suspendre/", {"reason": "impayés"}, **CONSOLE)
    page = text(response)
    assert "Suspendre Vénissieux (69259) ?" in page
    assert "venissieux.localhost" in page and "« impayés »" in page
    assert Commune.objects.get(insee_code="69259").status == Commune.Status.ACTIVE

    console.post("/communes/69259/suspendre/", {"reason": "impayés", "confirmed": "69259"},
                 **CONSOLE)
    commune = Commune.objects.get(insee_code="69259")
    assert (commune.status, commune.status_reason) == (Commune.Status.SUSPENDED, "impayés")
    assert Client(HTTP_HOST="venissieux.localhost").get("/").status_code == 503


@pytest.fixture
def year_2024(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    billing.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")


def test_issuing_says_how_many_titres_for_which_total_and_waits(year_2024, console):
    page = text(console.get("/facturation/2024/", **CONSOLE))
    assert 'action="/facturation/2024/emettre/"' in page and 'method="get"' in page

    confirm = console.get("/facturation/2024/emettre/", **CONSOLE)
    page = text(confirm)
    assert "2 titres de recette" in page and "2\u202f000,00 €" in page
    assert "Vénissieux (69259)" in page and "Vaulx-en-Velin (69256)" in page

    refused = console.post("/facturation/2024/emettre/", **CONSOLE)
    assert refused.status_code == 400
    assert "confirmez d'abord" in text(refused)
    assert not BillingJob.objects.exists() and not Invoice.objects.exists()


def test_a_confirmation_of_other_amounts_issues_nothing(year_2024, console):
    page = text(console.get("/facturation/2024/emettre/", **CONSOLE))
    token = re.search(r'name="confirmed" value="([^"]+)"', page).group(1)
    billing.rule_set(module="regies", year=2024, kind="flat", flat_amount="1200")
    refused = console.post("/facturation/2024/emettre/", {"confirmed": token}, **CONSOLE)
    assert refused.status_code == 400
    assert "ont changé depuis que vous les avez lus" in text(refused)
    assert "2\u202f400,00 €" in text(refused)
    assert not BillingJob.objects.exists()
