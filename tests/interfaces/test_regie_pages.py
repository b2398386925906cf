"""The agents' pages of the régies, driven through their real HTML forms (WebTest) or a
signed-in browser (Client): the counter, the receipt and its reversal, the journal and its
chain check, the cash desk, payers and invoices, the administration, the audit log, and
the isolation between communes."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from opsn.agents.models import AgentRole, Role
from opsn.audit.models import AuditEvent
from opsn.kernel.tenancy import connection
from opsn.online_payments.models import PayfipAccount
from opsn.online_payments.services import ACTOR as PAYFIP
from opsn.regies.models import (
    Allocation,
    Assignment,
    DailyClosing,
    Deposit,
    ImportedPayment,
    Invoice,
    LedgerEntry,
    Payer,
    Product,
    Regie,
    StandIn,
)
from opsn.regies.selectors import held_in_hand
from opsn.regies.services import cashdesk, founding
from opsn.regies.services.payments import payment_record, payment_reverse
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import agent, grant, make_account, sign_in, sign_in_webtest
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    STRANGER,
    SUPPLEANT,
    TITULAIRE,
    make_agents,
    make_invoice,
    make_payer,
    make_regie,
)

BASE = "/espace/regies"


@pytest.fixture
def regie(venissieux):
    with in_schema(venissieux):
        return make_regie()


@pytest.fixture
def payer_with_invoice(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie, "Famille Martin", email="martin@example.fr")
        invoice = make_invoice(regie, payer, "45.00", number="F-2026-0001")
    return payer, invoice


def provider_knows(commune, account: str) -> None:
    """Roles come from the identity provider at sign-in: give it the roles the test's
    set-up wrote in the commune (helpers.regies.make_agents)."""

    make_account(account)
    with in_schema(commune):
        roles = list(AgentRole.objects.filter(account=account).values_list("role", flat=True))
    grant(commune, account, *roles)


def client_of(commune, account: str):
    """A test client signed in on the commune's domain (through the provider)."""
    provider_knows(commune, account)
    return sign_in(host_of(commune), account)


def browser(django_app, commune, account: str):
    """A WebTest browser signed in on the commune's domain; every request goes there."""
    provider_knows(commune, account)
    sign_in_webtest(django_app, host_of(commune), account)
    django_app.extra_environ = {**django_app.extra_environ, "HTTP_HOST": host_of(commune)}
    return django_app


def form_of(page, action_suffix: str = "", method: str = "post"):
    return next(f for f in page.forms.values()
                if f.method.lower() == method and f.action.endswith(action_suffix))


def text_of(page) -> str:
    """The page's text, with its spaces as a reader sees them (1 234,50 €)."""
    text = page.html.get_text(" ")
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))


def unique_ids(page) -> bool:
    """Labels point at the right input only if no id is used twice on the page."""
    ids = [tag["id"] for tag in page.html.find_all(id=True)]
    return len(ids) == len(set(ids))


def entries(commune):
    with in_schema(commune):
        return list(LedgerEntry.objects.order_by("id"))


def year() -> int:
    return timezone.localdate().year


# --- Mes régies -----------------------------------------------------------------------------

def test_my_regies_shows_the_cash_position_warnings_and_today(venissieux, django_app):
    with in_schema(venissieux):
        regie = make_regie(cash_limit="100")
        make_regie(number="R-002", name="Piscine", staff=False)
        payment_record(regie=regie, actor=TITULAIRE, amount="85", mode="cash",
                       payer=make_payer(regie))
    page = browser(django_app, venissieux, MANDATAIRE.account).get(f"{BASE}/")
    text = text_of(page)
    assert "Cantine et périscolaire" in text and "Piscine" not in text  # not appointed there
    assert "Vous êtes mandataire de cette régie" in text
    assert "85,00 € sur un maximum de 100,00 € (85 %)" in text
    assert "À prévoir : Encaisse à 85 % du maximum" in text
    assert "Espèces 1 85,00 €" in text
    assert page.html.find("a", string="Guichet")["href"] == f"{BASE}/R-001/guichet/"
    assert "Créer une régie" not in text


def test_the_administrator_sees_every_regie_and_may_create_one(venissieux, regie, django_app):
    with in_schema(venissieux):
        make_regie(number="R-002", name="Piscine", staff=False)
    page = browser(django_app, venissieux, ADMIN.account).get(f"{BASE}/")
    assert "Piscine" in text_of(page) and "Cantine et périscolaire" in text_of(page)
    assert page.html.find("a", string="Créer une régie")
    home = django_app.get("/")
    assert home.html.find("nav").find("a", string="Régies")["href"] == f"{BASE}/"


def test_the_home_page_links_to_the_regies_only_for_agents(venissieux, regie):
    anonymous = Client(HTTP_HOST=host_of(venissieux)).get("/").content.decode()
    assert f'href="{BASE}/"' not in anonymous
    make_account(MANDATAIRE.account)
    signed_in = client_of(venissieux, MANDATAIRE.account).get("/").content.decode()
    assert f'href="{BASE}/"' in signed_in


# --- The counter ----------------------------------------------------------------------------

