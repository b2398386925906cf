"""Reading direct debits: which invoices a debit holds (sent to the bank, not settled),
and why an invoice cannot be debited."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from opsn.direct_debit.models import CollectionLine, LineStatus

# Past this many invoices, the pending debits are read whole and matched here: a list of
# a hundred thousand ids in one query costs more than the commune's pending lines.
MANY = 2_000


def pending_debits(invoice_ids: Iterable[int]) -> dict[int, datetime.date]:
    """Invoice id → the collection date of its debit sent to the bank and not settled
    yet (neither confirmed nor returned). One query."""
    ids = set(invoice_ids)
    if not ids:
        return {}
    rows = CollectionLine.objects.filter(status=LineStatus.SENT)
    if len(ids) <= MANY:
        rows = rows.filter(invoice_id__in=ids)
    return {pk: day for pk, day in rows.values_list("invoice_id", "collection__collection_date")
            if pk in ids}


def pending_message(day: datetime.date) -> str:
    """What the counter, online payment and the pages say of an invoice a debit holds."""
    return f"prélèvement SEPA en cours, le {day:%d/%m/%Y}"
