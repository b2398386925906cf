"""Money that arrives is never lost, and never paid twice (issue 14), through the real
pages and the local PayFiP provider: the counter's closing counts the drawer; transfers,
direct debits and online payments that arrive afterwards are recorded, dated to the next
open day, with gapless receipts and a chain that verifies; a payment PayFiP took is
recorded whatever the régie's state (what the invoice cannot take goes to the credit)."""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from opsn.agents.models import AgentRole
from opsn.agents.services import service_credential_issue
from opsn.audit.models import AuditEvent
from opsn.communes.models import Commune
from opsn.finance.acks import handover_cancel
from opsn.finance.handover import handover_create
from opsn.jobs.broker import send
from opsn.online_payments.models import OnlinePayment
from opsn.online_payments.selectors import alerts as online_alerts
from opsn.online_payments.services import ACTOR as PAYFIP
from opsn.online_payments.services import (
    online_payment_resolve,
    online_payment_settle_handed_over,
    online_payments_reconcile,
    payfip_configure,
)
from opsn.online_payments.tasks import reconcile_online_payments
from opsn.payfip_local.models import Operation
from opsn.regies import selectors
from opsn.regies.chain import verify_chain
from opsn.regies.errors import Duplicate, NotAllowed, Refused, RegieError
from opsn.regies.models import Assignment, EntrySource, ImportedPayment, Invoice, LedgerEntry
from opsn.regies.services import cashdesk, founding, invoicing, merge, payments
from opsn.regies.services.imports import bank_statement_import
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import Browser, grant, make_account, sign_in_webtest
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    OPENED,
    TITULAIRE,
    make_budget,
    make_invoice,
    make_payer,
    make_regie,
)

CITIZEN = "camille.durand@citoyen.test"
PROVIDER = "localhost"  # the portal, where the local provider serves its page
MODES = ["cash", "cheque", "card", "transfer", "direct_debit", "other", "online"]
BASE = "/espace/regies"


# --- Helpers -------------------------------------------------------------------------------

def text(response) -> str:
    """What a reader sees of a page (a test client's or WebTest's), spaces made plain."""
    content = response.text if hasattr(response, "forms") else response.content.decode()
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", content))
                  .replace("\u202f", " ").replace("\xa0", " "))


def tomorrow() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=1)


def make_shop(commune: Commune, number: str = "R-CANT-2026-00004", amount: str = "74.75"):
    with in_schema(commune):
        regie = make_regie(accepted_modes=MODES)
        payfip_configure(regie=regie, actor=ADMIN, numcli="123456")
        family = make_payer(regie, "Famille Durand", email="famille.durand@example.fr")
        invoice = make_invoice(regie, family, amount, number=number)
    return SimpleNamespace(commune=commune, regie=regie, payer=family, invoice=invoice,
                           host=host_of(commune))


@pytest.fixture
def shop(venissieux):
    return make_shop(venissieux)


@pytest.fixture
def citizen(shop):
    make_account(CITIZEN)
    browser = Browser()
    where, _ = browser.sign_in(shop.host, CITIZEN)
    assert where == shop.host
    linked = browser.client(shop.host).post("/mon-espace/rattachements/",
                                            {"code": shop.payer.link_code})
    assert linked.status_code == 302
    return browser


def agents_app(django_app, commune, account: str, *roles: str):
    """A WebTest browser of an agent signed in on the commune's domain."""
    make_account(account)
    with in_schema(commune):
        from_commune = list(AgentRole.objects.filter(account=account)
                            .values_list("role", flat=True))
    grant(commune, account, *(roles or from_commune))
    sign_in_webtest(django_app, host_of(commune), account)
    django_app.extra_environ = {**django_app.extra_environ, "HTTP_HOST": host_of(commune)}
    return django_app


def form_of(page, action_suffix: str = "", method: str = "post"):
    return next(f for f in page.forms.values()
                if f.method.lower() == method and f.action.endswith(action_suffix))


def close_the_day_on_the_page(django_app, shop):
    """The titulaire closes today at the counter's page (arrêté de caisse)."""
    app = agents_app(django_app, shop.commune, TITULAIRE.account)
    page = app.get(f"{BASE}/{shop.regie.number}/arrete/")
    done = form_of(page, "/arrete/").submit().follow()
    assert "Journée arrêtée" in text(done)
    return app


def start(browser: Browser, shop, invoice=None):
    """« Payer en ligne »: the provider's page (its URL) and the payment."""
    invoice = invoice or shop.invoice
    answer = browser.client(shop.host).post(
        f"/mon-espace/payer/{shop.commune.pk}/{invoice.pk}/")
    assert answer.status_code == 302, text(answer)[:500]
    location = answer["Location"]
    idop = parse_qs(urlsplit(location).query)["idop"][0]
    with in_schema(shop.commune):
        payment = OnlinePayment.objects.get(idop=idop)
    return location, payment


def choose(browser: Browser, location: str, choice: str = "payer"):
    parts = urlsplit(location)
    return browser.go(f"{parts.path}?{parts.query}", host=PROVIDER,
                      data={"idop": parse_qs(parts.query)["idop"][0], "choix": choice})


