"""What the direct debit answers to the régies' announcements (``opsn.regies.signals``)."""

from __future__ import annotations

from django.dispatch import receiver

from opsn.direct_debit.models import Mandate, MandateStatus
from opsn.regies.signals import payer_erasure_asked


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
