"""Reading online payments, in the current commune: which invoices have a payment in
flight (no second payment while one is), and what the régie's agents must look at (money
PayFiP took that is not in the journal, results that do not match, notifications for
operations nobody knows)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from opsn.finance.selectors import handed_over, was_handed_over
from opsn.online_payments.models import OnlinePayment, PaymentState, RefusedNotification
from opsn.regies.models import Regie

# An invoice's online payment in flight, most pressing first.
RECEIVED = "received"  # PayFiP took the money; not in the journal yet
CHECKING = "checking"  # PayFiP's result does not match what was asked: the régie checks
PENDING = "pending"  # started; PayFiP has not given its result yet
LABELS = {
    RECEIVED: "paiement reçu, en cours d'enregistrement",
    CHECKING: "paiement reçu, en vérification à la régie",
    PENDING: "paiement en ligne en cours, résultat attendu",
}
IN_FLIGHT = (Q(state=PaymentState.PAID, entry__isnull=True)
             | Q(state=PaymentState.ANOMALY, resolved_at__isnull=True)
             | Q(state=PaymentState.CREATED))


def _kind(payment_state: str) -> str:
    return {PaymentState.PAID: RECEIVED, PaymentState.ANOMALY: CHECKING}.get(
        PaymentState(payment_state), PENDING)


def in_flight(invoice_ids: Iterable[int]) -> dict[int, str]:
    """Invoice id → RECEIVED, CHECKING or PENDING, for the invoices that have an online
    payment in flight (one query). An invoice in flight is offered no other payment."""
    ids = list(invoice_ids)
    if not ids:
        return {}
    order = [RECEIVED, CHECKING, PENDING]
    found: dict[int, str] = {}
    for invoice_id, state in (OnlinePayment.objects.filter(IN_FLIGHT, invoice_id__in=ids)
                              .values_list("invoice_id", "state")):
        kind = _kind(state)
        if invoice_id not in found or order.index(kind) < order.index(found[invoice_id]):
            found[invoice_id] = kind
    return found


# --- What the régie's agents must look at ------------------------------------------------

@dataclass(frozen=True)
class Alert:
    """One online payment the régie must look at, said for people."""

    payment: OnlinePayment
    kind: str  # unrecorded | mismatch
    reference: str  # payfip:<idop>, as in the journal
    amount: Decimal
    what: str
    todo: str
    since: datetime.datetime
    may_record: bool  # a mismatch whose collected amount PayFiP gave
    # paid for an invoice handed over to the public accountant: "held" (still his titre:
    # to the payer's credit only) or "released" (given back: to the invoice or the credit)
    handed_over: str = ""


def _todo_unrecorded(regie_closed: bool) -> str:
    every = settings.OPSN_PAYFIP_RECONCILE_AFTER_MINUTES
    if regie_closed:
        return ("La régie est fermée : l'administrateur la rouvre (date de fin de l'acte "
                "constitutif) le temps d'enregistrer ce paiement et de le verser, ou le "
                "comptable public rembourse le payeur. La vérification automatique "
                f"réessaie toutes les {every} minutes et l'enregistre dès que possible.")
    return ("Rien à saisir : la vérification automatique réessaie toutes les "
            f"{every} minutes et l'enregistre dès que l'obstacle a disparu (le journal "
            "d'audit le dira). Si cela dure, prévenez l'opérateur de la plateforme avec la "
            "référence.")


TODO_MISMATCH = ("Vérifiez l'opération dans l'espace de gestion PayFiP de la DGFiP (avec la "
                 "référence) : si la somme a bien été encaissée, enregistrez-la ; sinon "
                 "classez l'anomalie en disant pourquoi (remboursement, paiement jamais "
                 "encaissé). Le payeur ne peut pas repayer la facture en ligne d'ici là.")


TODO_HELD = ("La somme est arrivée : elle n'est jamais refusée. Mettez-la à l'avoir du payeur "
             "(elle lui sera remboursée, ou paiera une autre facture) et signalez-la au "
             "comptable public, qui réduit le titre ; ou attendez qu'il rende le titre (rejet, "
             "bordereau annulé) pour l'enregistrer sur la facture.")
TODO_RELEASED = ("Enregistrez-la sur la facture (ce qu'elle ne doit plus va à l'avoir), ou à "
                 "l'avoir du payeur. Sans choix de votre part, la vérification automatique "
                 "l'enregistre sur la facture.")


def alerts(regie: Regie) -> list[Alert]:
    """The régie's online payments that PayFiP took (or says it took) and that are not in
    its journal: paid and refused by the journal so far, or in anomaly and not settled.
    Payments started in a régie merged since count for the régie that took the payer."""
    found = []
    rows = (OnlinePayment.objects
            .filter(Q(regie=regie) | Q(payer__regie=regie))
            .filter(Q(state=PaymentState.PAID, entry__isnull=True)
                    | Q(state=PaymentState.ANOMALY, resolved_at__isnull=True))
            .select_related("invoice", "payer__regie").order_by("created_at"))
    today = timezone.localdate()
    for payment in rows:
        amount = Decimal(payment.amount_cents) / 100
        reference = f"payfip:{payment.idop}"
        if payment.state == PaymentState.PAID and was_handed_over(payment.invoice_id):
            item = handed_over(payment.invoice_id)
            found.append(Alert(
                payment, "unrecorded", reference, amount,
                f"Payé par {payment.payer.name} pour la facture {payment.invoice.number}, "
                + (f"transmise au comptable public (bordereau {item.handover.number}/"
                   f"{item.handover.year}) : la régie ne l'encaisse plus, le paiement attend "
                   "votre choix." if item is not None else
                   "que le comptable public a rendue à la régie (titre rejeté ou bordereau "
                   "annulé) : elle peut de nouveau être payée ici."),
                TODO_HELD if item is not None else TODO_RELEASED,
                payment.problem_since or payment.finished_at or payment.created_at, False,
                "held" if item is not None else "released"))
        elif payment.state == PaymentState.PAID:
            found.append(Alert(
                payment, "unrecorded", reference, amount,
                f"Payé par {payment.payer.name} pour la facture {payment.invoice.number}, "
                f"pas encore dans le journal : {payment.problem or 'en cours'}",
                _todo_unrecorded(not payment.payer.regie.is_open_on(today)),
                payment.problem_since or payment.finished_at or payment.created_at, False))
        else:
            found.append(Alert(
                payment, "mismatch", reference, amount,
                f"Résultat PayFiP différent de ce qui était demandé pour la facture "
                f"{payment.invoice.number} ({payment.payer.name}) : {payment.note}",
                TODO_MISMATCH, payment.finished_at or payment.created_at,
                collected(payment) is not None))
    return found


def collected(payment: OnlinePayment) -> int | None:
    """What PayFiP says it collected (``montant`` of its result, in cents), or None."""
    try:
        cents = int(str(payment.result.get("montant", "")).strip())
    except ValueError:
        return None
    return cents if cents > 0 else None


TODO_NOTIFICATION = ("Aucune somme n'y est liée : une notification ne fait que demander à la "
                     "plateforme d'interroger PayFiP, et les paiements de la commune sont de "
                     "toute façon vérifiés auprès de PayFiP toutes les quelques minutes. Si "
                     "elles se répètent, signalez-les à l'opérateur de la plateforme.")


def refused_notifications(days: int = 30) -> list[RefusedNotification]:
    """Notifications for operations the commune does not know, the last ``days`` days."""
    since = timezone.now() - datetime.timedelta(days=days)
    return list(RefusedNotification.objects.filter(last_at__gte=since)[:50])


def recent(regie: Regie, limit: int = 50) -> list[OnlinePayment]:
    """The régie's latest online payments, with their journal entry."""
    return list(OnlinePayment.objects.filter(Q(regie=regie) | Q(payer__regie=regie))
                .select_related("invoice", "payer", "entry__regie").order_by("-created_at")[:limit])