def test_a_cash_payment_at_the_counter_in_a_few_keystrokes(venissieux, regie,
                                                           payer_with_invoice, django_app):
    payer, invoice = payer_with_invoice
    app = browser(django_app, venissieux, MANDATAIRE.account)
    counter = app.get(f"{BASE}/R-001/guichet/")
    search = counter.html.find("input", {"name": "q"})
    assert search.has_attr("autofocus")
    assert [r["value"] for r in counter.html.find_all("input", {"name": "mode"})] == [
        "cash", "cheque", "card", "transfer", "other"]  # cash first, only the accepted ones

    found = form_of(counter, method="get")
    found["q"] = "martin"
    page = found.submit()
    assert "Famille Martin" in text_of(page) and payer.link_code in text_of(page)
    pay = form_of(page, "/guichet/")
    assert ticked(pay) == [str(invoice.pk)]  # ticked, what it owes pre-filled
    assert pay[f"alloc_{invoice.pk}"].value == "45,00"
    assert pay["amount"].value == "45,00"
    assert pay["mode"].value == "cash"
    receipt = pay.submit().follow()

    text = text_of(receipt)
    assert f"Quittance n° {year()}-000001" in text
    assert "45,00 €" in text and "quarante-cinq euros" in text
    assert "Reçu de Famille Martin" in text and "Espèces" in text
    assert "Facture F-2026-0001" in text
    assert receipt.html.find("button", string="Imprimer").has_attr("data-print")
    with in_schema(venissieux):
        invoice.refresh_from_db()
        assert invoice.status == "paid"
        entry = LedgerEntry.objects.get()
        assert (entry.agent, entry.amount) == (MANDATAIRE.account, Decimal("45.00"))


def test_invoices_numbered_past_a_thousand_are_paid_at_the_counter(venissieux, regie,
                                                                    django_app):
    """Ids are written as they are in the page's fields: French number formatting would
    give « 1 000 », which no form takes back."""
    with in_schema(venissieux):
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('regies_invoice', 'id'), "
                           "12344)")
        payer = make_payer(regie, "Famille Martin")
        invoice = make_invoice(regie, payer, "45.00")
    assert invoice.pk == 12345
    app = browser(django_app, venissieux, MANDATAIRE.account)
    pay = form_of(app.get(f"{BASE}/R-001/guichet/?payer={payer.pk}"), "/guichet/")
    assert ticked(pay) == ["12345"]
    assert "Quittance n°" in text_of(pay.submit().follow())
    with in_schema(venissieux):
        invoice.refresh_from_db()
        assert invoice.status == "paid"


def test_searching_an_invoice_number_ticks_that_invoice_only(venissieux, regie, django_app):
    with in_schema(venissieux):
        payer = make_payer(regie, "Association Les Minguettes")
        make_invoice(regie, payer, "10.00", number="F-A")
        second = make_invoice(regie, payer, "20.00", number="F-B")
    page = browser(django_app, venissieux, MANDATAIRE.account).get(
        f"{BASE}/R-001/guichet/?q=F-B")
    pay = form_of(page, "/guichet/")
    assert ticked(pay) == [str(second.pk)]
    assert pay["amount"].value == "20,00"


def test_several_payers_found_are_listed_to_pick_one(venissieux, regie, django_app):
    with in_schema(venissieux):
        make_payer(regie, "Famille Martin")
        other = make_payer(regie, "Martin Dupuis")
    app = browser(django_app, venissieux, MANDATAIRE.account)
    page = app.get(f"{BASE}/R-001/guichet/?q=martin")
    assert "2 payeurs trouvés" in text_of(page)
    chosen = page.click("Martin Dupuis")
    assert form_of(chosen, "/guichet/")["payer"].value == str(other.pk)
    assert chosen.html.find("input", {"name": "amount"}).has_attr("autofocus")


def test_a_cheque_needs_its_number_and_bank_and_a_card_its_ticket(venissieux, regie,
                                                                  payer_with_invoice,
                                                                  django_app):
    payer, _invoice = payer_with_invoice
    app = browser(django_app, venissieux, MANDATAIRE.account)
    pay = form_of(app.get(f"{BASE}/R-001/guichet/?payer={payer.pk}"), "/guichet/")
    pay["mode"] = "cheque"
    pay["bank"] = "La Banque Postale"
    refused = pay.submit(status=400)
    assert "Indiquez le numéro du chèque." in text_of(refused)
    assert refused.html.find(id="id_cheque_number_error")
    assert refused.html.find("input", {"name": "bank"})["value"] == "La Banque Postale"
    again = form_of(refused, "/guichet/")
    again["cheque_number"] = "0012345"
    receipt = again.submit().follow()
    assert "Chèque n° 0012345" in text_of(receipt) and "La Banque Postale" in text_of(receipt)
    with in_schema(venissieux):
        assert LedgerEntry.objects.get().details == {"cheque_number": "0012345",
                                                     "bank": "La Banque Postale"}


@pytest.mark.parametrize("amount, mode, message", [
    ("12,345", "cash", "12,345 € a plus de deux décimales."),
    ("300,01", "cash", "Un paiement en espèces est limité à 300 €"),
    ("douze", "cash", "« douze » n'est pas un montant."),
    ("30", "card", "Indiquez la référence du ticket du terminal."),
])
def test_a_refused_payment_says_why_keeps_what_was_typed_and_records_nothing(
        venissieux, regie, payer_with_invoice, django_app, amount, mode, message):
    payer, _ = payer_with_invoice
    app = browser(django_app, venissieux, MANDATAIRE.account)
    pay = form_of(app.get(f"{BASE}/R-001/guichet/?payer={payer.pk}"), "/guichet/")
    pay["amount"] = amount
    pay["mode"] = mode
    refused = pay.submit(status=400)
    alert = refused.html.find(attrs={"role": "alert"})
    assert message in text_of(refused) and message.split(" :")[0][:20] in alert.get_text(" ")
    assert refused.html.find("input", {"name": "amount"})["value"] == amount
    assert entries(venissieux) == []


def test_the_maximum_cash_reached_refuses_more_cash(venissieux, django_app):
    with in_schema(venissieux):
        regie = make_regie(cash_limit="100")
        payer = make_payer(regie)
        payment_record(regie=regie, actor=TITULAIRE, amount="90", mode="cash", payer=payer)
    app = browser(django_app, venissieux, MANDATAIRE.account)
    page = app.get(f"{BASE}/R-001/guichet/?payer={payer.pk}")
    assert "Encaisse à 90 % du maximum" in text_of(page)
    pay = form_of(page, "/guichet/")
    pay["amount"] = "20"
    refused = pay.submit(status=400)
    assert "Encaisse maximale de la régie Cantine et périscolaire" in text_of(refused)
    assert refused.html.find(id="id_amount_error")
    assert len(entries(venissieux)) == 1


