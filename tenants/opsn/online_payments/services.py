"""Online payments, the one way in: configure a régie's PayFiP account, start a payment,
take a notification, check a payment's result, reconcile those whose notification never
came. The result always comes from PayFiP (``payfip.provider().detail``), never from the
notification or the browser, so a forged notification can only make us ask.

Order-safe and idempotent: a payment's row is locked while its result is applied; a final
state (paid, refused, cancelled, anomaly) is never changed by a later non-paid result; a
paid result is recorded in the régie's journal exactly once — the payment's ``entry`` is
unique and the entry's reference (``payfip:<idOp>``) is unique in the régie's journal.

Money PayFiP took is never refused: it is recorded by whichever comes first of the
notification, the return page and the reconciliation, as money already collected
(``payments_post(collected=True)``): after the counter's closing it is dated to the next
open day; an invoice cancelled or paid meanwhile leaves it on the payer's credit; in a
régie merged since, it goes to the régie that took the payer over. What still stops it
(a régie closed for good, a commune being moved) is kept on the payment (``problem``),
shown to the régie's agents, written in the audit log, counted, and tried again by the
reconciliation until it goes in."""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError
from django.db.models import F, Q
from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record
from opsn.finance.selectors import handed_over, transmitted_message, was_handed_over
from opsn.kernel.actors import Actor
from opsn.kernel.metrics import MONEY_ANOMALIES, MONEY_RECOVERED, PAYFIP_NOTIFICATIONS
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic, on_commit
from opsn.online_payments import payfip
from opsn.online_payments.actor import ACTOR
from opsn.online_payments.errors import NotPayableOnline, ProviderUnavailable, UnknownPayment
from opsn.online_payments.models import (
    FINAL_STATES,
    Environment,
    OnlinePayment,
    PayfipAccount,
    PaymentState,
    RefusedNotification,
)
from opsn.online_payments.receipts import receipt_to_send
from opsn.online_payments.selectors import collected
from opsn.regies.errors import Duplicate, RegieError
from opsn.regies.models import AssignmentRole, EntrySource, Invoice, LedgerEntry, PaymentMode, Regie
from opsn.regies.permissions import may_collect, require_keeper
from opsn.regies.selectors import payments_held
from opsn.regies.services.founding import assignment_grant
from opsn.regies.services.payments import payment_record

logger = logging.getLogger("opsn.online_payments")

# PayFiP's own bounds on one payment (1 € to 100,000 €).
MIN_CENTS, MAX_CENTS = 100, 10_000_000


def _cents_text(cents: int) -> str:
    return euros(Decimal(cents) / 100)


def _count(counter, label: str) -> None:
    """Count once the transaction that found it commits."""
    on_commit(lambda: counter.labels(label).inc())


# --- Configuration ------------------------------------------------------------------------

@atomic
def payfip_configure(*, regie: Regie, actor: Actor, numcli: str,
                     environment: str = Environment.TEST, enabled: bool = True
                     ) -> PayfipAccount:
    """Open (or change) online payment for ``regie``: its PayFiP client number and
    environment. The régie's founding act must accept online payment; the platform's
    PayFiP credential is appointed mandataire of the régie (it records the payments)."""

    numcli = (numcli or "").strip()
    if not (len(numcli) == 6 and numcli.isdigit()):
        raise RegieError("Le numéro client PayFiP a 6 chiffres (il est donné par la DGFiP).",
                         field="numcli")
    if environment not in Environment.values:
        raise RegieError(f"Environnement PayFiP inconnu : « {environment} » (T, X ou W).",
                         field="environment")
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    if PaymentMode.ONLINE not in regie.accepted_modes:
        raise RegieError(f"L'acte constitutif de la régie {regie.name} n'accepte pas le "
                         "paiement en ligne : modifiez-le d'abord.", field="regie")
    account, _ = PayfipAccount.objects.update_or_create(
        regie=regie, defaults={"numcli": numcli, "environment": environment,
                               "enabled": enabled, "updated_by": actor.account})
    if not may_collect(regie, ACTOR.account, timezone.localdate()):
        assignment_grant(regie=regie, actor=actor, account=ACTOR.account,
                         role=AssignmentRole.MANDATAIRE)
    record(actor, events.PayfipConfigured(target=f"regie:{regie.pk}", data={
        "state": "ouvert" if enabled else "fermé", "regie": regie.number, "numcli": numcli,
        "environment": Environment(environment).label}))
    logger.info("régie %s: PayFiP %s (%s) %s by %s", regie.number, numcli, environment,
                "opened" if enabled else "closed", actor.account)
    return account