def pay_and_close_the_tab(browser: Browser, location: str) -> None:
    """Pay on the provider's page without following it back to the commune."""
    parts = urlsplit(location)
    browser.client(PROVIDER).post(f"{parts.path}?{parts.query}",
                                  {"idop": parse_qs(parts.query)["idop"][0], "choix": "payer"})


def age(shop, payment, minutes: int) -> None:
    then = timezone.now() - datetime.timedelta(minutes=minutes)
    with in_schema(shop.commune):
        OnlinePayment.objects.filter(pk=payment.pk).update(created_at=then)
    Operation.objects.filter(idop=payment.idop).update(created_at=then)


def online_entries(shop) -> list[LedgerEntry]:
    with in_schema(shop.commune):
        return list(LedgerEntry.objects.filter(source=EntrySource.ONLINE).order_by("id"))


def invoice_of(shop, invoice=None) -> Invoice:
    with in_schema(shop.commune):
        return Invoice.objects.get(pk=(invoice or shop.invoice).pk)


def chain_verifies(commune) -> None:
    call_command("verify_ledger", commune.insee_code)  # raises when a chain is broken


# --- The closing counts the drawer; what arrives on the account goes to the next day ------

def test_paying_online_after_the_closing_gives_one_receipt_dated_the_next_day(
        shop, citizen, django_app):
    """The issue's story: the régisseur closed the day, then Camille Durand paid R-CANT-
    2026-00004 (74,75 €) online. One receipt, the invoice paid, the citizen's page says so,
    the next day's closing counts it, the chain verifies."""
    close_the_day_on_the_page(django_app, shop)
    location, payment = start(citizen, shop)
    where, outcome = choose(citizen, location)
    assert where == shop.host and "Paiement accepté" in text(outcome)

    [entry] = online_entries(shop)
    assert (entry.amount, entry.mode, entry.payer_id) == (Decimal("74.75"), "online",
                                                          shop.payer.pk)
    assert entry.dated_on == tomorrow() and entry.day == tomorrow()
    assert entry.receipt == f"{tomorrow().year}-000001"
    assert invoice_of(shop).status == "paid"
    with in_schema(shop.commune):
        assert OnlinePayment.objects.get(pk=payment.pk).entry_id == entry.pk
        # Today's closed totals are untouched; tomorrow's closing will count it.
        assert selectors.day_totals(shop.regie, timezone.localdate()) == {}
        assert selectors.day_totals(shop.regie, tomorrow()) == {
            "online": (1, Decimal("74.75"))}
        line = AuditEvent.objects.get(code="payment.recorded", target=f"entry:{entry.pk}")
        assert line.summary == (f"Quittance {entry.receipt} : 74,75 € (paiement en ligne "
                                "(PayFiP)) de Famille Durand à la régie R-001, datée du "
                                f"{tomorrow():%d/%m/%Y} (reçue après l'arrêté de caisse)")
    mine = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "R-CANT-2026-00004" in mine and "payée" in mine and "Payer en ligne" not in mine
    assert "74,75 €" in text(citizen.client(shop.host).get(
        f"/mon-espace/paiement-en-ligne/{shop.commune.pk}/{payment.pk}/"))
    # The agents' journal says which day it belongs to.
    journal = django_app.get(f"{BASE}/R-001/journal/")
    assert f"journée du {tomorrow():%d/%m/%Y}" in text(journal)
    chain_verifies(shop.commune)


def test_the_notification_lost_the_reconciliation_records_it_on_the_next_day(
        shop, citizen, settings):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False  # PayFiP's notification never comes
    location, payment = start(citizen, shop)
    with in_schema(shop.commune):
        cashdesk.day_close(regie=shop.regie, actor=TITULAIRE, counted={})
    pay_and_close_the_tab(citizen, location)  # no return page either
    assert online_entries(shop) == []
    age(shop, payment, settings.OPSN_PAYFIP_RECONCILE_AFTER_MINUTES + 1)
    send(reconcile_online_payments)  # the periodic job, fanned out to each commune
    [entry] = online_entries(shop)
    assert entry.dated_on == tomorrow() and invoice_of(shop).status == "paid"
    send(reconcile_online_payments)  # and again: nothing more
    assert len(online_entries(shop)) == 1
    mine = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "payée" in mine and "Payer en ligne" not in mine
    chain_verifies(shop.commune)


def test_a_bank_statement_imported_after_the_closing_is_recorded_on_the_next_day(
        shop, django_app):
    with in_schema(shop.commune):
        cashdesk.day_close(regie=shop.regie, actor=TITULAIRE, counted={})
    app = agents_app(django_app, shop.commune, MANDATAIRE.account)
    page = app.get(f"{BASE}/R-001/imports/")
    upload = next(f for f in page.forms.values() if f.get("kind", default=None)
                  and f["kind"].value == "bank")
    upload["bank-file"] = ("releve.xml", camt053(transfer("74.75", ref="BQ-1",
                                                          ustrd="R-CANT-2026-00004")))
    done = upload.submit().follow()
    assert (f"1 paiement encaissé (74,75 €, quittances {tomorrow().year}-000001 à "
            f"{tomorrow().year}-000001), datés du {tomorrow():%d/%m/%Y}") in text(done)
    with in_schema(shop.commune):
        [entry] = LedgerEntry.objects.all()
        assert (entry.mode, entry.source, entry.dated_on) == ("transfer", "bank_import",
                                                              tomorrow())
    assert invoice_of(shop).status == "paid"
    chain_verifies(shop.commune)


