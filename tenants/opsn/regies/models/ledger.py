"""The régie's journal: posted payments and reversals, numbered receipts, what each
payment paid, and the funds held. Append-only, chained by the database."""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from opsn.regies.models.founding import PaymentMode, Product, Regie
from opsn.regies.models.payers import Invoice, Payer


def receipt_label(year: int, number: int) -> str:
    """A receipt's label, « <year>-<number, 6 digits at least> » (2026-000042). The rule's
    one Python home; SQL's is ``regies_receipt_label`` (regies/sql/), and a test checks
    that the two agree."""
    return f"{year}-{number:06d}"


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The first instant of ``day`` and of the next one, in the platform's time zone."""
    tz = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
    return start, start + datetime.timedelta(days=1)


class ReceiptCounter(models.Model):
    """Receipt numbers of one régie and year, taken under the régie's lock: no gap, no
    double. Taken by the SQL function ``regies_take_receipt_numbers`` only."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["regie", "year"],
                                               name="one_counter_per_regie_year")]

    def __str__(self) -> str:
        return f"{self.regie_id} {self.year}: {self.last_number}"


class EntrySource(models.TextChoices):
    COUNTER = "counter", "guichet"
    API = "api", "logiciel métier (API)"
    CARD_IMPORT = "card_import", "import TPE"
    BANK_IMPORT = "bank_import", "relevé bancaire"
    ONLINE = "online", "paiement en ligne"
    DIRECT_DEBIT = "direct_debit", "prélèvement SEPA (confirmé par la banque)"


class LedgerEntryQuerySet(models.QuerySet):
    def in_days(self, since: datetime.date | None = None,
                until: datetime.date | None = None) -> LedgerEntryQuerySet:
        """The entries of the accounting days from ``since`` to ``until`` (both included,
        either open): an entry belongs to the day it was posted, or to ``dated_on`` when
        it arrived after that day's closing. The rule's one home (``LedgerEntry.day`` says
        it for one entry)."""
        posted = Q(dated_on__isnull=True)
        dated = Q(dated_on__isnull=False)
        if since is not None:
            posted &= Q(posted_at__gte=day_bounds(since)[0])
            dated &= Q(dated_on__gte=since)
        if until is not None:
            posted &= Q(posted_at__lt=day_bounds(until)[1])
            dated &= Q(dated_on__lte=until)
        return self.filter(posted | dated)

    def on_day(self, day: datetime.date) -> LedgerEntryQuerySet:
        return self.in_days(day, day)

    def with_day(self) -> LedgerEntryQuerySet:
        """Each entry with its accounting day (``accounting_day``), the same rule in SQL."""
        return self.annotate(accounting_day=Coalesce("dated_on", TruncDate("posted_at")))


class LedgerEntry(models.Model):
    """A posted payment (or the reversal of one), with its receipt number. Never updated or
    deleted (database triggers); each entry's hash covers the previous one's."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="entries")
    year = models.PositiveSmallIntegerField()
    receipt_number = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    mode = models.CharField(max_length=20, choices=PaymentMode.choices)
    payer = models.ForeignKey(Payer, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="entries")
    payer_name = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=12, choices=EntrySource.choices,
                              default=EntrySource.COUNTER, db_default=EntrySource.COUNTER)
    # The payment's identifier where it came from (terminal transaction, bank entry,
    # business software, PayFiP operation): the same payment is never posted twice.
    external_ref = models.CharField(max_length=100, blank=True, db_default="")
    agent = models.CharField(max_length=254)
    agent_name = models.CharField(max_length=200, blank=True, db_default="")
    posted_at = models.DateTimeField()
    # The accounting day (journée comptable) when it is not the day of ``posted_at``: money
    # that reached the régie's account (transfer, direct debit, online) after the counter
    # closed its day is dated to the next open day. Empty otherwise. In the hash.
    dated_on = models.DateField("journée comptable", null=True, blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversed_by")
    reason = models.CharField(max_length=300, blank=True)
    # Both written by the database on insert (migration 0003), never by the application.
    previous_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, unique=True, blank=True, editable=False)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["regie", "year", "receipt_number"]
        constraints = [
            models.UniqueConstraint(fields=["regie", "year", "receipt_number"],
                                    name="receipt_number_once"),
            models.UniqueConstraint(fields=["regie", "source", "external_ref"],
                                    condition=~Q(external_ref=""),
                                    name="entry_external_ref_once"),
            models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero"),
            models.CheckConstraint(condition=Q(reverses__isnull=True, amount__gt=0)
                                   | Q(reverses__isnull=False, amount__lt=0),
                                   name="entry_sign_matches_kind"),
        ]
        indexes = [models.Index(fields=["regie", "posted_at"], name="entry_regie_day"),
                   models.Index(fields=["regie", "dated_on"], name="entry_regie_dated_on",
                                condition=Q(dated_on__isnull=False))]

    def __str__(self) -> str:
        return f"{self.regie_id}/{self.year}-{self.receipt_number} {self.amount} €"

    @property
    def day(self) -> datetime.date:
        """The accounting day the entry belongs to."""
        return self.dated_on or timezone.localdate(self.posted_at)

    @property
    def receipt(self) -> str:
        return receipt_label(self.year, self.receipt_number)

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None


class Allocation(models.Model):
    """What a payment paid: part of an invoice, or a sale at the counter (a product and a
    quantity, no invoice). What is not allocated is the payer's credit. Append-only: a
    cancelled invoice or a reversed payment releases its allocations by negative rows; the
    database keeps each invoice's ``amount_paid`` from these rows."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="allocations")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=254)

    class Meta:
        ordering = ["entry", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="allocation_not_zero"),
            models.CheckConstraint(condition=Q(invoice__isnull=False, product__isnull=True,
                                               quantity__isnull=True)
                                   | Q(invoice__isnull=True, product__isnull=False,
                                       quantity__gt=0),
                                   name="allocation_invoice_or_sale"),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} → {self.invoice_id or self.product_id}: {self.amount}"


class Holding(models.Model):
    """Funds collected and not yet deposited, per mode: kept by the database (ledger
    inserts add, deposits subtract), so the cash position is known at any moment."""

    regie = models.ForeignKey(Regie, on_delete=models.PROTECT, related_name="holdings")
    mode = models.CharField(max_length=20, choices=PaymentMode.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["regie", "mode"],
                                               name="one_holding_per_mode")]

    def __str__(self) -> str:
        return f"{self.regie_id} {self.mode}: {self.amount}"
