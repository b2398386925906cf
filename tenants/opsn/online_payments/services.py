"""Online payments, the one way in: configure a régie's PayFiP account, start a payment,
take a notification, check a payment's result, reconcile those whose notification never
came. The result always comes from PayFiP (``payfip.provider().detail``), never from the
notification or the browser, so a forged notification can only make us ask.

Order-safe and idempotent: a payment's row is locked while its result is applied; a final
state (paid, refused, cancelled, anomaly) is never changed by a later non-paid result; a
paid result is recorded in the régie's journal exactly once — the payment's ``entry`` is
unique and the entry's reference (``payfip:<idOp>``) is unique in the régie's journal."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic
from opsn.online_payments import payfip
from opsn.online_payments.errors import NotPayableOnline, ProviderUnavailable, UnknownPayment
from opsn.online_payments.models import (
    FINAL_STATES,
    Environment,
    OnlinePayment,
    PayfipAccount,
    PaymentState,
)
from opsn.regies.errors import Duplicate, RegieError
from opsn.regies.models import AssignmentRole, EntrySource, Invoice, LedgerEntry, PaymentMode, Regie
from opsn.regies.permissions import may_collect
from opsn.regies.services.founding import assignment_grant
from opsn.regies.services.payments import payment_record

logger = logging.getLogger("opsn.online_payments")

# The platform records what PayFiP collected, as the régie's mandataire (appointed when the
# régie's PayFiP account is set up).
ACTOR = Actor(account="service:payfip", name="PayFiP (paiement en ligne)", kind="service")
# PayFiP's own bounds on one payment (1 € to 100,000 €).
MIN_CENTS, MAX_CENTS = 100, 10_000_000


def _cents_text(cents: int) -> str:
    return euros(Decimal(cents) / 100)


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
                         return_url_for: Callable[[OnlinePayment], str]) -> OnlinePayment:
    """Start paying what ``invoice`` still owes (computed here, in cents). Returns the
    payment; the payer's browser goes to ``provider().payment_url(payment.idop)``. A
    payment of the same invoice still waiting for its result is reused."""
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
    pending = (OnlinePayment.objects.select_for_update()
               .filter(invoice=invoice, state=PaymentState.CREATED).first())
    if pending is not None:
        pending = _check_locked(pending)
        invoice.refresh_from_db()
        if pending.state == PaymentState.CREATED:
            young = timezone.now() - pending.created_at < _validity() / 2
            if young and pending.amount_cents == _owed_cents(invoice):
                return pending
            raise NotPayableOnline(f"Un paiement en ligne de la facture {invoice.number} est "
                                   "en cours : attendez son résultat (quelques minutes) "
                                   "avant d'en commencer un autre.")
    cents = _owed_cents(invoice)
    if cents <= 0:
        raise NotPayableOnline(f"La facture {invoice.number} est déjà payée.")
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
        started_by=started_by[:64])
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


# --- Results ------------------------------------------------------------------------------

def online_payment_notified(*, idop: str, ip: str = "") -> OnlinePayment:
    """PayFiP says something happened to ``idop``: ask it what. An unknown id is refused
    (and logged); a replayed notification changes nothing."""
    idop = (idop or "").strip()
    payment = OnlinePayment.objects.filter(idop=idop).first() if idop else None
    if payment is None:
        logger.warning("PayFiP notification for an unknown operation %r (ip %s): ignored",
                       idop[:64], ip or "-")
        raise UnknownPayment("Opération de paiement inconnue.")
    return online_payment_check(payment=payment)


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


def _record(payment: OnlinePayment) -> None:
    """Record the paid amount in the régie's journal, once. Whatever the invoice no longer
    owes (paid meanwhile at the counter) goes to the payer's credit."""

    reference = f"payfip:{payment.idop}"
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    amount = Decimal(payment.amount_cents) / 100
    details = {"idop": payment.idop or "", "numauto": str(payment.result.get("numauto", ""))}
    try:
        with atomic():
            entry = payment_record(
                regie=payment.regie, actor=ACTOR, amount=amount, mode=PaymentMode.ONLINE,
                payer=payment.payer,
                invoices=[invoice] if invoice.total > invoice.amount_paid
                and invoice.cancelled_at is None else [],
                details=details, source=EntrySource.ONLINE, external_ref=reference)
    except Duplicate:
        entry = LedgerEntry.objects.get(regie=payment.regie, source=EntrySource.ONLINE,
                                        external_ref=reference)
    except RegieError as exc:
        logger.error("online payment %s (idop %s) paid but not recorded yet: %s", payment.pk,
                     payment.idop, exc.message)
        return
    payment.entry = entry
    payment.save(update_fields=["entry"])
    logger.info("online payment %s (idop %s) recorded: receipt %s", payment.pk, payment.idop,
                entry.receipt)


# --- Reconciliation -----------------------------------------------------------------------

def online_payments_reconcile(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """In the current commune: fetch the result of each payment still waiting after
    ``OPSN_PAYFIP_RECONCILE_AFTER_MINUTES`` (expiring those past PayFiP's validity), and
    record those paid but not yet in the journal. Returns the count per state reached."""

    now = now or timezone.now()
    cutoff = now - datetime.timedelta(minutes=settings.OPSN_PAYFIP_RECONCILE_AFTER_MINUTES)
    waiting = OnlinePayment.objects.filter(
        Q(state=PaymentState.CREATED, created_at__lte=cutoff)
        | Q(state=PaymentState.PAID, entry__isnull=True)).order_by("pk")
    counts: dict[str, int] = {}
    for payment in waiting:
        try:
            state = online_payment_check(payment=payment).state
        except ProviderUnavailable:
            state = "unavailable"
        counts[state] = counts.get(state, 0) + 1
    return counts
