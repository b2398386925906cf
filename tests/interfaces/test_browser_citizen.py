"""A citizen in a real browser (Chromium, Playwright): signs in once through the identity
provider, links payer records of two communes with the codes on their invoices, sees a
cash payment an agent has just recorded at a counter, downloads its receipt; axe-core
finds no serious accessibility violation on the citizen's pages (phone-sized screen)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.sync_api import expect, sync_playwright
from pypdf import PdfReader

from opsn.citizens.models import LinkAttempt, PayerLink
from opsn.communes.models import Commune
from opsn.online_payments.services import payfip_configure
from opsn.payfip_local.models import Operation
from opsn.regies.services import payments
from tests.helpers.browser import CHROMIUM, launch, serious_violations
from tests.helpers.communes import VAULX, VENISSIEUX, in_schema
from tests.helpers.identity import make_account
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    TITULAIRE,
    make_invoice,
    make_payer,
    make_regie,
    wipe_regies,
)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")

CITIZEN = "camille.durand@citoyen.test"


@pytest.fixture
def two_communes(server):
    venissieux = Commune.objects.get(insee_code=VENISSIEUX)
    vaulx = Commune.objects.get(insee_code=VAULX)
    with in_schema(venissieux):
        canteen = make_regie()
        martin = make_payer(canteen, "Famille Durand")
        invoice = make_invoice(canteen, martin, "45.00", number="CANT-2026-11")
    with in_schema(vaulx):
        pool = make_regie("P-01", "Piscine municipale")
        swimmer = make_payer(pool, "Camille Durand")
        swim = make_invoice(pool, swimmer, "24.00", number="PISC-2026-7")
        payments.payment_record(regie=pool, actor=TITULAIRE, amount="24.00", mode="card",
                                invoices=[swim], details={"terminal_ref": "TPE-1"})
    make_account(CITIZEN)
    try:
        yield {"port": server, "venissieux": venissieux, "vaulx": vaulx, "canteen": canteen,
               "invoice": invoice, "codes": (martin.link_code, swimmer.link_code)}
    finally:
        for commune in (venissieux, vaulx):
            with in_schema(commune):
                wipe_regies()
        PayerLink.objects.all().delete()
        LinkAttempt.objects.all().delete()
        get_user_model().objects.filter(email=CITIZEN).delete()


def at_the_counter(data):
    """An agent records a cash payment, from another thread: the ORM does not run inside
    Playwright's event loop."""

    posted = []

    def pay():
        try:
            with in_schema(data["venissieux"]):
                posted.append(payments.payment_record(
                    regie=data["canteen"], actor=MANDATAIRE, amount="45.00", mode="cash",
                    invoices=[data["invoice"]]))
        finally:
            connection.close()

    agent = threading.Thread(target=pay)
    agent.start()
    agent.join(30)
    return posted[0]


def test_a_citizen_sees_every_payment_of_two_communes_in_chromium(two_communes):
    port = two_communes["port"]
    venissieux = f"http://{two_communes['venissieux'].primary_domain}:{port}"
    vaulx = f"http://{two_communes['vaulx'].primary_domain}:{port}"
    canteen_code, pool_code = two_communes["codes"]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(accept_downloads=True, locale="fr-FR",
                                          viewport={"width": 390, "height": 844})  # a phone
            page = context.new_page()

            page.goto(f"{venissieux}/mon-espace/")  # asks to sign in first
            page.get_by_label("Adresse électronique").fill(CITIZEN)
            page.get_by_label("Mot de passe").fill("correct horse battery staple")
            page.get_by_role("button", name="Se connecter").click()
            expect(page.get_by_role("heading", name="Mes paiements")).to_be_visible()
            assert serious_violations(page) == []

            page.get_by_role("link", name="Rattacher une facture").click()
            page.get_by_label("Code de rattachement").fill(canteen_code.lower())
            page.get_by_role("button", name="Rattacher").click()
            expect(page.get_by_text("Famille Durand — Vénissieux")).to_be_visible()
            assert serious_violations(page) == []

            # The other commune's site: already signed in (single sign-on).
            page.goto(f"{vaulx}/compte/connexion/?next=/mon-espace/rattachements/")
            page.get_by_label("Code de rattachement").fill("ZZZZ-ZZZZ-ZZZZ")
            page.get_by_role("button", name="Rattacher").click()
            expect(page.get_by_role("alert")).to_contain_text("Aucun payeur de Vaulx-en-Velin")
            assert serious_violations(page) == []
            page.get_by_label("Code de rattachement").fill(pool_code)
            page.get_by_role("button", name="Rattacher").click()
            expect(page.get_by_text("Camille Durand — Vaulx-en-Velin")).to_be_visible()

            # Everything the platform holds on her, in both communes, as a document to read.
            with page.expect_download() as download:
                page.get_by_role("link", name="Télécharger toutes mes données (PDF)").click()
            data = Path(download.value.path()).read_bytes()
            mine = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
            assert "Famille Durand" in mine and "Camille Durand" in mine
            assert "Vénissieux (code INSEE" in mine and "Vaulx-en-Velin (code INSEE" in mine
            assert serious_violations(page) == []

            # Meanwhile, at Vénissieux's counter, the family pays cash.
            entry = at_the_counter(two_communes)
            page.get_by_role("link", name="Mes paiements").click()
            table = page.locator("table")
            expect(table).to_contain_text(f"Paiement, quittance n° {entry.receipt}")
            expect(table).to_contain_text("Piscine municipale")
            expect(page.get_by_role("status").last).to_contain_text("reste à payer : 0,00 €")
            assert serious_violations(page) == []

            with page.expect_download() as download:
                page.get_by_role("link", name=f"Télécharger la quittance n° {entry.receipt}"
                                 ).first.click()
            pdf = Path(download.value.path()).read_bytes()
        finally:
            browser.close()
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "quarante-cinq euros" in text and entry.receipt in text