def test_a_closed_day_takes_no_payment(venissieux, regie, payer_with_invoice, django_app):
    payer, _ = payer_with_invoice
    with in_schema(venissieux):
        cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={})
    app = browser(django_app, venissieux, MANDATAIRE.account)
    refused = form_of(app.get(f"{BASE}/R-001/guichet/?payer={payer.pk}"),
                      "/guichet/").submit(status=400)
    assert "est arrêtée pour la régie Cantine et périscolaire" in text_of(refused)
    assert entries(venissieux) == []


def test_only_appointed_agents_collect(venissieux, regie, payer_with_invoice, django_app):
    payer, _ = payer_with_invoice
    # The administrator reads every régie but is appointed to none: the service refuses.
    app = browser(django_app, venissieux, ADMIN.account)
    page = app.get(f"{BASE}/R-001/guichet/?payer={payer.pk}")
    assert "vous pouvez consulter, pas encaisser" in text_of(page)
    refused = form_of(page, "/guichet/").submit(status=403)
    assert "n'est ni régisseur ni mandataire de la régie" in text_of(refused)
    assert entries(venissieux) == []
    # An agent of the commune not appointed to this régie does not even open it.
    make_account(STRANGER.account)
    stranger = client_of(venissieux, STRANGER.account)
    assert stranger.get(f"{BASE}/R-001/guichet/").status_code == 403
    assert stranger.post(f"{BASE}/R-001/guichet/", {"amount": "5", "mode": "cash",
                                                   "payer_name": "X"}).status_code == 403
    assert entries(venissieux) == []


def test_a_counter_sale_without_a_payer_record(venissieux, regie, django_app):
    with in_schema(venissieux):
        ticket = founding.product_save(regie=regie, actor=ADMIN, code="piscine",
                                       name="Entrée piscine", unit_price="3.50")
    app = browser(django_app, venissieux, MANDATAIRE.account)
    pay = form_of(app.get(f"{BASE}/R-001/guichet/"), "/guichet/")
    pay["product"] = str(ticket.pk)
    pay["quantity"] = "2"
    pay["amount"] = ""  # left empty: the price of what is sold
    refused = pay.submit(status=400)
    assert "Le nom du payeur manque." in text_of(refused)
    again = form_of(refused, "/guichet/")
    assert again["quantity"].value == "2"
    again["payer_name"] = "Jean Dupont"
    receipt = again.submit().follow()
    assert "Entrée piscine × 2" in text_of(receipt) and "7,00 €" in text_of(receipt)
    with in_schema(venissieux):
        entry = LedgerEntry.objects.get()
        assert (entry.payer_id, entry.payer_name, entry.amount) == (None, "Jean Dupont",
                                                                   Decimal("7.00"))
        assert Allocation.objects.get(entry=entry).quantity == Decimal("2")


def test_what_exceeds_the_invoices_goes_to_the_payers_credit(venissieux, regie,
                                                             payer_with_invoice, django_app):
    payer, _ = payer_with_invoice
    app = browser(django_app, venissieux, MANDATAIRE.account)
    pay = form_of(app.get(f"{BASE}/R-001/guichet/?payer={payer.pk}"), "/guichet/")
    pay["amount"] = "50"
    pay.submit().follow()
    page = app.get(f"{BASE}/R-001/guichet/?payer={payer.pk}")
    assert "Avoir disponible : 5,00 €" in text_of(page)


def test_a_receipt_downloads_as_a_pdf(venissieux, regie, payer_with_invoice):
    _payer, invoice = payer_with_invoice
    with in_schema(venissieux):
        entry = payment_record(regie=regie, actor=MANDATAIRE, amount="45", mode="cash",
                               invoices=[invoice])
    make_account(MANDATAIRE.account)
    client = client_of(venissieux, MANDATAIRE.account)
    response = client.get(f"{BASE}/R-001/quittances/{entry.receipt}/pdf/")
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="quittance-R-001-{entry.receipt}.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")
    assert client.get(f"{BASE}/R-001/quittances/{year()}-000099/").status_code == 404


# --- Reversal and journal -------------------------------------------------------------------

def test_a_receipt_is_cancelled_by_a_reversal_with_a_reason(venissieux, regie,
                                                            payer_with_invoice, django_app):
    _payer, invoice = payer_with_invoice
    with in_schema(venissieux):
        entry = payment_record(regie=regie, actor=MANDATAIRE, amount="45", mode="cash",
                               invoices=[invoice])
    app = browser(django_app, venissieux, TITULAIRE.account)
    page = app.get(f"{BASE}/R-001/quittances/{entry.receipt}/")
    refused = form_of(page, "/annuler/").submit(status=400)
    assert "Donnez le motif de l'annulation." in text_of(refused)
    assert len(entries(venissieux)) == 1
    cancel = form_of(refused, "/annuler/")
    cancel["reason"] = "erreur de payeur"
    reversal = cancel.submit().follow()
    text = text_of(reversal)
    assert f"Annulation — Quittance n° {year()}-000002" in text
    assert "-45,00 €" in text and f"Annule la quittance {entry.receipt}" in text
    assert "erreur de payeur" in text
    original = app.get(f"{BASE}/R-001/quittances/{entry.receipt}/")
    assert "Cette quittance est annulée" in text_of(original)
    assert not any(f.action.endswith("/annuler/") for f in original.forms.values())
    with in_schema(venissieux):
        invoice.refresh_from_db()
        assert invoice.status == "due"


def test_a_mandataire_cancels_only_their_own_payment_of_the_day(venissieux, regie,
                                                                payer_with_invoice):
    payer, _ = payer_with_invoice
    with in_schema(venissieux):
        entry = payment_record(regie=regie, actor=TITULAIRE, amount="10", mode="cash",
                               payer=payer)
    client = agent(venissieux, MANDATAIRE.account, Role.MANDATAIRE)
    response = client.post(f"{BASE}/R-001/quittances/{entry.receipt}/annuler/",
                           {"reason": "doublon"})
    assert response.status_code == 403
    assert "Seul le régisseur titulaire" in response.content.decode()
    assert len(entries(venissieux)) == 1


