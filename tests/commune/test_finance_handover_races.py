"""Hand-overs and payments at the same moment, on real concurrent transactions: two
hand-overs never take the same invoice, and a payment racing a hand-over leaves exactly one
outcome (paid at the régie, or handed over — never both, never neither)."""

import datetime
import threading

from opsn.communes.models import Commune
from opsn.finance.errors import FinanceError
from opsn.finance.handover import handover_create
from opsn.finance.models import HandedOverInvoice, UnpaidHandover
from opsn.kernel.tenancy import connection
from opsn.regies.errors import RegieError
from opsn.regies.models import Invoice, LedgerEntry
from opsn.regies.services import founding
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    TITULAIRE,
    make_budget,
    make_invoice,
    make_payer,
    make_regie,
    wipe_regies,
)

DUE = datetime.date(2026, 10, 1)
CUT = datetime.date(2026, 11, 1)


def _books(commune, count: int):
    with in_schema(commune):
        regie = make_regie("R-RACE", accepted_modes=["cash", "card"])
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        payer = make_payer(regie, "Famille Martin", address_line="1 rue Haute",
                           postal_code="69200", city="Vénissieux")
        invoices = [make_invoice(regie, payer, "30.00", number=f"F-{n}", due_on=DUE)
                    for n in range(count)]
    return regie, invoices


def _at_once(commune, *works):
    """Each work on its own connection, released together; what each returned or raised."""
    barrier = threading.Barrier(len(works))
    outcomes: list = [None] * len(works)

    def run(k, work):
        try:
            connection.set_tenant(commune)
            barrier.wait()
            outcomes[k] = work()
        except BaseException as exc:  # the outcome
            outcomes[k] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(k, w)) for k, w in enumerate(works)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_hand_overs_at_once_never_take_the_same_invoice(committed):
    commune = Commune.objects.get(insee_code="69259")
    regie, invoices = _books(commune, 6)
    try:
        by_rule = _at_once(commune, *[
            lambda: handover_create(regie=regie, due_before=CUT, actor=ADMIN)] * 2)
        made = [o for o in by_rule if isinstance(o, UnpaidHandover)]
        refused = [o for o in by_rule if isinstance(o, FinanceError)]
        assert len(made) == 1 and len(refused) == 1, by_rule
        assert "Aucune facture de la régie" in refused[0].message
        with in_schema(commune):
            assert HandedOverInvoice.objects.count() == 6 == made[0].count
        # named invoices that overlap: one hand-over, the other refused naming the invoice
        with in_schema(commune):
            payer = invoices[0].payer
            fresh = [make_invoice(regie, payer, "10.00", number=f"G-{n}", due_on=DUE)
                     for n in range(3)]
        named = _at_once(
            commune,
            lambda: handover_create(regie=regie, due_before=CUT, actor=ADMIN,
                                    invoices=["G-0", "G-1"]),
            lambda: handover_create(regie=regie, due_before=CUT, actor=ADMIN,
                                    invoices=["G-1", "G-2"]))
        made = [o for o in named if isinstance(o, UnpaidHandover)]
        refused = [o for o in named if isinstance(o, FinanceError)]
        assert len(made) == 1 and len(refused) == 1, named
        assert "La facture G-1 est déjà transmise au comptable public" in refused[0].message
        with in_schema(commune):
            taken = list(HandedOverInvoice.objects.filter(invoice__in=fresh)
                         .values_list("invoice__number", flat=True))
            assert len(taken) == len(set(taken)) == 2
            assert UnpaidHandover.objects.count() == 2
    finally:
        with in_schema(commune):
            wipe_regies()


def test_a_payment_racing_a_hand_over_leaves_exactly_one_outcome(committed):
    commune = Commune.objects.get(insee_code="69259")
    regie, _ = _books(commune, 0)
    try:
        for round_ in range(4):
            with in_schema(commune):  # a new unpaid invoice each round, the only one
                payer = make_payer(regie, f"Famille {round_}", address_line="1 rue Haute",
                                   postal_code="69200", city="Vénissieux")
                invoice = make_invoice(regie, payer, "30.00", number=f"R-{round_}", due_on=DUE)

            def pay(invoice=invoice):
                return payment_record(regie=regie, actor=TITULAIRE, amount="30.00",
                                      mode="cash", invoices=[invoice])

            def hand_over():
                return handover_create(regie=regie, due_before=CUT, actor=ADMIN)

            # alternate who is started first: both orders of arrival are exercised
            works = (pay, hand_over) if round_ % 2 else (hand_over, pay)
            outcomes = _at_once(commune, *works)
            unexpected = [o for o in outcomes if isinstance(o, BaseException)
                          and not isinstance(o, RegieError | FinanceError)]
            assert not unexpected, unexpected
            with in_schema(commune):
                state = Invoice.objects.get(pk=invoice.pk)
                handed = HandedOverInvoice.objects.filter(invoice=invoice).exists()
                paid = LedgerEntry.objects.filter(allocations__invoice=invoice).exists()
                assert handed != paid, outcomes  # exactly one outcome
                assert state.status == ("paid" if paid else "due")
                if handed:  # the payment was refused, saying why
                    [refusal] = [o for o in outcomes if isinstance(o, RegieError)]
                    assert "transmise au comptable public" in refusal.message
    finally:
        with in_schema(commune):
            wipe_regies()
