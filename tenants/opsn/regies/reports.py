"""What a régie's books say over a period: the payments a deposit covers, the receipt
register (journal à souches) and the report per régie and period. Reads only; run inside
the commune's schema. Aggregates are computed by the database (GROUP BY), never by
looping over entries in Python."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, LPad

from opsn.regies.errors import RegieError
from opsn.regies.models import (
    Allocation,
    Deposit,
    InvoiceLine,
    LedgerEntry,
    PaymentMode,
    Product,
    Regie,
    day_bounds,
)

ZERO = Decimal("0.00")


def deposit_entries(deposit: Deposit) -> QuerySet[LedgerEntry]:
    """The entries a deposit covers, in posting order: those of its régie from its first
    to its last entry (ids follow posting order under the régie's lock, and a deposit
    takes everything posted since the previous one). Each carries ``note``, as in the
    register."""
    return with_notes(LedgerEntry.objects.filter(
        regie_id=deposit.regie_id, id__gte=deposit.first_entry_id,
        id__lte=deposit.last_entry_id).select_related("reverses")).order_by("id")


# --- The receipt register (journal à souches) ----------------------------------------------

def _receipt_sql(prefix: str):
    """``LedgerEntry.receipt`` (« 2026-000042 ») written in SQL, for a related entry."""
    number = Cast(f"{prefix}receipt_number", CharField())
    return Concat(Cast(f"{prefix}year", CharField()), Value("-"),
                  # lpad() would cut a longer number; Python's :06d does not
                  Case(When(**{f"{prefix}receipt_number__gte": 1_000_000}, then=number),
                       default=LPad(number, 6, Value("0"))),
                  output_field=CharField())


def receipt_register(regie: Regie, *, since: datetime.date | None = None,
                     until: datetime.date | None = None, mode: str | None = None,
                     agent: str | None = None) -> QuerySet[LedgerEntry]:
    """The régie's numbered receipts, newest first, from ``since`` to ``until`` (accounting
    days, both included), of one mode or one agent's account if given. Each entry carries
    ``note``: « annulée par la quittance … » on a cancelled payment, « annule la quittance
    … » on a reversal, empty otherwise. A queryset: the pages slice it."""
    entries = LedgerEntry.objects.filter(regie=regie)
    if since is not None or until is not None:
        entries = entries.in_days(since, until)
    if mode:
        if mode not in PaymentMode.values:
            raise RegieError(f"Mode de paiement inconnu : « {mode} ».", field="mode")
        entries = entries.filter(mode=mode)
    if agent:
        entries = entries.filter(agent=agent)
    return with_notes(entries).order_by("-posted_at", "-id")


def with_notes(entries: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    """``note``: « annulée par la quittance … » on a cancelled payment, « annule la
    quittance … » on a reversal, empty otherwise (one query, no lookup per entry)."""
    return entries.annotate(note=Case(
        When(reverses__isnull=False,
             then=Concat(Value("annule la quittance "), _receipt_sql("reverses__"))),
        When(reversed_by__isnull=False,
             then=Concat(Value("annulée par la quittance "), _receipt_sql("reversed_by__"))),
        default=Value(""), output_field=CharField()))


# --- The report per régie and period -------------------------------------------------------

# Keys of the "by product" lines that are not a product (a product's key is its code, a
# slug, which never contains ':').
SEVERAL_PRODUCTS = "factures:plusieurs-produits"
NO_PRODUCT = "factures:sans-produit"
UNALLOCATED = "avoir:non-affecte"
LABELS = {SEVERAL_PRODUCTS: "Factures à plusieurs produits",
          NO_PRODUCT: "Factures sans produit",
          UNALLOCATED: "Non affecté (avoir du payeur)"}


@dataclass(frozen=True)
class ReportLine:
    key: str  # mode code, product code (or one of the keys above), agent's account
    label: str
    entries: int  # payments and reversals that make up the line
    total: Decimal


@dataclass(frozen=True)
class RegieReport:
    """Each breakdown adds up to ``net_total``, to the cent."""

    regie: Regie
    start: datetime.date
    end: datetime.date  # included
    payments: int
    reversals: int
    collected: Decimal  # the payments
    reversed: Decimal  # the reversals (negative)
    net_total: Decimal
    by_mode: tuple[ReportLine, ...]
    by_product: tuple[ReportLine, ...]
    by_agent: tuple[ReportLine, ...]


def regie_report(regie: Regie, start: datetime.date, end: datetime.date) -> RegieReport:
    """What the régie collected from ``start`` to ``end``, both days included (local
    time): every entry posted in the period, reversals as negative amounts.

    By product, each entry's amount goes where its allocations put it:

    - a counter sale goes to its product;
    - a payment of an invoice goes to the product of the invoice's lines when they all
      carry the same product; to « Factures à plusieurs produits » when its lines carry
      different products (or some carry one and some none: splitting a partial payment
      pro rata between lines would invent an attribution the payer never made); to
      « Factures sans produit » when no line carries one;
    - what no allocation took (the payer's credit, an invoice cancelled since) goes to
      « Non affecté (avoir du payeur) ».

    Only allocations made by the end of the period count, so that a report of a past
    period does not change when a credit is applied later; a reversal's allocations
    mirror those of the payment it cancels, so it lands, negative, where it did.
    """
    if end < start:
        raise RegieError(f"La période se termine le {end:%d/%m/%Y}, avant son début le "
                         f"{start:%d/%m/%Y}.", field="end")
    until = day_bounds(end)[1]
    entries = LedgerEntry.objects.filter(regie=regie).in_days(start, end)

    totals = entries.aggregate(
        payments=Count("id", filter=Q(amount__gt=0)),
        reversals=Count("id", filter=Q(amount__lt=0)),
        collected=Coalesce(Sum("amount", filter=Q(amount__gt=0)), ZERO),
        reversed=Coalesce(Sum("amount", filter=Q(amount__lt=0)), ZERO),
        net=Coalesce(Sum("amount"), ZERO))

    order = {mode: i for i, mode in enumerate(PaymentMode.values)}
    by_mode = sorted((ReportLine(row["mode"], PaymentMode(row["mode"]).label, row["n"],
                                 row["total"])
                      for row in entries.values("mode").annotate(n=Count("id"),
                                                                 total=Sum("amount"))
                      .order_by()), key=lambda line: order[line.key])
    by_agent = [ReportLine(row["agent"], row["name"] or row["agent"], row["n"], row["total"])
                for row in entries.values("agent").annotate(
                    name=Max("agent_name"), n=Count("id"), total=Sum("amount"))
                .order_by("agent")]
    return RegieReport(
        regie=regie, start=start, end=end, payments=totals["payments"],
        reversals=totals["reversals"], collected=totals["collected"],
        reversed=totals["reversed"], net_total=totals["net"], by_mode=tuple(by_mode),
        by_product=tuple(_by_product(entries, until)), by_agent=tuple(by_agent))


def _by_product(entries: QuerySet[LedgerEntry], until: datetime.datetime) -> list[ReportLine]:
    lines = InvoiceLine.objects.filter(invoice=OuterRef("invoice")).order_by()
    single = Q(products=1, unlabelled=False)
    rows = (Allocation.objects.filter(entry__in=entries, created_at__lt=until)
            .annotate(products=Subquery(lines.values("invoice")
                                        .annotate(n=Count("product", distinct=True))
                                        .values("n")),
                      unlabelled=Exists(lines.filter(product__isnull=True)),
                      its_product=Subquery(lines.filter(product__isnull=False)
                                           .values("product")[:1]))
            .annotate(bucket=Case(When(invoice__isnull=True, then=F("product_id")),
                                  When(single, then=F("its_product")),
                                  default=None, output_field=BigIntegerField()),
                      kind=Case(When(invoice__isnull=True, then=Value("")),
                                When(single, then=Value("")),
                                When(products=0, then=Value(NO_PRODUCT)),
                                default=Value(SEVERAL_PRODUCTS), output_field=CharField()))
            .values("kind", "bucket")
            .annotate(n=Count("entry", distinct=True), total=Sum("amount"))
            .order_by())
    products = {pk: (code, name) for pk, code, name in Product.objects.filter(
        pk__in=[row["bucket"] for row in rows if row["bucket"]]).values_list("pk", "code",
                                                                             "name")}
    found = sorted((ReportLine(*products[row["bucket"]], row["n"], row["total"])
                    for row in rows if not row["kind"]), key=lambda line: line.label.lower())
    found += [ReportLine(row["kind"], LABELS[row["kind"]], row["n"], row["total"])
              for kind in (SEVERAL_PRODUCTS, NO_PRODUCT) for row in rows if row["kind"] == kind]
    # What the allocations made by the end of the period left of each entry.
    rest = (entries.annotate(allocated=Coalesce(Sum("allocations__amount",
                                                    filter=Q(allocations__created_at__lt=until)),
                                                ZERO))
            .exclude(amount=F("allocated"))
            .aggregate(n=Count("id"), total=Coalesce(Sum(F("amount") - F("allocated")), ZERO)))
    if rest["total"] or rest["n"]:
        found.append(ReportLine(UNALLOCATED, LABELS[UNALLOCATED], rest["n"], rest["total"]))
    return found
