"""Benchmark of the régies' imports (issue "Régies", import payments made elsewhere):
a bank statement (CAMT.053) of 100,000 credit entries imported end to end in one
transaction, target ≤ 60 s; baseline: the same payments posted one ``payment_record``
call each, timed on a sample and scaled.

Called by bench/run.py once communes are onboarded; runs inside the first commune."""

from __future__ import annotations

import datetime
import time
from decimal import Decimal

MATCHED_SHARE = 0.9  # the rest names no invoice: it goes to the queue
BASELINE_SAMPLE = 2_000


def line(label: str, value: str, ratio: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {ratio}")


def _amount(n: int) -> Decimal:
    return Decimal(1000 + (n * 7919) % 15000) / 100  # 10,00 € to 159,99 €


def _open_invoices(regie, count: int, number: str) -> None:
    """``count`` invoices of one line each, to payers of ten invoices each (bulk: the
    bench times the import, not the set-up)."""
    from django.db import transaction
    from django.utils import timezone


    with transaction.atomic():  # an invoice's lines must be there when it commits
        _insert(regie, count, number, timezone.now())


def _insert(regie, count: int, number: str, now) -> None:
    from opsn.regies.models import Invoice, InvoiceLine, Payer

    payers = Payer.objects.bulk_create([
        Payer(regie=regie, name=f"Famille {number}{n}", external_ref=f"{number}-FAM-{n}",
              link_code=f"{number[:2]}{n:012d}") for n in range(count // 10 + 1)],
        batch_size=5000)
    issued = datetime.date(2026, 10, 1)
    invoices = Invoice.objects.bulk_create([
        Invoice(regie=regie, payer=payers[n // 10], number=f"{number}{n:07d}",
                label="Restauration scolaire", issued_on=issued,
                due_on=issued + datetime.timedelta(days=30), total=_amount(n), source="import",
                created_by="bench", created_at=now) for n in range(count)], batch_size=5000)
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=invoice, label="Repas", quantity=Decimal(1),
                    unit_price=invoice.total, amount=invoice.total) for invoice in invoices],
        batch_size=5000)


def camt053_statement(entries: int, number: str) -> bytes:
    """A day's statement: ``MATCHED_SHARE`` of the entries name an invoice (``number``
    prefix) and pay it in full, the others name none; one debit in a hundred."""
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n'
            "<BkToCstmrStmt><GrpHdr><MsgId>BENCH-STMT</MsgId>"
            "<CreDtTm>2026-11-27T06:00:00</CreDtTm></GrpHdr>\n<Stmt><Id>BENCH-2026-11-26</Id>"
            "<Acct><Id><IBAN>FR7630001007941234567890185</IBAN></Id><Ccy>EUR</Ccy></Acct>\n")
    parts = [head]
    matched = int(entries * MATCHED_SHARE)
    for n in range(entries):
        if n < matched:
            amount, text = _amount(n), f"CANTINE FACTURE {number}{n:07d} FAMILLE {n // 10}"
        else:
            amount, text = Decimal("25.00"), f"VIREMENT DIVERS {n}"
        direction = "DBIT" if n % 100 == 99 else "CRDT"
        parts.append(
            f"<Ntry><NtryRef>{n}</NtryRef><Amt Ccy=\"EUR\">{amount}</Amt>"
            f"<CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
            "<BookgDt><Dt>2026-11-26</Dt></BookgDt><ValDt><Dt>2026-11-26</Dt></ValDt>"
            f"<AcctSvcrRef>BQ{n:09d}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>"
            "<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls><Refs>"
            f"<EndToEndId>E2E{n}</EndToEndId></Refs><RltdPties><Dbtr><Pty><Nm>M. OU MME "
            f"PAYEUR {n // 10}</Nm></Pty></Dbtr></RltdPties><RmtInf><Ustrd>{text}</Ustrd>"
            "</RmtInf></TxDtls></NtryDtls></Ntry>\n")
    parts.append("</Stmt></BkToCstmrStmt></Document>\n")
    return "".join(parts).encode()


def bench_bank_import(entries: int = 100_000) -> None:
    from opsn.communes.models import Commune
    from opsn.kernel.actors import Actor
    from opsn.kernel.tenancy import connection
    from opsn.regies.importers.camt053 import read_camt053
    from opsn.regies.models import Assignment, ImportedPayment, Invoice, LedgerEntry, Regie
    from opsn.regies.services.imports import bank_statement_import
    from opsn.regies.services.payments import payment_record

    commune = Commune.objects.order_by("pk").first()
    connection.set_tenant(commune)
    print(f"\n8. Régie imports: a bank statement (CAMT.053) of {entries:,} entries")
    regie = Regie.objects.create(number="BENCH-IMP", name="Régie de mesure (imports)",
                                 accepted_modes=["cash", "card", "transfer"],
                                 cash_limit=Decimal("5000"), starts_on=datetime.date(2020, 1, 1))
    actor = Actor(account="regisseur@bench", name="Régisseur de mesure")
    Assignment.objects.create(regie=regie, account=actor.account, role="titulaire",
                              starts_on=datetime.date(2020, 1, 1), granted_by="bench")
    started = time.perf_counter()
    _open_invoices(regie, entries, "FB")
    _open_invoices(regie, BASELINE_SAMPLE, "FX")
    line(f"set-up: {entries + BASELINE_SAMPLE:,} open invoices and their payers (bulk)",
         f"{time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    content = camt053_statement(entries, "FB")
    line(f"writing the statement ({len(content) / 1e6:.0f} MB)",
         f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    statement = read_camt053(content)
    parsed = time.perf_counter() - started
    line(f"reading it alone (lxml iterparse, {len(statement.payments):,} credits)",
         f"{parsed:.1f} s", f"{entries / parsed:,.0f} entries/s")
    del statement

    started = time.perf_counter()
    batch = bank_statement_import(regie=regie, actor=actor, content=content,
                                  file_name="bench-releve.xml")
    ours = time.perf_counter() - started
    outcome = batch.outcome
    assert outcome["posted"] == LedgerEntry.objects.filter(regie=regie).count()
    assert outcome["queued"] == ImportedPayment.objects.filter(batch=batch).count()
    line("bank_statement_import: read, match, post, queue, commit", f"{ours:.1f} s",
         f"target ≤ 60 s; {entries / ours:,.0f} entries/s")
    line("  posted / queued / debits ignored",
         f"{outcome['posted']:,} / {outcome['queued']:,} / {outcome['debits_ignored']:,}")

    # Baseline: the obvious loop, one payment_record (one transaction, one audit line) per
    # payment, on invoices the import did not touch; on fresh statistics, as autovacuum
    # would have them a while after the import.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE regies_ledgerentry, regies_allocation, regies_invoice")
    sample = list(Invoice.objects.filter(regie=regie, number__startswith="FX")
                  .order_by("id"))
    started = time.perf_counter()
    for n, invoice in enumerate(sample):
        payment_record(regie=regie, actor=actor, amount=invoice.total, mode="transfer",
                       invoices=[invoice], source="bank_import", external_ref=f"BASE{n}",
                       details={"paid_on": "2026-11-26",
                                "reference": f"CANTINE FACTURE {invoice.number}",
                                "debtor": f"M. OU MME PAYEUR {n // 10}"})
    each = (time.perf_counter() - started) / len(sample)
    naive = each * outcome["posted"]
    line(f"payment_record one call each ({len(sample):,} timed, scaled)", f"{naive:.1f} s",
         f"baseline ({each * 1000:.1f} ms each); ours {naive / ours:.1f}x faster")
    connection.set_schema_to_public()
