"""What the finance app answers to the régies' announcements (``opsn.regies.signals``)."""

from __future__ import annotations

from django.dispatch import receiver

from opsn.finance.models import InvoiceReminder
from opsn.regies.signals import payer_erased


@receiver(payer_erased, dispatch_uid="finance.erase_reminder_addresses")
def erase_reminder_addresses(sender, payer, **kwargs) -> list[str]:
    """The address each reminder was e-mailed to is blanked; the reminder itself (level,
    date, channel, amount reminded) stays with the invoice it belongs to."""
    count = (InvoiceReminder.objects.filter(invoice__payer=payer).exclude(to="")
             .update(to=""))
    return [f"adresse de {count} relance(s) par courriel"] if count else []
