"""Payments post the short way (checked without a lock, written in one statement that
first makes sure nothing changed) or the long way (under the régie's lock). Whichever way,
the books are the same; a change that lands between the checks and the posting is caught,
and the payment is then checked again and refused, or posted, for what is true now."""

import datetime
import threading
from decimal import Decimal

import pytest

from opsn.audit.models import AuditEvent
from opsn.communes.models import Commune
from opsn.kernel.tenancy import connection
from opsn.regies.chain import verify_chain
from opsn.regies.errors import Refused, RegieError
from opsn.regies.models import Allocation, Holding, Invoice, LedgerEntry, PaymentMode
from opsn.regies.selectors import regie_columns, regie_with_version
from opsn.regies.services import founding, payments
from opsn.regies.services.payments import PaymentDraft, payment_record, payments_post
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    TITULAIRE,
    make_invoice,
    make_payer,
    make_regie,
    wipe_regies,
)

CARD = {"terminal_ref": "T-1"}


class Ways:
    """Counts the payments each way posted (the long way also serves the short way's
    refusals, so it counts the calls that reach it)."""

    def __init__(self, monkeypatch):
        self.short = self.long = 0
        short, long = payments._post_short_way, payments._post_under_lock

        def counted_short(*args):
            entries = short(*args)
            if entries is not None:
                self.short += len(entries)
            return entries

        def counted_long(*args):
            self.long += 1
            return long(*args)

        monkeypatch.setattr(payments, "_post_short_way", counted_short)
        monkeypatch.setattr(payments, "_post_under_lock", counted_long)


def _books(regie):
    """What an auditor reads of a régie, without its ids."""
    entries = list(LedgerEntry.objects.filter(regie=regie).order_by("receipt_number").values_list(
        "receipt_number", "amount", "mode", "payer__name", "payer_name", "details", "source",
        "external_ref", "agent", "agent_name"))
    allocations = [(n, (invoice or "").replace(regie.number, "R"), *rest)
                   for n, invoice, *rest in Allocation.objects.filter(entry__regie=regie)
                   .order_by("entry__receipt_number", "id").values_list(
                       "entry__receipt_number", "invoice__number", "product__code", "quantity",
                       "amount")]
    audit = [(line.summary.replace(regie.number, "R"), {**line.data, "regie": "R"})
             for line in AuditEvent.objects.filter(code="payment.recorded").order_by("id")
             if line.data.get("regie") == regie.number]
    invoices = [(number.replace(regie.number, "R"), paid) for number, paid in
                Invoice.objects.filter(regie=regie).order_by("number").values_list(
                    "number", "amount_paid")]
    holdings = dict(Holding.objects.filter(regie=regie).values_list("mode", "amount"))
    return entries, allocations, audit, invoices, holdings


def _post_the_day(regie):
    payer = make_payer(regie, external_ref="FAM-1")
    other = make_payer(regie, name="Famille Diallo")
    a = make_invoice(regie, payer, "40.00", number=f"{regie.number}-A")
    b = make_invoice(regie, payer, "25.50", number=f"{regie.number}-B")
    cake = founding.product_save(regie=regie, actor=ADMIN, code="gouter", name="Goûter",
                                 unit_price="1.20")
    payment_record(regie=regie, actor=MANDATAIRE, amount="50.00", mode="card", invoices=[a, b],
                   details=CARD, external_ref="CB-1")  # a paid, b partly
    payments_post(regie=regie, actor=MANDATAIRE, drafts=[
        PaymentDraft(amount="15.50", mode="transfer", invoices=[b], external_ref="VIR-1"),
        PaymentDraft(amount="3.60", mode="card", payer_name="Passant", sales=[(cake, "3")],
                     details=CARD),
        PaymentDraft(amount="7", mode="card", payer=other, details=CARD)])  # credit
    payment_record(regie=regie, actor=TITULAIRE, amount="20.00", mode="cash", payer=payer)


def test_both_ways_write_the_same_books(venissieux, monkeypatch):
    with in_schema(venissieux):
        short = make_regie("R-SHORT", accepted_modes=["cash", "card", "transfer"])
        long = make_regie("R-LONG", accepted_modes=["cash", "card", "transfer"])
        ways = Ways(monkeypatch)
        _post_the_day(short)
        assert (ways.short, ways.long) == (4, 1)  # cash always goes the long way
        monkeypatch.setattr(payments, "SHORT_WAY_MAX", 0)
        _post_the_day(long)
        assert (ways.short, ways.long) == (4, 4)

        assert _books(short) == _books(long)
        entries, _, audit, invoices, holdings = _books(short)
        year = datetime.date.today().year
        assert [e[0] for e in entries] == [1, 2, 3, 4, 5]
        assert audit[0][0] == (f"Quittance {year}-000001 : 50,00 € (carte bancaire (TPE)) de "
                               "Famille Martin à la régie R")
        assert audit[0][1]["receipt"] == f"{year}-000001"
        assert invoices == [("R-A", Decimal("40.00")), ("R-B", Decimal("25.50"))]
        assert holdings[PaymentMode.CARD] == Decimal("60.60")
        assert verify_chain(short) is None and verify_chain(long) is None


