"""Reading a régie's state: funds held, the day's takings, what awaits deposit, warnings,
payers. Run inside the commune's schema."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Upper
from django.utils import timezone

from opsn.kernel.money import euros
from opsn.regies.models import (
    HELD_MODES,
    Assignment,
    DailyClosing,
    Deposit,
    Holding,
    ImportedPayment,
    Invoice,
    LedgerEntry,
    Payer,
    PaymentMode,
    QueueStatus,
    Regie,
)
from opsn.regies.models.ledger import LedgerEntryQuerySet
from opsn.regies.services.invoicing import normalise_link_code
from opsn.regies.signals import payments_held as payments_held_asked

ZERO = Decimal("0.00")


# --- The régie as posting checks it ---------------------------------------------------------
# Payments are checked on the régie read without a lock, then posted by one statement that
# first makes sure the régie's row has not changed since (services.payments, the short way).
# A reader that already reads the régie's row (the API's first query) reads it this way,
# and posting need not read it again.

def regie_columns(table: str = "regies_regie") -> str:
    """The régie's row version, then its columns, for a SELECT from ``table``."""
    return ", ".join([f"{table}.xmin::text",
                      *(f"{table}.{f.column}" for f in Regie._meta.concrete_fields)])


REGIE_WIDTH = 1 + len(Regie._meta.concrete_fields)


def regie_with_version(row, db: str) -> Regie:
    """The régie of a row read with ``regie_columns``; ``row_version`` says which version
    of the row it is."""
    regie = Regie.from_db(db, [f.attname for f in Regie._meta.concrete_fields],
                          row[1:REGIE_WIDTH])
    regie.row_version = row[0]  # type: ignore[attr-defined]
    return regie


def holdings(regie: Regie) -> dict[str, Decimal]:
    """Collected and not yet deposited, per mode (kept by the database)."""
    return dict(Holding.objects.filter(regie=regie).values_list("mode", "amount"))


def held_in_hand(regie: Regie) -> Decimal:
    """The encaisse: cash and cheques the régisseur holds."""
    values = holdings(regie)
    return sum((values.get(mode, ZERO) for mode in HELD_MODES), ZERO)


def day_totals(regie: Regie, day: datetime.date) -> dict[str, tuple[int, Decimal]]:
    """Per mode: number of entries and total of the accounting day ``day`` (reversals
    included; money dated to ``day`` after the previous day's closing too)."""
    rows = (LedgerEntry.objects.filter(regie=regie).on_day(day)
            .values("mode").annotate(n=Count("id"), total=Sum("amount")))
    return {row["mode"]: (row["n"], row["total"]) for row in rows}


def next_open_day(regie: Regie, day: datetime.date) -> datetime.date:
    """The régie's first accounting day from ``day`` on that is not closed: the day that
    money arriving on ``day`` (transfer, direct debit, online) is dated to."""
    closed = set(DailyClosing.objects.filter(regie=regie, day__gte=day)
                 .values_list("day", flat=True))
    while day in closed:
        day += datetime.timedelta(days=1)
    return day


def last_deposit(regie: Regie) -> Deposit | None:
    return Deposit.objects.filter(regie=regie).order_by("-last_entry_id").first()


def undeposited(regie: Regie) -> LedgerEntryQuerySet:
    """Entries posted after the last deposit (entries are numbered in posting order)."""
    last = last_deposit(regie)
    entries = LedgerEntry.objects.filter(regie=regie)
    return entries.filter(id__gt=last.last_entry_id) if last else entries


@dataclass(frozen=True)
class Warning:
    level: str  # "warning" | "danger"
    code: str
    message: str


