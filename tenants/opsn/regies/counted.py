"""What a deposit says was counted: per mode, the journal's amount (the entries the deposit
covers), the amount counted at the daily closings (arrêtés de caisse) it carries, and the
difference — excédent or déficit de caisse — with the reasons given at closing. Read by
the slip (PDF and CSV) and the deposits page. Reads only; inside the commune's schema.

The rule, in one place:

- **A deposit carries the closings made since the previous deposit**: ``closed_at`` after
  the previous deposit's ``made_at`` and up to its own (the first deposit carries every
  closing made before it). Each closing is so carried by exactly one deposit, the first
  made after it, whichever days their entries cover: a difference found at closing is
  reported once, on the next slip. Closings and deposits are never changed, so a slip
  says the same thing whenever it is printed.
- **Per mode**: the difference is the sum of the differences (counted − expected) those
  closings found, day after day; what was counted is the journal's amount plus that
  difference, when one of those closings counted the mode; a mode none of them counted
  is « non compté ». What is paid in (versé) is what was counted, or the journal's amount
  for a mode not counted. The totals add the modes.
- **The days not closed**: the local days of the deposit's entries (as the closing counts
  them) for which no closing was made before the deposit: their takings are in the
  journal's amount, not counted.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import BigIntegerField, Case, Count, OuterRef, Subquery, Sum, Value, When
from django.utils import timezone

from opsn.kernel.money import euros
from opsn.regies.models import (
    ClosingLine,
    DailyClosing,
    Deposit,
    DepositLine,
    LedgerEntry,
    PaymentMode,
    Regie,
)
from opsn.regies.selectors import last_deposit, undeposited

ZERO = Decimal("0.00")
DEFICIT = "déficit"
EXCESS = "excédent"
NOT_COUNTED = "non compté"


def sense(difference: Decimal) -> str:
    """« déficit » when less was counted than the journal says, « excédent » when more,
    nothing when they agree."""
    return DEFICIT if difference < 0 else EXCESS if difference > 0 else ""


def difference_text(difference: Decimal) -> str:
    """-7.95 → « déficit 7,95 € », 2.05 → « excédent 2,05 € », 0 → « 0,00 € »."""
    word = sense(difference)
    return f"{word} {euros(abs(difference))}" if word else euros(ZERO)


def closing_lines(closing: DailyClosing) -> list[ClosingLine]:
    """A closing's lines in the order the modes are declared (cash first), as the slip
    lists them."""
    order = list(PaymentMode.values)
    return sorted(closing.lines.all(), key=lambda line: order.index(line.mode))


@dataclass(frozen=True)
class Gap:
    """A difference found at one closing, for one mode, and its reason."""

    day: datetime.date
    difference: Decimal
    reason: str

    def __str__(self) -> str:
        return f"{self.day:%d/%m/%Y} : {self.reason}"


@dataclass(frozen=True)
class CountedMode:
    mode: str
    entries: int  # the journal's entries of this mode in the deposit
    journal: Decimal
    difference: Decimal  # the sum of what the carried closings found (0 if not counted)
    was_counted: bool  # a closing the deposit carries counted this mode
    gaps: tuple[Gap, ...]

    @property
    def label(self) -> str:
        return str(PaymentMode(self.mode).label)

    @property
    def counted(self) -> Decimal | None:
        return self.journal + self.difference if self.was_counted else None

    @property
    def paid(self) -> Decimal:
        return self.journal + self.difference

    @property
    def sense(self) -> str:
        return sense(self.difference)

    @property
    def difference_text(self) -> str:
        return difference_text(self.difference) if self.was_counted else ""

    @property
    def reasons(self) -> str:
        """« 06/12/2026 : erreur de rendu ; 07/12/2026 : … »."""
        return " ; ".join(str(gap) for gap in self.gaps)


@dataclass(frozen=True)
class DepositCount:
    """What a deposit (or what is pending) says was counted."""

    modes: tuple[CountedMode, ...]
    closings: tuple[DailyClosing, ...]  # carried, by day; each with its lines prefetched
    uncounted_days: tuple[datetime.date, ...]  # days of its entries closed after it, or never
    previous_slip: str  # the previous deposit's slip, "" for the first one

    @property
    def entries(self) -> int:
        return sum(m.entries for m in self.modes)

    @property
    def journal(self) -> Decimal:
        return sum((m.journal for m in self.modes), ZERO)

    @property
    def difference(self) -> Decimal:
        return sum((m.difference for m in self.modes), ZERO)

    @property
    def difference_text(self) -> str:
        return difference_text(self.difference)

    @property
    def sense(self) -> str:
        return sense(self.difference)

    @property
    def counted(self) -> Decimal | None:
        """What was counted, over the modes that were; None when none was."""
        counted = [m.counted for m in self.modes if m.counted is not None]
        return sum(counted, ZERO) if counted else None

    @property
    def paid(self) -> Decimal:
        """Total versé: what was counted, plus the journal's amount of the modes that
        were not."""
        return self.journal + self.difference

    @property
    def counted_partly(self) -> bool:
        return any(m.was_counted for m in self.modes) and not all(
            m.was_counted for m in self.modes)


def _count(*, journal: Iterable[tuple[str, int, Decimal]], closings: Sequence[DailyClosing],
           days: set[datetime.date], closed_days: set[datetime.date],
           previous_slip: str) -> DepositCount:
    per_mode = {mode: (entries, amount) for mode, entries, amount in journal}
    differences: dict[str, Decimal] = {}
    gaps: dict[str, list[Gap]] = {}
    closings = sorted(closings, key=lambda c: c.day)
    for closing in closings:
        for line in closing_lines(closing):
            differences[line.mode] = differences.get(line.mode, ZERO) + line.difference
            if line.difference:
                gaps.setdefault(line.mode, []).append(
                    Gap(closing.day, line.difference, line.reason))
    order = list(PaymentMode.values)
    modes = tuple(
        CountedMode(mode=mode, entries=per_mode.get(mode, (0, ZERO))[0],
                    journal=per_mode.get(mode, (0, ZERO))[1],
                    difference=differences.get(mode, ZERO), was_counted=mode in differences,
                    gaps=tuple(gaps.get(mode, ())))
        for mode in sorted(set(per_mode) | set(differences), key=order.index))
    return DepositCount(modes=modes, closings=tuple(closings),
                        uncounted_days=tuple(sorted(days - closed_days)),
                        previous_slip=previous_slip)


def _slip(year: int | None, number: int | None) -> str:
    return Deposit(year=year, number=number).slip if year and number else ""


def deposit_counts(deposits: Iterable[Deposit]) -> dict[int, DepositCount]:
    """What each deposit (all of one régie) says was counted, by the deposit's key, in a
    handful of queries whatever their number."""
    deposits = list(deposits)
    if not deposits:
        return {}
    regies = {d.regie_id for d in deposits}
    if len(regies) != 1:
        raise ValueError("deposit_counts: deposits of one régie at a time")
    [regie_id] = regies
    keys = [d.pk for d in deposits]
    before = (Deposit.objects.filter(regie_id=OuterRef("regie_id"),
                                     last_entry_id__lt=OuterRef("first_entry_id"))
              .order_by("-last_entry_id"))
    previous = {row["pk"]: row for row in Deposit.objects.filter(pk__in=keys).annotate(
        after=Subquery(before.values("made_at")[:1]),
        previous_year=Subquery(before.values("year")[:1]),
        previous_number=Subquery(before.values("number")[:1])).values(
            "pk", "after", "previous_year", "previous_number")}
    journal: dict[int, list[tuple[str, int, Decimal]]] = {}
    for key, mode, entries, amount in (DepositLine.objects.filter(deposit_id__in=keys)
                                       .values_list("deposit_id", "mode", "entries", "amount")):
        journal.setdefault(key, []).append((mode, entries, amount))

    window = DailyClosing.objects.filter(regie_id=regie_id,
                                         closed_at__lte=max(d.made_at for d in deposits))
    afters = [previous[key]["after"] for key in keys]
    if None not in afters:
        window = window.filter(closed_at__gt=min(afters))
    closings = list(window.prefetch_related("lines").order_by("day"))

    # The accounting days of each deposit's entries, in one query.
    which = Case(*[When(id__gte=d.first_entry_id, id__lte=d.last_entry_id, then=Value(d.pk))
                   for d in deposits], output_field=BigIntegerField())
    days: dict[int, set[datetime.date]] = {}
    for key, day in (LedgerEntry.objects.filter(
            regie_id=regie_id, id__gte=min(d.first_entry_id for d in deposits),
            id__lte=max(d.last_entry_id for d in deposits))
            .with_day().annotate(deposit=which).filter(deposit__isnull=False)
            .values_list("deposit", "accounting_day").order_by().distinct()):
        days.setdefault(key, set()).add(day)
    closed = list(DailyClosing.objects.filter(
        regie_id=regie_id, day__in=set().union(*days.values())).values_list("day", "closed_at"))

    counts = {}
    for deposit in deposits:
        after = previous[deposit.pk]["after"]
        counts[deposit.pk] = _count(
            journal=journal.get(deposit.pk, []),
            closings=[c for c in closings if c.closed_at <= deposit.made_at
                      and (after is None or c.closed_at > after)],
            days=days.get(deposit.pk, set()),
            closed_days={day for day, at in closed if at <= deposit.made_at},
            previous_slip=_slip(previous[deposit.pk]["previous_year"],
                                previous[deposit.pk]["previous_number"]))
    return counts


def deposit_count(deposit: Deposit) -> DepositCount:
    return deposit_counts([deposit])[deposit.pk]


def pending_count(regie: Regie, now: datetime.datetime | None = None) -> DepositCount:
    """What the next deposit's slip would say if it were made ``now``: what awaits deposit,
    and the closings made since the last deposit."""
    now = now or timezone.now()
    last = last_deposit(regie)
    pending = undeposited(regie)
    closings = DailyClosing.objects.filter(regie=regie, closed_at__lte=now)
    if last is not None:
        closings = closings.filter(closed_at__gt=last.made_at)
    days = set(pending.with_day().values_list("accounting_day", flat=True)
               .order_by().distinct())
    return _count(
        journal=[(row["mode"], row["n"], row["total"]) for row in pending.values("mode")
                 .annotate(n=Count("id"), total=Sum("amount")).order_by()],
        closings=list(closings.prefetch_related("lines")),
        days=days,
        closed_days=set(DailyClosing.objects.filter(regie=regie, day__in=days,
                                                    closed_at__lte=now)
                        .values_list("day", flat=True)),
        previous_slip=last.slip if last is not None else "")
