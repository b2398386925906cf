"""Paying an invoice online, through the real round trip with the local PayFiP test
provider: the citizen's « Payer en ligne » (POST) → the provider's page → pay, refuse or
abandon → the server-to-server notification carrying only the operation id (a job) →
our side asks the provider the result → the régie's payment recorded once → the return
page. And every bad input: replayed, late, out-of-order and forged notifications, a
tampered amount, a citizen not linked to the payer, payments whose notification never
comes (the reconciliation job), expiry."""

from __future__ import annotations

import datetime
import html
import logging
import threading
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from opsn.audit.models import AuditEvent
from opsn.communes.models import Commune
from opsn.finance.handover import handover_create
from opsn.jobs import periodic
from opsn.jobs.broker import send
from opsn.jobs.models import PeriodRun
from opsn.online_payments.models import OnlinePayment, PayfipAccount, PaymentState
from opsn.online_payments.selectors import alerts as online_alerts
from opsn.online_payments.services import (
    ACTOR,
    online_payment_notified,
    online_payment_start,
    online_payments_reconcile,
    payfip_configure,
)
from opsn.online_payments.tasks import reconcile_commune_online_payments, reconcile_online_payments
from opsn.payfip_local.models import Operation
from opsn.payfip_local.tasks import notify as provider_notifies
from opsn.regies.errors import RegieError
from opsn.regies.models import DailyClosing, EntrySource, Invoice, LedgerEntry
from opsn.regies.services import cashdesk, founding, invoicing, payments
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import Browser, make_account
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

CITIZEN = "camille.durand@citoyen.test"
NEIGHBOUR = "paul.voisin@citoyen.test"
PROVIDER = "localhost"  # the portal, where the local provider serves its page
ONLINE_MODES = ["cash", "cheque", "card", "transfer", "other", "online"]


def text(response) -> str:
    return html.unescape(response.content.decode())


def make_shop(commune: Commune, number="CANT-2026-11"):
    with in_schema(commune):
        regie = make_regie(accepted_modes=ONLINE_MODES)
        payfip_configure(regie=regie, actor=ADMIN, numcli="049836")
        family = make_payer(regie, "Famille Durand", email="famille.durand@example.fr")
        invoice = make_invoice(regie, family, "30.00", "15.00", number=number)
    return SimpleNamespace(commune=commune, regie=regie, payer=family, invoice=invoice,
                           host=host_of(commune))


@pytest.fixture
def shop(venissieux):
    return make_shop(venissieux)


def signed_in(account: str, *hosts: str) -> Browser:
    make_account(account)
    browser = Browser()
    for host in hosts:
        where, _ = browser.sign_in(host, account)
        assert where == host
    return browser


@pytest.fixture
def citizen(shop):
    browser = signed_in(CITIZEN, shop.host)
    linked = browser.client(shop.host).post("/mon-espace/rattachements/",
                                            {"code": shop.payer.link_code})
    assert linked.status_code == 302
    return browser


def start(browser: Browser, shop, **extra):
    """« Payer en ligne »: returns the provider's page (its URL) and the payment."""
    answer = browser.client(shop.host).post(
        f"/mon-espace/payer/{shop.commune.pk}/{shop.invoice.pk}/", extra)
    assert answer.status_code == 302, text(answer)[:500]
    location = answer["Location"]
    assert urlsplit(location).hostname == PROVIDER
    idop = parse_qs(urlsplit(location).query)["idop"][0]
    with in_schema(shop.commune):
        payment = OnlinePayment.objects.get(idop=idop)
    return location, payment


def choose(browser: Browser, location: str, choice: str):
    """On the provider's page, press a button; follows the browser back to the commune."""
    parts = urlsplit(location)
    page = browser.client(PROVIDER).get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    return browser.go(f"{parts.path}?{parts.query}", host=PROVIDER,
                      data={"idop": parse_qs(parts.query)["idop"][0], "choix": choice})


def notify(shop, idop: str):
    """What PayFiP posts: the operation id, nothing else."""

    return Client(HTTP_HOST=shop.host).post("/paiement-en-ligne/notification/",
                                            {"idOp": idop})


