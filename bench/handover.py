"""Benchmark of the hand-over to the public accountant (issue 17): N unpaid invoices of one
régie (default 5,000; the issue's target is 10,000 in ≤ 10 s) selected, made titres, written
as a PES V2 « PES_Aller » file and checked (``opsn.finance.pes_check``), the hand-over and
its N records saved. Baseline, in the same run and on the same invoices: the same file
built one invoice at a time through the ORM (each invoice, its payer and its lines read,
its record saved one by one), then checked the same way. Both run in a transaction rolled
back, so each starts from the same books.

Called by bench/run.py once communes are onboarded; runs inside the first commune."""

from __future__ import annotations

import datetime
import hashlib
import time
from decimal import Decimal


def line(label: str, value: str, ratio: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {ratio}")


class _Rollback(Exception):
    pass


def _unpaid(regie, count: int) -> None:
    """``count`` unpaid invoices past due, one imputed line each, ten per payer (bulk)."""
    from django.utils import timezone

    from opsn.regies.models import Invoice, InvoiceLine, Payer

    now = timezone.now()
    payers = Payer.objects.bulk_create([
        Payer(regie=regie, name=f"Famille H{n}", external_ref=f"HO-FAM-{n}",
              link_code=f"HO{n:012d}", address_line=f"{n} rue de la Mesure",
              postal_code="69200", city="Vénissieux") for n in range(count // 10 + 1)],
        batch_size=5000)
    issued = datetime.date(2026, 9, 1)
    invoices = Invoice.objects.bulk_create([
        Invoice(regie=regie, payer=payers[n // 10], number=f"HO{n:07d}",
                label="Restauration scolaire", issued_on=issued,
                due_on=issued + datetime.timedelta(days=30),
                total=Decimal("4.10") * (1 + n % 20), source="import", created_by="bench",
                created_at=now) for n in range(count)], batch_size=5000)
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=invoice, label="Repas", quantity=Decimal(1 + n % 20),
                    unit_price=Decimal("4.10"), amount=invoice.total, nature="7067",
                    fonction="281") for n, invoice in enumerate(invoices)], batch_size=5000)


def _one_by_one(regie, due_before: datetime.date, day: datetime.date) -> bytes:
    """The obvious way: each invoice read, made a titre and saved on its own."""
    from opsn.finance import pes
    from opsn.finance.handover import _titre, budget_of
    from opsn.finance.models import HandedOverInvoice, UnpaidHandover
    from opsn.regies.models import Invoice

    budget = budget_of(regie)
    handover = UnpaidHandover.objects.create(
        budget=budget, regie=regie, year=day.year, number=999_999, due_before=due_before,
        count=0, total=Decimal("0.01"), file_name="baseline.xml", file=b"", sha256="",
        created_by="bench")
    ids = list(Invoice.objects.filter(regie=regie, handed_over__isnull=True)
               .past_due(due_before).order_by("due_on", "number").values_list("pk", flat=True))
    titres = []
    for piece, pk in enumerate(ids, start=1):
        invoice = Invoice.objects.get(pk=pk)
        invoice.payer  # noqa: B018 (read, as the obvious way does)
        titre = _titre(piece, invoice, list(invoice.lines.order_by("id")))
        HandedOverInvoice.objects.create(handover=handover, invoice=invoice, piece=piece,
                                         amount=titre.total)
        titres.append(titre)
    header = pes.Header(post_code=budget.post_code, post_name=budget.post_name,
                        siret=budget.siret, collectivity_code=budget.collectivity_code,
                        budget_code=budget.budget_code, budget_name=budget.name)
    data = pes.pes_aller(header=header, year=day.year, bordereau=999_999, day=day,
                         file_name="baseline.xml", objet="Mesure", titres=titres)
    handover.file, handover.sha256 = data, hashlib.sha256(data).hexdigest()
    handover.count = len(titres)
    handover.total = sum((t.total for t in titres), Decimal("0.00"))
    handover.save()
    return data


def bench_handover(count: int = 5_000) -> None:
    from django.db import transaction

    from opsn.communes.models import Commune
    from opsn.finance.handover import handover_create
    from opsn.finance.models import Budget
    from opsn.finance.pes_check import check
    from opsn.kernel.actors import Actor
    from opsn.kernel.tenancy import connection
    from opsn.regies.models import Regie

    commune = Commune.objects.order_by("pk").first()
    connection.set_tenant(commune)
    print(f"\n13. Hand-over to the public accountant: {count:,} unpaid invoices")
    started = time.perf_counter()
    regie = Regie.objects.create(number="BENCH-HO", name="Régie de mesure (impayés)",
                                 accepted_modes=["cash"], cash_limit=Decimal("5000"),
                                 starts_on=datetime.date(2020, 1, 1))
    Budget.objects.create(kind="principal", name="Ville de mesure – budget principal",
                          siret="21690259300005", collectivity_code="047", budget_code="00",
                          post_code="069027", post_name="SGC de mesure")
    with transaction.atomic():
        _unpaid(regie, count)
    line(f"set-up: {count:,} unpaid invoices, one imputed line each (bulk)",
         f"{time.perf_counter() - started:.1f} s")
    due_before, day = datetime.date(2026, 11, 1), datetime.date(2026, 12, 1)

    timings = {}
    for name in ("ours", "baseline"):
        try:
            with transaction.atomic():
                started = time.perf_counter()
                if name == "ours":
                    done = handover_create(regie=regie, due_before=due_before, day=day,
                                           actor=Actor.system("bench"))
                    data = bytes(done.file)
                    assert done.count == count
                else:
                    data = _one_by_one(regie, due_before, day)
                problems = check(data)
                timings[name] = time.perf_counter() - started
                assert problems == [], problems[:5]
                size = len(data)
                raise _Rollback
        except _Rollback:
            pass
    ours, baseline = timings["ours"], timings["baseline"]
    line("hand-over: select, titres, PES file, saved, checked", f"{ours:.2f} s",
         f"{count / ours:,.0f} invoices/s; file {size / 1e6:.1f} MB")
    line("baseline: the same, one invoice at a time (ORM)", f"{baseline:.2f} s",
         f"×{baseline / ours:.1f} slower")
    if count >= 10_000:
        line("target: 10,000 invoices in ≤ 10 s", "met" if ours * 10_000 / count <= 10
             else "NOT met")
