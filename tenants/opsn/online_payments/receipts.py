"""The receipt of an online payment, e-mailed to the address the family gave on « Payer
une facture » (no account), once the payment is in the régie's journal: by the job queue
(the notification's answer does not wait on a mail server), once (``receipt_sent_at``,
under the payment's lock), inside the commune's schema (the message carries it)."""

from __future__ import annotations

import logging

import dramatiq
from django.utils import timezone

from opsn.jobs.broker import send
from opsn.kernel.tenancy import atomic, current_commune
from opsn.online_payments.actor import ACTOR
from opsn.online_payments.models import OnlinePayment
from opsn.regies.services.mailing import receipt_email

logger = logging.getLogger("opsn.online_payments")


def receipt_to_send(payment: OnlinePayment) -> None:
    """Called when ``payment`` has just gone into the journal: its receipt will be
    e-mailed if the family asked for it (in a job sent when the transaction commits)."""
    if payment.receipt_to and payment.receipt_sent_at is None:
        send(email_online_receipt, payment.pk, commune=current_commune())


@atomic
def online_receipt_send(*, payment_id: int) -> str:
    """E-mail the receipt of ``payment_id`` to ``receipt_to``, once. Returns the address,
    or "" when there is nothing (more) to send. A mail server that fails raises: the job
    is retried, nothing is marked sent."""
    payment = (OnlinePayment.objects.select_for_update(of=("self",))
               .select_related("entry__regie", "entry__payer").get(pk=payment_id))
    if not payment.receipt_to or payment.receipt_sent_at is not None or payment.entry is None:
        return ""
    address = receipt_email(entry=payment.entry, actor=ACTOR, to=payment.receipt_to)
    payment.receipt_sent_at = timezone.now()
    payment.save(update_fields=["receipt_sent_at"])
    logger.info("online payment %s (idop %s): receipt %s e-mailed", payment.pk, payment.idop,
                payment.entry.receipt)
    return address


@dramatiq.actor(max_retries=8, min_backoff=60_000)
def email_online_receipt(payment_id: int) -> None:
    if current_commune() is None:
        raise RuntimeError("email_online_receipt runs inside a commune: send(…, commune=…)")
    online_receipt_send(payment_id=payment_id)
