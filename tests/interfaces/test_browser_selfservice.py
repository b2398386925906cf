"""In a real browser at phone width, axe-core clean: the confirmations that say what
onboarding and suspending will do (not confirmed here: nothing changes), and the commune
administrator's team page, where an agent is invited with a role."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import AgentRole
from opsn.communes.models import Commune
from tests.helpers.browser import CHROMIUM, launch, overflows, serious_violations
from tests.helpers.communes import in_schema
from tests.helpers.identity import PASSWORD, grant, make_account, totp_of

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")
OPERATOR = "operateur-confirmations@opsn.test"
ADMIN = "admin-equipe@venissieux.fr"
INVITED = "nouvel-agent@venissieux.fr"


def sign_in(page, url, account, authenticator):
    page.goto(url)
    page.get_by_label("Adresse électronique").fill(account)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
    page.get_by_role("button", name="Valider").click()


@pytest.fixture
def accounts(server):
    make_account(OPERATOR, operator=True)
    venissieux = Commune.objects.get(insee_code="69259")
    grant(venissieux, ADMIN, "administrator")
    try:
        yield server, venissieux
    finally:
        with in_schema(venissieux):
            AgentRole.objects.filter(account__in=[ADMIN, INVITED]).delete()
        get_user_model().objects.filter(email__in=[OPERATOR, ADMIN, INVITED]).delete()


def test_confirmations_and_the_team_page_at_phone_width(accounts):
    port, venissieux = accounts
    operator, admin = totp_of(OPERATOR), totp_of(ADMIN)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 800})
            page = context.new_page()
            console = f"http://console.localhost:{port}"
            sign_in(page, f"{console}/compte/connexion/?next=/communes/accueillir/",
                    OPERATOR, operator)
            page.get_by_label("Code INSEE de la commune").fill(" 69273")
            page.get_by_role("button", name="Vérifier avant d'accueillir").click()
            expect(page.get_by_role("heading", name="Confirmer l'accueil de Corbas (69273)")
                   ).to_be_visible()
            assert serious_violations(page) == [] and not overflows(page)

            page.goto(f"{console}/communes/69259/")
            page.get_by_label("Motif (obligatoire, visible de l'opérateur seulement)").fill(
                "convention échue")
            page.get_by_role("button", name="Suspendre").click()
            expect(page.get_by_role("heading", name="Suspendre Vénissieux (69259) ?")
                   ).to_be_visible()
            assert serious_violations(page) == [] and not overflows(page)
            page.get_by_role("link", name="Ne pas suspendre").click()

            for url, heading in [("/facturation/2031/remises/", "Remises 2031"),
                                 ("/facturation/2031/prestations/",
                                  "Prestations ponctuelles 2031")]:
                page.goto(f"{console}{url}")
                page.get_by_role("button").filter(has_text="Enregistrer la remise").or_(
                    page.get_by_role("button", name="Ajouter la prestation")).click()
                expect(page.get_by_role("heading", name=heading)).to_be_visible()
                expect(page.locator(".error").first).to_be_visible()  # refused, beside it
                assert serious_violations(page) == [] and not overflows(page)

            commune = f"http://venissieux.localhost:{port}"
            other = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 800})
            page = other.new_page()
            sign_in(page, f"{commune}/compte/connexion/?next=/espace/agents/", ADMIN, admin)
            expect(page.get_by_role("heading", name="Agents de la commune")).to_be_visible()
            page.get_by_label("Adresse électronique").fill("pas-une-adresse")
            page.get_by_role("button", name="Inviter").click()
            expect(page.get_by_text("n'est pas une adresse électronique valide")).to_be_visible()
            assert serious_violations(page) == [] and not overflows(page)
            page.get_by_label("Adresse électronique").fill(INVITED)
            page.get_by_label("Rôle", exact=True).select_option("finance")
            page.get_by_role("button", name="Inviter").click()
            expect(page.get_by_text(f"{INVITED} est invité")).to_be_visible()
            assert serious_violations(page) == [] and not overflows(page)
        finally:
            browser.close()
    assert not Commune.objects.filter(insee_code="69273").exists()
    assert Commune.objects.get(insee_code="69259").status == Commune.Status.ACTIVE
    with in_schema(venissieux):
        assert AgentRole.objects.get(account=INVITED).role == "finance"