def test_an_api_transfer_after_the_closing_is_recorded_on_the_next_day_cash_is_not(shop):
    with in_schema(shop.commune):
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=shop.regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
        cashdesk.day_close(regie=shop.regie, actor=TITULAIRE, counted={})
    api = Client(HTTP_HOST=shop.host, HTTP_AUTHORIZATION=f"Bearer {secret}")
    transfer_in = api.post("/api/v1/regies/R-001/payments", {
        "amount": "74.75", "mode": "transfer", "external_ref": "VIR-2026-77",
        "invoices": ["R-CANT-2026-00004"]}, content_type="application/json")
    assert transfer_in.status_code == 201, transfer_in.json()
    body = transfer_in.json()
    assert body["accounting_day"] == tomorrow().isoformat()
    assert body["receipt"] == f"{tomorrow().year}-000001"
    cash = api.post("/api/v1/regies/R-001/payments", {
        "amount": "10.00", "mode": "cash", "external_ref": "CAISSE-1",
        "payer": "", "payer_name": "Vente au comptoir"}, content_type="application/json")
    assert cash.status_code == 409 and "est arrêtée" in cash.json()["message"]
    assert invoice_of(shop).status == "paid"
    chain_verifies(shop.commune)


def test_the_closing_counts_the_drawer_and_takes_the_account_as_the_journal_says(venissieux):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        payer = make_payer(regie)
        payments.payment_record(regie=regie, actor=MANDATAIRE, amount="20", mode="cash",
                                payer=payer)
        payments.payment_record(regie=regie, actor=MANDATAIRE, amount="30", mode="transfer",
                                payer=payer, external_ref="VIR-1")
        # Only the drawer is typed in: the transfer is on the account, not in the drawer.
        closing = cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={"cash": "20"})
        lines = {line.mode: (line.expected, line.counted) for line in closing.lines.all()}
        assert lines == {"cash": (Decimal("20.00"), Decimal("20.00")),
                         "transfer": (Decimal("30.00"), Decimal("30.00"))}
        # After the closing: the drawer is refused, what arrives on the account is dated
        # to the next day, in every mode that does.
        for mode, details in (("cash", {}), ("cheque", {"cheque_number": "1", "bank": "B"}),
                              ("card", {"terminal_ref": "T-1"}), ("other", {"note": "bon"})):
            with pytest.raises(Refused, match="est arrêtée"):
                payments.payment_record(regie=regie, actor=MANDATAIRE, amount="5", mode=mode,
                                        payer=payer, details=details)
        later = [payments.payment_record(regie=regie, actor=MANDATAIRE, amount="5", mode=mode,
                                         payer=payer, external_ref=f"{mode}-1")
                 for mode in ("transfer", "direct_debit", "online")]
        assert [(e.receipt_number, e.dated_on) for e in later] == [
            (3, tomorrow()), (4, tomorrow()), (5, tomorrow())]
        assert selectors.day_totals(regie, timezone.localdate()) == {
            "cash": (1, Decimal("20.00")), "transfer": (1, Decimal("30.00"))}
        # The fingerprint covers the accounting day: the same entry without it is another.
        with payments.commune_connection().cursor() as cursor:
            cursor.execute("""
                SELECT hash = regies_entry_hash(previous_hash, regie_id, year, receipt_number,
                    amount, mode, payer_id, payer_name, details, source, external_ref, agent,
                    agent_name, posted_at, reverses_id, reason, NULL)
                FROM regies_ledgerentry WHERE id = %s""", [later[0].pk])
            assert cursor.fetchone()[0] is False
        assert verify_chain(regie) is None
        # The next day the journal shows them in that day, and its closing counts them.
        assert [e.receipt for e in LedgerEntry.objects.on_day(tomorrow())] == [
            e.receipt for e in later]
    chain_verifies(venissieux)


def test_a_closed_new_years_eve_dates_the_money_to_the_new_year(venissieux):
    """Dated to the next day's year, with its own receipt numbers, gapless."""
    evening = datetime.datetime.combine(
        datetime.date(timezone.localdate().year, 12, 31), datetime.time(20, 30),
        tzinfo=timezone.get_current_timezone())
    with in_schema(venissieux), mock.patch("django.utils.timezone.now", return_value=evening):
        regie = make_regie(accepted_modes=MODES)
        payer = make_payer(regie)
        payments.payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="cash",
                                payer=payer)
        cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={"cash": "10"})
        late = payments.payment_record(regie=regie, actor=MANDATAIRE, amount="12",
                                       mode="transfer", payer=payer, external_ref="VIR-NY")
        next_year = evening.year + 1
        assert (late.year, late.receipt_number, late.dated_on) == (
            next_year, 1, datetime.date(next_year, 1, 1))
        assert verify_chain(regie) is None


# --- Money PayFiP took: nothing in the régie's state refuses it ---------------------------