def tick(form, name: str, values: list[str]) -> None:
    """Tick exactly ``values`` among the checkboxes called ``name``."""
    for box in form.fields[name]:
        box.checked = box._value in values


def ticked(form) -> list[str]:
    return [box._value for box in form.fields.get("invoices", []) if box.checked]


def journal_rows(page) -> list[list[str]]:
    return [[c.get_text(" ", strip=True) for c in tr.find_all(["th", "td"])]
            for tr in page.html.find("tbody").find_all("tr")]


def test_the_journal_lists_newest_first_with_reversals_under_their_original(
        venissieux, regie, django_app):
    with in_schema(venissieux):
        payer = make_payer(regie)
        first = payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="cash",
                               payer=payer)
        payment_record(regie=regie, actor=TITULAIRE, amount="20", mode="cheque", payer=payer,
                       details={"cheque_number": "77", "bank": "CIC"})

        payment_reverse(entry=first, actor=TITULAIRE, reason="erreur")
    app = browser(django_app, venissieux, TITULAIRE.account)
    rows = journal_rows(app.get(f"{BASE}/R-001/journal/"))
    receipts = [row[0] for row in rows]
    y = year()
    assert receipts == [f"{y}-000002", f"{y}-000001", f"{y}-000003"]
    assert rows[1][-1] == f"Annulée par la quittance {y}-000003"
    assert rows[2][-1] == f"Annule la quittance {y}-000001 : erreur"

    cheques = journal_rows(app.get(f"{BASE}/R-001/journal/?mode=cheque"))
    assert [r[0] for r in cheques] == [f"{y}-000002"]
    mine = journal_rows(app.get(f"{BASE}/R-001/journal/", {"agent": MANDATAIRE.account}))
    assert [r[0] for r in mine] == [f"{y}-000001"]
    today = timezone.localdate()
    assert len(journal_rows(app.get(f"{BASE}/R-001/journal/?day={today:%Y-%m-%d}"))) == 3
    other_day = today - datetime.timedelta(days=3)
    assert "Aucune quittance pour ces critères" in app.get(
        f"{BASE}/R-001/journal/?day={other_day:%Y-%m-%d}").text


def test_the_chain_check_names_the_first_altered_receipt(venissieux, regie, django_app):
    with in_schema(venissieux):
        payer = make_payer(regie)
        made = [payment_record(regie=regie, actor=TITULAIRE, amount=f"{n}", mode="cash",
                               payer=payer) for n in (5, 6, 7)]
    app = browser(django_app, venissieux, TITULAIRE.account)
    journal = app.get(f"{BASE}/R-001/journal/")
    checked = next(f for f in journal.forms.values() if "verifier" in f.fields).submit()
    assert "Journal intègre (3 écritures)" in text_of(checked)
    with in_schema(venissieux), connection.cursor() as cursor:  # someone with database rights
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE regies_ledgerentry DISABLE TRIGGER USER")
        cursor.execute("UPDATE regies_ledgerentry SET amount = 70 WHERE id = %s",
                       [made[1].pk])
        cursor.execute("ALTER TABLE regies_ledgerentry ENABLE TRIGGER USER")
    broken = app.get(f"{BASE}/R-001/journal/?verifier=1")
    alert = broken.html.find(attrs={"role": "alert"})
    assert "Chaînage rompu" in alert.get_text(" ") and made[1].receipt in alert.get_text(" ")


# --- The cash desk --------------------------------------------------------------------------

def takings(regie, payer):
    payment_record(regie=regie, actor=MANDATAIRE, amount="12.50", mode="cash", payer=payer)
    payment_record(regie=regie, actor=MANDATAIRE, amount="45", mode="cheque", payer=payer,
                   details={"cheque_number": "8812", "bank": "Crédit Agricole"})


def test_the_titulaire_closes_the_day_with_a_reason_for_a_difference(venissieux, regie,
                                                                     django_app):
    with in_schema(venissieux):
        takings(regie, make_payer(regie))
    app = browser(django_app, venissieux, TITULAIRE.account)
    page = app.get(f"{BASE}/R-001/arrete/")
    text = text_of(page)
    assert "Espèces 1 12,50 €" in text and "Chèque 1 45,00 €" in text
    close = form_of(page, "/arrete/")
    close["counted_cash"] = "12"
    close["counted_cheque"] = "45,00"
    refused = close.submit(status=400)
    assert "Écart de -0,50 € (espèces) : indiquez-en le motif." in text_of(refused)
    assert refused.html.find(id="id_reason_cash_error")
    again = form_of(refused, "/arrete/")
    assert again["counted_cash"].value == "12"
    again["reason_cash"] = "pièce introuvable"
    done = again.submit().follow()
    assert "Journée arrêtée" in text_of(done) and "pièce introuvable" in text_of(done)
    with in_schema(venissieux):
        assert DailyClosing.objects.get(regie=regie).closed_by == TITULAIRE.account


def test_a_mandataire_neither_closes_nor_deposits(venissieux, regie, django_app):
    with in_schema(venissieux):
        takings(regie, make_payer(regie))
    app = browser(django_app, venissieux, MANDATAIRE.account)
    closing = app.get(f"{BASE}/R-001/arrete/")
    assert not closing.html.find("button", string=re.compile("Arrêter la journée"))
    deposits = app.get(f"{BASE}/R-001/versements/")
    assert not deposits.html.find("button", string="Verser au comptable")
    client = client_of(venissieux, MANDATAIRE.account)
    refused = client.post(f"{BASE}/R-001/versements/")
    assert refused.status_code == 403
    assert "Seul le régisseur titulaire de la régie Cantine et périscolaire" in (
        refused.content.decode())
    refused = client.post(f"{BASE}/R-001/arrete/", {
        "day": f"{timezone.localdate():%Y-%m-%d}", "counted_cash": "12.50",
        "counted_cheque": "45"})
    assert refused.status_code == 403 and "arrêter la caisse" in refused.content.decode()
    with in_schema(venissieux):
        assert not Deposit.objects.exists() and not DailyClosing.objects.exists()


