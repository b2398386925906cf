"""The finance pages on a phone (Chromium, Playwright, 360 px wide): the administrator
describes the principal budget, finds it on the régie's founding act, imputes a product,
and reads « Impayés » with its chart; axe-core finds no serious violation on any of them,
and nothing is wider than the phone but the tables, each scrolling in its frame.

The server reads committed data (``server``), which the test removes afterwards."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from opsn.agents.models import Role
from opsn.communes.models import Commune
from opsn.finance.handover import handover_create
from opsn.kernel.tenancy import connection
from opsn.regies.models import Invoice, Regie
from opsn.regies.services import cashdesk, founding, invoicing
from opsn.regies.services.payments import payment_record
from tests.helpers.browser import CHROMIUM, agent_signs_in, launch, serious_violations
from tests.helpers.communes import VENISSIEUX, in_schema
from tests.helpers.identity import grant, make_account, totp_of
from tests.helpers.regies import ADMIN, TITULAIRE, make_payer, make_regie, wipe_regies

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium here")
PHONE = 360


@pytest.fixture
def finance_data(server):
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    today = timezone.localdate()
    with in_schema(commune):
        regie = make_regie()
        for n, days in enumerate((5, 45, 120), start=1):
            due = today - datetime.timedelta(days=days)
            invoicing.invoice_issue(
                regie=regie, actor=ADMIN, payer=make_payer(regie, f"Famille n° {n}"),
                issued_on=due, due_on=due, number=f"F-{days}",
                lines=[invoicing.line_draft(label="Repas", unit_price=f"{10 * n}.00")])
    make_account(ADMIN.account)
    grant(commune, ADMIN.account, Role.ADMINISTRATOR)
    try:
        yield f"http://{commune.primary_domain}:{server}"
    finally:
        with in_schema(commune):
            wipe_regies()
        get_user_model().objects.filter(email=ADMIN.account).delete()


def hand_over_and_deposit():
    """An imputed invoice handed over, another paid and deposited (committed)."""
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    with in_schema(commune):
        regie = Regie.objects.get(number="R-001")
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        due = timezone.localdate() - datetime.timedelta(days=40)
        payer = make_payer(regie, "Famille Imputée")
        for number in ("F-IMP-1", "F-IMP-2"):
            invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, issued_on=due,
                                    due_on=due, number=number,
                                    lines=[invoicing.line_draft(label="Repas",
                                                                unit_price="7.00")])
        done = handover_create(regie=regie, due_before=None, actor=ADMIN,
                               invoices=["F-IMP-1"])
        payment_record(regie=regie, actor=TITULAIRE, amount="7.00", mode="cash",
                       invoices=[Invoice.objects.get(number="F-IMP-2")])
        return done, cashdesk.deposit_make(regie=regie, actor=TITULAIRE)


def outside_the_event_loop(work):
    """Playwright's sync API runs an event loop in this thread: the ORM runs in another."""
    result: list = []

    def run():
        try:
            result.append(work())
        except BaseException as exc:
            result.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    assert serious_violations(page) == []


def test_the_finance_pages_on_a_phone_in_chromium(finance_data):
    base = finance_data
    authenticator = totp_of(ADMIN.account)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": PHONE,
                                                                    "height": 740},
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            agent_signs_in(page, f"{base}/compte/connexion/?next=/espace/regies/budgets/",
                           ADMIN.account, authenticator)
            expect(page.get_by_role("heading", name="Budgets de la commune")).to_be_visible()
            fits_the_phone(page)

            page.get_by_label("Libellé du budget").fill("Ville de Vénissieux – budget principal")
            page.get_by_label("SIRET du budget").fill("216 902 593 00006")
            page.get_by_label("Code collectivité (CodCol)").fill("047")
            page.get_by_label("Code budget (CodBud)").fill("00")
            page.get_by_label("Code du poste comptable (IdPost)").fill("069027")
            page.get_by_label("Poste comptable", exact=True).fill("SGC de Vénissieux")
            page.get_by_role("button", name="Enregistrer le budget").click()
            expect(page.get_by_role("alert")).to_contain_text("n'est pas un SIRET")
            fits_the_phone(page)
            page.get_by_label("SIRET du budget").fill("21690259300005")
            page.get_by_role("button", name="Enregistrer le budget").click()
            expect(page.get_by_text("Budget « Ville de Vénissieux – budget principal » "
                                    "enregistré.")).to_be_visible()
            fits_the_phone(page)

            page.goto(f"{base}/espace/regies/R-001/administration/")
            expect(page.get_by_text("SGC de Vénissieux (069027)")).to_be_visible()
            page.get_by_label("Code", exact=True).fill("repas")
            page.get_by_label("Libellé", exact=True).fill("Repas")
            page.get_by_label("Prix unitaire (€)").fill("3,50")
            page.locator("#produit_nature").fill("7067")
            page.locator("#produit_fonction").fill("281")
            page.get_by_role("button", name="Enregistrer le produit").click()
            expect(page.get_by_role("cell", name="7067 / 281")).to_be_visible()
            fits_the_phone(page)

            page.get_by_role("link", name="Impayés").click()
            expect(page.get_by_role("heading", name="Impayés au")).to_be_visible()
            table = page.get_by_role("table", name="Reste dû par tranche de retard")
            expect(table).to_contain_text("Total")
            expect(table).to_contain_text("60,00 €")
            expect(page.get_by_role("img", name="Reste dû par tranche de retard")).to_be_visible()
            fits_the_phone(page)

            page.get_by_role("link", name="Transmissions au comptable").click()
            expect(page.get_by_role("heading", name="Transmissions au comptable public")
                   ).to_be_visible()
            page.get_by_label("Factures échues avant le").fill(
                timezone.localdate().isoformat())
            page.get_by_role("button", name="Voir ce qui serait transmis").click()
            expect(page.get_by_role("heading", name="À transmettre")).to_contain_text("60,00 €")
            fits_the_phone(page)

            # a bordereau's page (its titres, the acknowledgement's upload, cancelling) and
            # a deposit's page (its titre de régularisation)
            done, deposit = outside_the_event_loop(hand_over_and_deposit)
            page.goto(f"{base}/espace/regies/R-001/transmissions/{done.pk}/")
            expect(page.get_by_role("heading", name="Bordereau 1/")).to_be_visible()
            expect(page.get_by_label("Motif de l'annulation")).to_be_visible()
            fits_the_phone(page)
            page.goto(f"{base}/espace/regies/R-001/versements/{deposit.slip}/")
            expect(page.get_by_role("table", name="Régularisation du versement")
                   ).to_contain_text("7067")
            fits_the_phone(page)
        finally:
            browser.close()
