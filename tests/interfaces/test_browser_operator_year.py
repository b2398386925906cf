"""The operator's year in a real browser at phone width, axe-core clean at every step:
the rules (set on *Facturation* → *règles*) → the preview → the
confirmation that says what will be issued → the titres → « Marquer transmis » with its
day → the commune's administrator contests from its space → the operator corrects (credit
note + new titre, with the reason) → « Marquer payé ». The screenshots of the guides
(docs/images/operator-year-*.png) are taken on the way."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import AgentRole
from opsn.billing.models import Invoice
from opsn.communes.models import Commune, CommuneModule
from tests.helpers.billing import subscribe_from, wipe_billing
from tests.helpers.browser import CHROMIUM, launch, overflows, serious_violations
from tests.helpers.communes import in_schema
from tests.helpers.identity import PASSWORD, grant, make_account, totp_of

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")
OPERATOR = "operateur-annee@opsn.test"
ADMIN = "admin-annee@venissieux.fr"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def sign_in(page, url, account, authenticator):
    page.goto(url)
    page.get_by_label("Adresse électronique").fill(account)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
    page.get_by_role("button", name="Valider").click()


def clean(page, name: str | None = None) -> None:
    assert serious_violations(page) == [], page.url
    assert not overflows(page), page.url
    if name:
        page.screenshot(path=str(IMAGES / f"operator-year-{name}.png"), full_page=True)


@pytest.fixture
def year(server):
    year = timezone.localdate().year
    make_account(OPERATOR, operator=True)
    venissieux = Commune.objects.get(insee_code="69259")
    grant(venissieux, ADMIN, "administrator")
    subscribe_from(year)
    try:
        yield server, year
    finally:
        wipe_billing()
        CommuneModule.objects.update(starts_on=timezone.localdate())
        with in_schema(venissieux):
            AgentRole.objects.filter(account=ADMIN).delete()
        get_user_model().objects.filter(email__in=[OPERATOR, ADMIN]).delete()


def test_the_operators_year_at_phone_width(year):
    port, year = year
    operator, admin = totp_of(OPERATOR), totp_of(ADMIN)
    console = f"http://console.localhost:{port}"
    commune = f"http://venissieux.localhost:{port}"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 800})
            page = context.new_page()
            sign_in(page, f"{console}/compte/connexion/?next=/facturation/", OPERATOR, operator)
            expect(page.get_by_role("heading", name="Facturation des communes")).to_be_visible()
            clean(page)
            page.get_by_role("link", name=f"règles {year}").first.click()
            page.get_by_label("Application", exact=True).select_option("regies")
            page.get_by_label("Type de règle").select_option("flat")
            page.get_by_label("Montant payé par chaque commune (€)").fill("1500")
            page.get_by_role("button", name="Enregistrer la règle").click()
            expect(page.get_by_text(f"Règle {year} de Régies enregistrée")).to_be_visible()
            clean(page, "rules")
            page.goto(f"{console}/facturation/")
            page.get_by_role("link", name="aperçu des contributions").first.click()
            expect(page.get_by_role("heading", name=f"Contributions {year}")).to_be_visible()
            clean(page, "preview")
            page.get_by_role("button", name=f"Émettre les titres {year}…").click()
            clean(page, "issue")
            page.get_by_role("button", name="Confirmer l'émission").click()
            expect(page.get_by_text("Terminé")).to_be_visible(timeout=60_000)
            page.get_by_role("link", name="Voir les titres").click()
            # Numbered in INSEE order: Vaulx-en-Velin (69256) first, then Vénissieux.
            number = f"{year}-000002"
            page.get_by_role("button", name=f"Marquer le titre {number} transmis").click()
            expect(page.get_by_text(f"Titre {number} : transmis.")).to_be_visible()
            clean(page, "titres")

            other = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 800})
            mine = other.new_page()
            sign_in(mine, f"{commune}/compte/connexion/?next=/espace/titres-operateur/", ADMIN,
                    admin)
            mine.get_by_label("Motif").first.fill("Population erronée")
            mine.get_by_role("button", name="Contester").first.click()
            expect(mine.get_by_text(f"Contestation du titre {number} envoyée")).to_be_visible()
            clean(mine)

            page.goto(f"{console}/facturation/titres/{number}/corriger/")
            page.get_by_label("Motif de la correction").fill(
                "Contestation reçue : population corrigée")
            page.get_by_label("Montant HT (€)").first.fill("1200")
            clean(page, "correct")
            page.get_by_role("button", name="Émettre l'avoir et le nouveau titre").click()
            expect(page.get_by_text(f"Titre {number} annulé par l'avoir")).to_be_visible()
            replacement = f"{year}-000004"  # after the credit note, -000003
            page.get_by_role("button", name=f"Marquer le titre {replacement} transmis").click()
            page.get_by_role("button", name=f"Marquer le titre {replacement} payé").click()
            expect(page.get_by_text(f"Titre {replacement} : payé.")).to_be_visible()
            clean(page)
            page.goto(f"{console}/facturation/journal/")
            clean(page, "trail")
        finally:
            browser.close()
    assert Invoice.objects.get(number=replacement).status == "paid"
    assert Invoice.objects.get(number=number).status == "corrected"
    assert Invoice.objects.get(number=f"{year}-000003").kind == "credit_note"