def test_the_titulaire_deposits_everything_pending_with_a_numbered_slip(venissieux, regie,
                                                                        django_app):
    with in_schema(venissieux):
        takings(regie, make_payer(regie))
    app = browser(django_app, venissieux, TITULAIRE.account)
    page = app.get(f"{BASE}/R-001/versements/")
    text = text_of(page)
    assert "Espèces 1 12,50 €" in text and "Total 57,50 €" in text
    done = form_of(page, "/versements/").submit().follow()
    text = text_of(done)
    assert f"Versement V{year()}-0001 enregistré : 57,50 € au comptable." in text
    assert "Rien à verser" in text
    assert f"V{year()}-0001" in journal_rows(done)[0][0]
    with in_schema(venissieux):
        assert held_in_hand(regie) == 0


def test_the_suppleant_standing_in_may_close_the_day(venissieux, regie, django_app):
    today = timezone.localdate()
    with in_schema(venissieux):
        takings(regie, make_payer(regie))
        founding.standin_record(regie=regie, actor=ADMIN, account=SUPPLEANT.account,
                                starts_on=today, ends_on=today)
    app = browser(django_app, venissieux, SUPPLEANT.account)
    close = form_of(app.get(f"{BASE}/R-001/arrete/"), "/arrete/")
    close["counted_cash"] = "12,50"
    close["counted_cheque"] = "45"
    assert "Journée arrêtée" in close.submit().follow().text


# --- Payers and invoices --------------------------------------------------------------------

def test_create_a_payer_issue_an_invoice_and_cancel_it(venissieux, regie, django_app):
    with in_schema(venissieux):
        founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                              unit_price="4.20")
    app = browser(django_app, venissieux, MANDATAIRE.account)
    new = form_of(app.get(f"{BASE}/R-001/payeurs/nouveau/"), "/nouveau/")
    new["name"] = "Famille Nguyen"
    new["email"] = "pas-une-adresse"
    refused = new.submit(status=400)
    assert "« pas-une-adresse » n'est pas une adresse électronique." in text_of(refused)
    again = form_of(refused, "/nouveau/")
    again["email"] = "nguyen@example.fr"
    page = again.submit().follow()
    with in_schema(venissieux):
        payer = Payer.objects.get(name="Famille Nguyen")
    assert page.html.find(class_="link-code").text == payer.link_code

    issue = form_of(app.get(f"{BASE}/R-001/payeurs/{payer.pk}/factures/nouvelle/"),
                    "/nouvelle/")
    issue["label"] = "Cantine novembre"
    with in_schema(venissieux):
        issue["line1_product"] = str(Product.objects.get(code="repas").pk)
    issue["line1_quantity"] = "10"
    issue["line2_label"] = "Frais de dossier"
    issue["line2_unit_price"] = "1,005"
    refused = issue.submit(status=400)
    assert "1,005 € a plus de deux décimales." in text_of(refused)
    assert refused.html.find(id="id_line2_unit_price_error")
    again = form_of(refused, "/nouvelle/")
    again["line2_unit_price"] = "2,50"
    page = again.submit().follow()
    with in_schema(venissieux):
        invoice = Invoice.objects.get(payer=payer)
    assert invoice.total == Decimal("44.50") and invoice.label == "Cantine novembre"
    assert invoice.number in text_of(page) and "44,50 €" in text_of(page)

    cancel = form_of(page, f"/factures/{invoice.pk}/annuler/")
    refused = cancel.submit(status=400)
    assert "Donnez le motif de l'annulation." in text_of(refused)
    cancel = form_of(refused, f"/factures/{invoice.pk}/annuler/")
    cancel["reason"] = "erreur de quantité"
    page = cancel.submit().follow()
    text = text_of(page)
    assert f"Annulée le {timezone.localdate():%d/%m/%Y}" in text and "erreur de quantité" in text


def test_edit_a_payer_and_use_their_credit(venissieux, regie, django_app):
    with in_schema(venissieux):
        payer = make_payer(regie)
        payment_record(regie=regie, actor=MANDATAIRE, amount="30", mode="cash", payer=payer)
        invoice = make_invoice(regie, payer, "20.00")
    app = browser(django_app, venissieux, MANDATAIRE.account)
    page = app.get(f"{BASE}/R-001/payeurs/{payer.pk}/")
    assert "30,00 €" in text_of(page)  # the credit
    page = form_of(page, f"/factures/{invoice.pk}/avoir/").submit().follow()
    assert f"Avoir utilisé : 20,00 € affectés à la facture {invoice.number}." in text_of(page)
    edit = form_of(page, f"/payeurs/{payer.pk}/")
    edit["city"] = "Vénissieux"
    edit.submit().follow()
    with in_schema(venissieux):
        payer.refresh_from_db()
        invoice.refresh_from_db()
        assert payer.city == "Vénissieux" and invoice.status == "paid"
    found = app.get(f"{BASE}/R-001/payeurs/?q={payer.link_code}")
    assert found.html.find("tbody").find("a", string="Famille Martin")


# --- Administration -------------------------------------------------------------------------

