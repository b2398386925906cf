"""The cash desk: daily closing, deposits to the public accountant, the funds held and
the warnings; merging two régies."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from opsn.agents.models import AgentRole, Role
from opsn.regies import selectors
from opsn.regies.chain import verify_chain
from opsn.regies.errors import Duplicate, Refused, RegieError
from opsn.regies.models import (
    Assignment,
    ClosingLine,
    Deposit,
    Invoice,
    LedgerEntry,
    Payer,
    Product,
    Regie,
)
from opsn.regies.services import cashdesk, founding, merge
from opsn.regies.services.payments import payment_record, payment_reverse
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    SUPPLEANT,
    TITULAIRE,
    make_invoice,
    make_payer,
    make_regie,
)


def takings(regie, payer):
    payment_record(regie=regie, actor=MANDATAIRE, amount="12.50", mode="cash", payer=payer)
    payment_record(regie=regie, actor=MANDATAIRE, amount="7.50", mode="cash", payer=payer)
    payment_record(regie=regie, actor=TITULAIRE, amount="45", mode="cheque", payer=payer,
                   details={"cheque_number": "8812", "bank": "Crédit Agricole"})
    payment_record(regie=regie, actor=TITULAIRE, amount="30", mode="card", payer=payer,
                   details={"terminal_ref": "T-77"})


def test_the_daily_closing_compares_counted_and_expected_and_closes_the_day(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        takings(regie, payer)
        with pytest.raises(RegieError, match="Écart de -0,50 € \\(espèces\\) : indiquez-en le "
                                             "motif"):
            cashdesk.day_close(regie=regie, actor=TITULAIRE,
                               counted={"cash": "19.50", "cheque": "45", "card": "30"})
        with pytest.raises(RegieError, match="Indiquez le montant compté \\(chèque\\)"):
            cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={"cash": "20"})
        closing = cashdesk.day_close(
            regie=regie, actor=TITULAIRE, counted={"cash": "19,50", "cheque": "45", "card": "30"},
            reasons={"cash": "pièce de 50 centimes introuvable"})
        lines = {line.mode: line for line in closing.lines.all()}
        assert (lines["cash"].entries, lines["cash"].expected, lines["cash"].counted,
                lines["cash"].difference) == (2, Decimal("20.00"), Decimal("19.50"),
                                              Decimal("-0.50"))
        assert lines["cheque"].difference == 0 and lines["cheque"].reason == ""

        with pytest.raises(Refused, match="est arrêtée"):
            payment_record(regie=regie, actor=TITULAIRE, amount="5", mode="cash", payer=payer)
        with pytest.raises(Refused, match="est arrêtée"):
            payment_reverse(entry=LedgerEntry.objects.first(), actor=TITULAIRE, reason="x")
        with pytest.raises(Duplicate, match="déjà arrêtée"):
            cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={})
        with pytest.raises((IntegrityError, InternalError), match="never changed"), \
                transaction.atomic():
            ClosingLine.objects.filter(closing=closing).update(counted=20)


def test_only_the_titulaire_closes_the_day(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        for actor in (MANDATAIRE, SUPPLEANT, ADMIN):
            with pytest.raises(RegieError, match="Seul le régisseur titulaire"):
                cashdesk.day_close(regie=regie, actor=actor, counted={})
        with pytest.raises(RegieError, match="pas avant"):
            cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={},
                               day=timezone.localdate() + datetime.timedelta(days=1))


def test_a_deposit_covers_everything_since_the_last_one_by_mode(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        takings(regie, payer)
        assert selectors.held_in_hand(regie) == Decimal("65.00")
        first = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        assert (first.slip, first.total) == (f"V{timezone.localdate().year}-0001",
                                             Decimal("95.00"))
        assert {line.mode: (line.entries, line.amount) for line in first.lines.all()} == {
            "cash": (2, Decimal("20.00")), "cheque": (1, Decimal("45.00")),
            "card": (1, Decimal("30.00"))}
        assert selectors.held_in_hand(regie) == 0
        assert set(selectors.holdings(regie).values()) == {Decimal("0.00")}
        with pytest.raises(Refused, match="Rien à verser"):
            cashdesk.deposit_make(regie=regie, actor=TITULAIRE)

        later = payment_record(regie=regie, actor=TITULAIRE, amount="8", mode="cash",
                               payer=payer)
        second = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        assert (second.number, second.first_entry, second.last_entry, second.total) == (
            2, later, later, Decimal("8.00"))


def test_holdings_always_equal_the_journal_minus_deposits(venissieux):
    """The database keeps the holdings; recompute them from scratch and compare."""
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        takings(regie, payer)
        cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        takings(regie, payer)
        payment_reverse(entry=LedgerEntry.objects.last(), actor=TITULAIRE, reason="erreur")
        posted = dict(LedgerEntry.objects.filter(regie=regie).values("mode")
                      .annotate(s=Sum("amount")).values_list("mode", "s"))
        deposited = dict(Deposit.objects.filter(regie=regie).values("lines__mode")
                         .annotate(s=Sum("lines__amount")).values_list("lines__mode", "s"))
        expected = {m: posted[m] - deposited.get(m, 0) for m in posted}
        assert selectors.holdings(regie) == expected == {
            "cash": Decimal("20.00"), "cheque": Decimal("45.00"), "card": Decimal("0.00")}


def test_warnings_at_80_percent_at_the_maximum_and_when_a_deposit_is_late(venissieux):
    with in_schema(venissieux):
        regie = make_regie(cash_limit="250", deposit_period_days=7)
        payer = make_payer(regie)
        assert selectors.warnings(regie) == []
        payment_record(regie=regie, actor=TITULAIRE, amount="200", mode="cash", payer=payer)
        assert [w.code for w in selectors.warnings(regie)] == ["cash_limit_near"]
        assert "80 % du maximum" in selectors.warnings(regie)[0].message.replace("\u202f", " ")
        payment_record(regie=regie, actor=TITULAIRE, amount="50", mode="cash", payer=payer)
        assert [w.code for w in selectors.warnings(regie)] == ["cash_limit_reached"]
        in_ten_days = timezone.now() + datetime.timedelta(days=10)
        assert [w.code for w in selectors.warnings(regie, now=in_ten_days)] == [
            "cash_limit_reached", "deposit_overdue"]
        cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
        assert selectors.warnings(regie, now=in_ten_days) == []


def test_a_merge_moves_products_payers_open_invoices_and_appointments(venissieux):
    with in_schema(venissieux):
        enfance = make_regie("R-ENF", "Enfance")
        cantine = make_regie("R-CAN", "Cantine", staff=False)
        founding.product_save(regie=cantine, actor=ADMIN, code="repas", name="Repas",
                              unit_price="3.85")
        payer = make_payer(cantine)
        settled, open_ = make_invoice(cantine, payer, "20"), make_invoice(cantine, payer, "30")
        entry = payment_record(regie=cantine, actor=TITULAIRE, amount="20", mode="cash",
                               invoices=[settled])
        with pytest.raises(Refused, match="détient encore 20,00 € non versés"):
            merge.regie_merge(absorbed=cantine, surviving=enfance, actor=ADMIN)
        cashdesk.deposit_make(regie=cantine, actor=TITULAIRE)

        done = merge.regie_merge(absorbed=cantine, surviving=enfance, actor=ADMIN)
        assert done.moved == {"products": 1, "payers": 1, "invoices": 1, "assignments": 0}
        cantine.refresh_from_db()
        assert (cantine.ends_on, cantine.merged_into) == (timezone.localdate(), enfance)
        assert Product.objects.get().regie == enfance and Payer.objects.get().regie == enfance
        assert {i.number: i.regie for i in Invoice.objects.all()} == {
            settled.number: cantine, open_.number: enfance}
        # the closed régie's journal stays, verifiable, its receipts keep their numbers
        assert verify_chain(cantine) is None
        assert LedgerEntry.objects.get(regie=cantine).receipt == entry.receipt
        with pytest.raises(Refused, match="n'est pas ouverte"):
            payment_record(regie=cantine, actor=TITULAIRE, amount="5", mode="cash",
                           payer=payer)
        again = payment_record(regie=enfance, actor=TITULAIRE, amount="30", mode="cash",
                               invoices=[open_])
        assert again.regie == enfance and again.receipt_number == 1


def test_a_merge_keeps_the_surviving_titulaire_and_refuses_clashing_products(venissieux):
    with in_schema(venissieux):
        surviving = make_regie("R-A", "Enfance", staff=False)
        absorbed = make_regie("R-B", "Cantine", staff=False)

        Assignment.objects.filter(regie=absorbed).delete()  # a titulaire of its own
        founding.assignment_grant(regie=absorbed, actor=ADMIN, account=SUPPLEANT.account,
                                  role="titulaire", starts_on=datetime.date(2020, 1, 1))
        for regie in (surviving, absorbed):
            founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                                  unit_price="4")
        with pytest.raises(Refused, match="même code \\(repas\\)"):
            merge.regie_merge(absorbed=absorbed, surviving=surviving, actor=ADMIN)
        founding.product_save(regie=absorbed, actor=ADMIN, code="repas", name="Repas",
                              unit_price="4", is_active=False)
        Product.objects.filter(regie=absorbed).update(code="repas-cantine")
        merge.regie_merge(absorbed=absorbed, surviving=surviving, actor=ADMIN)
        roles = dict(surviving.assignments.filter(ends_on__isnull=True)
                     .values_list("account", "role"))
        assert roles == {TITULAIRE.account: "titulaire", SUPPLEANT.account: "mandataire"}
        with pytest.raises(RegieError, match="elle-même"):
            merge.regie_merge(absorbed=surviving, surviving=surviving, actor=ADMIN)
        assert Regie.objects.get(pk=absorbed.pk).merged_into == surviving


def test_the_holdings_table_cannot_drift_from_a_bulk_write(venissieux):
    """A direct write to the journal (a COPY, a migration) keeps the holdings too."""
    with in_schema(venissieux):
        regie = make_regie()
        with connection.cursor() as cursor:
            cursor.execute("""INSERT INTO regies_ledgerentry (regie_id, year, receipt_number,
                amount, mode, payer_name, details, agent, posted_at, reason)
                VALUES (%s, 2026, 1, 10, 'cash', 'X', '{}', 'a', now(), ''),
                       (%s, 2026, 2, 5, 'cash', 'X', '{}', 'a', now(), '')""",
                           [regie.pk, regie.pk])
        assert selectors.holdings(regie) == {"cash": Decimal("15.00")}
        assert verify_chain(regie) is None


def test_a_merge_on_the_day_an_appointment_starts_moves_it_whole(venissieux):
    """An agent appointed to the absorbed régie from the merge day (or later) never served
    it: the appointment moves to the surviving régie with its own start, instead of ending
    on the day it starts (an empty period the database refuses: a 500 before)."""
    with in_schema(venissieux):
        surviving = make_regie("R-A", "Enfance")
        absorbed = make_regie("R-B", "Cantine", staff=False)
        today = timezone.localdate()
        for account in ("nouvelle@venissieux.fr", "future@venissieux.fr"):
            AgentRole.objects.create(account=account, role=Role.MANDATAIRE)
        founding.assignment_grant(regie=absorbed, actor=ADMIN, account="nouvelle@venissieux.fr",
                                  role="mandataire", starts_on=today)
        founding.assignment_grant(regie=absorbed, actor=ADMIN, account="future@venissieux.fr",
                                  role="mandataire",
                                  starts_on=today + datetime.timedelta(days=7))
        founding.assignment_grant(regie=absorbed, actor=ADMIN, account=MANDATAIRE.account,
                                  role="mandataire", starts_on=today)

        done = merge.regie_merge(absorbed=absorbed, surviving=surviving, actor=ADMIN)

        assert done.moved["assignments"] == 2
        open_ = {a.account: (a.role, a.starts_on)
                 for a in surviving.assignments.filter(ends_on__isnull=True)}
        assert open_["nouvelle@venissieux.fr"] == ("mandataire", today)
        assert open_["future@venissieux.fr"] == (
            "mandataire", today + datetime.timedelta(days=7))
        assert not Assignment.objects.filter(regie=absorbed, ends_on__isnull=True).exists()
        assert Assignment.objects.filter(account=MANDATAIRE.account,
                                         ends_on__isnull=True).count() == 1
