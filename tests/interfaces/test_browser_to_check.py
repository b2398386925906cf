"""« À vérifier » in a real browser (Chromium, Playwright), at phone width: the titulaire
signs in, finds an online payment whose PayFiP result differs from what was asked, reads
what happened and what to do, is asked for a reason, then records what PayFiP collected;
the payment leaves the list and its receipt is linked. axe-core finds no serious
violation at any step."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import Role
from opsn.communes.models import Commune
from opsn.online_payments.models import OnlinePayment, PaymentState
from opsn.regies.models import LedgerEntry
from tests.helpers.browser import CHROMIUM, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import PASSWORD, grant, make_account, totp_of
from tests.helpers.regies import TITULAIRE, make_invoice, make_payer, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")


@pytest.fixture
def anomaly(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = make_regie()
        payer = make_payer(regie, "Famille Durand")
        invoice = make_invoice(regie, payer, "74.75", number="F-2026-0077")
        payment = OnlinePayment.objects.create(
            regie=regie, invoice=invoice, payer=payer, idop="b7c1e0a2d4f64f3a", numcli="012345",
            environment="T", exer=2026, refdet="F-2026-0077", amount_cents=7475,
            email="durand@example.org", started_by="x" * 16, state=PaymentState.ANOMALY,
            result_code="P", result={"montant": "100", "resultrans": "P"},
            note="PayFiP dit avoir encaissé 1,00 € pour 74,75 € demandés",
            finished_at=timezone.now())
    make_account(TITULAIRE.account)
    grant(commune, TITULAIRE.account, Role.REGISSEUR)
    try:
        yield {"base": f"http://{commune.primary_domain}:{server}", "commune": commune,
               "payment": payment}
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=TITULAIRE.account).delete()


def test_the_titulaire_settles_an_online_anomaly_at_phone_width(anomaly):
    base, payment = anomaly["base"], anomaly["payment"]
    authenticator = totp_of(TITULAIRE.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 812},
                                       is_mobile=True).new_page()
            page.goto(f"{base}/compte/connexion/?next=/espace/regies/R-001/a-verifier/")
            page.get_by_label("Adresse électronique").fill(TITULAIRE.account)
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
            page.get_by_role("button", name="Valider").click()

            expect(page.get_by_role("heading", name="Paiements à vérifier")).to_be_visible()
            alert = page.locator(f"#paiement-{payment.pk}")
            expect(alert).to_contain_text("payfip:b7c1e0a2d4f64f3a")
            expect(alert).to_contain_text("74,75 €")
            expect(alert).to_contain_text("1,00 € pour 74,75 € demandés")
            expect(alert).to_contain_text("À faire")
            # Nothing sticks out of a phone's screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            assert serious_violations(page) == []

            record = alert.get_by_role("button", name="Enregistrer ce que PayFiP a encaissé")
            record.click()
            expect(page.locator(".error", has_text="Donnez le motif")).to_be_visible()
            assert serious_violations(page) == []

            alert = page.locator(f"#paiement-{payment.pk}")
            alert.get_by_role("textbox").fill("1 € bien encaissé d'après PayFiP")
            alert.get_by_role("button", name="Enregistrer ce que PayFiP a encaissé").click()
            expect(page.get_by_text("Aucun paiement en ligne à vérifier.")).to_be_visible()
            expect(page.locator(".messages")).to_contain_text(
                "payfip:b7c1e0a2d4f64f3a")
            assert serious_violations(page) == []
        finally:
            browser.close()

    with in_schema(anomaly["commune"]):
        entry = LedgerEntry.objects.get(online_payment=payment)
        assert (entry.external_ref, str(entry.amount)) == ("payfip:b7c1e0a2d4f64f3a", "1.00")