def test_the_administrator_creates_a_regie_from_its_founding_act(venissieux, django_app):
    with in_schema(venissieux):

        make_agents()
    app = browser(django_app, venissieux, ADMIN.account)
    form = form_of(app.get(f"{BASE}/nouvelle/"), "/nouvelle/")
    form["number"] = "R-010"
    form["name"] = "Médiathèque"
    tick(form, "accepted_modes", ["cash", "card"])
    form["cash_limit"] = "500"
    form["deposit_period_days"] = "45"
    refused = form.submit(status=400)
    assert "au moins une fois par mois (CGCT, art. R1617-8)" in text_of(refused)
    again = form_of(refused, "/nouvelle/")
    assert again["name"].value == "Médiathèque"
    again["deposit_period_days"] = "15"
    admin = again.submit().follow()
    assert "Régie R-010 Médiathèque créée" in text_of(admin)
    with in_schema(venissieux):
        regie = Regie.objects.get(number="R-010")
        assert (regie.accepted_modes, regie.cash_limit, regie.deposit_period_days) == (
            ["cash", "card"], Decimal("500.00"), 15)

    appoint = form_of(admin, "/nominations/")
    appoint["account"] = TITULAIRE.account
    appoint["role"] = "titulaire"
    admin = appoint.submit().follow()
    appoint = form_of(admin, "/nominations/")
    appoint["account"] = MANDATAIRE.account
    appoint["role"] = "titulaire"
    refused = appoint.submit(status=400)
    assert "a déjà un régisseur titulaire" in text_of(refused)

    product = form_of(admin, "/produits/")
    product["code"] = "impression"
    product["name"] = "Impression A4"
    product["unit_price"] = "0,15"
    admin = product.submit().follow()
    assert "Impression A4" in text_of(admin) and "0,15 €" in text_of(admin)

    amend = form_of(admin, "/acte/")
    amend["cash_limit"] = "800"
    amend.submit().follow()
    with in_schema(venissieux):
        regie.refresh_from_db()
        assert regie.cash_limit == Decimal("800.00")
        assert Assignment.objects.get(regie=regie).account == TITULAIRE.account


def test_hand_over_stand_in_and_end_an_appointment(venissieux, regie, django_app):
    make_account("nouveau@venissieux.fr")
    grant(venissieux, "nouveau@venissieux.fr", Role.REGISSEUR)
    app = browser(django_app, venissieux, ADMIN.account)
    admin = app.get(f"{BASE}/R-001/administration/")
    assert unique_ids(admin)
    handover = form_of(admin, "/remise/")
    handover["incoming"] = "nouveau@venissieux.fr"
    handover["notes"] = "fonds comptés contradictoirement"
    admin = handover.submit().follow()
    assert "Remise de service enregistrée" in text_of(admin)

    today = timezone.localdate()
    standin = form_of(admin, "/remplacement/")
    standin["account"] = SUPPLEANT.account
    standin["starts_on"] = f"{today:%Y-%m-%d}"
    standin["ends_on"] = f"{today - datetime.timedelta(days=1):%Y-%m-%d}"
    refused = standin.submit(status=400)
    assert "La fin du remplacement précède son début." in text_of(refused)
    summary = refused.html.find(attrs={"role": "alert"})
    assert summary.find("a")["href"] == "#remplacement_ends_on"
    assert refused.html.find(id="remplacement_ends_on_error") and unique_ids(refused)
    standin = form_of(refused, "/remplacement/")
    standin["ends_on"] = f"{today + datetime.timedelta(days=7):%Y-%m-%d}"
    admin = standin.submit().follow()

    with in_schema(venissieux):
        mandataire = Assignment.objects.get(regie=regie, account=MANDATAIRE.account)
    end = form_of(admin, f"/nominations/{mandataire.pk}/fin/")
    admin = end.submit().follow()
    assert "Fin de la fonction de caisse@venissieux.fr" in text_of(admin)
    with in_schema(venissieux):
        titulaire = Assignment.objects.get(regie=regie, role="titulaire", ends_on__isnull=True)
        assert titulaire.account == "nouveau@venissieux.fr"
        assert StandIn.objects.get(regie=regie).account == SUPPLEANT.account
        mandataire.refresh_from_db()
        assert mandataire.ends_on == today


def test_merge_two_regies_after_a_confirmation_that_lists_what_moves(venissieux, regie,
                                                                     django_app):
    with in_schema(venissieux):
        piscine = make_regie(number="R-002", name="Piscine", staff=False)
        founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                              unit_price="4")
        payer = make_payer(regie)
        make_invoice(regie, payer, "12.00")
        payment_record(regie=regie, actor=MANDATAIRE, amount="5", mode="cash", payer=payer)
    app = browser(django_app, venissieux, ADMIN.account)
    form = form_of(app.get(f"{BASE}/R-001/fusion/"), "/fusion/")
    form["surviving"] = "R-002"
    preview = form.submit()
    text = text_of(preview)
    assert "Ce qui passera à la régie R-002 Piscine" in text
    assert "1 produit : Repas (repas)" in text and "1 payeur" in text
    assert "1 facture ouverte" in text and "3 agents en fonction" in text
    assert "détient encore des fonds non versés" in text
    refused = form_of(preview, "/fusion/").submit(status=400)
    assert "faites d'abord son versement au comptable" in text_of(refused)
    with in_schema(venissieux):
        cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
    confirm = form_of(app.get(f"{BASE}/R-001/fusion/"), "/fusion/")
    confirm["surviving"] = "R-002"
    done = form_of(confirm.submit(), "/fusion/").submit().follow()
    assert "Régie R-001 fusionnée dans la régie R-002" in text_of(done)
    with in_schema(venissieux):
        regie.refresh_from_db()
        assert regie.merged_into == piscine
        assert Payer.objects.get().regie == piscine