def state_of(shop, payment) -> OnlinePayment:
    with in_schema(shop.commune):
        return OnlinePayment.objects.select_related("entry").get(pk=payment.pk)


def online_entries(shop) -> list[LedgerEntry]:
    with in_schema(shop.commune):
        return list(LedgerEntry.objects.filter(source=EntrySource.ONLINE))


def invoice_status(shop) -> str:
    with in_schema(shop.commune):
        return Invoice.objects.get(pk=shop.invoice.pk).status


def age(shop, payment, minutes: int) -> None:
    """Make the payment (and the provider's operation) ``minutes`` old."""

    then = timezone.now() - datetime.timedelta(minutes=minutes)
    with in_schema(shop.commune):
        OnlinePayment.objects.filter(pk=payment.pk).update(created_at=then)
    Operation.objects.filter(idop=payment.idop).update(created_at=then)


def test_a_citizen_pays_an_invoice_online_and_gets_its_receipt(shop, citizen):
    page = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "Payer en ligne" in page and "la facture n° CANT-2026-11 de Vénissieux (45,00 €)" in page

    location, payment = start(citizen, shop)
    assert (payment.amount_cents, payment.state, payment.numcli) == (4500, "created", "049836")
    assert (payment.refdet, payment.exer) == ("CANT202611", 2026)
    operation = Operation.objects.get(idop=payment.idop)  # what the provider was asked
    assert (operation.montant, operation.numcli, operation.saisie) == (4500, "049836", "T")
    assert operation.urlnotif == f"http://{shop.host}/paiement-en-ligne/notification/"
    assert operation.mel == CITIZEN
    assert "45,00 €" in text(citizen.client(PROVIDER).get(urlsplit(location).path + "?"
                                                          + urlsplit(location).query))

    where, outcome = choose(citizen, location, "payer")
    assert where == shop.host and outcome.status_code == 200
    assert "Paiement accepté" in text(outcome)
    paid = state_of(shop, payment)
    assert paid.state == PaymentState.PAID and paid.result_code == "P"
    [entry] = online_entries(shop)
    assert (entry.amount, entry.mode, entry.payer_id) == (45, "online", shop.payer.pk)
    assert entry.external_ref == f"payfip:{payment.idop}" and paid.entry_id == entry.pk
    assert invoice_status(shop) == "paid"
    assert Operation.objects.get(idop=payment.idop).notified_at is not None

    receipt = citizen.client(shop.host).get(
        f"/mon-espace/quittances/{shop.commune.pk}/{entry.pk}.pdf")
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"
    assert f"/mon-espace/quittances/{shop.commune.pk}/{entry.pk}.pdf" in text(outcome)
    # Nothing left to pay: no button any more.
    assert "Payer en ligne" not in text(citizen.client(shop.host).get("/mon-espace/"))


def test_the_amount_is_what_the_invoice_still_owes_never_what_the_browser_says(shop, citizen):
    with in_schema(shop.commune):
        payments.payment_record(regie=shop.regie, actor=MANDATAIRE, amount="20.00",
                                mode="cash", invoices=[shop.invoice])
    location, payment = start(citizen, shop, amount="1.00", montant="100")
    assert payment.amount_cents == 2500
    choose(citizen, location, "payer")
    assert [e.amount for e in online_entries(shop)] == [25] and invoice_status(shop) == "paid"


@pytest.mark.parametrize(("choice", "state", "says"), [
    ("refuser", PaymentState.REFUSED, "Paiement refusé"),
    ("abandonner", PaymentState.CANCELLED, "Paiement abandonné")])
def test_a_refused_or_abandoned_payment_records_nothing_and_can_be_tried_again(
        shop, citizen, choice, state, says):
    location, payment = start(citizen, shop)
    where, outcome = choose(citizen, location, choice)
    assert where == shop.host and says in text(outcome)
    assert "rien n'a été prélevé" in text(outcome)
    assert state_of(shop, payment).state == state
    assert online_entries(shop) == [] and invoice_status(shop) == "due"

    again, second = start(citizen, shop)  # a new operation
    assert second.pk != payment.pk and second.idop != payment.idop
    choose(citizen, again, "payer")
    assert len(online_entries(shop)) == 1 and invoice_status(shop) == "paid"


