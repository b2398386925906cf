"""Benchmark of SEPA direct debit (issue 19): one collection of 20,000 debits — a large
commune's month — selected, written as pain.008.001.02 and validated against the ISO 20022
schema, its lines kept; target ≤ 15 s. Baseline, in the same run: the same file validated
by sepaxml's own check (pure-Python xmlschema), the obvious way.

Called by bench/run.py once communes are onboarded; runs inside the first commune."""

from __future__ import annotations

import datetime
import time
from decimal import Decimal


def line(label: str, value: str, ratio: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {ratio}")


def bench_collection(debits: int = 20_000) -> None:
    from sepaxml.validation import try_valid_xml

    from bench.regies_imports import _open_invoices
    from opsn.communes.models import Commune
    from opsn.direct_debit.models import CollectionLine, Creditor, Mandate
    from opsn.direct_debit.services import collect
    from opsn.kernel.actors import Actor
    from opsn.kernel.tenancy import connection
    from opsn.regies.models import Payer, Regie

    commune = Commune.objects.order_by("pk").first()
    connection.set_tenant(commune)
    print(f"\n12. SEPA direct debit: one collection of {debits:,} debits")
    regie = Regie.objects.create(number="BENCH-SDD", name="Régie de mesure (prélèvement)",
                                 accepted_modes=["cash", "direct_debit"],
                                 cash_limit=Decimal("5000"), starts_on=datetime.date(2020, 1, 1))
    Creditor.objects.create(regie=regie, ics="FR72ZZZ123456", name="Ville de mesure",
                            iban="FR7630001007941234567890185", bic="BDFEFRPP")
    started = time.perf_counter()
    _open_invoices(regie, debits, "SD")
    payers = list(Payer.objects.filter(regie=regie).values_list("pk", flat=True))
    Mandate.objects.bulk_create([
        Mandate(regie=regie, payer_id=pk, rum=f"123456-SDD-{pk}-1", debtor_name=f"Famille {pk}",
                iban="FR7630006000011234567890189", bic="AGRIFRPP",
                signed_on=datetime.date(2026, 1, 5), created_by="bench",
                last_collected_on=None if n % 10 == 0 else datetime.date(2026, 11, 5))
        for n, pk in enumerate(payers)], batch_size=5000)
    line(f"set-up: {debits:,} invoices, {len(payers):,} payers with a mandate (bulk)",
         f"{time.perf_counter() - started:.1f} s")

    day = datetime.date.today() + datetime.timedelta(days=7)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    started = time.perf_counter()
    collection = collect(regie=regie, collection_date=day, actor=Actor.system("bench"))
    ours = time.perf_counter() - started
    assert collection.count == debits == CollectionLine.objects.filter(
        collection=collection).count()
    line("collect: select, write, validate (libxml2), keep the lines", f"{ours:.1f} s",
         f"target ≤ 15 s; {debits / ours:,.0f} debits/s")

    started = time.perf_counter()
    try_valid_xml(collection.xml.encode(), "pain.008.001.02")
    baseline = time.perf_counter() - started
    line("baseline: the same file checked by sepaxml (xmlschema) alone", f"{baseline:.1f} s",
         f"× {baseline / ours:.1f} the whole collection")


def _collected_regie(number: str, debits: int, prefix: str, day: datetime.date):
    """A régie with ``debits`` open invoices of payers with a mandate, collected on
    ``day`` (a past weekday: the bank's confirmation comes afterwards)."""
    from bench.regies_imports import _open_invoices
    from opsn.direct_debit.models import Creditor, Mandate
    from opsn.direct_debit.services import collect
    from opsn.kernel.actors import Actor
    from opsn.regies.models import Payer, Regie

    regie = Regie.objects.create(number=number, name=f"Régie de mesure ({number})",
                                 accepted_modes=["cash", "direct_debit"],
                                 cash_limit=Decimal("5000"), starts_on=datetime.date(2020, 1, 1))
    Creditor.objects.create(regie=regie, ics="FR72ZZZ123456", name="Ville de mesure",
                            iban="FR7630001007941234567890185", bic="BDFEFRPP")
    _open_invoices(regie, debits, prefix)
    payers = list(Payer.objects.filter(regie=regie).values_list("pk", flat=True))
    Mandate.objects.bulk_create([
        Mandate(regie=regie, payer_id=pk, rum=f"123456-{prefix}-{pk}-1",
                debtor_name=f"Famille {pk}", iban="FR7630006000011234567890189",
                bic="AGRIFRPP", signed_on=datetime.date(2026, 1, 5), created_by="bench")
        for pk in payers], batch_size=5000)
    collection = collect(regie=regie, collection_date=day, actor=Actor.system("bench"),
                         today=day - datetime.timedelta(days=1))
    return regie, collection


def bench_booking(debits: int = 20_000, baseline_sample: int = 1_000) -> None:
    """Booking the bank's confirmation of ``debits`` debits (target ≤ 30 s), and the
    one-by-one baseline (``payment_record`` per debit, ``baseline_sample`` timed and
    scaled) in the same run."""
    from opsn.communes.models import Commune
    from opsn.direct_debit.booking import collection_confirm, reference_of
    from opsn.direct_debit.models import CollectionLine, LineStatus
    from opsn.kernel.actors import Actor
    from opsn.kernel.tenancy import connection
    from opsn.regies.models import EntrySource, LedgerEntry, PaymentMode
    from opsn.regies.services.payments import payment_record

    commune = Commune.objects.order_by("pk").first()
    connection.set_tenant(commune)
    print(f"\n13. SEPA direct debit: booking the bank's confirmation of {debits:,} debits")
    day = datetime.date.today() - datetime.timedelta(days=3)
    while day.weekday() >= 5:
        day -= datetime.timedelta(days=1)
    started = time.perf_counter()
    regie, collection = _collected_regie("BENCH-SDD-B", debits, "SB", day)
    small, sample = _collected_regie("BENCH-SDD-C", baseline_sample, "SC", day)
    line(f"set-up: {debits:,} + {baseline_sample:,} debits collected on {day:%d/%m/%Y}",
         f"{time.perf_counter() - started:.1f} s")

    actor = Actor.system("bench")
    started = time.perf_counter()
    confirmed = collection_confirm(collection=collection, actor=actor)
    ours = time.perf_counter() - started
    assert confirmed.count == debits == LedgerEntry.objects.filter(
        regie=regie, source=EntrySource.DIRECT_DEBIT, dated_on=day).count()
    line("collection_confirm: check, number, post, lines, audit", f"{ours:.1f} s",
         f"target ≤ 30 s; {debits / ours:,.0f} debits/s")

    lines = list(CollectionLine.objects.filter(collection=sample)
                 .select_related("invoice__payer", "mandate"))
    started = time.perf_counter()
    for item in lines:
        payment_record(regie=small, actor=actor, amount=item.amount,
                       mode=PaymentMode.DIRECT_DEBIT, payer=item.invoice.payer,
                       invoices=[item.invoice], details={"rum": item.mandate.rum},
                       source=EntrySource.DIRECT_DEBIT,
                       external_ref=reference_of(item.end_to_end_id),
                       collected=True)
        CollectionLine.objects.filter(pk=item.pk).update(status=LineStatus.BOOKED)
    each = (time.perf_counter() - started) / len(lines)
    line(f"baseline: payment_record one debit at a time ({len(lines):,} timed, scaled)",
         f"{each * debits:.1f} s", f"{each * 1000:.1f} ms each; ours {each * debits / ours:.1f}x "
                                   "faster")