def test_the_administrator_opens_and_closes_online_payment_for_a_regie(venissieux, django_app):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["cash", "card"])
    app = browser(django_app, venissieux, ADMIN.account)
    admin = app.get(f"{BASE}/R-001/administration/")
    assert "n'accepte pas le paiement en ligne" in text_of(admin)
    assert not [f for f in admin.forms.values() if f.action.endswith("/paiement-en-ligne/")]

    amend = form_of(admin, "/acte/")
    tick(amend, "accepted_modes", ["cash", "card", "online"])
    admin = amend.submit().follow()
    assert "Pas encore ouvert" in text_of(admin)
    form = form_of(admin, "/paiement-en-ligne/")
    form["numcli"] = "04983"
    refused = form.submit(status=400)
    assert "Le numéro client PayFiP a 6 chiffres" in text_of(refused)
    assert refused.html.find(id="payfip_numcli_error") and unique_ids(refused)
    with in_schema(venissieux):
        assert not PayfipAccount.objects.exists()

    form = form_of(refused, "/paiement-en-ligne/")
    assert form["numcli"].value == "04983"  # what was typed comes back
    form["numcli"] = "049836"
    form["environment"] = "W"
    admin = form.submit().follow()
    assert "Paiement en ligne ouvert" in text_of(admin)
    assert "Ouvert : PayFiP 049836 (production)" in text_of(admin)
    with in_schema(venissieux):
        account = PayfipAccount.objects.get(regie=regie)
        assert (account.numcli, account.environment, account.enabled) == ("049836", "W", True)
        assert Assignment.objects.filter(regie=regie, account=PAYFIP.account,
                                         ends_on__isnull=True).exists()
        assert AuditEvent.objects.filter(code="payfip.configured",
                                         actor=ADMIN.account).count() == 1

    form = form_of(admin, "/paiement-en-ligne/")
    assert (form["numcli"].value, form["environment"].value) == ("049836", "W")
    form["enabled"] = False
    admin = form.submit().follow()
    assert "Paiement en ligne fermé" in text_of(admin)
    assert "Fermé (PayFiP 049836 (production))" in text_of(admin)
    with in_schema(venissieux):
        assert not PayfipAccount.objects.get(regie=regie).enabled


def test_administration_is_for_the_administrator_only(venissieux, regie):
    client = agent(venissieux, TITULAIRE.account, Role.REGISSEUR)
    for url in (f"{BASE}/nouvelle/", f"{BASE}/R-001/administration/", f"{BASE}/R-001/fusion/",
                f"{BASE}/audit/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"{BASE}/R-001/administration/produits/", {
        "code": "x", "name": "X", "unit_price": "1"}).status_code == 403
    assert client.post(f"{BASE}/R-001/administration/paiement-en-ligne/", {
        "numcli": "049836", "environment": "T", "enabled": "on"}).status_code == 403
    with in_schema(venissieux):
        assert not Product.objects.exists()


# --- The audit log --------------------------------------------------------------------------

def test_the_audit_log_shows_who_did_what_when_and_from_where(venissieux, regie, django_app):
    make_account(MANDATAIRE.account)
    client = client_of(venissieux, MANDATAIRE.account)
    with in_schema(venissieux):
        payer = make_payer(regie)
    client.post(f"{BASE}/R-001/guichet/", {"payer": payer.pk, "amount": "12,50",
                                           "mode": "cash"}, REMOTE_ADDR="198.51.100.7")
    with in_schema(venissieux):
        event = AuditEvent.objects.get(code="payment.recorded")
    app = browser(django_app, venissieux, ADMIN.account)
    page = app.get(f"{BASE}/audit/")
    row = next(r for r in journal_rows(page) if "Quittance" in r[2])
    assert row[0] == f"{timezone.localtime(event.at):%d/%m/%Y %H:%M}"  # Paris time
    assert row[1] == MANDATAIRE.account
    assert f"Quittance {year()}-000001 : 12,50 € (espèces) de Famille Martin" in row[2]
    assert row[4] == "198.51.100.7"
    assert any("Création de la régie R-001" in r[2] for r in journal_rows(page))

    filtered = app.get(f"{BASE}/audit/", {"code": "payment.recorded"})
    assert len(journal_rows(filtered)) == 1
    by_text = app.get(f"{BASE}/audit/", {"q": "Famille Martin", "actor": ADMIN.account})
    assert [r[3] for r in journal_rows(by_text)] == ["payer.saved"]
    later = timezone.localdate() + datetime.timedelta(days=1)
    assert "Aucune action pour ces critères" in app.get(
        f"{BASE}/audit/", {"since": f"{later:%Y-%m-%d}"}).text
    assert client.get(f"{BASE}/audit/").status_code == 403


# --- Isolation between communes -------------------------------------------------------------