def account_of(regie: Regie) -> PayfipAccount | None:
    account = PayfipAccount.objects.filter(regie=regie, enabled=True).first()
    if account is None or PaymentMode.ONLINE not in regie.accepted_modes:
        return None
    return account


# --- Starting a payment -------------------------------------------------------------------

def _validity() -> datetime.timedelta:
    return datetime.timedelta(minutes=settings.OPSN_PAYFIP_VALIDITY_MINUTES)


def _owed_cents(invoice: Invoice) -> int:
    owed = (invoice.total - invoice.amount_paid) * 100
    cents = int(owed)
    if cents != owed:  # amounts are kept to the cent: never happens
        raise NotPayableOnline(f"Le reste dû de la facture {invoice.number} n'est pas un "
                               "montant au centime.")
    return cents


@atomic
def online_payment_start(*, invoice: Invoice, email: str, started_by: str, notify_url: str,
                         return_url_for: Callable[[OnlinePayment], str],
                         by_reference: bool = False, receipt_to: str = "") -> OnlinePayment:
    """Start paying what ``invoice`` still owes (computed here, in cents). Returns the
    payment; the payer's browser goes to ``provider().payment_url(payment.idop)``. A
    payment of the same invoice still waiting for its result is reused when it was started
    the same way (from a citizen's space, or ``by_reference`` without an account: its
    return page is that way's). ``receipt_to``: where to e-mail its receipt once
    recorded (« Payer une facture »)."""
    # The invoice's row only (``of``): the régie's row stays free for its counter while
    # PayFiP is asked.
    invoice = (Invoice.objects.select_for_update(of=("self",))
               .select_related("regie", "payer").get(pk=invoice.pk))
    regie = invoice.regie
    account = account_of(regie)
    if account is None:
        raise NotPayableOnline(f"La régie {regie.name} ne propose pas le paiement en ligne.")
    if invoice.cancelled_at is not None:
        raise NotPayableOnline(f"La facture {invoice.number} est annulée.")
    item = handed_over(invoice.pk)
    if item is not None:
        raise NotPayableOnline(transmitted_message(invoice.number, item))
    why = payments_held([invoice.pk]).get(invoice.pk)
    if why:
        raise NotPayableOnline(f"La facture {invoice.number} ne peut pas être payée en ligne : "
                               f"{why}. Elle sera payée par ce prélèvement ; ne la payez pas "
                               "une seconde fois.")
    _refuse_when_received(invoice)
    pending = (OnlinePayment.objects.select_for_update()
               .filter(invoice=invoice, state=PaymentState.CREATED).first())
    if pending is not None:
        pending = _check_locked(pending)
        invoice.refresh_from_db()
        if pending.state == PaymentState.CREATED:
            young = timezone.now() - pending.created_at < _validity() / 2
            if (young and pending.amount_cents == _owed_cents(invoice)
                    and pending.by_reference == by_reference):
                if receipt_to and receipt_to != pending.receipt_to:
                    pending.receipt_to = receipt_to[:254]
                    pending.save(update_fields=["receipt_to"])
                return pending
            raise NotPayableOnline(f"Un paiement en ligne de la facture {invoice.number} est "
                                   "en cours : attendez son résultat (quelques minutes) "
                                   "avant d'en commencer un autre.")
    cents = _owed_cents(invoice)
    if cents <= 0:
        raise NotPayableOnline(f"La facture {invoice.number} est déjà payée : elle ne doit "
                               "plus rien, aucun paiement en ligne n'est ouvert.")
    if not MIN_CENTS <= cents <= MAX_CENTS:
        raise NotPayableOnline(f"PayFiP accepte un paiement de 1 € à 100 000 € : la facture "
                               f"{invoice.number} demande {_cents_text(cents)}.")
    email = (email or invoice.payer.email or "").strip()
    if "@" not in email:
        raise NotPayableOnline("PayFiP demande l'adresse électronique du payeur : ajoutez-la "
                               "à votre compte.")
    payment = OnlinePayment.objects.create(
        regie=regie, invoice=invoice, payer=invoice.payer, numcli=account.numcli,
        environment=account.environment, exer=invoice.issued_on.year,
        refdet=payfip.refdet_of(invoice.number), amount_cents=cents, email=email[:254],
        started_by=started_by[:64], by_reference=by_reference, receipt_to=receipt_to[:254])
    request = payfip.Request(
        numcli=account.numcli, exer=payment.exer, refdet=payment.refdet,
        objet=payfip.objet_of(f"Facture {invoice.number} {regie.name}"),
        amount_cents=cents, email=payment.email, notify_url=notify_url,
        return_url=return_url_for(payment), environment=account.environment)
    try:
        payment.idop = payfip.provider().create(request)
    except payfip.PayfipError as exc:
        logger.error("régie %s invoice %s: PayFiP refused to create the payment: %s",
                     regie.number, invoice.number, exc)
        raise ProviderUnavailable("Le service de paiement en ligne de la DGFiP (PayFiP) "
                                  "n'a pas pu ouvrir le paiement : réessayez dans quelques "
                                  "minutes.") from exc
    payment.save(update_fields=["idop"])
    logger.info("régie %s invoice %s: online payment %s started (%s, idop %s)", regie.number,
                invoice.number, payment.pk, _cents_text(cents), payment.idop)
    return payment


