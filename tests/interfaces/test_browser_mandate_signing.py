"""A citizen signs a SEPA mandate online, on a phone (Chromium, Playwright, 360 px): in
« Mes paiements » › Prélèvement, the mandate's text (creditor, ICS, RUM), the IBAN typed
(a wrong one refused in French), the confirmation showing the account by its last four
characters, then the signed mandate and its PDF. axe-core finds no serious violation on
each step; the full IBAN is never on a page after the form that enters it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright
from pypdf import PdfReader

from opsn.citizens.models import LinkAttempt, PayerLink
from opsn.communes.models import Commune
from opsn.direct_debit.services import creditor_set
from tests.helpers.browser import (
    CHROMIUM,
    citizen_signs_in_and_links,
    launch,
    phone_page,
    serious_violations,
)
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import make_account
from tests.helpers.regies import ADMIN, make_invoice, make_payer, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")

CITIZEN = "camille.durand@citoyen.test"
PHONE = 360
IBAN = "FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def debit_regie(server):
    venissieux = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(venissieux):
        canteen = make_regie()
        creditor_set(regie=canteen, ics="FR72ZZZ123456", iban="FR7630001007941234567890185",
                     bic="BDFEFRPP", name="Ville de Vénissieux – cantine", actor=ADMIN)
        family = make_payer(canteen, "Famille Durand")
        make_invoice(canteen, family, "45.00", number="CANT-2026-12")
    make_account(CITIZEN)
    try:
        yield {"site": f"http://{venissieux.primary_domain}:{server}", "code": family.link_code}
    finally:
        with in_schema(venissieux):
            wipe_regies()
        PayerLink.objects.all().delete()
        LinkAttempt.objects.all().delete()
        get_user_model().objects.filter(email=CITIZEN).delete()


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    assert serious_violations(page) == []


def test_a_citizen_signs_a_mandate_on_a_phone_and_gets_its_pdf(debit_regie):
    site = debit_regie["site"]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = phone_page(browser, accept_downloads=True)
            citizen_signs_in_and_links(page, site, CITIZEN, debit_regie["code"])

            page.get_by_role("link", name="Prélèvement").click()
            expect(page.get_by_role("heading", name="Prélèvement automatique")).to_be_visible()
            fits_the_phone(page)
            page.get_by_role("link", name="Signer un mandat de prélèvement").click()

            expect(page.get_by_role("heading", name="Mandat de prélèvement SEPA")).to_be_visible()
            expect(page.locator("main")).to_contain_text("FR72ZZZ123456")
            expect(page.locator("main")).to_contain_text(
                "vous autorisez Ville de Vénissieux – cantine à envoyer des instructions")
            fits_the_phone(page)
            page.get_by_label("Titulaire du compte").fill("Camille Durand")
            page.get_by_label("IBAN").fill("FR76 3000 6000 0112 3456 7890 188")
            page.get_by_label("BIC").fill("AGRIFRPP")
            page.get_by_role("button", name="Continuer").click()
            expect(page.get_by_role("alert")).to_contain_text("est erroné")
            fits_the_phone(page)
            page.get_by_label("IBAN").fill(IBAN)
            page.get_by_role("button", name="Continuer").click()

            expect(page.get_by_role("heading", name="Confirmer le mandat de prélèvement")
                   ).to_be_visible()
            main = page.locator("main")
            expect(main).to_contain_text("•••• 0189")
            expect(main).to_contain_text("123456-R001-")  # the RUM it will carry
            assert "1234567890189" not in page.content()
            fits_the_phone(page)
            page.get_by_role("button", name="Signer le mandat").click()
            expect(page.get_by_role("alert")).to_contain_text("Cochez la case")
            fits_the_phone(page)
            page.get_by_label("J'ai lu le mandat").check()
            page.get_by_role("button", name="Signer le mandat").click()

            expect(page.get_by_text("signé : les factures de")).to_be_visible()
            expect(page.locator("main")).to_contain_text("CANT-2026-12")  # a debit to come
            assert "1234567890189" not in page.content()
            fits_the_phone(page)
            rum = re.search(r"Mandat (\S+) signé", page.locator("main").inner_text())[1]
            with page.expect_download() as download:
                page.get_by_role("link", name=re.compile("Mandat signé")).click()
            pdf = Path(download.value.path()).read_bytes()
        finally:
            browser.close()
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in
                                         PdfReader(io.BytesIO(pdf)).pages))
    assert "Mandat de prélèvement SEPA" in text
    assert rum in text and "FR72ZZZ123456" in text and "Camille Durand" in text
    assert "8 semaines" in text and "•••• 0189" in text
    assert "1234567890189" not in text