def test_not_yet_known_then_paid_the_return_page_asks_the_provider(shop, citizen, settings):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False  # the notification is late
    location, payment = start(citizen, shop)
    back = f"/mon-espace/paiement-en-ligne/{shop.commune.pk}/{payment.pk}/"
    waiting = citizen.client(shop.host).get(back)  # the provider says P5: not known yet
    assert waiting.status_code == 200
    assert "nous attendons la confirmation" in text(waiting).lower()
    assert state_of(shop, payment).state == PaymentState.CREATED
    # A second click while it is pending goes back to the same operation.
    assert start(citizen, shop)[1].pk == payment.pk

    _where, outcome = choose(citizen, location, "payer")  # no notification comes
    assert "Paiement accepté" in text(outcome)  # the return page fetched the result
    assert len(online_entries(shop)) == 1
    assert notify(shop, payment.idop).status_code == 200  # then it comes: nothing more
    assert len(online_entries(shop)) == 1


def test_a_payment_never_made_expires(shop, citizen, settings):
    location, payment = start(citizen, shop)
    age(shop, payment, 10)
    with in_schema(shop.commune):
        assert online_payments_reconcile() == {"created": 1}  # still within PayFiP's window
    age(shop, payment, settings.OPSN_PAYFIP_VALIDITY_MINUTES + 1)
    with in_schema(shop.commune):
        assert online_payments_reconcile() == {"expired": 1}
        assert online_payments_reconcile() == {}  # settled: not asked again
    outcome = citizen.client(shop.host).get(
        f"/mon-espace/paiement-en-ligne/{shop.commune.pk}/{payment.pk}/")
    assert "Paiement expiré" in text(outcome)
    lapsed = citizen.client(PROVIDER).get(urlsplit(location).path + "?"
                                          + urlsplit(location).query)
    assert lapsed.status_code == 410 and "a expiré" in text(lapsed)
    assert online_entries(shop) == []
    assert start(citizen, shop)[1].pk != payment.pk  # the citizen may start again


def test_a_replayed_notification_changes_nothing(shop, citizen, caplog):
    location, payment = start(citizen, shop)
    choose(citizen, location, "payer")
    with in_schema(shop.commune):

        events = AuditEvent.objects.count()
    for _ in range(3):
        assert notify(shop, payment.idop).status_code == 200
    assert len(online_entries(shop)) == 1
    with in_schema(shop.commune):  # nothing recorded again; the replay is said, once
        assert AuditEvent.objects.count() == events + 1
        assert AuditEvent.objects.filter(code="payfip.notification_replayed").count() == 1


def test_a_late_or_stale_result_never_undoes_a_final_state(shop, citizen, settings):
    location, payment = start(citizen, shop)
    choose(citizen, location, "payer")
    # The provider now tells an older story (an abandon before the payment went through).
    Operation.objects.filter(idop=payment.idop).update(resultrans="A")
    assert notify(shop, payment.idop).status_code == 200
    paid = state_of(shop, payment)
    assert paid.state == PaymentState.PAID and paid.entry_id is not None
    assert len(online_entries(shop)) == 1

    # A refusal stays a refusal whatever notification comes after.
    with in_schema(shop.commune):
        second = make_invoice(shop.regie, shop.payer, "12.00", number="CANT-2026-12")
    shop2 = SimpleNamespace(**{**vars(shop), "invoice": second})
    location, refused = start(citizen, shop2)
    choose(citizen, location, "refuser")
    Operation.objects.filter(idop=refused.idop).update(resultrans="R")
    notify(shop, refused.idop)
    assert state_of(shop, refused).state == PaymentState.REFUSED


