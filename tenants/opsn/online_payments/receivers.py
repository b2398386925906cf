"""What online payment answers to the régies' announcements (``opsn.regies.signals``)."""

from __future__ import annotations

from django.db.models import Q
from django.dispatch import receiver

from opsn.online_payments.models import OnlinePayment, PaymentState
from opsn.online_payments.selectors import IN_FLIGHT
from opsn.regies.signals import payer_erased, payer_erasure_asked

# A receipt still to be e-mailed to the address the family gave.
RECEIPT_WAITING = Q(state=PaymentState.PAID, receipt_sent_at__isnull=True) & ~Q(receipt_to="")


@receiver(payer_erasure_asked, dispatch_uid="online_payments.payment_keeps_the_payer")
def payment_keeps_the_payer(sender, payer, **kwargs) -> str | None:
    """A payment still in flight (PayFiP's result awaited, or the money received and not
    recorded yet) or a receipt not sent yet needs the address it was made with."""
    waiting = OnlinePayment.objects.filter(IN_FLIGHT | RECEIPT_WAITING, payer=payer)
    refdets = list(waiting.values_list("refdet", flat=True)[:3])
    if not refdets:
        return None
    return (f"un paiement en ligne de ce payeur est en cours de traitement ({', '.join(refdets)})"
            " ; effacez ses coordonnées quand il aura abouti (« À vérifier »).")


@receiver(payer_erased, dispatch_uid="online_payments.erase_payment_emails")
def erase_payment_emails(sender, payer, **kwargs) -> list[str]:
    """The e-mail address each online payment was made with (sent to PayFiP) and the one
    its receipt went to are blanked; the amounts, references, states and PayFiP's result
    stay (the régie's records of a payment), the address PayFiP may have echoed
    (« mel ») removed from that result."""
    payments = OnlinePayment.objects.filter(payer=payer).exclude(email="", receipt_to="")
    count = 0
    for payment in payments.only("pk", "result"):
        result = payment.result if isinstance(payment.result, dict) else {}
        cleaned = {k: v for k, v in result.items() if k.lower() != "mel"}
        count += OnlinePayment.objects.filter(pk=payment.pk).update(
            email="", receipt_to="", result=cleaned if cleaned != result else payment.result)
    return [f"adresse électronique de {count} paiement(s) en ligne"] if count else []
