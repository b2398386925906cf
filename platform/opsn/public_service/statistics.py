"""The platform's open statistics (docs/open-data.md): communes served, inhabitants
covered, people with an account, payments by mode and month, the online share. Computed
once a day by the periodic job into ``PublicStatistics``; published as a page, CSV and
JSON under the Licence Ouverte 2.0.

A count from 1 to 4 could point at a person (« the one payment by cheque in Corbas in
March »): ``suppressed`` is the one rule, applied by ``published`` to every count and to
the amount and share that go with it (« < 5 » on the page and in the CSV, null in the
JSON)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from opsn.citizens.models import PayerLink
from opsn.communes.models import Commune
from opsn.communes.selectors import latest_population
from opsn.kernel import tenancy
from opsn.public_service.models import PublicStatistics
from opsn.regies.models import LedgerEntry, PaymentMode

SMALLEST_PUBLISHED = 5
MONTHS = 12
LICENCE = "Licence Ouverte / Open Licence version 2.0"
LICENCE_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"


def suppressed(count: int | None) -> bool:
    """1 to 4: not published. Zero says nothing of anyone."""
    return count is not None and 0 < count < SMALLEST_PUBLISHED


def months_until(today: datetime.date, n: int = MONTHS) -> list[str]:
    """The ``n`` months ending with ``today``'s, oldest first, as YYYY-MM."""
    year, month = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def compute(today: datetime.date | None = None) -> dict:
    """Everything counted now (raw counts: never published as they are)."""
    today = today or timezone.localdate()
    months = months_until(today)
    since = datetime.date.fromisoformat(f"{months[0]}-01")
    active = Commune.objects.filter(status=Commune.Status.ACTIVE)
    population = sum(p or 0 for p in active.annotate(population=latest_population())
                     .values_list("population", flat=True))
    accounts = (PayerLink.objects.filter(unlinked_at__isnull=True, commune__in=active)
                .values("subject").distinct().count())
    cells: dict[tuple[str, str], list] = defaultdict(lambda: [0, Decimal(0)])
    for commune in tenancy.communes().active_with("regies"):
        with tenancy.inside(commune):
            rows = (LedgerEntry.objects.filter(reverses__isnull=True, posted_at__date__gte=since)
                    .annotate(month=TruncMonth("posted_at")).values("month", "mode")
                    .annotate(n=Count("id"), total=Sum("amount")))
            for row in rows:
                cell = cells[(row["month"].strftime("%Y-%m"), row["mode"])]
                cell[0] += row["n"]
                cell[1] += row["total"]
    return {
        "computed_on": today.isoformat(),
        "months": months,
        "communes_served": active.count(),
        "inhabitants_covered": population,
        "citizens_with_account": accounts,
        "payments": [{"month": month, "mode": mode, "count": count, "amount": str(amount)}
                     for (month, mode), (count, amount) in sorted(cells.items())],
    }


def refresh(today: datetime.date | None = None) -> PublicStatistics:
    """The day's figures, computed again (idempotent: one row per day)."""
    figures = compute(today)
    row, _ = PublicStatistics.objects.update_or_create(
        computed_on=figures["computed_on"],
        defaults={"figures": figures, "computed_at": timezone.now()})
    return row


def latest() -> PublicStatistics:
    """The last figures the job computed (computed now if it never ran)."""
    return PublicStatistics.objects.first() or refresh()


def _count(n: int) -> int | None:
    return None if suppressed(n) else n


def published(figures: dict) -> dict:
    """What anyone may read: the small counts hidden (null), with the amount that goes
    with them; per month, every mode's payments and the online share."""
    by_month: dict[str, dict] = {m: {} for m in figures["months"]}
    for cell in figures["payments"]:
        by_month.setdefault(cell["month"], {})[cell["mode"]] = cell
    labels = dict(PaymentMode.choices)
    months = []
    for month in figures["months"]:
        cells = by_month.get(month, {})
        total = sum(c["count"] for c in cells.values())
        online = cells.get(PaymentMode.ONLINE, {}).get("count", 0)
        modes = [{"mode": mode, "label": labels[mode],
                  "count": _count(cells[mode]["count"]) if mode in cells else 0,
                  "amount": (None if suppressed(cells[mode]["count"]) else cells[mode]["amount"])
                  if mode in cells else "0"}
                 for mode in PaymentMode.values]
        share = None
        if total and not suppressed(total) and not suppressed(online):
            share = str((Decimal(online) * 100 / total).quantize(Decimal("0.1")))
        months.append({"month": month, "count": _count(total), "online_count": _count(online),
                       "online_share_percent": share, "modes": modes})
    all_total = sum(c["count"] for c in figures["payments"])
    all_online = sum(c["count"] for c in figures["payments"] if c["mode"] == PaymentMode.ONLINE)
    share = None
    if all_total and not suppressed(all_total) and not suppressed(all_online):
        share = str((Decimal(all_online) * 100 / all_total).quantize(Decimal("0.1")))
    return {
        "licence": LICENCE, "licence_url": LICENCE_URL,
        "computed_on": figures["computed_on"],
        "communes_served": figures["communes_served"],
        "inhabitants_covered": figures["inhabitants_covered"],
        "citizens_with_account": _count(figures["citizens_with_account"]),
        "payments_count": _count(all_total),
        "online_share_percent": share,
        "months": months,
    }


CSV_HEADER = ["indicateur", "mois", "mode", "valeur"]


def csv_rows(data: dict) -> list[list[str]]:
    """The published figures, one value a line (« < 5 » where hidden)."""

    def shown(value) -> str:
        return "< 5" if value is None else str(value)

    rows = [["communes_servies", "", "", str(data["communes_served"])],
            ["habitants_couverts", "", "", str(data["inhabitants_covered"])],
            ["usagers_avec_compte", "", "", shown(data["citizens_with_account"])]]
    for month in data["months"]:
        rows.append(["paiements", month["month"], "", shown(month["count"])])
        share = month["online_share_percent"]
        rows.append(["part_en_ligne_pourcent", month["month"], "",
                     "" if share is None else share])
        for mode in month["modes"]:
            rows.append(["paiements", month["month"], mode["mode"], shown(mode["count"])])
            rows.append(["montant_euros", month["month"], mode["mode"], shown(mode["amount"])])
    return rows