@pytest.fixture
def online_invoice(server, settings):
    settings.OPSN_PAYFIP_LOCAL_URL = f"http://localhost:{server}/payfip-local"
    venissieux = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(venissieux):
        canteen = make_regie(accepted_modes=["cash", "cheque", "card", "online"])
        payfip_configure(regie=canteen, actor=ADMIN, numcli="049836")
        family = make_payer(canteen, "Famille Durand")
        make_invoice(canteen, family, "30.00", "15.00", number="CANT-2026-11")
    make_account(CITIZEN)
    try:
        yield {"port": server, "venissieux": venissieux, "code": family.link_code}
    finally:
        with in_schema(venissieux):
            wipe_regies()
        Operation.objects.all().delete()
        PayerLink.objects.all().delete()
        LinkAttempt.objects.all().delete()
        get_user_model().objects.filter(email=CITIZEN).delete()


def test_a_citizen_pays_an_invoice_online_and_downloads_its_receipt_in_chromium(
        online_invoice):
    site = f"http://{online_invoice['venissieux'].primary_domain}:{online_invoice['port']}"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(accept_downloads=True, locale="fr-FR",
                                          viewport={"width": 390, "height": 844})  # a phone
            page = context.new_page()
            page.goto(f"{site}/mon-espace/rattachements/")
            page.get_by_label("Adresse électronique").fill(CITIZEN)
            page.get_by_label("Mot de passe").fill("correct horse battery staple")
            page.get_by_role("button", name="Se connecter").click()
            page.get_by_label("Code de rattachement").fill(online_invoice["code"])
            page.get_by_role("button", name="Rattacher").click()
            page.get_by_role("link", name="Mes paiements").click()

            pay = page.get_by_role(
                "button", name="Payer en ligne la facture n° CANT-2026-11 de Vénissieux (45,00 €)")
            expect(pay).to_be_visible()
            assert serious_violations(page) == []
            pay.click()

            # The provider's page (the local PayFiP), on the operator's portal.
            expect(page.get_by_role("heading", name="Paiement sécurisé")).to_be_visible()
            assert page.url.startswith(f"http://localhost:{online_invoice['port']}/payfip-local/")
            assert serious_violations(page) == []
            page.get_by_role("button", name="Payer 45,00 €").click()

            # Back on the commune's site: the notification has been handled.
            expect(page.get_by_role("heading", name="Paiement accepté")).to_be_visible()
            assert page.url.startswith(site)
            assert serious_violations(page) == []
            with page.expect_download() as download:
                page.get_by_role("link", name="Télécharger la quittance").click()
            pdf = Path(download.value.path()).read_bytes()

            page.get_by_role("link", name="Revenir à mes paiements").click()
            expect(page.locator("table")).to_contain_text("en ligne")
            expect(page.get_by_role("status").last).to_contain_text("reste à payer : 0,00 €")
        finally:
            browser.close()
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "quarante-cinq euros" in text and "paiement en ligne" in text.lower()