def test_a_regie_of_another_commune_does_not_exist_here(venissieux, vaulx, regie):
    with in_schema(vaulx):

        AgentRole.objects.create(account=ADMIN.account, role=Role.ADMINISTRATOR)
        other = founding.regie_create(actor=ADMIN, number="R-VX", name="Vaulx cantine",
                                      accepted_modes=["cash"], cash_limit="100",
                                      starts_on=datetime.date(2020, 1, 1))
        vaulx_payer = make_payer(other, "Famille de Vaulx")
    client = agent(venissieux, ADMIN.account, Role.ADMINISTRATOR)
    for url in (f"{BASE}/R-VX/guichet/", f"{BASE}/R-VX/journal/",
                f"{BASE}/R-VX/administration/", f"{BASE}/R-001/payeurs/{vaulx_payer.pk}/"):
        assert client.get(url).status_code == 404, url
    assert "Vaulx cantine" not in client.get(f"{BASE}/").content.decode()
    # An agent of Vénissieux has no role on Vaulx-en-Velin's domain.
    make_account(MANDATAIRE.account)
    on_vaulx = client_of(vaulx, MANDATAIRE.account)
    assert on_vaulx.get(f"{BASE}/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(venissieux, regie):
    response = Client(HTTP_HOST=host_of(venissieux)).get(f"{BASE}/R-001/guichet/")
    assert response.status_code == 302
    assert response["Location"].startswith("/compte/connexion/")


# --- Slips, reports, e-mail, imports --------------------------------------------------------

def test_a_deposit_slip_downloads_as_pdf_and_csv(venissieux, regie, django_app):
    with in_schema(venissieux):
        takings(regie, make_payer(regie))
        deposit = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
    app = browser(django_app, venissieux, TITULAIRE.account)
    page = app.get(f"{BASE}/R-001/versements/")
    pdf = page.click(href=r"bordereau\.pdf")
    assert pdf.content_type == "application/pdf" and pdf.body.startswith(b"%PDF")
    assert f"bordereau-R-001-{deposit.slip}.pdf" in pdf.headers["Content-Disposition"]
    csv = page.click(href=r"bordereau\.csv")
    lines = csv.body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("quittance;date;mode;payeur;montant")
    assert any(";12,50;" in line for line in lines) and len(lines) == 3
    assert app.get(f"{BASE}/R-001/versements/V{year()}-0099/bordereau.pdf",
                   status=404).status_int == 404


def test_the_report_of_a_period_with_its_csv(venissieux, regie, django_app):
    with in_schema(venissieux):
        takings(regie, make_payer(regie))
    app = browser(django_app, venissieux, TITULAIRE.account)
    page = app.get(f"{BASE}/R-001/rapports/")  # this month so far
    text = text_of(page)
    assert "2 paiements (57,50 €)" in text and "total net 57,50 €" in text
    assert "Espèces 1 12,50 €" in text and MANDATAIRE.name in text
    csv = page.click(href=r"rapport\.csv")
    assert "mode;cash;espèces;1;12,50" in csv.body.decode("utf-8-sig")
    today = timezone.localdate()
    period = form_of(page, "/rapports/", method="get")
    period["start"] = f"{today:%Y-%m-%d}"
    period["end"] = f"{today - datetime.timedelta(days=1):%Y-%m-%d}"
    refused = period.submit(status=400)
    assert "avant son début" in text_of(refused)


def test_a_receipt_is_emailed_to_the_payer(venissieux, regie, payer_with_invoice, django_app,
                                           mailoutbox):
    _payer, invoice = payer_with_invoice
    with in_schema(venissieux):
        entry = payment_record(regie=regie, actor=MANDATAIRE, amount="45", mode="cash",
                               invoices=[invoice])
    app = browser(django_app, venissieux, MANDATAIRE.account)
    page = app.get(f"{BASE}/R-001/quittances/{entry.receipt}/")
    send = form_of(page, "/courriel/")
    assert send["to"].value == "martin@example.fr"
    send["to"] = "pas une adresse"
    refused = send.submit(status=400)
    assert "n'est pas une adresse électronique valide" in text_of(refused)
    assert mailoutbox == []
    send = form_of(refused, "/courriel/")
    send["to"] = ""  # the payer's own address
    done = send.submit().follow()
    assert f"Quittance {entry.receipt} envoyée par courriel à martin@example.fr." in (
        text_of(done))
    assert mailoutbox[0].to == ["martin@example.fr"]
    assert mailoutbox[0].attachments[0][0] == f"quittance-{entry.receipt}.pdf"


CARD = "date;montant;transaction;terminal;reference;payeur_ref;payeur_nom;numero_carte"


def test_import_a_card_terminal_export_and_resolve_its_queue(venissieux, regie,
                                                            payer_with_invoice, django_app):
    payer, _invoice = payer_with_invoice
    with in_schema(venissieux):
        other = make_invoice(regie, payer, "30.00", number="F-2026-0002")
    content = "\r\n".join([
        CARD, "25/11/2026 09:14;45,00;TX-1;TPE-01;F-2026-0001;;;",
        "25/11/2026 10:02;30,00;TX-2;TPE-01;inscription;;Mme Martin;",
        "25/11/2026 11:00;12,00;TX-3;TPE-01;erreur;;Inconnu;"]).encode() + b"\r\n"
    app = browser(django_app, venissieux, MANDATAIRE.account)
    page = app.get(f"{BASE}/R-001/imports/")
    upload = next(f for f in page.forms.values() if f.get("kind", default=None)
                  and f["kind"].value == "card")
    upload["card-file"] = ("tpe.csv", f"{CARD}\r\n25/11/2026;abc;TX-9;;;;;\r\n".encode())
    refused = upload.submit(status=400)
    assert "Ligne 2" in text_of(refused) and refused.html.find(id="id_card-file_error")
    upload = next(f for f in refused.forms.values() if f.get("kind", default=None)
                  and f["kind"].value == "card")
    upload["card-file"] = ("tpe-25-11.csv", content)
    page = upload.submit().follow()
    text = text_of(page)
    assert "Import « tpe-25-11.csv » : 1 paiement encaissé" in text
    assert "Mme Martin" in text and "TX-2" in text
    with in_schema(venissieux):
        waiting = {i.external_ref: i for i in ImportedPayment.objects.all()}
    post = form_of(page, f"/attente/{waiting['TX-2'].pk}/encaisser/")
    post[f"q{waiting['TX-2'].pk}-invoices"] = "F-2026-9999"
    refused = post.submit(status=400)
    assert "Aucune facture F-2026-9999 dans la régie" in text_of(refused)
    post = form_of(refused, f"/attente/{waiting['TX-2'].pk}/encaisser/")
    post[f"q{waiting['TX-2'].pk}-invoices"] = other.number
    page = post.submit().follow()
    assert f"quittance {year()}-000002 (Famille Martin)" in text_of(page)

    dismiss = form_of(page, f"/attente/{waiting['TX-3'].pk}/ecarter/")
    dismiss[f"d{waiting['TX-3'].pk}-reason"] = "paiement d'une autre régie"
    refused = dismiss.submit(status=403)
    assert "Seul le régisseur titulaire" in text_of(refused)
    make_account(TITULAIRE.account)
    keeper = client_of(venissieux, TITULAIRE.account)
    item = waiting["TX-3"].pk
    assert keeper.post(f"{BASE}/R-001/imports/attente/{item}/ecarter/", {
        f"d{item}-reason": "paiement d'une autre régie"}).status_code == 302
    page = app.get(f"{BASE}/R-001/imports/")
    assert "Aucun paiement en attente." in text_of(page)
    with in_schema(venissieux):
        other.refresh_from_db()
        assert other.status == "paid"
