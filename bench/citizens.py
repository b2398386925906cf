"""Issue 4: "Mes paiements" for a citizen linked to payers in 5 communes, with 10, 100 and
1,000 communes onboarded and 1,000 payments in each (1,000,000 in all at 1,000 communes).
Target: p95 ≤ 80 ms server time, flat in the number of communes.

What is timed is ``citizens.statement.statement`` — the one cross-schema read the page
makes (one UNION ALL query over the linked schemas, totals included). The baseline, in the
same run, is the straightforward way: enter each linked commune's schema in turn and read
its payments and invoices with the ORM, then merge.
"""

from __future__ import annotations

import datetime
import statistics
import time
from decimal import Decimal

CITIZEN = "bench|citizen"
LINKED = 5


def _line(label: str, value: str, ratio: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {ratio}")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _onboard_up_to(n: int) -> list:
    from opsn.communes import services
    from opsn.communes.models import Commune
    from opsn.referentiel.models import OfficialCommune

    have = Commune.objects.count()
    if have < n:
        used = set(Commune.objects.values_list("insee_code", flat=True))
        todo = [c for c in OfficialCommune.objects.filter(is_current=True)
                .order_by("insee_code").values_list("insee_code", flat=True)[: n + len(used) + 10]
                if c not in used][: n - have]
        for code in todo:
            services.commune_onboard(insee_code=code)
    return list(Commune.objects.order_by("pk"))


def _fill(commune, entries: int, linked: bool) -> None:
    """A régie with ``entries`` payments by 200 payers (COPY: the database chains them);
    in a linked commune, the citizen's family also has 24 monthly invoices."""
    from django.db import transaction
    from django.utils import timezone

    from opsn.citizens.models import LinkMethod, PayerLink
    from opsn.kernel.tenancy import connection
    from opsn.regies.models import Payer, Regie

    connection.set_tenant(commune)
    if Regie.objects.filter(number="BENCH").exists():
        connection.set_schema_to_public()
        return
    regie = Regie.objects.create(number="BENCH", name="Cantine", accepted_modes=["cash", "card"],
                                 cash_limit=Decimal("100000000"),
                                 starts_on=datetime.date(2020, 1, 1))
    payers = Payer.objects.bulk_create([
        Payer(regie=regie, name=f"Famille {n}", link_code=f"B{commune.pk:05d}{n:06d}")
        for n in range(200)])
    now = timezone.now()
    with connection.cursor() as cursor, cursor.cursor.copy(
            "COPY regies_ledgerentry (regie_id, year, receipt_number, amount, mode, payer_id,"
            " payer_name, details, agent, posted_at, reason, previous_hash, hash)"
            " FROM STDIN") as copy:
        for n in range(1, entries + 1):
            posted = now - datetime.timedelta(hours=n)
            payer = payers[n % len(payers)]
            copy.write_row((regie.pk, posted.year, n, Decimal(n % 9000 + 100) / 100,
                            "card" if n % 3 else "cash", payer.pk, payer.name, "{}",
                            "regisseur@bench", posted, "", "", f"pending-{n}"))
    if linked:
        family = payers[0]
        with transaction.atomic():  # an invoice's total is checked against its lines at commit
            _invoices(regie, family, now)
        connection.set_schema_to_public()
        PayerLink.objects.create(subject=CITIZEN, commune=commune, payer_id=family.pk,
                                 payer_name=family.name, method=LinkMethod.CODE)
    connection.set_schema_to_public()


def _invoices(regie, family, now) -> None:
    from opsn.regies.models import Invoice, InvoiceLine

    invoices = Invoice.objects.bulk_create([
        Invoice(regie=regie, payer=family, number=f"F-{m:03d}", total=Decimal("42.50"),
                issued_on=datetime.date(2025, 1, 1) + datetime.timedelta(days=30 * m),
                due_on=datetime.date(2025, 1, 31) + datetime.timedelta(days=30 * m),
                created_by="bench", created_at=now) for m in range(24)])
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=inv, label="Repas", quantity=1, unit_price=inv.total,
                    amount=inv.total) for inv in invoices])


def _naive(subject: str) -> list:
    """The baseline: each linked commune's schema in turn, through the ORM."""
    from opsn.citizens.models import PayerLink
    from opsn.kernel.tenancy import inside
    from opsn.regies.models import Invoice, LedgerEntry

    rows: list = []
    for link in PayerLink.objects.filter(subject=subject, unlinked_at__isnull=True
                                         ).select_related("commune"):
        with inside(link.commune):
            rows += [(e.posted_at, e) for e in LedgerEntry.objects.select_related("regie")
                     .filter(payer_id=link.payer_id)]
            rows += [(i.issued_on, i) for i in Invoice.objects.select_related("regie", "payer")
                     .filter(payer_id=link.payer_id)]
    rows.sort(key=lambda r: str(r[0]), reverse=True)
    return rows[:200]


def _time(fn, rounds: int) -> list[float]:
    fn()  # warm
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def bench_citizen_statement(stages=(10, 100, 1000), entries: int = 1000,
                            rounds: int = 200) -> None:
    from opsn.citizens.statement import Filters, statement

    print(f"\n10. « Mes paiements »: a citizen linked to payers in {LINKED} communes, "
          f"{entries:,} payments per commune")
    filled = 0
    for stage in stages:
        started = time.perf_counter()
        communes = _onboard_up_to(stage)
        for index, commune in enumerate(communes[filled:stage], start=filled):
            # The same five communes (among the first ten) at every stage: what grows is
            # the number of communes onboarded, not the citizen's links.
            _fill(commune, entries, linked=index in (1, 3, 5, 7, 9))
        filled = stage
        set_up = time.perf_counter() - started
        view = statement(CITIZEN)
        ours = _time(lambda: statement(CITIZEN), rounds)
        filtered = _time(lambda: statement(CITIZEN, Filters(mode="card")), rounds // 2)
        naive = _time(lambda: _naive(CITIZEN), max(20, rounds // 10))
        _line(f"{stage:>5} communes ({stage * entries:,} payments; set-up {set_up:.0f} s)",
              f"p95 {_percentile(ours, 95) * 1000:.1f} ms",
              f"median {statistics.median(ours) * 1000:.1f} ms; {view.count} items from "
              f"{len({i.commune.pk for i in view.items})} communes; target p95 ≤ 80 ms")
        _line("    filtered by mode", f"p95 {_percentile(filtered, 95) * 1000:.1f} ms")
        _line("    baseline: each schema in turn through the ORM",
              f"p95 {_percentile(naive, 95) * 1000:.1f} ms",
              f"{_percentile(naive, 95) / _percentile(ours, 95):.1f}x slower than one query")
