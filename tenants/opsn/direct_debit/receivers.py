"""What the direct debit answers to the régies' announcements (``opsn.regies.signals``)."""

from __future__ import annotations

from django.dispatch import receiver

from opsn.direct_debit.models import Mandate, MandateStatus
from opsn.direct_debit.selectors import pending_debits, pending_message
from opsn.regies.signals import payer_erasure_asked, payments_held


@receiver(payer_erasure_asked, dispatch_uid="direct_debit.mandate_keeps_the_payer")
def mandate_keeps_the_payer(sender, payer, **kwargs) -> str | None:
    """An active mandate needs the debtor's details (the bank debits in their name): the
    payer's data stay until it is revoked."""
    active = list(Mandate.objects.filter(payer=payer, status=MandateStatus.ACTIVE)
                  .values_list("rum", flat=True)[:3])
    if not active:
        return None
    return (f"le payeur a un mandat de prélèvement SEPA actif ({', '.join(active)}) ; "
            "révoquez-le d'abord (page du mandat), puis effacez ses coordonnées.")


@receiver(payments_held, dispatch_uid="direct_debit.debits_hold_their_invoices")
def debits_hold_their_invoices(sender, invoice_ids, **kwargs) -> dict[int, str]:
    """An invoice in a debit sent to the bank is paid by it: no other payment until the
    bank settles it (confirmed: the invoice is paid; returned: it is open again)."""
    return {pk: pending_message(day) for pk, day in pending_debits(invoice_ids).items()}