def test_a_refusal_is_the_same_whichever_way(venissieux, monkeypatch):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["card"])
        payer = make_payer(regie)
        invoice = make_invoice(regie, payer, "10.00")
        payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="card",
                       invoices=[invoice], details=CARD)
        for limit in (50, 0):
            monkeypatch.setattr(payments, "SHORT_WAY_MAX", limit)
            with pytest.raises(Refused, match="déjà payée"):
                payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="card",
                               invoices=[invoice], details=CARD)
            with pytest.raises(RegieError, match="n'accepte pas ce mode"):
                payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="transfer",
                               payer=payer)
        assert LedgerEntry.objects.filter(regie=regie).count() == 1


def test_a_regie_read_with_its_version_then_changed_is_read_again(venissieux, monkeypatch):
    """The API reads the régie with its row version and posting trusts that read; when the
    régie changed since, the guard sends the payment the long way, checked on the régie as
    it is now."""

    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["card", "transfer"])
        payer = make_payer(regie)

        def read_with_version():
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {regie_columns()} FROM regies_regie WHERE id = %s",
                               [regie.pk])
                return regie_with_version(cursor.fetchone(), connection.alias)

        ways = Ways(monkeypatch)
        read = read_with_version()
        payment_record(regie=read, actor=MANDATAIRE, amount="5", mode="card", payer=payer,
                       details=CARD)
        assert (ways.short, ways.long) == (1, 0)  # the read was trusted, still current

        read = read_with_version()
        founding.regie_amend(regie=regie, actor=ADMIN, accepted_modes=["transfer"])
        assert read.accepted_modes == ["card", "transfer"]  # what was read is now stale
        with pytest.raises(RegieError, match="n'accepte pas ce mode"):
            payment_record(regie=read, actor=MANDATAIRE, amount="5", mode="card",
                           payer=payer, details=CARD)
        assert ways.long == 1
        assert LedgerEntry.objects.filter(regie=regie).count() == 1


