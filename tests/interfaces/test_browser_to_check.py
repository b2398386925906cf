"""« À vérifier » in a real browser (Chromium, Playwright). At phone width: the titulaire
signs in, finds an online payment whose PayFiP result differs from what was asked, reads
what happened and what to do, is asked for a reason, then records what PayFiP collected;
the payment leaves the list and its receipt is linked. Money PayFiP took for an invoice
handed over to the public accountant meanwhile: the mandataire (desktop) sees it and no
button, and a forged submission is refused in French; the titulaire (360 px phone) puts
it to the payer's credit, once, even when the form is sent again from an older tab or
after the back button; the journal shows one receipt. axe-core finds no serious violation
at any step, nothing overflows the phone's screen.

The server runs in a thread of its own and reads committed data (``committed``), which
the test removes afterwards."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import Role
from opsn.communes.models import Commune
from opsn.finance.handover import handover_create
from opsn.online_payments.models import OnlinePayment, PaymentState
from opsn.online_payments.services import (
    online_payment_check,
    online_payment_start,
    payfip_configure,
)
from opsn.payfip_local.models import Operation
from opsn.regies.models import EntrySource, Invoice, LedgerEntry
from opsn.regies.services import founding, payments
from tests.helpers.browser import CHROMIUM, agent_signs_in, launch, overflows, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import PASSWORD, grant, make_account, totp_of
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    TITULAIRE,
    make_budget,
    make_invoice,
    make_payer,
    make_regie,
    wipe_regies,
)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")

MODES = ["cash", "cheque", "card", "transfer", "other", "online"]
PAGE = "/espace/regies/R-001/a-verifier/"
REASON = "Signalé au SGC le 02/12 : titre réduit, à rembourser"


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
            agent_signs_in(page, f"{base}/compte/connexion/?next=/espace/regies/R-001/a-verifier/",
                           TITULAIRE.account, authenticator)

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


@pytest.fixture
def waiting(server):
    """R-001 imputed, the family's invoice of 74,75 €; the family starts paying it online,
    the invoice is handed over to the public accountant meanwhile, then PayFiP takes the
    money: kept out of the journal, in « À vérifier »."""
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = make_regie(accepted_modes=MODES)
        payfip_configure(regie=regie, actor=ADMIN, numcli="123456")
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        payer = make_payer(regie, "Famille Durand", email="famille.durand@example.fr")
        invoice = make_invoice(regie, payer, "74.75", number="R-CANT-2026-00012")
        with transaction.atomic():
            payment = online_payment_start(
                invoice=invoice, email="famille.durand@example.fr",
                started_by="camille.durand@citoyen.test",
                notify_url="http://venissieux.localhost/paiement-en-ligne/notification/",
                return_url_for=lambda p: "http://venissieux.localhost/mon-espace/")
        handover_create(regie=regie, due_before=datetime.date(2026, 11, 15), actor=ADMIN,
                        day=datetime.date(2026, 12, 1))
        # The family pays on PayFiP's page; PayFiP is asked the result.
        Operation.objects.filter(idop=payment.idop).update(
            resultrans="P", numauto="123456", decided_at=timezone.now())
        with transaction.atomic():
            online_payment_check(payment=payment)
        payment.refresh_from_db()
        assert payment.state == "paid" and payment.entry_id is None
    for account, role in ((TITULAIRE.account, Role.REGISSEUR),
                          (MANDATAIRE.account, Role.MANDATAIRE)):
        make_account(account)
        grant(commune, account, role)
    try:
        yield {"base": f"http://{commune.primary_domain}:{server}", "commune": commune,
               "payment": payment, "payer": payer, "invoice": invoice,
               "codes": {a: totp_of(a) for a in (TITULAIRE.account, MANDATAIRE.account)}}
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(
            email__in=[TITULAIRE.account, MANDATAIRE.account]).delete()


def sign_in(page, base: str, account: str, authenticator) -> None:
    """Through the identity provider, with the second factor agents must use."""
    page.goto(f"{base}/compte/connexion/?next={PAGE}")
    page.get_by_label("Adresse électronique").fill(account)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Double authentification")).to_be_visible()
    page.get_by_label("Code à 6 chiffres").fill(authenticator.now())
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("heading", name="Paiements à vérifier")).to_be_visible()


def plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


def test_the_titulaire_puts_money_for_a_handed_over_invoice_to_the_payers_credit(waiting):
    base, payment = waiting["base"], waiting["payment"]
    reference = f"payfip:{payment.idop}"
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            # The mandataire, at a desktop: sees it waiting, no button, who decides.
            desk = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
            clerk = desk.new_page()
            sign_in(clerk, base, MANDATAIRE.account, waiting["codes"][MANDATAIRE.account])
            item = clerk.locator(f"#paiement-{payment.pk}")
            said = plain(item.inner_text())
            assert reference in said and "74,75 €" in said
            assert "Payé par Famille Durand pour la facture R-CANT-2026-00012" in said
            assert "transmise au comptable public (bordereau 1/2026)" in said
            assert "Le régisseur titulaire (ou son suppléant pendant un remplacement) choisit " \
                   "où va ce paiement." in said
            expect(item.get_by_role("button")).to_have_count(0)
            assert serious_violations(clerk) == []
            # Sending the form anyway (a page kept from before): a clear French refusal.
            clerk.evaluate("""([action, reason]) => {
                const form = document.createElement('form');
                form.method = 'post'; form.action = action;
                const token = document.querySelector('input[name=csrfmiddlewaretoken]');
                for (const [name, value] of [['csrfmiddlewaretoken', token && token.value],
                                             ['action', 'credit'], [reason, 'moi']]) {
                    const input = document.createElement('input');
                    input.type = 'hidden'; input.name = name; input.value = value || '';
                    form.appendChild(input);
                }
                document.body.appendChild(form); form.submit();
            }""", [f"{PAGE}paiement-en-ligne/{payment.pk}/", f"p{payment.pk}-reason"])
            expect(clerk.get_by_role("heading", name="Paiements à vérifier")).to_be_visible()
            refused = plain(clerk.locator(f"#paiement-{payment.pk}").inner_text())
            assert ("Rien n'a été enregistré Seul le régisseur titulaire de la régie Cantine et "
                    "périscolaire (ou son suppléant pendant un remplacement enregistré) peut "
                    "régler un paiement en ligne reçu pour une facture transmise.") in refused
            assert serious_violations(clerk) == []

            # The titulaire, on a phone.
            phone = browser.new_context(locale="fr-FR", viewport={"width": 360, "height": 740},
                                        is_mobile=True, has_touch=True)
            page = phone.new_page()
            sign_in(page, base, TITULAIRE.account, waiting["codes"][TITULAIRE.account])
            assert not overflows(page)
            assert serious_violations(page) == []
            item = page.locator(f"#paiement-{payment.pk}")
            said = plain(item.inner_text())
            assert reference in said and "74,75 €" in said and "Famille Durand" in said
            assert "la régie ne l'encaisse plus, le paiement attend votre choix." in said
            expect(item.get_by_role("button", name="Enregistrer sur la facture")).to_have_count(0)
            settle = item.get_by_role("button", name="Mettre à l'avoir de Famille Durand")
            expect(settle).to_be_visible()
            # At a desktop's width too: nothing axe-core objects to, buttons and all.
            page.set_viewport_size({"width": 1280, "height": 900})
            assert serious_violations(page) == []
            page.set_viewport_size({"width": 360, "height": 740})
            # The same page kept open in another tab (as the back button brings it back).
            older = phone.new_page()
            older.goto(f"{base}{PAGE}")

            # Without a reason: refused, in French, on the same page.
            settle.click()
            expect(page.locator(".error", has_text="Donnez le motif")).to_be_visible()
            assert not overflows(page)
            assert serious_violations(page) == []
            page.get_by_label("Ce que vous avez vérifié, ce qui est fait").fill(REASON)
            with page.expect_request(lambda r: r.method == "POST") as sent:
                page.get_by_role("button", name="Mettre à l'avoir de Famille Durand").click()

            expect(page.get_by_text("Aucun paiement en ligne à vérifier.")).to_be_visible()
            done = plain(page.locator("main").inner_text())
            assert (f"74,75 € enregistrés à l'avoir de Famille Durand par {TITULAIRE.account}, "
                    "quittance ") in done
            assert not overflows(page)
            assert serious_violations(page) == []

            # The older tab: submitting again books nothing, says so.
            older.get_by_label("Ce que vous avez vérifié, ce qui est fait").fill(REASON)
            older.get_by_role("button", name="Mettre à l'avoir de Famille Durand").click()
            expect(older.get_by_text("Ce paiement en ligne n'est plus à vérifier.")).to_be_visible()
            # The back button and « Confirmer le nouvel envoi du formulaire »: the very same
            # request sent again (its token, its reason) books nothing more either.
            answer = page.evaluate("""([url, body]) => fetch(url, {method: 'POST', body,
                headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                redirect: 'manual'}).then(r => r.type)""",
                                   [sent.value.url, sent.value.post_data])
            assert answer == "opaqueredirect"  # back to the page, nothing refused twice
            page.goto(f"{base}{PAGE}")
            expect(page.get_by_text("Ce paiement en ligne n'est plus à vérifier.")).to_be_visible()

            # The payer's page: the money on the credit, once.
            page.goto(f"{base}/espace/regies/R-001/payeurs/{waiting['payer'].pk}/")
            credit = page.locator(".card", has=page.get_by_role("heading", name="Avoir"))
            expect(credit).to_contain_text("74,75 €")
            assert not overflows(page)

            # The journal shows the payment once, with its receipt number.
            page.goto(f"{base}/espace/regies/R-001/journal/")
            journal = plain(page.locator("main").inner_text())
            assert journal.count("Famille Durand paiement en ligne (PayFiP) 74,75 €") == 1
            assert not overflows(page)
            assert serious_violations(page) == []
        finally:
            browser.close()

    with in_schema(waiting["commune"]):
        [entry] = LedgerEntry.objects.filter(source=EntrySource.ONLINE)
        assert entry.amount == Decimal("74.75") and entry.external_ref == reference
        assert not entry.allocations.exists()
        assert payments.credit_of(waiting["payer"]) == Decimal("74.75")
        assert Invoice.objects.get(pk=waiting["invoice"].pk).status == "due"  # the accountant's
        assert OnlinePayment.objects.get(pk=payment.pk).resolved_by == TITULAIRE.account
    assert entry.receipt in done and journal.count(entry.receipt) == 1
