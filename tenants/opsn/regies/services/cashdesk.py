"""The cash desk's two formal acts: the daily closing (arrêté de caisse) and the deposit to
the public accountant (versement au comptable). Only the titulaire, or the suppléant
standing in, does either."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros, parse_amount
from opsn.kernel.tenancy import atomic
from opsn.regies import permissions, selectors
from opsn.regies.errors import Duplicate, Refused, RegieError
from opsn.regies.models import (
    ACCOUNT_MODES,
    ClosingLine,
    DailyClosing,
    Deposit,
    DepositLine,
    PaymentMode,
    Regie,
)

ZERO = Decimal("0.00")


@atomic
def day_close(*, regie: Regie, actor: Actor, counted: dict[str, object],
              reasons: dict[str, str] | None = None, notes: str = "",
              day: datetime.date | None = None) -> DailyClosing:
    """Close ``day`` (today by default): for every mode the journal has that day, and any
    other mode counted, the expected and counted amounts; a difference needs a reason.
    The closing counts the drawer (``DRAWER_MODES``); money that reached the régie's
    account (``ACCOUNT_MODES``) is taken as the journal has it unless a count is given.
    Once closed, the day takes nothing more of the drawer; money arriving on the régie's
    account afterwards is dated to the next open day."""
    reasons = {k: (v or "").strip() for k, v in (reasons or {}).items()}
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    today = timezone.localdate()
    day = day or today
    if day > today:
        raise RegieError("Une journée s'arrête le jour même ou après, pas avant.", field="day")
    permissions.require_keeper(regie, actor, today, "arrêter la caisse")
    if DailyClosing.objects.filter(regie=regie, day=day).exists():
        raise Duplicate(f"La journée du {day:%d/%m/%Y} est déjà arrêtée.")
    expected = selectors.day_totals(regie, day)
    unknown = [m for m in counted if m not in PaymentMode.values]
    if unknown:
        raise RegieError(f"Mode de paiement inconnu : « {unknown[0]} ».", field="counted")
    lines = []
    for mode in [m for m in PaymentMode.values if m in expected or m in counted]:
        entries, want = expected.get(mode, (0, ZERO))
        label = PaymentMode(mode).label
        if counted.get(mode) in (None, "") and mode in ACCOUNT_MODES:
            count = want  # not in the drawer: the account's statement says it
        elif counted.get(mode) in (None, ""):
            raise RegieError(f"Indiquez le montant compté ({label}) : le journal en attend "
                             f"{euros(want)}.", field=f"counted_{mode}")
        else:
            try:
                count = parse_amount(counted[mode], field=f"counted_{mode}", allow_zero=True,
                                     error=RegieError)
            except RegieError as exc:
                raise RegieError(f"{label} : {exc.message}",
                                 field=f"counted_{mode}") from None
        if count != want and not reasons.get(mode):
            raise RegieError(f"Écart de {euros(count - want)} ({label}) : indiquez-en le motif.",
                             field=f"reason_{mode}")
        lines.append(ClosingLine(mode=mode, entries=entries, expected=want, counted=count,
                                 reason=reasons.get(mode, "") if count != want else ""))
    closing = DailyClosing.objects.create(regie=regie, day=day, closed_by=actor.account,
                                          closed_by_name=actor.name[:200],
                                          closed_at=timezone.now(), notes=notes.strip())
    for line in lines:
        line.closing = closing
    ClosingLine.objects.bulk_create(lines)
    total_expected = sum((line.expected for line in lines), ZERO)
    total_counted = sum((line.counted for line in lines), ZERO)
    record(actor, events.DayClosed(target=f"regie:{regie.pk}", data={
        "regie": regie.number, "day": f"{day:%d/%m/%Y}",
        "expected": euros(total_expected).removesuffix(" €"),
        "counted": euros(total_counted).removesuffix(" €")}))
    return closing


@atomic
def deposit_make(*, regie: Regie, actor: Actor) -> Deposit:
    """Deposit everything posted since the previous deposit, every mode, with a numbered
    slip (bordereau). The funds held drop accordingly (database trigger)."""
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    now = timezone.now()
    today = timezone.localdate(now)
    permissions.require_keeper(regie, actor, today, "verser au comptable")
    pending = selectors.undeposited(regie)
    bounds = pending.aggregate(first=Min("id"), last=Max("id"))
    if bounds["last"] is None:
        raise Refused(f"Rien à verser : toutes les recettes de la régie {regie.name} ont été "
                      "versées.")
    per_mode = list(pending.values("mode").annotate(n=Count("id"), total=Sum("amount"))
                    .order_by("mode"))
    total = sum((row["total"] for row in per_mode), ZERO)
    number = (Deposit.objects.filter(regie=regie, year=today.year).count()) + 1
    deposit = Deposit.objects.create(
        regie=regie, year=today.year, number=number, first_entry_id=bounds["first"],
        last_entry_id=bounds["last"], total=total, accountant=regie.accountant,
        made_by=actor.account, made_by_name=actor.name[:200], made_at=now)
    DepositLine.objects.bulk_create([
        DepositLine(deposit=deposit, mode=row["mode"], entries=row["n"], amount=row["total"])
        for row in per_mode])
    record(actor, events.DepositMade(target=f"deposit:{deposit.pk}", data={
        "slip": deposit.slip, "regie": regie.number,
        "total": euros(total).removesuffix(" €")}))
    return deposit
