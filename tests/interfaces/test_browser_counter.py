"""The counter in a real browser (Chromium, Playwright): an agent signs in through the
sign-in page, records a cash payment for a payer's invoice in a few keystrokes, lands on
the receipt, prints it and downloads its PDF; axe-core finds no serious accessibility
violation on the counter nor on the receipt.

The server runs in a thread of its own and reads committed data (``committed``), which
the test removes afterwards. ``OPSN_DOC_SCREENSHOTS=1`` also saves the counter page as
docs/images/counter.png (the agent guide's screenshot)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright
from pypdf import PdfReader

from opsn.agents.models import Role
from opsn.communes.models import Commune
from tests.helpers.browser import CHROMIUM, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import PASSWORD, grant, make_account, totp_of
from tests.helpers.regies import MANDATAIRE, make_invoice, make_payer, make_regie, wipe_regies

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "counter.png"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")


@pytest.fixture
def counter_data(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = make_regie()
        payer = make_payer(regie, "Famille Martin")
        invoice = make_invoice(regie, payer, "45.00", number="F-2026-0042")
    make_account(MANDATAIRE.account)
    grant(commune, MANDATAIRE.account, Role.MANDATAIRE)  # the provider says so at sign-in
    try:
        yield {"base": f"http://{commune.primary_domain}:{server}", "invoice": invoice}
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=MANDATAIRE.account).delete()


def test_a_cash_payment_at_the_counter_in_chromium(counter_data):
    base = counter_data["base"]
    authenticator = totp_of(MANDATAIRE.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(accept_downloads=True, locale="fr-FR",
                                          viewport={"width": 1024, "height": 900})
            # window.print() opens nothing headless: record the call instead.
            context.add_init_script("window.__printed = 0;"
                                    "window.print = () => { window.__printed += 1; };")
            page = context.new_page()

            # Signing in goes through the identity provider (OpenID Connect), with the
            # second factor agents must use.
            page.goto(f"{base}/compte/connexion/?next=/espace/regies/R-001/guichet/")
            page.get_by_label("Adresse électronique").fill(MANDATAIRE.account)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            expect(page.get_by_role("heading", name="Double authentification")).to_be_visible()
            page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
            page.get_by_role("button", name="Valider").click()
            expect(page.get_by_role("heading", name="Guichet")).to_be_visible()

            # The search field has the focus: type the name, Enter.
            assert page.evaluate("document.activeElement.name") == "q"
            page.keyboard.type("martin")
            page.keyboard.press("Enter")
            expect(page.get_by_text("Famille Martin").first).to_be_visible()
            assert page.evaluate("document.activeElement.name") == "amount"
            invoice = page.get_by_label("F-2026-0042", exact=True)
            expect(invoice).to_be_checked()
            amount = page.get_by_label("Montant reçu (€)")
            expect(amount).to_have_value("45,00")
            expect(page.get_by_label("Espèces")).to_be_checked()
            # Only the details of the chosen mode are shown (progressive enhancement).
            expect(page.get_by_label("Numéro du chèque")).to_be_hidden()
            page.get_by_label("Chèque", exact=True).check()
            expect(page.get_by_label("Numéro du chèque")).to_be_visible()
            page.get_by_label("Espèces").check()
            # Unticking the invoice empties the amount; ticking it again brings it back.
            invoice.uncheck()
            expect(amount).to_have_value("")
            invoice.check()
            expect(amount).to_have_value("45,00")
            assert serious_violations(page) == []

            # Enter in the amount (which has the focus after a search) records the payment.
            amount.focus()
            if os.environ.get("OPSN_DOC_SCREENSHOTS"):
                page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Quittance n°")).to_be_visible()
            receipt_text = page.locator("article").inner_text()
            assert "45,00 €" in receipt_text and "quarante-cinq euros" in receipt_text
            assert "Famille Martin" in receipt_text
            assert serious_violations(page) == []

            page.get_by_role("button", name="Imprimer").click()
            assert page.evaluate("window.__printed") == 1

            with page.expect_download() as download:
                page.get_by_role("link", name="Télécharger le PDF").click()
            pdf = Path(download.value.path()).read_bytes()
            assert pdf.startswith(b"%PDF")
            text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
            assert "quarante-cinq euros" in text
            assert download.value.suggested_filename.startswith("quittance-R-001-")
        finally:
            browser.close()
