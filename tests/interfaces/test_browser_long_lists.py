"""The imports queue with 120 lines in a real browser (Chromium, Playwright) at phone
width: one page of 50, the pagination's links reached by their names, nothing wider than
the screen but the table's own scrolling region, axe-core finds no serious violation."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import Role
from opsn.communes.models import Commune
from opsn.regies.services.imports import file_import
from tests.helpers.browser import CHROMIUM, agent_signs_in, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import grant, make_account, totp_of
from tests.helpers.regies import MANDATAIRE, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")

CARD = "date;montant;transaction;terminal;reference;payeur_ref;payeur_nom;numero_carte"


@pytest.fixture
def queue(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = make_regie()
        lines = [CARD] + [f"25/11/2026 10:02;{1 + i % 90},00;TX-{i:03d};TPE-01;inscription;;"
                          f"Mme Martin;" for i in range(120)]
        file_import(regie=regie, actor=MANDATAIRE, kind="card", file_name="tpe.csv",
                    content="\r\n".join(lines).encode())
    make_account(MANDATAIRE.account)
    grant(commune, MANDATAIRE.account, Role.MANDATAIRE)
    try:
        yield f"http://{commune.primary_domain}:{server}"
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=MANDATAIRE.account).delete()


def test_the_imports_queue_pages_at_phone_width(queue):
    authenticator = totp_of(MANDATAIRE.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 812},
                                       is_mobile=True).new_page()
            agent_signs_in(page, f"{queue}/compte/connexion/?next=/espace/regies/R-001/imports/",
                           MANDATAIRE.account, authenticator)

            pages = page.get_by_role("navigation", name="Pages : paiements importés en attente")
            expect(pages).to_contain_text("Page 1 sur 3")
            expect(page.get_by_text("120 paiements en attente")).to_be_visible()
            queued = page.get_by_role("table", name="Paiements importés en attente")
            expect(queued.locator("tbody tr").first).to_contain_text("TX-000")
            expect(queued.locator("tbody tr")).to_have_count(50)
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            assert serious_violations(page) == []

            pages.get_by_role("link", name="Dernière page").click()
            expect(pages).to_contain_text("Page 3 sur 3")
            expect(queued.locator("tbody tr").last).to_contain_text("TX-119")
            assert serious_violations(page) == []
            pages.get_by_role("link", name="Page précédente").click()
            expect(pages).to_contain_text("Page 2 sur 3")
            expect(queued.locator("tbody tr").first).to_contain_text("TX-050")
        finally:
            browser.close()