def _refuse_when_received(invoice: Invoice) -> None:
    """A payment of the invoice PayFiP took that is not in the journal yet (tried once more
    here), or whose result the régie is checking: no second payment."""
    received = list(OnlinePayment.objects.select_for_update().filter(
        invoice=invoice, state=PaymentState.PAID, entry__isnull=True))
    for payment in received:
        _check_locked(payment)  # records it if it can now
    if any(p.entry_id is None for p in received):
        raise NotPayableOnline(f"Le paiement en ligne de la facture {invoice.number} est reçu "
                               "et en cours d'enregistrement : ne payez pas une seconde fois. "
                               "Il apparaîtra dans « Mes paiements » dans quelques minutes.")
    if OnlinePayment.objects.filter(invoice=invoice, state=PaymentState.ANOMALY,
                                    resolved_at__isnull=True).exists():
        raise NotPayableOnline(f"Un paiement en ligne de la facture {invoice.number} est en "
                               "vérification à la régie : ne payez pas une seconde fois, la "
                               "régie vous répondra (ou contactez-la).")


# --- Results ------------------------------------------------------------------------------

def online_payment_notified(*, idop: str, ip: str = "") -> OnlinePayment:
    """PayFiP says something happened to ``idop``: ask it what. An unknown id is refused,
    and kept for the régies' agents to see (``RefusedNotification``); a replayed
    notification is counted and changes nothing."""
    idop = (idop or "").strip()
    payment = OnlinePayment.objects.filter(idop=idop).first() if idop else None
    if payment is None:
        logger.warning("PayFiP notification for an unknown operation %r (ip %s): ignored",
                       idop[:64], ip or "-")
        if idop:
            _refused_notification(idop[:64], ip)
        raise UnknownPayment("Opération de paiement inconnue.")
    return _notified(payment)


# The notification address is public: past this many new unknown operations in an hour,
# more are only logged and counted (a flood of made-up ids fills neither table nor log).
REFUSED_NOTIFICATIONS_KEPT_PER_HOUR = 50


@atomic
def _refused_notification(idop: str, ip: str) -> None:
    """Keep a notification for an operation the commune does not know: once per id,
    counted, in the audit log the first time."""
    now = timezone.now()
    _count(PAYFIP_NOTIFICATIONS, "unknown")
    if RefusedNotification.objects.filter(idop=idop).update(
            count=F("count") + 1, last_at=now):
        return
    recent = RefusedNotification.objects.filter(
        first_at__gte=now - datetime.timedelta(hours=1)).count()
    if recent >= REFUSED_NOTIFICATIONS_KEPT_PER_HOUR:
        logger.warning("PayFiP notification for an unknown operation %r: not kept, %d "
                       "already this hour", idop, recent)
        return
    try:
        with atomic():
            RefusedNotification.objects.create(idop=idop, ip=ip or None, first_at=now,
                                               last_at=now)
    except IntegrityError:  # the same id notified at the same moment: counted there
        RefusedNotification.objects.filter(idop=idop).update(count=F("count") + 1,
                                                             last_at=now)
        return
    _count(MONEY_ANOMALIES, "notification_unknown")
    record(ACTOR, events.PayfipNotificationRefused(target=f"payfip:{idop}", data={
        "idop": idop, "ip": ip or "adresse inconnue"}))


