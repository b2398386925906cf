"""The régie's direct debit pages on a phone (Chromium, Playwright, 360 px wide): its
creditor and a collection prepared, confirmed and shown with its file; the bank's
confirmation recorded and its returns imported; a paper mandate
recorded: the payer's page with its « Prélèvement SEPA » section, the mandate form, the
mandate's page; axe-core
finds no serious violation, nothing is wider than the phone, the IBAN shows its last four
characters only.

The server reads committed data (``server``), which the test removes afterwards."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import Role
from opsn.communes.models import Commune
from opsn.direct_debit.models import CollectionLine
from opsn.direct_debit.services import collect, creditor_set, mandate_record
from opsn.regies.models import Regie
from tests.commune.test_direct_debit_booking import camt054, weekday_before
from tests.helpers.browser import CHROMIUM, agent_signs_in, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import grant, make_account, totp_of
from tests.helpers.regies import ADMIN, make_invoice, make_payer, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")
PHONE = 360


@pytest.fixture
def payer_page(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = make_regie()
        creditor_set(regie=regie, ics="FR72ZZZ123456", iban="FR7630001007941234567890185",
                     bic="BDFEFRPP", name="Ville de Vénissieux", actor=ADMIN)
        payer = make_payer(regie, "Famille Martin")
    make_account(ADMIN.account)
    grant(commune, ADMIN.account, Role.ADMINISTRATOR)
    try:
        yield (f"http://{commune.primary_domain}:{server}",
               f"/espace/regies/{regie.number}/payeurs/{payer.pk}/")
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=ADMIN.account).delete()


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    assert serious_violations(page) == []


def test_a_paper_mandate_on_a_phone_in_chromium(payer_page):
    base, path = payer_page
    authenticator = totp_of(ADMIN.account)  # the database, before Playwright's event loop
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": PHONE,
                                                                    "height": 740},
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            agent_signs_in(page, f"{base}/compte/connexion/?next={path}",
                           ADMIN.account, authenticator)
            expect(page.get_by_role("heading", name="Prélèvement SEPA")).to_be_visible()
            fits_the_phone(page)

            page.get_by_role("link", name="Enregistrer un mandat papier").click()
            page.get_by_label("IBAN").fill("FR76 3000 6000 0112 3456 7890 188")
            page.get_by_label("BIC").fill("AGRIFRPP")
            page.get_by_label("Signé le").fill("2026-09-01")
            page.get_by_role("button", name="Enregistrer le mandat").click()
            expect(page.get_by_role("alert")).to_contain_text("est erroné")
            fits_the_phone(page)
            page.get_by_label("IBAN").fill("FR76 3000 6000 0112 3456 7890 189")
            page.get_by_role("button", name="Enregistrer le mandat").click()
            expect(page.get_by_role("cell", name="•••• 0189")).to_be_visible()
            assert "1234567890189" not in page.content()
            fits_the_phone(page)

            page.get_by_role("link", name="-1").click()
            expect(page.get_by_role("heading", name="Changer de compte")).to_be_visible()
            fits_the_phone(page)
        finally:
            browser.close()


def test_the_regie_prepares_a_collection_on_a_phone_in_chromium(payer_page):
    base, _ = payer_page
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = Regie.objects.get(number="R-001")
        payer = regie.payers.get()
        make_invoice(regie, payer, "45.00", number="CANT-1")
        mandate_record(payer=payer, debtor_name="Famille Martin",
                       iban="FR7630006000011234567890189", bic="AGRIFRPP",
                       signed_on=datetime.date(2026, 9, 1), actor=ADMIN)
    day = timezone.localdate() + datetime.timedelta(days=3)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    home = f"/espace/regies/{regie.number}/prelevement/"
    authenticator = totp_of(ADMIN.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": PHONE,
                                                                    "height": 740},
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            agent_signs_in(page, f"{base}/compte/connexion/?next={home}",
                           ADMIN.account, authenticator)
            expect(page.get_by_role("heading", name="La régie créancière")).to_be_visible()
            expect(page.locator("main")).to_contain_text("•••• 0185")
            assert "30001007941234567890185" not in page.content()
            fits_the_phone(page)
            page.get_by_label("Date d'échéance").fill(day.isoformat())
            page.get_by_role("button", name="Voir ce qui serait prélevé").click()
            expect(page.locator("main")).to_contain_text("45,00")
            fits_the_phone(page)
            page.get_by_role("button", name=re.compile("Écrire la remise")).click()
            expect(page.get_by_role("link", name="Télécharger le fichier pain.008")
                   ).to_be_visible()
            expect(page.locator("main")).to_contain_text("•••• 0189")
            assert "1234567890189" not in page.content()
            fits_the_phone(page)
        finally:
            browser.close()


def test_the_bank_confirms_and_returns_on_a_phone_in_chromium(payer_page):
    """The collection's confirmation form and its result, the returns import and its
    result, the payer's page with the returned debit and its suspended-mandate notice
    once two are returned: at phone width, axe-core clean."""
    base, path = payer_page
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = Regie.objects.get(number="R-001")
        regie.accepted_modes = [*regie.accepted_modes, "direct_debit"]
        regie.save(update_fields=["accepted_modes"])
        payer = regie.payers.get()
        make_invoice(regie, payer, "45.00", number="CANT-1")
        make_invoice(regie, payer, "12.50", number="CANT-2")
        mandate_record(payer=payer, debtor_name="Famille Martin",
                       iban="FR7630006000011234567890189", bic="AGRIFRPP",
                       signed_on=datetime.date(2026, 9, 1), actor=ADMIN,
                       today=datetime.date(2026, 9, 1))
        day = weekday_before(3)
        collection = collect(regie=regie, collection_date=day, actor=ADMIN,
                             today=day - datetime.timedelta(days=1))
        returns = camt054(*((line.end_to_end_id, f"{line.amount}", code) for line, code in zip(
            CollectionLine.objects.filter(collection=collection).order_by("id"),
            ("AM04", "AC04"), strict=True)))
    url = f"/espace/regies/{regie.number}/prelevement/remises/{collection.pk}/"
    authenticator = totp_of(ADMIN.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": PHONE,
                                                                    "height": 740},
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            agent_signs_in(page, f"{base}/compte/connexion/?next={url}",
                           ADMIN.account, authenticator)
            expect(page.get_by_role("heading", name="Confirmation de la banque")).to_be_visible()
            fits_the_phone(page)
            page.get_by_role("button", name="Enregistrer la confirmation").click()
            expect(page.locator("main")).to_contain_text("Cochez la confirmation")
            fits_the_phone(page)
            page.get_by_label(re.compile("Je confirme")).check()
            page.get_by_role("button", name="Enregistrer la confirmation").click()
            expect(page.locator("main")).to_contain_text("2 prélèvement(s) enregistré(s)")
            expect(page.locator("main")).to_contain_text("57,50")
            fits_the_phone(page)
            page.goto(f"{base}/espace/regies/{regie.number}/prelevement/")
            page.get_by_label(re.compile("Rapport de la banque")).set_input_files(
                {"name": "camt054.xml", "mimeType": "application/xml", "buffer": returns})
            page.get_by_role("button", name="Importer les retours").click()
            expect(page.locator("main")).to_contain_text("2 prélèvement(s) retourné(s)")
            expect(page.locator("main")).to_contain_text("AM04 – provision insuffisante")
            fits_the_phone(page)
            page.goto(f"{base}{path}")
            expect(page.locator("main")).to_contain_text("Prélèvements retournés")
            expect(page.locator("main")).to_contain_text("suspendu")
            fits_the_phone(page)
        finally:
            browser.close()