def test_a_payment_that_succeeds_after_we_expired_it_is_still_recorded(shop, citizen, settings,
                                                                       caplog):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False
    _location, payment = start(citizen, shop)
    age(shop, payment, settings.OPSN_PAYFIP_VALIDITY_MINUTES + 1)
    with in_schema(shop.commune):
        online_payments_reconcile()
    assert state_of(shop, payment).state == PaymentState.EXPIRED
    # The money was taken all the same (the provider's result says paid): recorded, once.
    Operation.objects.filter(idop=payment.idop).update(resultrans="P")
    with caplog.at_level(logging.WARNING, logger="opsn.online_payments"):
        assert notify(shop, payment.idop).status_code == 200
    assert state_of(shop, payment).state == PaymentState.PAID
    assert len(online_entries(shop)) == 1
    assert "paid after it had expired" in caplog.text


def test_a_forged_notification_is_refused_or_leads_nowhere(shop, citizen, caplog):
    with caplog.at_level(logging.WARNING, logger="opsn.online_payments"):
        unknown = notify(shop, "0123456789abcdef")
    assert unknown.status_code == 404 and "Opération de paiement inconnue" in text(unknown)
    assert "PayFiP notification for an unknown operation '0123456789abcdef'" in caplog.text
    assert notify(shop, "").status_code == 404


    assert Client(HTTP_HOST=shop.host).get(
        "/paiement-en-ligne/notification/?idOp=x").status_code == 405

    # A known operation the payer has not paid: the provider says so, nothing is recorded.
    _location, payment = start(citizen, shop)
    assert notify(shop, payment.idop).status_code == 200
    assert state_of(shop, payment).state == PaymentState.CREATED
    Operation.objects.filter(idop=payment.idop).update(resultrans="R")  # refused at the bank
    assert notify(shop, payment.idop).status_code == 200
    assert state_of(shop, payment).state == PaymentState.REFUSED
    assert online_entries(shop) == [] and invoice_status(shop) == "due"


def test_a_tampered_amount_is_not_recorded(shop, citizen, caplog):
    location, payment = start(citizen, shop)
    Operation.objects.filter(idop=payment.idop).update(montant=100)  # 1 € paid for 45 €
    with caplog.at_level(logging.ERROR, logger="opsn.online_payments"):
        _where, outcome = choose(citizen, location, "payer")
    assert "Paiement en vérification" in text(outcome)
    anomaly = state_of(shop, payment)
    assert anomaly.state == PaymentState.ANOMALY and anomaly.entry_id is None
    assert "1,00 € payés pour 45,00 € demandés" in anomaly.note
    assert f"online payment {payment.pk} (idop {payment.idop}) tampered" in caplog.text
    assert online_entries(shop) == [] and invoice_status(shop) == "due"
    with in_schema(shop.commune):  # the régie's agents see it in the commune's audit log

        logged = AuditEvent.objects.get(code="online_payment.anomaly")
        assert logged.summary == (f"Paiement en ligne {payment.idop} (facture CANT-2026-11) "
                                  "non enregistré : PayFiP dit 1,00 € payés pour 45,00 € "
                                  "demandés")
    notify(shop, payment.idop)  # and it stays so
    assert state_of(shop, payment).state == PaymentState.ANOMALY


def test_only_a_citizen_linked_to_the_payer_may_pay_or_see_the_payment(shop, citizen, caplog):
    _location, payment = start(citizen, shop)
    neighbour = signed_in(NEIGHBOUR, shop.host)
    with caplog.at_level(logging.WARNING, logger="opsn.citizens"):
        refused = neighbour.client(shop.host).post(
            f"/mon-espace/payer/{shop.commune.pk}/{shop.invoice.pk}/")
    assert refused.status_code == 403
    assert "n'est pas celle d'un payeur rattaché à votre compte" in text(refused)
    assert "online payment refused" in caplog.text
    seen = neighbour.client(shop.host).get(
        f"/mon-espace/paiement-en-ligne/{shop.commune.pk}/{payment.pk}/")
    assert seen.status_code == 403
    # Linked to another payer of the same commune is not enough either.
    with in_schema(shop.commune):
        other = make_payer(shop.regie, "Famille Voisin")
    assert neighbour.client(shop.host).post("/mon-espace/rattachements/",
                                            {"code": other.link_code}).status_code == 302
    refused = neighbour.client(shop.host).post(
        f"/mon-espace/payer/{shop.commune.pk}/{shop.invoice.pk}/")
    assert refused.status_code == 403
    # And a GET does not start a payment.
    assert citizen.client(shop.host).get(
        f"/mon-espace/payer/{shop.commune.pk}/{shop.invoice.pk}/").status_code == 405


