"""Rules the database and the application both need, written once in each language, and
checked here to agree on a table of cases:

- « this agent is appointed to this régie on that day »: the SQL function
  ``regies_appointed_on`` (the posting statement, the API's first query, the long way's
  reads under the lock) and ``Assignment.objects.appointed_on`` (permissions, pages, API);
- a receipt's label: ``regies_receipt_label`` (the audit lines the posting statement
  writes) and ``receipt_label`` (``LedgerEntry.receipt``, documents, pages, the citizen's
  statement).

The receipt counter is written once, in SQL only (``regies_take_receipt_numbers``)."""

import datetime

import pytest
from django.utils import timezone

from opsn.audit.models import AuditEvent
from opsn.kernel.tenancy import connection
from opsn.regies import permissions, selectors
from opsn.regies.models import (
    Assignment,
    AssignmentRole,
    LedgerEntry,
    ReceiptCounter,
    StandIn,
    receipt_label,
)
from opsn.regies.services import payments
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import MANDATAIRE, make_payer, make_regie

DAY = datetime.date(2026, 3, 15)
BEFORE, AFTER = DAY - datetime.timedelta(days=1), DAY + datetime.timedelta(days=1)
LONG_AGO, LATER = DAY - datetime.timedelta(days=100), DAY + datetime.timedelta(days=100)

# account: role, its appointments [starts_on, ends_on[ in the régie, appointed on DAY?
APPOINTMENTS = {
    "titulaire@": (AssignmentRole.TITULAIRE, [(LONG_AGO, None)], True),
    "suppleant@": (AssignmentRole.SUPPLEANT, [(LONG_AGO, None)], True),
    "starts-that-day@": (AssignmentRole.MANDATAIRE, [(DAY, None)], True),
    "starts-the-day-after@": (AssignmentRole.MANDATAIRE, [(AFTER, None)], False),
    "started-the-day-before@": (AssignmentRole.MANDATAIRE, [(BEFORE, None)], True),
    "ends-that-day@": (AssignmentRole.MANDATAIRE, [(LONG_AGO, DAY)], False),
    "ends-the-day-after@": (AssignmentRole.MANDATAIRE, [(LONG_AGO, AFTER)], True),
    "ended-the-day-before@": (AssignmentRole.MANDATAIRE, [(LONG_AGO, BEFORE)], False),
    "that-day-only@": (AssignmentRole.MANDATAIRE, [(DAY, AFTER)], True),
    "away-that-day@": (AssignmentRole.MANDATAIRE, [(LONG_AGO, DAY), (AFTER, None)], False),
    "back-that-day@": (AssignmentRole.MANDATAIRE, [(LONG_AGO, BEFORE), (DAY, LATER)], True),
    "former-titulaire@": (AssignmentRole.TITULAIRE, [(LONG_AGO, BEFORE)], False),
    # A recorded stand-in gives the suppléant the titulaire's powers, not an appointment.
    "stands-in-only@": (AssignmentRole.SUPPLEANT, [(LONG_AGO, BEFORE)], False),
    "another-regie-only@": (AssignmentRole.MANDATAIRE, [], False),
}


def _appoint_all():
    regie = make_regie("R-RULE", staff=False)
    other = make_regie("R-OTHER", staff=False)
    Assignment.objects.filter(regie__in=[regie, other]).delete()
    for account, (role, periods, _) in APPOINTMENTS.items():
        for starts_on, ends_on in periods:
            Assignment.objects.create(regie=regie, account=account, role=role,
                                      starts_on=starts_on, ends_on=ends_on, granted_by="test")
    Assignment.objects.create(regie=other, account="another-regie-only@",
                              role=AssignmentRole.MANDATAIRE, starts_on=LONG_AGO,
                              granted_by="test")
    StandIn.objects.create(regie=regie, account="stands-in-only@", starts_on=BEFORE,
                           ends_on=AFTER, recorded_by="test")
    return regie, other


def _sql_appointed(regie, account, day) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT FROM regies_appointed_on(%s) a "
                       "WHERE a.regie_id = %s AND a.account = %s)", [day, regie.pk, account])
        return cursor.fetchone()[0]


