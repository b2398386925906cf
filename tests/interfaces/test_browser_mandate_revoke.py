"""A citizen revokes a SEPA mandate, or changes its account, on a phone (Chromium, 360 px): in
« Mes paiements » › Prélèvement, « Révoquer ce mandat », a confirmation page that says
what happens (no new debit; the debit already sent to the bank, its date and amount; the
invoices paid otherwise) and takes an optional reason, then the mandate shown revoked.
axe-core finds no serious violation on each step."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from opsn.citizens.models import LinkAttempt, PayerLink
from opsn.communes.models import Commune
from opsn.direct_debit import online
from opsn.direct_debit.models import Mandate
from opsn.direct_debit.services import collect, creditor_set
from opsn.kernel.actors import Actor
from tests.helpers.browser import CHROMIUM, citizen_signs_in_and_links, launch, phone_page
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import make_account
from tests.helpers.regies import (
    ADMIN,
    TITULAIRE,
    make_invoice,
    make_payer,
    make_regie,
    wipe_regies,
)
from tests.interfaces.test_browser_mandate_signing import CITIZEN, fits_the_phone

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")

SIGNER = Actor(account="citizen:abc", name="Camille Durand", ip="192.0.2.50", kind="citizen")


@pytest.fixture
def active_mandate(server):
    venissieux = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(venissieux):
        canteen = make_regie()
        creditor_set(regie=canteen, ics="FR72ZZZ123456", iban="FR7630001007941234567890185",
                     bic="BDFEFRPP", name="Ville de Vénissieux – cantine", actor=ADMIN)
        family = make_payer(canteen, "Famille Durand")
        make_invoice(canteen, family, "45.00", number="CANT-2026-12")
        mandate = online.mandate_sign(
            payer=family, signer="Camille Durand", actor=SIGNER,
            **online.prepare(payer=family, debtor_name="Camille Durand",
                             iban="FR76 3000 6000 0112 3456 7890 189", bic="AGRIFRPP"))
        day = datetime.date.today() + datetime.timedelta(days=10)
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        collect(regie=canteen, collection_date=day, actor=TITULAIRE)
    make_account(CITIZEN)
    try:
        yield {"site": f"http://{venissieux.primary_domain}:{server}",
               "code": family.link_code, "mandate": mandate, "day": day,
               "commune": venissieux}
    finally:
        with in_schema(venissieux):
            wipe_regies()
        PayerLink.objects.all().delete()
        LinkAttempt.objects.all().delete()
        get_user_model().objects.filter(email=CITIZEN).delete()


def test_a_citizen_revokes_a_mandate_on_a_phone(active_mandate):
    site, day = active_mandate["site"], active_mandate["day"]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = phone_page(browser)
            citizen_signs_in_and_links(page, site, CITIZEN, active_mandate["code"])

            page.get_by_role("link", name="Prélèvement").click()
            expect(page.get_by_role("heading", name="Prélèvement automatique")).to_be_visible()
            fits_the_phone(page)
            page.get_by_role("link", name="Révoquer ce mandat").click()

            expect(page.get_by_role("heading", name="Révoquer le mandat de prélèvement")
                   ).to_be_visible()
            main = page.locator("main")
            expect(main).to_contain_text("aucun nouveau prélèvement ne sera fait")
            expect(main).to_contain_text(f"Un prélèvement de 45,00 € du {day:%d/%m/%Y} est "
                                         "déjà remis à la banque")
            expect(main).to_contain_text("se paient autrement")
            fits_the_phone(page)
            page.get_by_label("Motif (facultatif)").fill("Changement de banque")
            page.get_by_role("button", name="Révoquer le mandat").click()

            expect(page.get_by_text("révoqué : aucun nouveau prélèvement")).to_be_visible()
            expect(page.locator("main")).to_contain_text("Révoqué")
            expect(page.get_by_role("link", name="Révoquer ce mandat")).to_have_count(0)
            expect(page.get_by_role("link", name="Signer un mandat de prélèvement")
                   ).to_be_visible()
            fits_the_phone(page)
        finally:
            browser.close()
    with in_schema(active_mandate["commune"]):
        mandate = Mandate.objects.get(pk=active_mandate["mandate"].pk)
    assert mandate.status == "revoked"
    assert mandate.end_reason == "Révoqué en ligne par l'usager : Changement de banque"


def test_a_citizen_changes_the_account_on_a_phone(active_mandate):
    """The two steps of « Changer de compte »: a mistyped IBAN refused in French, the new
    account by its last four characters only, the agreement ticked; the RUM stays."""
    site = active_mandate["site"]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = phone_page(browser)
            citizen_signs_in_and_links(page, site, CITIZEN, active_mandate["code"])
            page.get_by_role("link", name="Prélèvement").click()
            page.get_by_role("link", name="Changer de compte").click()

            expect(page.get_by_role("heading", name="Changer le compte du mandat")
                   ).to_be_visible()
            fits_the_phone(page)
            page.get_by_label("IBAN").fill("FR76 3000 4000 0312 3456 7890 144")
            page.get_by_label("BIC").fill("BNPAFRPP")
            page.get_by_role("button", name="Continuer").click()
            expect(page.get_by_role("alert")).to_contain_text("est erroné")
            fits_the_phone(page)
            page.get_by_label("IBAN").fill("FR76 3000 4000 0312 3456 7890 143")
            page.get_by_role("button", name="Continuer").click()

            expect(page.get_by_role("heading", name="Confirmer le nouveau compte")
                   ).to_be_visible()
            expect(page.locator("main")).to_contain_text("•••• 0143")
            assert "1234567890143" not in page.content()
            fits_the_phone(page)
            page.get_by_label("J'autorise la régie").check()
            page.get_by_role("button", name="Changer de compte").click()
            expect(page.get_by_text("modifié : les prochains prélèvements")).to_be_visible()
            assert "1234567890143" not in page.content()
            fits_the_phone(page)
        finally:
            browser.close()
    with in_schema(active_mandate["commune"]):
        mandate = Mandate.objects.get(pk=active_mandate["mandate"].pk)
    assert (mandate.rum, mandate.iban) == (active_mandate["mandate"].rum,
                                           "FR7630004000031234567890143")