def test_a_regie_without_online_payment_offers_no_button(venissieux, citizen, shop):
    with in_schema(venissieux):
        pool = make_regie("P-01", "Piscine municipale")  # no PayFiP account
        payer = make_payer(pool, "Famille Durand")
        swim = make_invoice(pool, payer, "24.00", number="PISC-2026-7")
    citizen.client(shop.host).post("/mon-espace/rattachements/", {"code": payer.link_code})
    page = text(citizen.client(shop.host).get("/mon-espace/"))
    assert page.count("Payer en ligne<span") == 1  # the canteen's invoice only
    answer = citizen.client(shop.host).post(f"/mon-espace/payer/{venissieux.pk}/{swim.pk}/")
    assert answer.status_code == 409
    assert "ne propose pas le paiement en ligne" in text(answer)


def test_the_reconciliation_job_records_a_payment_whose_notification_never_came(
        shop, citizen, settings):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False  # PayFiP's notification is lost
    location, payment = start(citizen, shop)
    parts = urlsplit(location)
    citizen.client(PROVIDER).post(f"{parts.path}?{parts.query}",
                                  {"idop": payment.idop, "choix": "payer"})
    # The citizen closed the tab: no return page, no notification.
    assert state_of(shop, payment).state == PaymentState.CREATED
    send(reconcile_online_payments)  # too early: younger than the reconciliation delay
    assert state_of(shop, payment).state == PaymentState.CREATED
    age(shop, payment, settings.OPSN_PAYFIP_RECONCILE_AFTER_MINUTES + 1)
    send(reconcile_online_payments)  # fans out to each commune
    assert state_of(shop, payment).state == PaymentState.PAID
    assert len(online_entries(shop)) == 1 and invoice_status(shop) == "paid"
    # The notification then arrives, and the job runs again: still one payment.
    provider_notifies.fn(payment.idop)
    send(reconcile_online_payments)
    assert len(online_entries(shop)) == 1


def test_the_reconciliation_job_touches_only_its_commune(shop, citizen, vaulx, settings):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False
    there = make_shop(vaulx, number="PISC-2026-7")
    citizen_there = signed_in("lucas.bernard@citoyen.test", there.host)
    citizen_there.client(there.host).post("/mon-espace/rattachements/",
                                          {"code": there.payer.link_code})
    payments_made = []
    for who, where in ((citizen, shop), (citizen_there, there)):
        location, payment = start(who, where)
        parts = urlsplit(location)
        who.client(PROVIDER).post(f"{parts.path}?{parts.query}",
                                  {"idop": payment.idop, "choix": "payer"})
        age(where, payment, 30)
        payments_made.append(payment)
    send(reconcile_commune_online_payments, commune=shop.commune)
    assert state_of(shop, payments_made[0]).state == PaymentState.PAID
    assert state_of(there, payments_made[1]).state == PaymentState.CREATED
    assert online_entries(there) == []


def test_the_journal_takes_an_online_payment_once_whatever_the_code_does(shop, citizen):
    """The guard is in the database: one entry per online payment, one entry per
    PayFiP operation in the régie's journal."""
    location, payment = start(citizen, shop)
    choose(citizen, location, "payer")
    paid = state_of(shop, payment)
    with in_schema(shop.commune):

        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.create(
                regie=shop.regie, year=paid.entry.year, receipt_number=999, amount=45,
                mode="online", payer=shop.payer, payer_name="x", source=EntrySource.ONLINE,
                external_ref=paid.entry.external_ref, agent=ACTOR.account, agent_name="x",
                posted_at=paid.entry.posted_at)
        second = OnlinePayment.objects.create(
            regie=shop.regie, invoice=shop.invoice, payer=shop.payer, numcli="049836",
            environment="T", exer=2026, refdet="X", amount_cents=4500, email="a@b.fr",
            started_by="t", state=PaymentState.PAID)
        with pytest.raises(IntegrityError), transaction.atomic():
            OnlinePayment.objects.filter(pk=second.pk).update(entry=paid.entry)


