"""The public-service pages in Chromium at phone width: the three notices, the source
page, the statistics, the administrator's notices form; axe-core finds no serious
violation, and the footer's links lead where they say."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import Role
from opsn.branding.models import PublicNotices
from opsn.communes.models import Commune
from opsn.public_service.models import PublicStatistics
from tests.helpers.browser import CHROMIUM, agent_signs_in, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import grant, make_account, totp_of

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")

ADMIN = "admin.mentions@venissieux.test"


@pytest.fixture
def site(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    make_account(ADMIN)
    grant(commune, ADMIN, Role.ADMINISTRATOR)
    try:
        yield {"commune": f"http://{commune.primary_domain}:{server}",
               "portal": f"http://localhost:{server}", "commune_obj": commune}
    finally:
        with in_schema(commune):
            PublicNotices.objects.all().delete()
        PublicStatistics.objects.all().delete()
        get_user_model().objects.filter(email=ADMIN).delete()


def test_the_public_service_pages_at_phone_width(site):
    authenticator = totp_of(ADMIN)  # the ORM, outside Playwright's event loop
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
            page = context.new_page()
            page.goto(site["commune"] + "/")
            footer = page.get_by_role("contentinfo")
            for link, heading in (("Accessibilité : non conforme", "Déclaration d'accessibilité"),
                                  ("Mentions légales", "Mentions légales"),
                                  ("Données personnelles", "Données personnelles"),
                                  ("Code source", "Code source")):
                footer.get_by_role("link", name=link).click()
                expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
                assert serious_violations(page) == [], page.url
                footer = page.get_by_role("contentinfo")

            page.goto(site["portal"] + "/statistiques/")
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "Statistiques de la plateforme")
            expect(page.get_by_role("img", name="Paiements traités par mois, dont en ligne")) \
                .to_be_visible()
            assert serious_violations(page) == []
            for path in ("/accessibilite/", "/mentions-legales/", "/donnees-personnelles/"):
                page.goto(site["portal"] + path)
                assert serious_violations(page) == [], path

            # The administrator's form, after signing in with the second factor.
            agent_signs_in(page, site["commune"] + "/compte/connexion/?next=/espace/mentions/",
                           ADMIN, authenticator)
            expect(page.get_by_role("heading", name="Mentions publiques du site")).to_be_visible()
            assert serious_violations(page) == []
            page.get_by_label("État de conformité (RGAA 4.1)").select_option("partielle")
            page.get_by_label("Taux de conformité (%)").fill("61,5")
            page.get_by_role("button", name="Enregistrer").click()
            expect(page.get_by_role("status")).to_contain_text("ont été enregistrées")
            page.get_by_role("contentinfo").get_by_role(
                "link", name="Accessibilité : partiellement conforme").click()
            expect(page.get_by_text("est partiellement conforme avec")).to_be_visible()
        finally:
            browser.close()
