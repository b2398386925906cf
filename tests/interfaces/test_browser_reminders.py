"""The « Relances » page and an invoice's reminders on a phone (Chromium, Playwright, 360 px
wide): the administrator reads the letters to print, types a wrong schedule and reads why,
saves a right one, and finds the reminder on the invoice's page; axe-core finds no serious
violation, and nothing is wider than the phone but the tables, each in its frame.

The server reads committed data (``server``), which the test removes afterwards."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import Role
from opsn.communes.models import Commune
from opsn.finance.reminders import reminders_send
from opsn.kernel.actors import Actor
from opsn.regies.services import invoicing
from tests.helpers.browser import CHROMIUM, agent_signs_in, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import grant, make_account, totp_of
from tests.helpers.regies import ADMIN, make_payer, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")
PHONE = 360


@pytest.fixture
def reminded(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    due = timezone.localdate() - datetime.timedelta(days=20)
    with in_schema(commune):
        regie = make_regie()
        payer = make_payer(regie, "Famille Diallo", address_line="8 place Léon Sublet",
                           postal_code="69200", city="Vénissieux")
        invoice = invoicing.invoice_issue(
            regie=regie, actor=ADMIN, payer=payer, number="F-2026-0042", issued_on=due,
            due_on=due, lines=[invoicing.line_draft(label="Repas", unit_price="12.30")])
        reminders_send(regie=regie, actor=Actor.system("relances des factures impayées"))
    make_account(ADMIN.account)
    grant(commune, ADMIN.account, Role.ADMINISTRATOR)
    try:
        yield f"http://{commune.primary_domain}:{server}", invoice
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=ADMIN.account).delete()


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    assert serious_violations(page) == []


def test_the_reminders_page_on_a_phone_in_chromium(reminded):
    base, invoice = reminded
    authenticator = totp_of(ADMIN.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": PHONE,
                                                                    "height": 740},
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            agent_signs_in(page, f"{base}/compte/connexion/?next=/espace/regies/R-001/relances/",
                           ADMIN.account, authenticator)
            expect(page.get_by_role("heading", name="Relances des factures impayées")
                   ).to_be_visible()
            expect(page.get_by_role("link", name="Télécharger les courriers du")).to_be_visible()
            fits_the_phone(page)

            page.get_by_label("1re relance : jours après l'échéance").fill("30")
            page.get_by_label("2e relance (facultative)").fill("10")
            page.get_by_role("button", name="Enregistrer le calendrier").click()
            expect(page.get_by_role("alert")).to_contain_text(
                "La deuxième relance doit venir après la première")
            fits_the_phone(page)
            page.get_by_label("2e relance (facultative)").fill("45")
            page.get_by_role("button", name="Enregistrer le calendrier").click()
            expect(page.get_by_text("Relances enregistrées : relances 30 jours et 45 jours"
                                    )).to_be_visible()

            page.goto(f"{base}/espace/regies/R-001/payeurs/{invoice.payer_id}/factures/"
                      f"{invoice.pk}/")
            expect(page.get_by_text("Relance n° 1 du")).to_be_visible()
            fits_the_phone(page)
        finally:
            browser.close()