def test_the_reconciliation_is_a_periodic_job_run_once_per_period(db):
    at = datetime.datetime(2026, 12, 1, 14, 37, tzinfo=datetime.UTC)
    assert "online-payments-reconciliation" in periodic.tick(at)
    assert "online-payments-reconciliation" not in periodic.tick(at)  # a second replica
    assert PeriodRun.objects.get(name="online-payments-reconciliation").period.endswith(":35")
    later = at + datetime.timedelta(minutes=5)
    assert "online-payments-reconciliation" in periodic.tick(later)


def test_the_payfip_account_needs_six_digits_and_an_online_regie(venissieux):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=ONLINE_MODES)
        with pytest.raises(RegieError, match="6 chiffres"):
            payfip_configure(regie=regie, actor=ADMIN, numcli="12345")
        with pytest.raises(RegieError, match="Environnement PayFiP inconnu"):
            payfip_configure(regie=regie, actor=ADMIN, numcli="123456", environment="P")
        counter = make_regie("R-002", "Bibliothèque")
        with pytest.raises(RegieError, match="n'accepte pas le paiement en ligne"):
            payfip_configure(regie=counter, actor=ADMIN, numcli="123456")


def test_the_operator_opens_online_payment_for_a_regie_from_the_command_line(venissieux):
    with in_schema(venissieux):
        make_regie(accepted_modes=ONLINE_MODES)
    call_command("payfip_account", "--commune", "69259", "--regie", "R-001",
                 "--numcli", "049836", "--environment", "X")
    with in_schema(venissieux):

        account = PayfipAccount.objects.get()
        assert (account.numcli, account.environment, account.enabled) == ("049836", "X", True)
        assert AuditEvent.objects.filter(code="payfip.configured").last().summary == (
            "Paiement en ligne (PayFiP) ouvert pour la régie R-001 : numéro client 049836, "
            "environnement activation")
    with pytest.raises(CommandError, match="6 chiffres") as raised:
        call_command("payfip_account", "--commune", "69259", "--regie", "R-001",
                     "--numcli", "4983")
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="Aucune régie R-404") as raised:
        call_command("payfip_account", "--commune", "69259", "--regie", "R-404",
                     "--numcli", "049836")
    assert raised.value.returncode == 3
    call_command("payfip_account", "--commune", "69259", "--regie", "R-001",
                 "--numcli", "049836", "--close")
    with in_schema(venissieux):
        assert PayfipAccount.objects.get().enabled is False


def test_a_payment_after_the_closing_is_recorded_at_once_dated_the_next_day(shop, citizen):
    """Paid after the régie closed its day: the money is on the régie's account, so the
    journal takes it at once, dated to the next open day (issue 14; it used to wait)."""

    location, payment = start(citizen, shop)
    with in_schema(shop.commune):
        cashdesk.day_close(regie=shop.regie, actor=TITULAIRE, counted={})
    _where, outcome = choose(citizen, location, "payer")
    assert "Paiement accepté" in text(outcome)
    [entry] = online_entries(shop)
    assert entry.dated_on == timezone.localdate() + datetime.timedelta(days=1)
    assert state_of(shop, payment).entry_id == entry.pk and invoice_status(shop) == "paid"
    with in_schema(shop.commune):
        assert online_payments_reconcile() == {}  # recorded: nothing left to do
        assert DailyClosing.objects.count() == 1