def rows_read(table: str) -> int:
    """The rows of ``table`` this transaction has read so far (scans and index fetches)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
                       "FROM pg_stat_xact_user_tables WHERE relname = %s "
                       "AND schemaname = current_schema()", [table])
        return cursor.fetchone()[0]


def test_a_payment_reads_a_few_entries_however_many_the_regie_has(venissieux):
    """Posting reads a few rows of the journal at 2,000 entries, even when the plans were
    first made for a journal of 20 and the statistics were taken then (a new régie, an
    import the autovacuum has not analysed yet)."""

    def read_by_one_payment(regie, payer, ref) -> int:
        before = rows_read("regies_ledgerentry")
        payment_record(regie=regie, actor=MANDATAIRE, amount="2", mode="card", payer=payer,
                       details=CARD, external_ref=ref)
        return rows_read("regies_ledgerentry") - before

    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["card"])
        payer = make_payer(regie)
        reads = {}
        for size in (20, 2000):
            while (posted := LedgerEntry.objects.filter(regie=regie).count()) < size:
                payments_post(regie=regie, actor=MANDATAIRE, drafts=[
                    PaymentDraft(amount="1", mode="card", payer=payer, details=CARD,
                                 external_ref=f"CB-{posted + i}")
                    for i in range(min(50, size - posted))])
            if size == 20:  # what the autovacuum does once a new journal has some rows
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE regies_ledgerentry")
            for i in range(6):  # past PL/pgSQL's first calls: it keeps a generic plan
                read_by_one_payment(regie, payer, f"WARM-{size}-{i}")
            reads[size] = read_by_one_payment(regie, payer, f"MEASURED-{size}")
        # A small journal may be read whole (one page); a large one never is.
        assert reads[2000] <= 10, reads


def test_paying_an_invoice_reads_a_few_invoices_however_many_the_commune_has(venissieux):
    """The allocations' trigger settles the invoices paid by their key, at 2,000 invoices
    with plans first made at 20, as posting reads the journal (above)."""

    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["card", "transfer"])
        payer = make_payer(regie)
        invoices = [make_invoice(regie, payer, "10.00") for _ in range(20)]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE regies_invoice")
        for invoice in invoices[:7]:  # past PL/pgSQL's first calls: it keeps a generic plan
            payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="transfer",
                           invoices=[invoice])
        with connection.cursor() as cursor:  # the commune's other invoices, in bulk
            cursor.execute("""
                WITH copies AS (
                    INSERT INTO regies_invoice (regie_id, payer_id, number, label, issued_on,
                        due_on, total, amount_paid, cancelled_by, cancel_reason, source,
                        created_at, created_by)
                    SELECT regie_id, payer_id, number || '-' || n, label, issued_on, due_on,
                           total, 0, '', '', source, created_at, created_by
                    FROM regies_invoice, generate_series(1, 100) n WHERE id = ANY(%s)
                    RETURNING id, total)
                INSERT INTO regies_invoiceline (invoice_id, label, quantity, unit_price, amount,
                                                beneficiary)
                SELECT id, 'Repas', 1, total, total, '' FROM copies""",
                           [[i.pk for i in invoices]])
        assert Invoice.objects.count() >= 2000
        before = rows_read("regies_invoice")
        payment_record(regie=regie, actor=MANDATAIRE, amount="10", mode="transfer",
                       invoices=[invoices[10]])
        assert rows_read("regies_invoice") - before <= 20
        invoices[10].refresh_from_db()
        assert invoices[10].status == "paid"


def _in_another_transaction(work):
    """Run ``work`` on another connection, committed before this returns."""
    failures = []

    def run():
        try:
            work()
        except BaseException as exc:  # reported to the test below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not failures, failures


@pytest.mark.parametrize("change, refusal", [
    ("invoice paid", "déjà payée"),
    ("mode withdrawn", "n'accepte pas ce mode"),
    ("agent's appointment ended", "ni régisseur ni mandataire"),
])
def test_a_change_between_the_checks_and_the_posting_is_caught(committed, monkeypatch,
                                                                change, refusal):
    commune = Commune.objects.get(insee_code="69259")
    with in_schema(commune):
        regie = make_regie("R-RACE", accepted_modes=["card", "transfer"])
        payer = make_payer(regie)
        invoice = make_invoice(regie, payer, "30.00")
    ways = Ways(monkeypatch)
    check, changed = payments._check_draft, []

    def concurrently():
        connection.set_tenant(commune)
        if change == "invoice paid":
            payment_record(regie=regie, actor=TITULAIRE, amount="30", mode="transfer",
                           invoices=[invoice], external_ref="VIR-ELSEWHERE")
        elif change == "mode withdrawn":
            founding.regie_amend(regie=regie, actor=ADMIN, accepted_modes=["transfer"])
        else:
            assignment = regie.assignments.get(account=MANDATAIRE.account)
            founding.assignment_end(assignment=assignment, actor=ADMIN,
                                    ends_on=datetime.date.today())

    def check_then_change(*args):
        checked = check(*args)
        if not changed:  # once: right after the short way's checks passed
            changed.append(True)
            _in_another_transaction(concurrently)
        return checked

    monkeypatch.setattr(payments, "_check_draft", check_then_change)
    try:
        with in_schema(commune):
            with pytest.raises(RegieError, match=refusal):
                payment_record(regie=regie, actor=MANDATAIRE, amount="30", mode="card",
                               invoices=[invoice], details=CARD, external_ref="CB-RACE")
            assert changed and ways.long == 1  # caught by the guard, refused the long way
            assert not LedgerEntry.objects.filter(external_ref="CB-RACE").exists()
            # No number consumed: the next receipt follows the last one posted.
            posted = LedgerEntry.objects.filter(regie=regie).count()
            following = payment_record(regie=regie, actor=TITULAIRE, amount="1",
                                       mode="transfer", payer=payer)
            assert following.receipt_number == posted + 1
            invoice.refresh_from_db()
            assert invoice.amount_paid <= invoice.total
    finally:
        with in_schema(commune):
            wipe_regies()


def test_many_clients_paying_the_same_invoices_at_once(committed, monkeypatch):
    """Eight clients post card payments on five invoices at once, the short way: receipts
    stay unique and gapless, no invoice is ever paid beyond its total, and what each client
    was told matches the books."""
    commune = Commune.objects.get(insee_code="69259")
    with in_schema(commune):
        regie = make_regie("R-MANY", accepted_modes=["card", "cash"])
        payer = make_payer(regie)
        invoices = [make_invoice(regie, payer, "30.00", number=f"F-{i}") for i in range(5)]
    ways = Ways(monkeypatch)
    told: list[tuple[int, str]] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        try:
            connection.set_tenant(commune)
            for n in range(12):
                invoice = invoices[(k + n) % 5]
                try:
                    if n % 6 == 5:
                        entry = payment_record(regie=regie, actor=TITULAIRE, amount="2",
                                               mode="cash", payer=payer)
                    else:
                        entry = payment_record(regie=regie, actor=MANDATAIRE, amount="4",
                                               mode="card", invoices=[invoice],
                                               details={"terminal_ref": f"T{k}-{n}"},
                                               external_ref=f"CB-{k}-{n}")
                except Refused as exc:
                    with lock:
                        refused.append(exc.message)
                    continue
                with lock:
                    told.append((entry.receipt_number, entry.external_ref))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert ways.short > 0
        with in_schema(commune):
            books = dict(LedgerEntry.objects.filter(regie=regie).values_list(
                "receipt_number", "external_ref"))
            assert sorted(books) == list(range(1, len(told) + 1))
            assert dict(told) == books
            for invoice in Invoice.objects.filter(regie=regie):
                allocated = sum(a.amount for a in invoice.allocations.all())
                assert invoice.amount_paid == allocated <= invoice.total
            assert all("déjà payée" in message for message in refused)
            assert verify_chain(regie) is None
    finally:
        with in_schema(commune):
            wipe_regies()
