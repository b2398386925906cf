"""What the direct debit pages and the API read: what a collection would take (before
it is written), the collections of a régie, a payer's debits to come; and which invoices
a debit holds (sent to the bank, not settled), and why they cannot be paid otherwise."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Sum
from django.db.models.functions import Coalesce

from opsn.direct_debit.models import Collection, CollectionLine, DebitReturn, LineStatus
from opsn.direct_debit.services import _usable_mandates, collectable
from opsn.regies.models import OWED_STATUSES, Invoice, Regie

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Preview:
    collection_date: datetime.date
    count: int
    total: Decimal
    payers: int


def collection_preview(regie: Regie, collection_date: datetime.date) -> Preview:
    """What ``services.collect`` would debit on that date (the same selection:
    ``services.collectable``), counted and summed without writing anything."""
    found = collectable(regie, collection_date).order_by().aggregate(
        count=Count("id"), payers=Count("payer_id", distinct=True),
        total=Coalesce(Sum(F("total") - F("amount_paid")), ZERO))
    return Preview(collection_date=collection_date, count=found["count"],
                   total=found["total"], payers=found["payers"])


def collections_of(regie: Regie):
    return Collection.objects.filter(regie=regie).defer("xml").order_by(
        "-collection_date", "-id")


def debit_returns(*, payer_ids=None, mandate=None, regie=None):
    """The debits the bank returned or rejected, the latest first, with their invoice,
    payer and reversal: a payer's (the family's « Mes paiements », the agent's payer page),
    a mandate's, or a régie's."""
    found = DebitReturn.objects.select_related(
        "line", "line__invoice", "line__invoice__payer", "line__invoice__regie",
        "line__mandate", "reversal")
    if payer_ids is not None:
        found = found.filter(line__invoice__payer_id__in=payer_ids)
    if mandate is not None:
        found = found.filter(line__mandate=mandate)
    if regie is not None:
        found = found.filter(line__collection__regie=regie)
    return found.order_by("-returned_on", "-id")


def upcoming_debits(payer_ids, today: datetime.date):
    """Debits handed to the bank that have not reached their date, and owed invoices a
    collection will take at their due date (a payer with an active mandate)."""
    sent = (CollectionLine.objects.filter(invoice__payer_id__in=payer_ids,
                                          status=LineStatus.SENT,
                                          collection__collection_date__gte=today)
            .select_related("collection", "invoice", "invoice__regie")
            .order_by("collection__collection_date", "id"))
    return list(sent)


def to_be_debited(payer_ids):
    """Owed invoices of payers with a usable mandate, not yet in a collection: a
    collection on or after their due date will take them."""
    live = CollectionLine.objects.filter(invoice=OuterRef("pk")).exclude(
        status=LineStatus.RETURNED)
    return list(Invoice.objects.filter(payer_id__in=payer_ids, status__in=OWED_STATUSES,
                                       cancelled_at__isnull=True)
                .filter(Exists(_usable_mandates().filter(payer=OuterRef("payer"))))
                .exclude(Exists(live)).select_related("regie").order_by("due_on", "id")[:50])


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