def test_an_invoice_cancelled_meanwhile_leaves_the_money_on_the_payers_credit(shop, citizen):
    location, _payment = start(citizen, shop)
    with in_schema(shop.commune):
        invoicing.invoice_cancel(invoice=shop.invoice, actor=ADMIN, reason="erreur de tarif")
    _where, outcome = choose(citizen, location)
    assert "Paiement accepté" in text(outcome)
    [entry] = online_entries(shop)
    with in_schema(shop.commune):
        assert not entry.allocations.exists()
        assert payments.credit_of(shop.payer) == Decimal("74.75")


def test_an_invoice_paid_meanwhile_at_the_counter_leaves_the_rest_on_the_credit(shop,
                                                                                citizen):
    location, _payment = start(citizen, shop)
    with in_schema(shop.commune):
        payments.payment_record(regie=shop.regie, actor=MANDATAIRE, amount="70.00",
                                mode="cash", invoices=[shop.invoice])
    choose(citizen, location)
    [entry] = online_entries(shop)
    with in_schema(shop.commune):
        assert [a.amount for a in entry.allocations.all()] == [Decimal("4.75")]
        assert payments.credit_of(shop.payer) == Decimal("70.00")
    assert invoice_of(shop).status == "paid"


def test_the_payfip_appointment_ended_and_the_mode_withdrawn_change_nothing(shop, citizen):
    location, _payment = start(citizen, shop)
    with in_schema(shop.commune):
        appointment = Assignment.objects.get(regie=shop.regie, account=PAYFIP.account,
                                             ends_on__isnull=True)
        Assignment.objects.filter(pk=appointment.pk).update(  # ended today: not appointed
            starts_on=OPENED, ends_on=timezone.localdate())
        founding.regie_amend(regie=shop.regie, actor=ADMIN,
                             accepted_modes=["cash", "cheque", "card"])
    _where, outcome = choose(citizen, location)
    assert "Paiement accepté" in text(outcome)
    assert len(online_entries(shop)) == 1 and invoice_of(shop).status == "paid"


def test_a_regie_merged_meanwhile_records_it_in_the_regie_that_took_it_over(shop, citizen):
    location, _payment = start(citizen, shop)
    with in_schema(shop.commune):
        # (appointed before today: a merge ends the absorbed régie's appointments today)
        Assignment.objects.filter(regie=shop.regie, account=PAYFIP.account).update(
            starts_on=OPENED)
        surviving = make_regie("R-002", "Régie centrale", staff=False,
                               accepted_modes=["cash", "transfer"])
        merge.regie_merge(absorbed=shop.regie, surviving=surviving, actor=ADMIN)
    _where, outcome = choose(citizen, location)
    assert "Paiement accepté" in text(outcome)
    [entry] = online_entries(shop)
    assert entry.regie_id == surviving.pk and invoice_of(shop).status == "paid"
    chain_verifies(shop.commune)


# --- Files ---------------------------------------------------------------------------------