def test_sql_and_python_agree_on_who_is_appointed_on_a_day(venissieux):
    with in_schema(venissieux):
        regie, other = _appoint_all()
        expected = {account: appointed for account, (_, _, appointed) in APPOINTMENTS.items()}
        python = {a: Assignment.objects.appointed_on(DAY).filter(regie=regie, account=a).exists()
                  for a in APPOINTMENTS}
        sql = {a: _sql_appointed(regie, a, DAY) for a in APPOINTMENTS}
        assert python == expected
        assert sql == expected
        for day in (LONG_AGO, BEFORE, DAY, AFTER, LATER):
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM regies_appointed_on(%s)", [day])
                in_sql = {row[0] for row in cursor.fetchall()}
            in_python = set(Assignment.objects.appointed_on(day).values_list("pk", flat=True))
            assert in_sql == in_python, day
        # What the services and pages ask goes through the rule.
        assert {a for a in APPOINTMENTS if permissions.may_collect(regie, a, DAY)} == {
            a for a, appointed in expected.items() if appointed}
        assert permissions.may_collect(other, "another-regie-only@", DAY)


def test_the_regies_an_agent_collects_for_leave_out_an_ended_appointment(venissieux):
    """The régies listed to an agent (home page, the API's list) are those where one of
    their own appointments is in force that day, not another agent's."""
    with in_schema(venissieux):
        _appoint_all()
        listed = {a: [r.number for r in selectors.regies_of(a, DAY).order_by("number")]
                  for a in APPOINTMENTS}
        expected = {a: ["R-RULE"] if appointed else []
                    for a, (_, _, appointed) in APPOINTMENTS.items()}
        expected["another-regie-only@"] = ["R-OTHER"]
        assert listed == expected


@pytest.mark.parametrize("year, number, label", [
    (2026, 1, "2026-000001"),
    (2026, 42, "2026-000042"),
    (2026, 999999, "2026-999999"),
    (2026, 1000000, "2026-1000000"),
    (2027, 1, "2027-000001"),
    (1999, 123456789, "1999-123456789"),
])
def test_sql_and_python_write_a_receipt_alike(venissieux, year, number, label):
    with in_schema(venissieux), connection.cursor() as cursor:
        cursor.execute("SELECT regies_receipt_label(%s, %s)", [year, number])
        assert cursor.fetchone()[0] == receipt_label(year, number) == label


def _take(regie, year, count) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT regies_take_receipt_numbers(%s, %s, %s)", [regie.pk, year, count])
        return cursor.fetchone()[0]


def test_the_counter_gives_consecutive_numbers_per_regie_and_year(venissieux):
    with in_schema(venissieux):
        regie = make_regie("R-COUNT", staff=False)
        other = make_regie("R-COUNT-2", staff=False)
        assert _take(regie, 2026, 1) == 1
        assert _take(regie, 2026, 3) == 2  # 2, 3, 4
        assert _take(regie, 2026, 1) == 5
        assert _take(other, 2026, 1) == 1  # each régie its own
        assert _take(regie, 2027, 2) == 1  # a new year starts again
        assert _take(regie, 2026, 1) == 6
        ReceiptCounter.objects.filter(regie=regie, year=2026).update(last_number=999998)
        assert _take(regie, 2026, 1) == 999999
        assert _take(regie, 2026, 1) == 1000000
        assert dict(ReceiptCounter.objects.filter(regie=regie).values_list(
            "year", "last_number")) == {2026: 1000000, 2027: 2}


@pytest.mark.parametrize("way", ["short", "long"])
def test_past_the_millionth_receipt_the_journal_and_the_audit_line_agree(venissieux,
                                                                          monkeypatch, way):
    """The entry's receipt (Python) and its audit line's (written by the database) are the
    same text, six digits and beyond."""
    if way == "long":
        monkeypatch.setattr(payments, "SHORT_WAY_MAX", 0)
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["card"])
        payer = make_payer(regie)
        year = timezone.localdate().year
        ReceiptCounter.objects.create(regie=regie, year=year, last_number=999998)
        receipts = []
        for ref in ("CB-1", "CB-2"):
            entry = payment_record(regie=regie, actor=MANDATAIRE, amount="5", mode="card",
                                   payer=payer, details={"terminal_ref": ref})
            line = AuditEvent.objects.get(code="payment.recorded", target=f"entry:{entry.pk}")
            assert line.data["receipt"] == entry.receipt
            assert entry.receipt in line.summary
            receipts.append(LedgerEntry.objects.get(pk=entry.pk).receipt)
        assert receipts == [f"{year}-999999", f"{year}-1000000"]
