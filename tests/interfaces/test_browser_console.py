"""The operator's console in a real browser (Chromium, Playwright) at phone width: the
commune's Chorus Pro routing is set on its page, a bad SIRET is refused next to its field,
and the billing page — axe-core finds no serious
accessibility violation on any of them.

The server runs in a thread of its own and reads committed data (``committed``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from opsn.communes.models import Commune
from tests.helpers.browser import CHROMIUM, launch, serious_violations
from tests.helpers.identity import PASSWORD, make_account, totp_of

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")
OPERATOR = "operateur-navigateur@opsn.test"
CONSOLE = "console.localhost"


@pytest.fixture
def console_base(server):
    make_account(OPERATOR, operator=True)
    commune = Commune.objects.get(insee_code="69259")
    try:
        yield f"http://{CONSOLE}:{server}"
    finally:
        Commune.objects.filter(pk=commune.pk).update(
            billing_siret="", service_code="", service_code_required=False,
            engagement_number="", engagement_number_required=False)
        get_user_model().objects.filter(email=OPERATOR).delete()


def test_the_operator_sets_a_communes_chorus_pro_routing_at_phone_width(console_base):
    base = console_base
    authenticator = totp_of(OPERATOR)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR",
                                          viewport={"width": 360, "height": 800})
            page = context.new_page()
            # Signing in goes through the identity provider, with the second factor.
            page.goto(f"{base}/compte/connexion/?next=/communes/69259/")
            page.get_by_label("Adresse électronique").fill(OPERATOR)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            expect(page.get_by_role("heading", name="Double authentification")).to_be_visible()
            page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
            page.get_by_role("button", name="Valider").click()
            expect(page.get_by_role("heading", name="Facturation (Chorus Pro)")).to_be_visible()
            assert serious_violations(page) == []

            page.get_by_label("SIRET de facturation (facultatif)").fill("21690259300014")
            page.get_by_role("button", name="Enregistrer").first.click()
            expect(page.locator(".error").filter(
                has_text="clé de contrôle fausse").first).to_be_visible()
            assert serious_violations(page) == []

            page.get_by_label("SIRET de facturation (facultatif)").fill("216 902 593 00013")
            page.get_by_label("Code service (facultatif)").fill("FINANCES")
            page.get_by_label("La commune exige un code service dans Chorus Pro").check()
            page.get_by_role("button", name="Enregistrer").first.click()
            expect(page.get_by_text("Facturation Chorus Pro de Vénissieux enregistrée")
                   ).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 360

            page.goto(f"{base}/facturation/")
            expect(page.get_by_role("heading", name="Facturation des communes")).to_be_visible()
            assert serious_violations(page) == []
        finally:
            browser.close()
    commune = Commune.objects.get(insee_code="69259")
    assert (commune.billing_siret, commune.service_code, commune.service_code_required) == (
        "21690259300013", "FINANCES", True)
