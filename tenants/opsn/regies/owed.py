"""What is owed to a régie on a day: the invoices past their due date and still unpaid,
by age (``AGE_BUCKETS``) and by payer. The ageing rule itself is
``Invoice.objects.past_due`` (its one home); the page, the CSV and ODS exports and the
commune API all read it through here."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Aggregate, Count, Q, QuerySet, Sum

from opsn.regies.models import AGE_BUCKETS, Invoice, Regie

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Bucket:
    key: str
    label: str
    count: int
    total: Decimal


@dataclass(frozen=True)
class OwedSummary:
    on: datetime.date
    buckets: list[Bucket]
    count: int
    total: Decimal

    def shares(self) -> list[tuple[Bucket, int]]:
        """Each bucket with its bar's length, in percent of the largest (for the chart)."""
        top = max((b.total for b in self.buckets), default=ZERO)
        return [(b, int(b.total * 100 / top) if top else 0) for b in self.buckets]


def past_due(regie: Regie, on: datetime.date) -> QuerySet:
    """The invoices owed on ``on``, the oldest debt first (then by number), with their
    payer."""
    return (Invoice.objects.filter(regie=regie).past_due(on).select_related("payer")
            .order_by("due_on", "number"))


def _sums() -> dict:
    sums: dict[str, Aggregate] = {}
    for i, (key, *_rest) in enumerate(AGE_BUCKETS):
        sums[f"total_{i}"] = Sum("owed", filter=Q(bucket=key))
        sums[f"count_{i}"] = Count("id", filter=Q(bucket=key))
    return sums


def summary(regie: Regie, on: datetime.date) -> OwedSummary:
    """The totals per age bucket (every bucket, an empty one at zero) and overall."""
    row = (Invoice.objects.filter(regie=regie).past_due(on)
           .aggregate(total=Sum("owed"), count=Count("id"), **_sums()))
    buckets = [Bucket(key=key, label=label, count=row[f"count_{i}"],
                      total=row[f"total_{i}"] or ZERO)
               for i, (key, label, *_rest) in enumerate(AGE_BUCKETS)]
    return OwedSummary(on=on, buckets=buckets, count=row["count"], total=row["total"] or ZERO)


@dataclass(frozen=True)
class PayerOwed:
    payer_id: int
    name: str
    link_code: str
    external_ref: str
    count: int
    total: Decimal
    by_bucket: list[Decimal]


def by_payer(regie: Regie, on: datetime.date) -> list[PayerOwed]:
    """What each payer owes, by age bucket: the largest debts first."""
    rows = (Invoice.objects.filter(regie=regie).past_due(on)
            .values("payer_id", "payer__name", "payer__link_code", "payer__external_ref")
            .annotate(total=Sum("owed"), count=Count("id"), **_sums())
            .order_by("-total", "payer__name", "payer_id"))
    return [PayerOwed(payer_id=r["payer_id"], name=r["payer__name"],
                      link_code=r["payer__link_code"], external_ref=r["payer__external_ref"],
                      count=r["count"], total=r["total"],
                      by_bucket=[r[f"total_{i}"] or ZERO for i in range(len(AGE_BUCKETS))])
            for r in rows]


def bucket_label(key: str) -> str:
    return next(label for k, label, *_rest in AGE_BUCKETS if k == key)
