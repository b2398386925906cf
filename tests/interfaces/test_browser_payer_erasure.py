"""Erasing a payer's contact details in a real browser (Chromium, Playwright), at phone
width: the titulaire first hands the payer a PDF of their data, forgets the confirmation and
is told, then erases; axe-core finds no serious violation on the page, before, with the
error, and after."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import Role
from opsn.communes.models import Commune
from opsn.regies.models import Payer
from tests.helpers.browser import CHROMIUM, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.documents import pdf_text
from tests.helpers.identity import PASSWORD, grant, make_account, totp_of
from tests.helpers.regies import TITULAIRE, make_payer, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")


@pytest.fixture
def payer(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = make_regie()
        payer = make_payer(regie, "Famille Durand", email="camille@exemple.fr",
                           phone="06 12 34 56 78", address_line="3 rue des Lilas",
                           postal_code="69200", city="Vénissieux")
    make_account(TITULAIRE.account)
    grant(commune, TITULAIRE.account, Role.REGISSEUR)
    try:
        yield {"base": f"http://{commune.primary_domain}:{server}", "commune": commune,
               "payer": payer}
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=TITULAIRE.account).delete()


def test_the_titulaire_erases_a_payers_contact_details_at_phone_width(payer):
    base, commune, record = payer["base"], payer["commune"], payer["payer"]
    authenticator = totp_of(TITULAIRE.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 812},
                                       is_mobile=True, accept_downloads=True).new_page()
            page.goto(f"{base}/compte/connexion/?next=/espace/regies/R-001/payeurs/"
                      f"{record.pk}/")
            page.get_by_label("Adresse électronique").fill(TITULAIRE.account)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
            page.get_by_role("button", name="Valider").click()

            expect(page.get_by_role("heading", name="Effacer ses coordonnées")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            assert serious_violations(page) == []

            # The payer asked first what the commune holds: a PDF to hand over.
            with page.expect_download() as download:
                page.get_by_role("button", name="Exporter ses données (PDF)").click()
            assert download.value.suggested_filename == (
                f"donnees-payeur-{record.link_code}.pdf")
            held = pdf_text(Path(download.value.path()).read_bytes())
            assert "Famille Durand" in held and "camille@exemple.fr" in held

            page.get_by_label("Motif de l'effacement").fill("Demande du payeur du 2 décembre")
            page.get_by_role("button", name="Effacer les coordonnées").click()
            expect(page.locator(".error", has_text="Cochez la case pour confirmer")
                   ).to_be_visible()
            assert serious_violations(page) == []

            page.get_by_label("Je confirme l'effacement").check()
            page.get_by_role("button", name="Effacer les coordonnées").click()
            expect(page.get_by_text("Coordonnées effacées (courriel, téléphone, adresse, "
                                    "code postal, commune)")).to_be_visible()
            assert serious_violations(page) == []
        finally:
            browser.close()
    with in_schema(commune):
        assert Payer.objects.get(pk=record.pk).email == ""