def camt053(*entries: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>STMT-1</MsgId><CreDtTm>2026-12-06T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>FR76-STMT-1</Id>
      <Acct><Id><IBAN>FR7630001007941234567890185</IBAN></Id><Ccy>EUR</Ccy></Acct>
{"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def transfer(amount: str, *, ref: str, ustrd: str) -> str:
    return f"""
      <Ntry>
        <NtryRef>{ref}-N</NtryRef>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-06</Dt></BookgDt>
        <ValDt><Dt>2026-12-06</Dt></ValDt>
        <AcctSvcrRef>{ref}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <RmtInf><Ustrd>{ustrd}</Ustrd></RmtInf></TxDtls></NtryDtls>
      </Ntry>"""


def test_a_bank_statement_service_import_after_the_closing(shop):
    """The same through the service, with a line no invoice matches (queued, counted)."""
    with in_schema(shop.commune):
        cashdesk.day_close(regie=shop.regie, actor=TITULAIRE, counted={})
        batch = bank_statement_import(
            regie=shop.regie, actor=MANDATAIRE, file_name="releve.xml",
            content=camt053(transfer("74.75", ref="BQ-1", ustrd="R-CANT-2026-00004"),
                            transfer("12.00", ref="BQ-2", ustrd="DON")))
        assert (batch.outcome["posted"], batch.outcome["queued"],
                batch.outcome["dated_on"]) == (1, 1, tomorrow().isoformat())



def test_a_bank_transfer_for_an_invoice_handed_over_meanwhile_is_kept_to_check(venissieux):
    """Money that reaches the régie's account for an invoice handed over to the public
    accountant is not posted to it, nor refused: it waits in the régie's queue (« À
    vérifier »), for the titulaire to tell the accountant."""
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        family = make_payer(regie, "Famille Durand", address_line="2 rue Basse",
                            postal_code="69200", city="Vénissieux")
        invoice = make_invoice(regie, family, "74.75", number="R-CANT-2026-00009",
                               due_on=datetime.date(2026, 10, 31))
        handover_create(regie=regie, due_before=datetime.date(2026, 11, 15), actor=ADMIN)
        batch = bank_statement_import(
            regie=regie, actor=MANDATAIRE, file_name="releve.xml",
            content=camt053(transfer("74.75", ref="BQ-9", ustrd="R-CANT-2026-00009")))
        assert (batch.outcome["posted"], batch.outcome["queued"]) == (0, 1)
        [kept] = ImportedPayment.objects.filter(regie=regie)
        assert kept.amount == Decimal("74.75") and kept.entry is None
        assert kept.note.startswith("La facture R-CANT-2026-00009 est transmise au comptable "
                                    "public (bordereau 1/")
        invoice.refresh_from_db()
        assert (invoice.status, invoice.amount_paid) == ("due", Decimal("0.00"))
        assert not LedgerEntry.objects.filter(allocations__invoice=invoice).exists()

def handed_over_while_paying(shop, citizen):
    """The shop imputed, its invoice issued again imputed; the family starts paying it
    online, the invoice is handed over to the public accountant meanwhile, then PayFiP
    takes the money: kept out of the journal, in « À vérifier »."""
    with in_schema(shop.commune):
        make_budget()
        founding.regie_imputation_set(regie=shop.regie, actor=ADMIN, nature="7067",
                                      fonction="281")
        invoicing.invoice_cancel(invoice=shop.invoice, actor=ADMIN, reason="sans imputation")
        shop.invoice = make_invoice(shop.regie, shop.payer, "74.75", number="R-CANT-2026-00012")
    location, payment = start(citizen, shop)
    with in_schema(shop.commune):
        handover = handover_create(regie=shop.regie, due_before=datetime.date(2026, 11, 15),
                                   actor=ADMIN, day=datetime.date(2026, 12, 1))
    choose(citizen, location)
    with in_schema(shop.commune):
        payment.refresh_from_db()
    assert payment.state == "paid" and payment.entry_id is None
    return handover, payment


def test_money_paid_online_for_a_handed_over_invoice_goes_to_the_payers_credit(
        shop, citizen, django_app):
    """The titulaire settles it from « À vérifier »: to the payer's credit (to refund, the
    accountant told), never to the invoice while the accountant holds the titre."""
    _, payment = handed_over_while_paying(shop, citizen)
    with in_schema(shop.commune), pytest.raises(NotAllowed):
        online_payment_settle_handed_over(payment=payment, actor=MANDATAIRE, reason="x",
                                          to="credit")
    with in_schema(shop.commune), pytest.raises(RegieError, match=(
            "transmise au comptable public .* ne peut aller qu'à l'avoir du payeur")):
        online_payment_settle_handed_over(payment=payment, actor=TITULAIRE,
                                          reason="rendue ?", to="invoice")
    app = agents_app(django_app, shop.commune, TITULAIRE.account)
    page = app.get(f"{BASE}/R-001/a-verifier/")
    assert ("pour la facture R-CANT-2026-00012, transmise au comptable public (bordereau "
            "1/2026) : la régie ne l'encaisse plus, le paiement attend votre choix.") in text(page)
    assert "Mettez-la à l'avoir du payeur" in text(page)
    assert "Enregistrer sur la facture" not in text(page)  # the accountant holds the titre
    settle = form_of(page, f"/paiement-en-ligne/{payment.pk}/")
    refused = settle.submit("action", value="credit", status=400)
    assert "Donnez le motif" in text(refused)
    settle = form_of(refused, f"/paiement-en-ligne/{payment.pk}/")
    settle[f"p{payment.pk}-reason"] = "Signalé au SGC le 02/12 : titre réduit, à rembourser"
    done = text(settle.submit("action", value="credit").follow())
    assert "Aucun paiement en ligne à vérifier" in done
    assert "74,75 € enregistrés à l'avoir de Famille Durand par " in done
    [entry] = online_entries(shop)
    assert entry.amount == Decimal("74.75") and entry.external_ref == f"payfip:{payment.idop}"
    with in_schema(shop.commune):
        assert not entry.allocations.exists()
        assert payments.credit_of(shop.payer) == Decimal("74.75")
        [said] = AuditEvent.objects.filter(code="online_payment.settled")
        assert said.summary.startswith(f"Paiement en ligne {payment.idop} reçu pour la facture "
                                       "R-CANT-2026-00012 transmise au comptable public : "
                                       "74,75 € enregistrés à l'avoir de Famille Durand")
        with pytest.raises(Duplicate, match="déjà enregistré"):  # twice: nothing more
            online_payment_settle_handed_over(payment=payment, actor=TITULAIRE,
                                              reason="encore", to="credit")
    assert invoice_of(shop).status == "due"  # the accountant's titre, untouched
    chain_verifies(shop.commune)


def test_once_the_accountant_gives_the_titre_back_the_money_pays_the_invoice(shop, citizen):
    handover, payment = handed_over_while_paying(shop, citizen)
    with in_schema(shop.commune):
        handover_cancel(handover=handover, actor=ADMIN, reason="Bordereau refait")
        [alert] = online_alerts(shop.regie)
        assert alert.handed_over == "released"
        assert "que le comptable public a rendue à la régie" in alert.what
        with pytest.raises(RegieError, match="Choisissez"):
            online_payment_settle_handed_over(payment=payment, actor=TITULAIRE,
                                              reason="rendue", to="ailleurs")
        settled = online_payment_settle_handed_over(
            payment=payment, actor=TITULAIRE, reason="Bordereau 1 annulé", to="invoice")
        assert "sur la facture R-CANT-2026-00012, rendue par le comptable public" in (
            settled.resolution)
        assert online_alerts(shop.regie) == []
        assert payments.credit_of(shop.payer) == Decimal("0.00")
    invoice = invoice_of(shop)
    assert (invoice.status, invoice.amount_paid) == ("paid", Decimal("74.75"))
    chain_verifies(shop.commune)


def test_only_money_for_a_handed_over_invoice_is_settled_this_way(shop, citizen):
    location, payment = start(citizen, shop)
    close_the_regie(shop)
    choose(citizen, location)
    with in_schema(shop.commune), pytest.raises(RegieError, match="n'a pas été transmise"):
        online_payment_settle_handed_over(payment=payment, actor=TITULAIRE,
                                          reason="essai", to="credit")
    reopen_the_regie(shop)


# --- No second payment ---------------------------------------------------------------------

def close_the_regie(shop) -> None:
    """The régie closes for good today (its founding act's end): its journal takes nothing
    more, so money PayFiP takes for it waits, visible, until someone acts."""
    with in_schema(shop.commune):
        founding.regie_amend(regie=shop.regie, actor=ADMIN, ends_on=timezone.localdate())


def reopen_the_regie(shop) -> None:
    with in_schema(shop.commune):
        founding.regie_amend(regie=shop.regie, actor=ADMIN, ends_on=None)


def software_of(shop) -> Client:
    """The business software, appointed mandataire of the régie, with its API secret."""
    with in_schema(shop.commune):
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=shop.regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
    return Client(HTTP_HOST=shop.host, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_a_second_pay_online_while_the_first_is_being_recorded_is_refused(
        shop, citizen, django_app):
    api = software_of(shop)
    location, _payment = start(citizen, shop)
    close_the_regie(shop)
    where, outcome = choose(citizen, location)  # PayFiP took the money
    assert where == shop.host
    assert "Paiement reçu, en cours d'enregistrement" in text(outcome)
    assert "Ne payez pas une seconde fois" in text(outcome)
    assert online_entries(shop) == []

    # « Mes paiements »: said, and no button.
    mine = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "Paiement reçu, en cours d'enregistrement" in mine
    assert "Payer en ligne" not in mine and "Reprendre le paiement" not in mine
    # A second « Payer en ligne » anyway (an old tab): refused, nothing asked of PayFiP.
    again = citizen.client(shop.host).post(
        f"/mon-espace/payer/{shop.commune.pk}/{shop.invoice.pk}/")
    assert again.status_code == 409
    assert ("Le paiement en ligne de la facture R-CANT-2026-00004 est reçu et en cours "
            "d'enregistrement : ne payez pas une seconde fois.") in text(again)
    with in_schema(shop.commune):
        assert OnlinePayment.objects.count() == 1
    assert Operation.objects.count() == 1

    # The agents' counter shows it and does not offer it.
    app = agents_app(django_app, shop.commune, TITULAIRE.account)
    counter = app.get(f"{BASE}/R-001/guichet/?payer={shop.payer.pk}")
    assert "paiement reçu, en cours d'enregistrement" in text(counter)
    assert not counter.html.find("input", attrs={"name": "invoices",
                                                 "value": str(shop.invoice.pk)})
    # And over the API.
    read = api.get("/api/v1/regies/R-001/invoices/R-CANT-2026-00004")
    assert read.status_code == 200 and read.json()["online_payment"] == "received"

    # The régie reopened, the reconciliation records it, and says so.
    reopen_the_regie(shop)
    with in_schema(shop.commune):
        assert online_payments_reconcile() == {"recorded": 1}
        late = AuditEvent.objects.get(code="online_payment.recorded_late")
        assert f"quittance {timezone.localdate().year}-000001" in late.summary
        assert "n'est pas ouverte" in late.summary
    assert invoice_of(shop).status == "paid" and len(online_entries(shop)) == 1
    mine = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "payée" in mine and "en cours d'enregistrement" not in mine
    assert api.get("/api/v1/regies/R-001/invoices/R-CANT-2026-00004").json()[
        "online_payment"] is None


def test_paying_online_an_invoice_that_owes_nothing_is_refused(shop, citizen):
    location, _payment = start(citizen, shop)
    choose(citizen, location)
    again = citizen.client(shop.host).post(
        f"/mon-espace/payer/{shop.commune.pk}/{shop.invoice.pk}/")
    assert again.status_code == 409
    assert "La facture R-CANT-2026-00004 est déjà payée : elle ne doit plus rien" in text(again)
    assert Operation.objects.count() == 1


def test_a_payment_waiting_for_its_result_is_shown_and_taken_up_never_doubled(
        shop, citizen, django_app, settings):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False
    _location, payment = start(citizen, shop)  # the citizen is on PayFiP's page
    mine = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "Paiement en ligne en cours, résultat attendu" in mine
    assert "Reprendre le paiement en ligne" in mine
    assert start(citizen, shop)[1].pk == payment.pk  # the same payment, not a second one
    app = agents_app(django_app, shop.commune, MANDATAIRE.account)
    counter = app.get(f"{BASE}/R-001/guichet/?payer={shop.payer.pk}")
    assert "paiement en ligne en cours, résultat attendu" in text(counter)
    # An old page that still had it ticked: refused, with the reason.
    form = form_of(counter, "/guichet/")
    refused = app.post(f"{BASE}/R-001/guichet/", {
        "csrfmiddlewaretoken": form["csrfmiddlewaretoken"].value,
        "payer": str(shop.payer.pk), "invoices": str(shop.invoice.pk),
        "amount": "74,75", "mode": "cash"}, status=409)
    assert ("La facture R-CANT-2026-00004 a un paiement en ligne en cours, résultat attendu"
            in text(refused))
    assert online_entries(shop) == [] and invoice_of(shop).status == "due"


# --- Anomalies reach people ----------------------------------------------------------------

def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_unrecordable_result_appears_to_the_agents_and_in_the_audit_log(
        shop, citizen, django_app, django_capture_on_commit_callbacks):
    location, payment = start(citizen, shop)
    close_the_regie(shop)
    before = metric("opsn_money_anomalies_total", kind="online_unrecorded")
    with django_capture_on_commit_callbacks(execute=True):
        choose(citizen, location)
    assert metric("opsn_money_anomalies_total", kind="online_unrecorded") == before + 1
    with in_schema(shop.commune):
        [line] = AuditEvent.objects.filter(code="online_payment.not_recorded")
        assert line.summary.startswith(
            f"Paiement en ligne {payment.idop} (facture R-CANT-2026-00004, 74,75 €) payé mais "
            "pas encore enregistré : La régie Cantine et périscolaire n'est pas ouverte")
        stored = OnlinePayment.objects.get(pk=payment.pk)
        assert stored.problem and stored.problem_since and stored.failed_attempts >= 1

    # The finance staff sees it on « Mes régies », with the reference and what to do.
    grant(shop.commune, "finances@venissieux.fr", "finance")
    app = agents_app(django_app, shop.commune, "finances@venissieux.fr", "finance")
    home = text(app.get(f"{BASE}/"))
    assert "À vérifier" in home and f"payfip:{payment.idop}" in home and "74,75 €" in home
    assert "La régie est fermée : l'administrateur la rouvre" in home
    page = text(app.get(f"{BASE}/R-001/a-verifier/"))
    assert f"payfip:{payment.idop}" in page and "n'est pas ouverte" in page
    assert "À faire" in page and "Famille Durand" in page
    # The reconciliation tries again, the page stays until it goes in; still one entry.
    with in_schema(shop.commune):
        assert online_payments_reconcile() == {"unrecorded": 1}
        assert AuditEvent.objects.filter(code="online_payment.not_recorded").count() == 1


def test_a_titulaire_also_sees_it_and_the_page_empties_once_recorded(shop, citizen,
                                                                      django_app):
    location, payment = start(citizen, shop)
    close_the_regie(shop)
    choose(citizen, location)
    app = agents_app(django_app, shop.commune, TITULAIRE.account)
    assert f"payfip:{payment.idop}" in text(app.get(f"{BASE}/"))
    reopen_the_regie(shop)
    with in_schema(shop.commune):
        online_payments_reconcile()
    page = text(app.get(f"{BASE}/R-001/a-verifier/"))
    assert "Aucun paiement en ligne à vérifier" in page
    assert "enregistré après" in page  # the latest payments say what happened
    assert f"payfip:{payment.idop}" not in text(app.get(f"{BASE}/"))


def test_a_result_whose_amount_differs_is_flagged_shown_and_settled_by_the_titulaire(
        shop, citizen, django_app, django_capture_on_commit_callbacks):
    location, payment = start(citizen, shop)
    Operation.objects.filter(idop=payment.idop).update(montant=100)  # 1 € for 74,75 €
    before = metric("opsn_money_anomalies_total", kind="online_mismatch")
    with django_capture_on_commit_callbacks(execute=True):
        _where, outcome = choose(citizen, location)
    assert "Paiement en vérification" in text(outcome)
    assert metric("opsn_money_anomalies_total", kind="online_mismatch") == before + 1
    assert online_entries(shop) == []
    # No second payment while the régie checks.
    mine = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "Paiement reçu, en vérification à la régie" in mine and "Payer en ligne" not in mine
    assert citizen.client(shop.host).post(
        f"/mon-espace/payer/{shop.commune.pk}/{shop.invoice.pk}/").status_code == 409

    app = agents_app(django_app, shop.commune, TITULAIRE.account)
    home = text(app.get(f"{BASE}/"))
    assert f"payfip:{payment.idop}" in home and "1,00 € payés pour 74,75 € demandés" in home
    page = app.get(f"{BASE}/R-001/a-verifier/")
    assert "Vérifiez l'opération dans l'espace de gestion PayFiP" in text(page)
    settle = form_of(page, f"/paiement-en-ligne/{payment.pk}/")
    refused = settle.submit("action", value="record", status=400)
    assert "Donnez le motif" in text(refused)
    settle = form_of(refused, f"/paiement-en-ligne/{payment.pk}/")
    settle[f"p{payment.pk}-reason"] = "1 € bien encaissé d'après PayFiP"
    done = settle.submit("action", value="record").follow()
    assert "Aucun paiement en ligne à vérifier" in text(done)
    [entry] = online_entries(shop)
    assert entry.amount == Decimal("1.00") and entry.external_ref == f"payfip:{payment.idop}"
    assert invoice_of(shop).status == "partly_paid"
    with in_schema(shop.commune):
        settled = AuditEvent.objects.get(code="online_payment.resolved")
        assert "1,00 € enregistrés par" in settled.summary
    # The citizen may now pay the rest.
    mine = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "Payer en ligne" in mine
    chain_verifies(shop.commune)


def test_a_mandataire_does_not_settle_an_anomaly_the_titulaire_may_set_it_aside(
        shop, citizen, django_app):
    location, payment = start(citizen, shop)
    Operation.objects.filter(idop=payment.idop).update(refdet="AUTRE")
    choose(citizen, location)
    app = agents_app(django_app, shop.commune, MANDATAIRE.account)
    page = app.get(f"{BASE}/R-001/a-verifier/")
    assert "référence AUTRE au lieu de" in text(page)
    assert not page.forms or not any("/paiement-en-ligne/" in f.action
                                     for f in page.forms.values())
    with in_schema(shop.commune):
        with pytest.raises(NotAllowed):
            online_payment_resolve(payment=payment, actor=MANDATAIRE, reason="x",
                                   record_it=False)
        settled = online_payment_resolve(payment=payment, actor=TITULAIRE,
                                         reason="remboursé par le comptable", record_it=False)
        assert settled.resolution.startswith("classée par Marie Lefèvre")
    assert online_entries(shop) == []


# --- Bad input -----------------------------------------------------------------------------

def notify(shop, idop: str):
    return Client(HTTP_HOST=shop.host, REMOTE_ADDR="203.0.113.9").post(
        "/paiement-en-ligne/notification/", {"idOp": idop})


def test_a_notification_for_an_unknown_operation_is_refused_and_shown(
        shop, django_app, django_capture_on_commit_callbacks):
    before = metric("opsn_money_anomalies_total", kind="notification_unknown")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert notify(shop, "forged0000000000").status_code == 404
    assert metric("opsn_money_anomalies_total", kind="notification_unknown") == before + 1
    with in_schema(shop.commune):
        [line] = AuditEvent.objects.filter(code="payfip.notification_refused")
        assert line.summary == ("Notification PayFiP refusée : opération forged0000000000 "
                                "inconnue de la commune (envoyée depuis 203.0.113.9)")
    app = agents_app(django_app, shop.commune, TITULAIRE.account)
    assert "payfip:forged0000000000" in text(app.get(f"{BASE}/"))
    page = text(app.get(f"{BASE}/R-001/a-verifier/"))
    assert "payfip:forged0000000000" in page and " 3 " in page


def test_a_notification_meant_for_another_commune_is_refused_here_recorded_there(
        shop, vaulx, settings):
    """Vaulx-en-Velin's operation notified on Vénissieux's address: unknown here (refused,
    shown); Vaulx's own reconciliation records it, once."""
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False
    there = make_shop(vaulx, number="PISC-2026-7", amount="24.00")
    make_account("lucas.bernard@citoyen.test")
    browser = Browser()
    browser.sign_in(there.host, "lucas.bernard@citoyen.test")
    browser.client(there.host).post("/mon-espace/rattachements/",
                                    {"code": there.payer.link_code})
    location, payment = start(browser, there)
    pay_and_close_the_tab(browser, location)
    assert notify(shop, payment.idop).status_code == 404
    with in_schema(shop.commune):
        assert AuditEvent.objects.filter(code="payfip.notification_refused").count() == 1
    age(there, payment, 30)
    with in_schema(vaulx):
        assert online_payments_reconcile() == {"paid": 1}
    assert len(online_entries(there)) == 1 and online_entries(shop) == []


def test_a_replayed_notification_is_counted_shown_and_never_recorded_twice(
        shop, citizen, django_app, settings):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False
    location, payment = start(citizen, shop)
    choose(citizen, location)  # the return page records it
    for _ in range(3):
        assert notify(shop, payment.idop).status_code == 200
    assert len(online_entries(shop)) == 1
    with in_schema(shop.commune):
        assert OnlinePayment.objects.get(pk=payment.pk).notifications == 3
        assert AuditEvent.objects.filter(code="payfip.notification_replayed").count() == 1
    app = agents_app(django_app, shop.commune, TITULAIRE.account)
    page = text(app.get(f"{BASE}/R-001/a-verifier/"))
    assert "répétée, rien d'enregistré deux fois" in page


def test_an_unmatched_bank_line_reaches_the_agents(shop, django_app,
                                                    django_capture_on_commit_callbacks):
    before = metric("opsn_money_anomalies_total", kind="import_unmatched")
    with in_schema(shop.commune), django_capture_on_commit_callbacks(execute=True):
        bank_statement_import(regie=shop.regie, actor=MANDATAIRE, file_name="releve.xml",
                              content=camt053(transfer("80.00", ref="BQ-9",
                                                       ustrd="R-CANT-2026-00004")))
    assert metric("opsn_money_anomalies_total", kind="import_unmatched") == before + 1
    app = agents_app(django_app, shop.commune, TITULAIRE.account)
    home = text(app.get(f"{BASE}/"))
    assert "1 paiement importé (relevé bancaire, TPE) qu'aucune facture ne reconnaît" in home
    page = text(app.get(f"{BASE}/R-001/a-verifier/"))
    assert "BQ-9" in page and "80,00 € dépassent ce que doit encore la facture" in page
