"""On a phone (Chromium, 375×812), a family without an account pays an invoice from the
commune's home page: « Payer une facture », a wrong code first, then the number and the
code printed on the invoice, what is owed, an address for the receipt, the local PayFiP
provider, back on the commune's site with the receipt to download — and by e-mail. axe-core
finds nothing on any page of the journey, and no page is wider than the screen.

Then « Mes paiements » on the same phone: each operation is a card whose amount and
« Payer en ligne » button are on the screen, and two communes' invoices of the same number
are told apart by the commune's name in the button's accessible name.

``OPSN_DOC_SCREENSHOTS=1`` also saves the citizen guide's screenshots
(docs/images/pay-by-reference.png, docs/images/my-payments-phone.png)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect, sync_playwright
from pypdf import PdfReader

from opsn.citizens.models import LinkAttempt, PayerLink
from opsn.communes.models import Commune
from opsn.online_payments.services import payfip_configure
from opsn.payfip_local.models import Operation
from opsn.regies.models import EntrySource, LedgerEntry
from opsn.regies.services import invoicing
from tests.helpers.browser import (
    CHROMIUM,
    launch,
    overflows,
    violations,
    within_screen,
)
from tests.helpers.communes import VAULX, VENISSIEUX, in_schema
from tests.helpers.identity import PASSWORD, make_account
from tests.helpers.regies import ADMIN, make_payer, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PHONE = {"width": 375, "height": 812}
ONLINE_MODES = ["cash", "cheque", "card", "transfer", "online"]
CITIZEN = "camille.durand@citoyen.test"


def open_invoice(commune, payer_name: str, amount: str, label: str):
    """A canteen régie that takes PayFiP, a family, its invoice CANT-2026-11."""
    with in_schema(commune):
        canteen = make_regie(accepted_modes=ONLINE_MODES)
        payfip_configure(regie=canteen, actor=ADMIN, numcli="049836")
        family = make_payer(canteen, payer_name, email="famille@example.fr")
        invoicing.invoice_issue(
            regie=canteen, actor=ADMIN, payer=family, number="CANT-2026-11", label=label,
            lines=[invoicing.line_draft(label="Repas", unit_price=amount)])
    return family


@pytest.fixture
def two_canteens(server, settings):
    settings.OPSN_PAYFIP_LOCAL_URL = f"http://localhost:{server}/payfip-local"
    venissieux = Commune.objects.get(insee_code=VENISSIEUX)
    vaulx = Commune.objects.get(insee_code=VAULX)
    durand = open_invoice(venissieux, "Famille Durand", "45.00", "Cantine de novembre")
    durand_vaulx = open_invoice(vaulx, "Camille Durand", "32.40", "Cantine de novembre")
    try:
        yield {"port": server, "venissieux": venissieux, "vaulx": vaulx,
               "codes": (durand.link_code, durand_vaulx.link_code)}
    finally:
        for commune in (venissieux, vaulx):
            with in_schema(commune):
                wipe_regies()
        Operation.objects.all().delete()
        PayerLink.objects.all().delete()
        LinkAttempt.objects.all().delete()
        get_user_model().objects.filter(email=CITIZEN).delete()


def clean(page) -> None:
    """Nothing for axe-core, nothing wider than the phone."""
    assert violations(page) == [], page.url
    assert not overflows(page), page.url


def screenshot(page, name: str) -> None:
    if os.environ.get("OPSN_DOC_SCREENSHOTS"):
        page.screenshot(path=str(IMAGES / name), full_page=True)


def test_a_family_without_an_account_pays_on_a_phone_and_gets_its_receipt(two_canteens):
    site = f"http://{two_canteens['venissieux'].primary_domain}:{two_canteens['port']}"
    code = two_canteens["codes"][0]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(accept_downloads=True, locale="fr-FR",
                                          viewport=PHONE)
            page = context.new_page()
            page.goto(f"{site}/")
            expect(page.get_by_role("heading", name="Contacter la mairie")).to_be_visible()
            assert "regies" not in page.locator("main").inner_text()  # no module code
            clean(page)
            page.get_by_role("link", name="Payer une facture").click()

            expect(page.get_by_role("heading", name="Payer une facture")).to_be_visible()
            clean(page)
            page.get_by_label("Numéro de la facture").fill("CANT-2026-11")
            page.get_by_label("Code de rattachement").fill("ZZZZ-ZZZZ-ZZZZ")
            page.get_by_role("button", name="Continuer").click()
            expect(page.get_by_role("alert")).to_contain_text(
                "Aucune facture à payer ne correspond à ce numéro et à ce code")
            expect(page.locator("main")).not_to_contain_text("45,00")
            clean(page)

            page.get_by_label("Code de rattachement").fill(code.lower())
            page.get_by_role("button", name="Continuer").click()
            expect(page.get_by_role("heading", name="Facture n° CANT-2026-11")).to_be_visible()
            expect(page.locator("main")).to_contain_text("Cantine de novembre")
            expect(page.locator("main")).not_to_contain_text("Famille Durand")
            pay = page.get_by_role("button", name="Payer 45,00 € avec PayFiP")
            assert within_screen(page, pay)
            clean(page)
            page.get_by_label("Adresse électronique pour recevoir la quittance").fill(
                "parent.durand@example.fr")
            screenshot(page, "pay-by-reference.png")
            pay.click()

            # The provider's page (the local PayFiP), on the operator's portal.
            expect(page.get_by_role("heading", name="Paiement sécurisé")).to_be_visible()
            assert page.url.startswith(f"http://localhost:{two_canteens['port']}/payfip-local/")
            clean(page)
            page.get_by_role("button", name="Payer 45,00 €").click()

            # Back on the commune's site: paid, the receipt to download.
            expect(page.get_by_role("heading", name="Paiement accepté")).to_be_visible()
            assert page.url.startswith(f"{site}/payer/resultat/")
            expect(page.get_by_role("status")).to_contain_text(
                "Elle est aussi envoyée à parent.durand@example.fr")
            clean(page)
            with page.expect_download() as download:
                page.get_by_role("link", name="Télécharger la quittance").click()
            pdf = Path(download.value.path()).read_bytes()
        finally:
            browser.close()
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "quarante-cinq euros" in text and "paiement en ligne" in text.lower()
    with in_schema(two_canteens["venissieux"]):
        [entry] = LedgerEntry.objects.filter(source=EntrySource.ONLINE)
    assert entry.receipt in text
    [sent] = [m for m in mail.outbox if m.to == ["parent.durand@example.fr"]]
    assert entry.receipt in sent.subject


def test_my_payments_on_a_phone_shows_amounts_and_buttons_on_screen(two_canteens):
    port = two_canteens["port"]
    venissieux = f"http://{two_canteens['venissieux'].primary_domain}:{port}"
    vaulx = f"http://{two_canteens['vaulx'].primary_domain}:{port}"
    make_account(CITIZEN)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context(locale="fr-FR", viewport=PHONE).new_page()
            page.goto(f"{venissieux}/mon-espace/rattachements/")
            page.get_by_label("Adresse électronique").fill(CITIZEN)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            linked = ("Famille Durand — Vénissieux", "Camille Durand — Vaulx-en-Velin")
            for site, code, says in zip((venissieux, vaulx), two_canteens["codes"], linked,
                                        strict=True):
                page.goto(f"{site}/compte/connexion/?next=/mon-espace/rattachements/")
                page.get_by_label("Code de rattachement").fill(code)
                page.get_by_role("button", name="Rattacher").click()
                expect(page.get_by_text(says)).to_be_visible()
            page.get_by_role("link", name="Mes paiements").click()
            expect(page.get_by_role("heading", name="Mes paiements")).to_be_visible()

            # The same invoice number in two communes: the buttons say which.
            here = page.get_by_role(
                "button", name="Payer en ligne la facture n° CANT-2026-11 de Vénissieux")
            there = page.get_by_role(
                "button", name="Payer en ligne la facture n° CANT-2026-11 de Vaulx-en-Velin")
            for button, amount in ((here, "45,00 €"), (there, "32,40 €")):
                expect(button).to_be_visible()
                assert within_screen(page, button)
                card = page.locator("tbody tr").filter(has=button)
                shown = card.locator("td[data-label='Montant']")
                expect(shown).to_contain_text(amount)
                assert within_screen(page, shown)
                # A card: the date above the amount, not beside it.
                assert (card.locator("td").first.bounding_box()["y"]
                        < shown.bounding_box()["y"])
            clean(page)
            screenshot(page, "my-payments-phone.png")
        finally:
            browser.close()