@atomic
def _notified(payment: OnlinePayment) -> OnlinePayment:
    """Count the notification, then fetch and apply the result. The second notification
    of an operation is a replay: counted, in the audit log once, never applied twice (the
    payment's final state and its single entry see to that)."""
    payment = OnlinePayment.objects.select_for_update().get(pk=payment.pk)
    payment.notifications += 1
    payment.notified_at = timezone.now()
    payment.save(update_fields=["notifications", "notified_at"])
    if payment.notifications > 1:
        _count(PAYFIP_NOTIFICATIONS, "replayed")
        logger.info("online payment %s (idop %s): notification %d (a replay)", payment.pk,
                    payment.idop, payment.notifications)
        if payment.notifications == 2:
            record(ACTOR, events.PayfipNotificationReplayed(
                target=f"invoice:{payment.invoice.number}",
                data={"idop": payment.idop, "invoice": payment.invoice.number}))
    else:
        _count(PAYFIP_NOTIFICATIONS, "applied")
    return _check_locked(payment)


@atomic
def online_payment_check(*, payment: OnlinePayment) -> OnlinePayment:
    """Fetch ``payment``'s result from PayFiP and apply it (under the payment's lock)."""
    payment = OnlinePayment.objects.select_for_update().get(pk=payment.pk)
    return _check_locked(payment)


def _check_locked(payment: OnlinePayment) -> OnlinePayment:
    if payment.state == PaymentState.PAID:
        if payment.entry_id is None:
            _record(payment)  # paid, but the journal refused it earlier: try again
        return payment
    if payment.state in FINAL_STATES:
        return payment  # a final state is kept: a replayed or stale result changes nothing
    now = timezone.now()
    try:
        detail = payfip.provider().detail(payment.idop or "")
    except (payfip.NotYetKnown, payfip.UnknownOperation) as exc:
        payment.checked_at = now
        if now - payment.created_at >= _validity() and payment.state != PaymentState.EXPIRED:
            payment.state, payment.finished_at = PaymentState.EXPIRED, now
            logger.info("online payment %s (idop %s) expired: %s", payment.pk, payment.idop,
                        exc.code)
        payment.save(update_fields=["state", "finished_at", "checked_at"])
        return payment
    except payfip.PayfipError as exc:
        logger.error("online payment %s (idop %s): PayFiP did not give the result: %s",
                     payment.pk, payment.idop, exc)
        raise ProviderUnavailable("Le service de paiement en ligne de la DGFiP (PayFiP) ne "
                                  "répond pas : le résultat du paiement sera vérifié dans "
                                  "quelques minutes.") from exc
    _apply(payment, detail, now)
    return payment


def _apply(payment: OnlinePayment, detail: payfip.Detail, now) -> None:
    payment.checked_at = now
    payment.result_code = detail.resultrans[:2]
    payment.result = detail.raw or {"resultrans": detail.resultrans,
                                    "montant": str(detail.amount_cents)}
    fields = ["checked_at", "result_code", "result", "state", "finished_at", "note"]
    if detail.paid:
        mismatch = _mismatch(payment, detail)
        if mismatch:
            payment.state, payment.finished_at, payment.note = (PaymentState.ANOMALY, now,
                                                                mismatch[:300])
            payment.save(update_fields=fields)
            logger.error("online payment %s (idop %s) tampered, not recorded: %s", payment.pk,
                         payment.idop, mismatch)
            _count(MONEY_ANOMALIES, "online_mismatch")
            record(ACTOR, events.OnlinePaymentAnomaly(
                target=f"invoice:{payment.invoice.number}",
                data={"idop": payment.idop, "invoice": payment.invoice.number,
                      "note": mismatch}))
            return
        if payment.state == PaymentState.EXPIRED:
            logger.warning("online payment %s (idop %s) paid after it had expired: recorded",
                           payment.pk, payment.idop)
        payment.state, payment.finished_at = PaymentState.PAID, now
        payment.save(update_fields=fields)
        _record(payment)
        return
    state = (dict.fromkeys(payfip.REFUSED_CODES, PaymentState.REFUSED)
             | dict.fromkeys(payfip.CANCELLED_CODES, PaymentState.CANCELLED)
             ).get(detail.resultrans)
    if state is None:
        logger.warning("online payment %s (idop %s): unknown PayFiP result %r, kept pending",
                       payment.pk, payment.idop, detail.resultrans)
        payment.save(update_fields=fields)
        return
    payment.state, payment.finished_at = state, now
    payment.save(update_fields=fields)
    logger.info("online payment %s (idop %s): %s", payment.pk, payment.idop, state.label)