def test_a_notification_and_the_return_page_at_the_same_moment_record_one_payment(committed):
    """Two processes apply the same result at once (PayFiP's notification, the citizen's
    return page, the reconciliation): the payment's row lock lets one record it."""

    commune = Commune.objects.get(insee_code="69259")
    shop = make_shop(commune)
    try:
        with in_schema(commune):
            payment = online_payment_start(
                invoice=shop.invoice, email="famille.durand@example.fr", started_by="t",
                notify_url=f"http://{shop.host}/paiement-en-ligne/notification/",
                return_url_for=lambda p: f"http://{shop.host}/mon-espace/")
        Operation.objects.filter(idop=payment.idop).update(resultrans="P")
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def notified():
            try:
                barrier.wait(10)
                with in_schema(commune):
                    online_payment_notified(idop=payment.idop)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=notified) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert len(online_entries(shop)) == 1
        assert state_of(shop, payment).state == PaymentState.PAID
    finally:
        with in_schema(commune):
            wipe_regies()
        Operation.objects.all().delete()


def test_the_test_provider_is_off_on_a_deployment_on_the_real_payfip(db, settings):
    settings.OPSN_PAYFIP = "payfip"
    page = Client(HTTP_HOST=PROVIDER).get("/payfip-local/tpa/paiementws.web?idop=x")
    assert page.status_code == 404 and "désactivé" in text(page)


def imputed(shop) -> None:
    """The shop's régie imputed (7067 / 281) with a budget; its invoice issued again once
    imputed (the first one, issued without imputation, cancelled)."""
    with in_schema(shop.commune):
        make_budget()
        founding.regie_imputation_set(regie=shop.regie, actor=ADMIN, nature="7067",
                                      fonction="281")
        invoicing.invoice_cancel(invoice=shop.invoice, actor=ADMIN, reason="sans imputation")
        shop.invoice = make_invoice(shop.regie, shop.payer, "30.00", "15.00",
                                    number="CANT-2026-12")


def hand_over(shop) -> None:
    """The shop's invoice (due 31/10/2026) handed over to the public accountant."""
    with in_schema(shop.commune):
        handover_create(regie=shop.regie, due_before=datetime.date(2026, 11, 15), actor=ADMIN,
                        day=datetime.date(2026, 12, 1))


def test_an_invoice_handed_over_to_the_public_accountant_cannot_be_paid_online(shop, citizen):
    imputed(shop)
    hand_over(shop)
    answer = citizen.client(shop.host).post(
        f"/mon-espace/payer/{shop.commune.pk}/{shop.invoice.pk}/")
    assert answer.status_code == 409
    assert ("La facture CANT-2026-12 est transmise au comptable public (bordereau 1/2026) : "
            "payez auprès du Trésor public") in text(answer)
    with in_schema(shop.commune):
        assert not OnlinePayment.objects.exists()


def test_the_family_sees_its_invoice_transmitted_and_cannot_pay_it_at_the_regie(shop,
                                                                                citizen):
    imputed(shop)
    before = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "Payer en ligne" in before and "la facture n° CANT-2026-12" in before
    hand_over(shop)
    page = text(citizen.client(shop.host).get("/mon-espace/"))
    assert "Facture n° CANT-2026-12" in page
    assert "transmise au comptable public" in page
    assert "Bordereau 1/2026 : cette facture se paie désormais auprès du Trésor public" in page
    assert "Payer en ligne" not in page  # no button offered
    with in_schema(shop.commune), pytest.raises(RegieError,  # nor at the counter
                                                match="transmise au comptable public"):
        payments.payment_record(regie=shop.regie, actor=TITULAIRE, amount="45.00",
                                mode="cash", invoices=[shop.invoice])


def test_money_paid_online_for_an_invoice_handed_over_meanwhile_is_kept_to_check(
        shop, citizen):
    imputed(shop)
    location, payment = start(citizen, shop)  # started before the hand-over
    hand_over(shop)
    choose(citizen, location, "payer")
    paid = state_of(shop, payment)
    assert paid.state == PaymentState.PAID and paid.entry_id is None  # kept, not lost
    assert "transmise au comptable public" in paid.problem
    assert "à signaler au comptable public" in paid.problem
    with in_schema(shop.commune):
        [alert] = online_alerts(shop.regie)  # the régie's « À vérifier »
        assert alert.payment.pk == payment.pk and "transmise au comptable public" in alert.what
        assert invoice_status(shop) == "due"
