"""Paying online what is due: the citizen's side. Only an invoice of a payer linked to
the person may be paid; the amount is what the invoice still owes, computed by the
commune's ``online_payments`` (never taken from the browser). The outcome page asks
PayFiP the result when the notification has not come yet."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from opsn.citizens.errors import CitizenError, NotYours
from opsn.citizens.models import PayerLink
from opsn.citizens.services import _who
from opsn.communes.models import Commune
from opsn.kernel.tenancy import inside
from opsn.online_payments.errors import OnlinePaymentError
from opsn.online_payments.models import OnlinePayment
from opsn.online_payments.payfip import provider
from opsn.online_payments.services import online_payment_outcome as outcome_of
from opsn.online_payments.services import online_payment_start
from opsn.regies.models import Invoice

logger = logging.getLogger("opsn.citizens")
REFUSAL = ("Cette facture n'est pas celle d'un payeur rattaché à votre compte : vous ne "
           "pouvez pas la payer. Rattachez d'abord le payeur avec le code imprimé sur la "
           "facture.")


def _linked(subject: str, commune_id: int) -> tuple[Commune, list[int]]:
    commune = Commune.objects.filter(pk=commune_id, status=Commune.Status.ACTIVE).first()
    payers = list(PayerLink.objects.filter(subject=subject, commune_id=commune_id,
                                           unlinked_at__isnull=True)
                  .values_list("payer_id", flat=True)) if commune else []
    if commune is None or not payers:
        logger.warning("online payment refused: commune %s has no payer linked to subject %s",
                       commune_id, _who(subject))
        raise NotYours(REFUSAL)
    return commune, payers


def online_payment_begin(*, subject: str, commune_id: int, invoice_id: int, email: str,
                         notify_url_for: Callable[[Commune], str],
                         return_url_for: Callable[[int], str]) -> str:
    """Start paying ``invoice_id``; returns the provider's page to send the browser to."""

    commune, payers = _linked(subject, commune_id)
    with inside(commune):
        invoice = Invoice.objects.filter(pk=invoice_id).first()
        if invoice is None or invoice.payer_id not in payers:
            logger.warning("online payment refused: invoice %s of %s is not a linked payer's "
                           "(subject %s)", invoice_id, commune.insee_code, _who(subject))
            raise NotYours(REFUSAL)
        try:
            payment = online_payment_start(
                invoice=invoice, email=email, started_by=_who(subject),
                notify_url=notify_url_for(commune),
                return_url_for=lambda p: return_url_for(p.pk))
        except OnlinePaymentError as exc:
            error = CitizenError(exc.message)
            error.http_status = 409 if exc.http_status < 500 else 502
            raise error from exc
        return provider().payment_url(payment.idop or "")


@dataclass
class Outcome:
    state: str  # paid | received | refused | cancelled | pending | expired | anomaly
    commune: Commune
    invoice_number: str
    regie_name: str
    amount: Decimal
    entry_id: int | None = None
    receipt: str = ""
    to_credit: Decimal = Decimal("0.00")  # what the invoice no longer owed: the credit


def online_payment_outcome(*, subject: str, commune_id: int, payment_id: int) -> Outcome:
    """What became of the person's payment, asking PayFiP when we do not know yet (the
    rule's one home: ``online_payments.services.online_payment_outcome``)."""

    commune, payers = _linked(subject, commune_id)
    with inside(commune):
        payment = OnlinePayment.objects.filter(pk=payment_id, payer_id__in=payers).first()
        if payment is None:
            raise NotYours("Ce paiement n'est pas celui d'un payeur rattaché à votre compte.")
        found = outcome_of(payment=payment)
        return Outcome(state=found.state, commune=commune,
                       invoice_number=found.invoice_number, regie_name=found.regie_name,
                       amount=found.amount,
                       entry_id=found.entry.pk if found.entry is not None else None,
                       receipt=found.receipt, to_credit=found.to_credit)
