"""The family's invoice from the agent's side, in a real browser (Chromium, Playwright) at
phone width: the titulaire opens an invoice, downloads its PDF, then prepares the month's
invoices as one PDF and downloads it once ready. axe-core finds nothing on either page and
nothing is wider than the screen. ``OPSN_DOC_SCREENSHOTS=1`` also saves the invoice page
as docs/images/invoice-agent-phone.png (the agent guide's screenshot)."""

from __future__ import annotations

import datetime
import io
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright
from pypdf import PdfReader

from opsn.agents.models import Role
from opsn.communes.models import Commune
from opsn.regies.services import invoicing
from tests.helpers.browser import CHROMIUM, launch, overflows, violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import PASSWORD, grant, make_account, totp_of
from tests.helpers.regies import ADMIN, TITULAIRE, make_payer, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")
ISSUED = datetime.date(2026, 11, 5)
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "invoice-agent-phone.png"


def issue(regie, payer, number: str):
    return invoicing.invoice_issue(
        regie=regie, actor=ADMIN, payer=payer, number=number, issued_on=ISSUED,
        due_on=ISSUED + datetime.timedelta(days=30),
        lines=[invoicing.line_draft(label="Restauration scolaire", quantity="10",
                                    unit_price="4.50", beneficiary="Léa Martin",
                                    period_start=ISSUED.replace(day=1), period_end=ISSUED)])


@pytest.fixture
def canteen(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = make_regie()
        martin = make_payer(regie, "Famille Martin", address_line="3 rue des Lilas",
                            postal_code="69200", city="Vénissieux")
        invoice = issue(regie, martin, "CANT-2026-11-001")
        issue(regie, make_payer(regie, "Famille Nguyen"), "CANT-2026-11-002")
    make_account(TITULAIRE.account)
    grant(commune, TITULAIRE.account, Role.REGISSEUR)
    try:
        yield {"base": f"http://{commune.primary_domain}:{server}", "invoice": invoice,
               "payer": martin}
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=TITULAIRE.account).delete()


def pdf_text(path: str) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(Path(path).read_bytes()))
    return len(reader.pages), "".join(page.extract_text() for page in reader.pages)


def test_the_titulaire_prints_an_invoice_and_the_months_invoices_at_phone_width(canteen):
    base, invoice, payer = canteen["base"], canteen["invoice"], canteen["payer"]
    authenticator = totp_of(TITULAIRE.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 812},
                                       is_mobile=True, accept_downloads=True).new_page()
            page.goto(f"{base}/compte/connexion/?next=/espace/regies/R-001/payeurs/"
                      f"{payer.pk}/factures/{invoice.pk}/")
            page.get_by_label("Adresse électronique").fill(TITULAIRE.account)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
            page.get_by_role("button", name="Valider").click()

            expect(page.get_by_role("heading", name="Facture n° CANT-2026-11-001")).to_be_visible()
            assert not overflows(page)
            assert violations(page) == []
            if os.environ.get("OPSN_DOC_SCREENSHOTS"):
                page.screenshot(path=str(SCREENSHOT), full_page=True)
            with page.expect_download() as download:
                page.get_by_role("link", name="Imprimer la facture").click()
            pages, text = pdf_text(download.value.path())
            assert pages >= 1 and "CANT-2026-11-001" in text and "Famille Martin" in text
            assert payer.link_code in text  # how to attach it to « Mes paiements »

            page.goto(f"{base}/espace/regies/R-001/factures/impression/")
            expect(page.get_by_role("heading", name="Imprimer des factures")).to_be_visible()
            assert not overflows(page)
            assert violations(page) == []
            page.get_by_label("Mois d'émission").fill("2026-11")
            page.get_by_role("button", name="Préparer le PDF du mois").click()
            expect(page.get_by_text("Mois de novembre 2026 — 2 factures")).to_be_visible()
            ready = page.get_by_role("link", name="Télécharger")
            expect(ready).to_be_visible(timeout=60_000)
            assert violations(page) == []
            with page.expect_download() as download:
                ready.click()
            pages, text = pdf_text(download.value.path())
            assert pages == 2 and "CANT-2026-11-002" in text
        finally:
            browser.close()