def _mismatch(payment: OnlinePayment, detail: payfip.Detail) -> str:
    if detail.amount_cents != payment.amount_cents:
        return (f"PayFiP dit {_cents_text(detail.amount_cents)} payés pour "
                f"{_cents_text(payment.amount_cents)} demandés")
    if detail.refdet and detail.refdet != payment.refdet:
        return f"référence {detail.refdet} au lieu de {payment.refdet}"
    if detail.numcli and detail.numcli != payment.numcli:
        return f"numéro client {detail.numcli} au lieu de {payment.numcli}"
    return ""


def _record(payment: OnlinePayment, amount_cents: int | None = None, *,
            to_credit: bool = False) -> bool:
    """Record the paid amount in the journal, once, as money already collected: whatever
    the invoice no longer owes (paid meanwhile at the counter, cancelled) goes to the
    payer's credit; after the counter's closing it is dated to the next open day. When
    the journal still refuses it, say why (``problem``) and leave it to the next try.
    ``to_credit``: the whole amount to the payer's credit, the invoice left aside (its titre
    is the public accountant's). Returns whether it is in the journal."""

    reference = f"payfip:{payment.idop}"
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    regie = _recording_regie(payment)
    cents = payment.amount_cents if amount_cents is None else amount_cents
    details = {"idop": payment.idop or "", "numauto": str(payment.result.get("numauto", ""))}
    try:
        with atomic():
            entry = payment_record(
                regie=regie, actor=ACTOR, amount=Decimal(cents) / 100,
                mode=PaymentMode.ONLINE, payer=payment.payer,
                invoices=[] if to_credit else [invoice],
                details=details, source=EntrySource.ONLINE, external_ref=reference,
                collected=True)
    except Duplicate:
        entry = LedgerEntry.objects.get(source=EntrySource.ONLINE, external_ref=reference)
    except RegieError as exc:
        _not_recorded(payment, exc.message)
        return False
    payment.entry = entry
    payment.save(update_fields=["entry"])
    receipt_to_send(payment)
    if payment.problem_since is not None:
        _count(MONEY_RECOVERED, "online_unrecorded")
        record(ACTOR, events.OnlinePaymentRecordedLate(
            target=f"invoice:{invoice.number}", data={
                "idop": payment.idop, "invoice": invoice.number, "receipt": entry.receipt,
                "since": f"{timezone.localtime(payment.problem_since):%d/%m/%Y à %H:%M}",
                "problem": payment.problem}))
        logger.warning("online payment %s (idop %s) recorded after %d failed attempts since "
                       "%s: receipt %s", payment.pk, payment.idop, payment.failed_attempts,
                       payment.problem_since.isoformat(), entry.receipt)
    logger.info("online payment %s (idop %s) recorded: receipt %s%s", payment.pk,
                payment.idop, entry.receipt,
                f", dated {entry.dated_on.isoformat()}" if entry.dated_on else "")
    return True


def _recording_regie(payment: OnlinePayment) -> Regie:
    """The régie whose journal takes the payment: the payer's. Payers move with a merge,
    so a payment started in a régie merged since goes to the régie that took it over."""
    return Regie.objects.get(pk=payment.payer.regie_id)


def _not_recorded(payment: OnlinePayment, problem: str) -> None:
    """Paid, and the journal refuses it: keep why, tell the régie (audit, metric) the
    first time and whenever the reason changes; the reconciliation tries again."""
    now = timezone.now()
    first = payment.problem_since is None or payment.entry_id is not None
    changed = problem[:300] != payment.problem
    payment.failed_attempts += 1
    payment.problem = problem[:300]
    if first:
        payment.problem_since = now
    payment.save(update_fields=["problem", "problem_since", "failed_attempts"])
    if first or changed:
        if first:
            _count(MONEY_ANOMALIES, "online_unrecorded")
        record(ACTOR, events.OnlinePaymentNotRecorded(
            target=f"invoice:{payment.invoice.number}", data={
                "idop": payment.idop, "invoice": payment.invoice.number,
                "amount": _cents_text(payment.amount_cents).removesuffix(" €"),
                "problem": payment.problem}))
        logger.error("online payment %s (idop %s) paid but not recorded yet: %s", payment.pk,
                     payment.idop, problem)
    else:
        logger.warning("online payment %s (idop %s) still not recorded (attempt %d): %s",
                       payment.pk, payment.idop, payment.failed_attempts, problem)


