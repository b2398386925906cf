"""Issuing the year: numbered without gaps, all or nothing, once; then the invoice's life."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, InternalError, connection, transaction
from django.utils import timezone

from opsn.billing import issuing, services
from opsn.billing.computation import BillingError
from opsn.billing.models import BillingRun, Invoice, InvoiceLine, InvoiceSequence, is_overdue
from opsn.communes.models import Commune, CommuneModule
from tests.helpers.billing import wipe_billing


@pytest.fixture
def rules_2024(db, venissieux, vaulx):
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")
    services.rule_set(module="e-administration", year=2024, kind="per_inhabitant",
                      annual_cost="10000.01", operator_share_fraction="0.5",
                      population_year=2023)
    services.rule_set(module="open-data", year=2024, kind="free")


def test_one_invoice_per_commune_numbered_without_gaps(rules_2024):
    run = issuing.billing_issue(year=2024)
    invoices = list(Invoice.objects.order_by("number"))
    assert [i.number for i in invoices] == ["2024-000001", "2024-000002"]
    assert [i.commune_name for i in invoices] == ["Vaulx-en-Velin", "Vénissieux"]  # INSEE order
    assert run.invoices == 2
    # (10 000,01 − 5 000,01) shared + 2 × 1 000 flat: exact to the cent
    assert run.total == Decimal("7000.00")
    assert sum(i.total for i in invoices) == run.total
    lines = InvoiceLine.objects.filter(invoice=invoices[1]).order_by("position")
    assert [line.module_id for line in lines] == ["e-administration", "open-data", "regies"]
    assert lines[0].population == 65_502
    assert "plus forts restes" in lines[0].explanation


def test_a_year_is_issued_once(rules_2024, capsys):
    call_command("billing_issue", "2024")
    assert "2 titres émis (2024-000001 à 2024-000002)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="déjà été émises") as again:
        call_command("billing_issue", "2024")
    assert again.value.returncode == 2
    assert Invoice.objects.count() == 2
    assert InvoiceSequence.objects.get(year=2024).last_number == 2


def test_a_failing_run_issues_nothing(rules_2024):
    services.rule_set(module="marches-publics", year=2024, kind="per_inhabitant",
                      annual_cost="500", population_year=1999)
    with pytest.raises(BillingError, match="sans population municipale 1999"):
        issuing.billing_issue(year=2024)
    assert not Invoice.objects.exists()
    assert not BillingRun.objects.exists()
    assert not InvoiceSequence.objects.filter(last_number__gt=0).exists()


def test_issued_invoices_cannot_be_rewritten_or_deleted(rules_2024):
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.first()
    for statement in ("UPDATE billing_invoice SET total = 1 WHERE id = %s",
                      "UPDATE billing_invoice SET number = 'X' WHERE id = %s",
                      "DELETE FROM billing_invoice WHERE id = %s",
                      "UPDATE billing_invoiceline SET amount = 0 WHERE invoice_id = %s",
                      "DELETE FROM billing_invoiceline WHERE invoice_id = %s"):
        with pytest.raises((IntegrityError, InternalError), match="billing"), \
                transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [invoice.pk])
    invoice.refresh_from_db()
    assert invoice.total > 0


def test_send_contest_within_eight_jours_francs_correct_and_pay(rules_2024):
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.get(insee_code="69259")
    sent_at = timezone.make_aware(datetime.datetime(2024, 9, 20, 10, 0))
    invoice = issuing.invoice_send(invoice=invoice, when=sent_at)
    assert invoice.due_on == datetime.date(2024, 10, 20)

    # Sent on Friday 20, received on Saturday 21: 8 jours francs run from the 22nd to the
    # 29th, and the commune may still contest on Monday 30.
    with pytest.raises(BillingError, match="a expiré le 30/09/2024 .8 jours francs"):
        issuing.invoice_contest(invoice=invoice, reason="population", today=datetime.date(
            2024, 10, 1))
    invoice = issuing.invoice_contest(invoice=invoice, reason="Population 2023 erronée",
                                      today=datetime.date(2024, 9, 30))
    assert invoice.status == Invoice.Status.CONTESTED

    credit, replacement = issuing.invoice_correct(
        invoice=invoice, lines=[("regies", "Contribution 2024 — Régies", "1000.00"),
                                ("e-administration", "Contribution 2024 — E-admin.", "2500")],
        reason="Population 2023 erronée")
    assert (credit.number, replacement.number) == ("2024-000003", "2024-000004")
    assert credit.total == -invoice.total
    assert replacement.total == Decimal("3500.00")
    assert sum(line.amount for line in credit.lines.all()) == -invoice.total
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CORRECTED

    replacement = issuing.invoice_send(invoice=replacement,
                                       when=sent_at + datetime.timedelta(days=10))
    assert is_overdue(replacement, today=datetime.date(2024, 11, 1))
    paid = issuing.invoice_mark_paid(invoice=replacement)
    assert paid.status == Invoice.Status.PAID
    assert not is_overdue(paid, today=datetime.date(2024, 11, 1))
    with pytest.raises(BillingError, match="ne peut pas être corrigé"):
        issuing.invoice_correct(invoice=paid, lines=[], reason="x")


def test_contest_needs_a_reason_and_a_sent_invoice(rules_2024):
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.first()
    with pytest.raises(BillingError, match="seul un titre transmis"):
        issuing.invoice_contest(invoice=invoice, reason="trop cher")
    issuing.invoice_send(invoice=invoice)
    with pytest.raises(BillingError, match="motif"):
        issuing.invoice_contest(invoice=invoice, reason="  ")


def test_two_runs_at_once_issue_the_year_once(committed):
    CommuneModule.objects.update(starts_on=datetime.date(2031, 1, 1))
    services.rule_set(module="regies", year=2031, kind="flat", flat_amount="10")
    outcomes: list[str] = []

    def run() -> None:
        try:
            issuing.billing_issue(year=2031)
            outcomes.append("issued")
        except BillingError:
            outcomes.append("refused")
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["issued", "refused", "refused"]
        numbers = list(Invoice.objects.filter(year=2031).order_by("number")
                       .values_list("number", flat=True))
        assert numbers == [f"2031-{n:06d}" for n in range(1, Commune.objects.count() + 1)]
    finally:
        wipe_billing()
        CommuneModule.objects.update(starts_on=timezone.localdate())


def test_the_contest_deadline_moves_past_a_friday_holiday_and_the_weekend(rules_2024):
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.get(insee_code="69259")
    # Sent Tuesday 28 April 2026, received Wednesday 29: 8 jours francs would end on
    # Friday 8 May (Victoire 1945, a public holiday), then the weekend: Monday 11 May.
    invoice = issuing.invoice_send(
        invoice=invoice, when=timezone.make_aware(datetime.datetime(2026, 4, 28, 16, 0)))
    assert invoice.contest_deadline == datetime.date(2026, 5, 11)
    with pytest.raises(BillingError, match="a expiré le 11/05/2026"):
        issuing.invoice_contest(invoice=invoice, reason="trop tard",
                                today=datetime.date(2026, 5, 12))
    invoice = issuing.invoice_contest(invoice=invoice, reason="Population erronée",
                                      today=datetime.date(2026, 5, 11))
    assert invoice.status == Invoice.Status.CONTESTED