def warnings(regie: Regie, now: datetime.datetime | None = None) -> list[Warning]:
    """The cash position against the maximum, and a deposit that is late."""
    now = now or timezone.now()
    found = []
    in_hand = held_in_hand(regie)
    ratio = Decimal(settings.OPSN_CASH_WARNING_PERCENT) / 100
    if regie.cash_limit and in_hand >= regie.cash_limit:
        found.append(Warning("danger", "cash_limit_reached",
                             f"Encaisse maximale atteinte : {euros(in_hand)} détenus pour "
                             f"{euros(regie.cash_limit)}. Plus d'espèces ni de chèques avant "
                             "un versement au comptable."))
    elif regie.cash_limit and in_hand >= regie.cash_limit * ratio:
        found.append(Warning("warning", "cash_limit_near",
                             f"Encaisse à {int(in_hand * 100 / regie.cash_limit)}\u202f% du "
                             f"maximum : {euros(in_hand)} détenus pour "
                             f"{euros(regie.cash_limit)}. Prévoyez un versement."))
    oldest = undeposited(regie).order_by("id").values_list("posted_at", flat=True).first()
    if oldest is not None:
        due = timezone.localdate(oldest) + datetime.timedelta(days=regie.deposit_period_days)
        if timezone.localdate(now) > due:
            found.append(Warning("danger", "deposit_overdue",
                                 f"Versement en retard : des recettes du "
                                 f"{timezone.localdate(oldest):%d/%m/%Y} attendent d'être "
                                 f"versées depuis le {due:%d/%m/%Y} (au moins tous les "
                                 f"{regie.deposit_period_days} jours)."))
    return found


def unmatched_imports(regie: Regie) -> QuerySet[ImportedPayment]:
    """Payments a bank statement or a card export brought that no invoice matched (the
    amount, the reference or the payer did not): each waits for an agent."""
    return (ImportedPayment.objects.filter(regie=regie, status=QueueStatus.PENDING)
            .select_related("batch").order_by("paid_on", "id"))


UNMATCHED_TODO = ("Encaissez-le sur un payeur ou sur des factures (page Imports) ; s'il n'est "
                  "pas pour la régie, le titulaire l'écarte en disant pourquoi.")


def regies_of(account: str, day: datetime.date | None = None) -> QuerySet[Regie]:
    """The régies an agent collects for on ``day``."""
    day = day or timezone.localdate()
    return Regie.objects.filter(pk__in=Assignment.objects.appointed_on(day).filter(
        account=account).values("regie"))


def payers_search(regie: Regie | None, query: str, limit: int | None = 20) -> QuerySet[Payer]:
    """By name (any part), link code, external reference or invoice number; the first
    ``limit`` (None: all of them, for a page that paginates)."""

    query = (query or "").strip()
    payers = Payer.objects.all() if regie is None else Payer.objects.filter(regie=regie)
    if not query:
        return payers.none()
    by_invoice = Invoice.objects.filter(number__iexact=query).values("payer")
    found = payers.filter(Q(name__icontains=query) | Q(link_code=normalise_link_code(query))
                         | Q(external_ref__iexact=query) | Q(pk__in=by_invoice)).order_by(
        Upper("name"), "id")
    return found if limit is None else found[:limit]


def open_invoices(payer: Payer) -> QuerySet[Invoice]:
    return (Invoice.objects.filter(payer=payer, cancelled_at__isnull=True)
            .exclude(status="paid").order_by("due_on", "number"))


def mode_label(mode: str) -> str:
    return PaymentMode(mode).label


def payments_held(invoice_ids) -> dict[int, str]:
    """Invoice id → why it takes no other payment now (in French), for the invoices of
    ``invoice_ids`` that another way of paying holds: a SEPA debit sent to the bank and not
    settled yet. The apps that hold invoices answer ``signals.payments_held`` (the régies
    may not import them); the counter, the API, imports, credits and online payment ask
    here before any money is taken."""
    ids = sorted({int(pk) for pk in invoice_ids})
    if not ids:
        return {}
    held: dict[int, str] = {}
    for _receiver, answer in payments_held_asked.send(sender=Invoice, invoice_ids=ids):
        if isinstance(answer, dict):
            for pk, why in answer.items():
                held.setdefault(pk, why)
    return held