# --- What the payer is told ---------------------------------------------------------------

@dataclass
class Outcome:
    """What became of a payment, for the page PayFiP sends the payer back to."""

    state: str  # paid | received | refused | cancelled | pending | expired | anomaly
    payment: OnlinePayment
    invoice_number: str
    regie_name: str
    amount: Decimal
    entry: LedgerEntry | None = None
    to_credit: Decimal = Decimal("0.00")  # what the invoice no longer owed: the credit

    @property
    def receipt(self) -> str:
        return self.entry.receipt if self.entry is not None else ""


def online_payment_outcome(*, payment: OnlinePayment) -> Outcome:
    """What became of ``payment``, asking PayFiP when we do not know yet (PayFiP silent:
    shown as pending; the reconciliation asks again)."""
    if payment.state == PaymentState.CREATED or (payment.state == PaymentState.PAID
                                                 and payment.entry_id is None):
        with contextlib.suppress(ProviderUnavailable):
            payment = online_payment_check(payment=payment)
    payment = (OnlinePayment.objects.select_related("invoice", "regie", "entry__regie")
               .get(pk=payment.pk))
    state = payment.state
    if state == PaymentState.CREATED:
        state = "pending"
    elif state == PaymentState.PAID and payment.entry_id is None:
        state = "received"  # taken by PayFiP, not in the journal yet: never pay again
    entry = payment.entry if payment.entry_id else None
    to_credit = Decimal("0.00")
    if entry is not None:
        to_invoice = sum((a.amount for a in entry.allocations.all()), Decimal("0.00"))
        to_credit = entry.amount - to_invoice
    return Outcome(state=state, payment=payment, invoice_number=payment.invoice.number,
                   regie_name=payment.regie.name, amount=Decimal(payment.amount_cents) / 100,
                   entry=entry, to_credit=to_credit)


# --- The régie settles an anomaly ---------------------------------------------------------

@atomic
def online_payment_resolve(*, payment: OnlinePayment, actor: Actor, reason: str,
                           record_it: bool) -> OnlinePayment:
    """The titulaire settles a payment PayFiP's result did not match: ``record_it`` records
    what PayFiP says it collected (checked in the DGFiP's PayFiP back office), to the
    invoice and then the payer's credit; otherwise it is set aside (refunded, never
    collected…). Either way with the reason, in the audit log."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise RegieError("Donnez le motif : ce que vous avez vérifié, ce qui a été fait.",
                         field="reason")
    payment = (OnlinePayment.objects.select_for_update(of=("self",))
               .select_related("invoice", "payer").get(pk=payment.pk))
    require_keeper(_recording_regie(payment), actor, timezone.localdate(),
                   "régler une anomalie de paiement en ligne")
    if payment.state != PaymentState.ANOMALY or payment.resolved_at is not None:
        raise Duplicate("Cette anomalie est déjà réglée.")
    if record_it:
        cents = collected(payment)
        if cents is None:
            raise RegieError("PayFiP n'a pas donné de montant encaissé : classez l'anomalie "
                             "et voyez avec le comptable.", field="reason")
        payment.state = PaymentState.PAID
        payment.save(update_fields=["state"])
        if not _record(payment, amount_cents=cents):
            raise RegieError(f"Le paiement n'a pas pu être enregistré : {payment.problem}",
                             field="reason")
        _count(MONEY_RECOVERED, "online_mismatch")
        receipt = LedgerEntry.objects.get(online_payment=payment).receipt
        what = f"{_cents_text(cents)} enregistrés par {actor.name}, quittance {receipt} : {reason}"
    else:
        what = f"classée par {actor.name} : {reason}"
    payment.resolved_at, payment.resolved_by = timezone.now(), actor.account
    payment.resolution = what[:300]
    payment.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    record(actor, events.OnlinePaymentResolved(target=f"invoice:{payment.invoice.number}",
                                               data={"idop": payment.idop,
                                                     "invoice": payment.invoice.number,
                                                     "resolution": payment.resolution}))
    return payment


# --- The régie settles money that came for a handed-over invoice --------------------------

TO_CREDIT, TO_INVOICE = "credit", "invoice"


@atomic
def online_payment_settle_handed_over(*, payment: OnlinePayment, actor: Actor, reason: str,
                                      to: str) -> OnlinePayment:
    """Money PayFiP took for an invoice handed over to the public accountant is kept out of
    the journal (« À vérifier »): the titulaire settles it. ``to="credit"``: recorded, the
    whole amount to the payer's credit (avoir), to refund or to pay another invoice — the
    public accountant is told (reduction of the titre). ``to="invoice"``: only once the
    accountant gave the titre back (rejected, or its bordereau cancelled: the invoice is the
    régie's again), recorded to the invoice, what it no longer owes to the credit. Either
    way with the reason, in the audit log."""
    reason = " ".join((reason or "").split())
    if to not in (TO_CREDIT, TO_INVOICE):
        raise RegieError("Choisissez : à l'avoir du payeur, ou sur la facture.", field="action")
    if not reason:
        raise RegieError("Donnez le motif : ce que vous avez vérifié, ce qui a été fait (ou "
                         "dit au comptable public).", field="reason")
    if len(reason) > 250:
        raise RegieError("Le motif tient en 250 caractères.", field="reason")
    payment = (OnlinePayment.objects.select_for_update(of=("self",))
               .select_related("invoice", "payer").get(pk=payment.pk))
    require_keeper(_recording_regie(payment), actor, timezone.localdate(),
                   "régler un paiement en ligne reçu pour une facture transmise")
    invoice = payment.invoice
    if payment.entry_id is not None:
        raise Duplicate(f"Le paiement en ligne payfip:{payment.idop} est déjà enregistré.")
    if payment.state != PaymentState.PAID or not was_handed_over(invoice.pk):
        raise RegieError(f"Le paiement en ligne payfip:{payment.idop} n'attend pas ce choix : "
                         f"la facture {invoice.number} n'a pas été transmise au comptable "
                         "public.", field="action")
    item = handed_over(invoice.pk)
    if to == TO_INVOICE and item is not None:
        raise RegieError(f"{transmitted_message(invoice.number, item)} Tant que le comptable "
                         "ne l'a pas rendue (titre rejeté, bordereau annulé), le paiement ne "
                         "peut aller qu'à l'avoir du payeur.", field="action")
    if not _record(payment, to_credit=to == TO_CREDIT):
        raise RegieError(f"Le paiement n'a pas pu être enregistré : {payment.problem}",
                         field="reason")
    receipt = LedgerEntry.objects.get(online_payment=payment).receipt
    amount = _cents_text(payment.amount_cents)
    where = (f"à l'avoir de {payment.payer.name}" if to == TO_CREDIT
             else f"sur la facture {invoice.number}, rendue par le comptable public")
    what = f"{amount} enregistrés {where} par {actor.name}, quittance {receipt} : {reason}"
    payment.resolved_at, payment.resolved_by = timezone.now(), actor.account
    payment.resolution = what[:300]
    payment.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    record(actor, events.OnlinePaymentSettled(target=f"invoice:{invoice.number}", data={
        "idop": payment.idop, "invoice": invoice.number, "resolution": payment.resolution}))
    return payment


# --- Reconciliation -----------------------------------------------------------------------

def online_payments_reconcile(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """In the current commune: fetch the result of each payment still waiting after
    ``OPSN_PAYFIP_RECONCILE_AFTER_MINUTES`` (expiring those past PayFiP's validity), and
    record those paid but not yet in the journal. Returns the count per state reached;
    a payment paid earlier and recorded now counts as ``recorded``, one still refused by
    the journal as ``unrecorded``."""

    now = now or timezone.now()
    cutoff = now - datetime.timedelta(minutes=settings.OPSN_PAYFIP_RECONCILE_AFTER_MINUTES)
    waiting = OnlinePayment.objects.filter(
        Q(state=PaymentState.CREATED, created_at__lte=cutoff)
        | Q(state=PaymentState.PAID, entry__isnull=True)).order_by("pk")
    counts: dict[str, int] = {}
    for payment in waiting:
        was_unrecorded = payment.state == PaymentState.PAID
        try:
            checked = online_payment_check(payment=payment)
        except ProviderUnavailable:
            state = "unavailable"
        else:
            state = checked.state
            if state == PaymentState.PAID and checked.entry_id is None:
                state = "unrecorded"
            elif was_unrecorded:
                state = "recorded"
        counts[state] = counts.get(state, 0) + 1
    return counts
