"""Payments in every mode, allocated to invoices or sales, partial payments and credit
exact to the cent, and everything a régie must refuse."""

from decimal import Decimal

import pytest

from opsn.audit.models import AuditEvent
from opsn.regies.errors import Duplicate, NotFound, Refused, RegieError
from opsn.regies.models import Allocation, Invoice, LedgerEntry
from opsn.regies.selectors import holdings
from opsn.regies.services import founding
from opsn.regies.services.payments import (
    PaymentDraft,
    credit_apply,
    credit_of,
    payment_record,
    payment_reverse,
    payments_post,
)
from tests.helpers.communes import in_schema
from tests.helpers.regies import ADMIN, MANDATAIRE, TITULAIRE, make_invoice, make_payer, make_regie


def paid(invoice: Invoice) -> tuple[str, Decimal]:
    invoice.refresh_from_db()
    return invoice.status, invoice.amount_paid


def test_one_payment_settles_several_invoices_and_the_rest_becomes_credit(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        october, november = make_invoice(regie, payer, "45.10"), make_invoice(regie, payer,
                                                                              "30.00")
        entry = payment_record(regie=regie, actor=TITULAIRE, amount="100,00", mode="cheque",
                               invoices=[october, november],
                               details={"cheque_number": "0012345", "bank": "La Banque Postale"})
        assert entry.payer == payer and entry.payer_name == "Famille Martin"
        assert paid(october) == ("paid", Decimal("45.10"))
        assert paid(november) == ("paid", Decimal("30.00"))
        assert credit_of(payer) == Decimal("24.90")
        december = make_invoice(regie, payer, "32.40")
        assert credit_apply(invoice=december, actor=TITULAIRE) == Decimal("24.90")
        assert paid(december) == ("partly_paid", Decimal("24.90"))
        assert credit_of(payer) == 0


def test_a_partial_payment_leaves_the_invoice_partly_paid(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        invoice = make_invoice(regie, make_payer(regie), "45.00")
        payment_record(regie=regie, actor=MANDATAIRE, amount="0.01", mode="cash",
                       invoices=[invoice])
        assert paid(invoice) == ("partly_paid", Decimal("0.01"))
        payment_record(regie=regie, actor=MANDATAIRE, amount="44.99", mode="card",
                       invoices=[invoice], details={"terminal_ref": "TPE-000981"})
        assert paid(invoice) == ("paid", Decimal("45.00"))


def test_allocations_by_amount_and_invoices_of_another_payer(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        martin, diallo = make_payer(regie), make_payer(regie, "Famille Diallo")
        a, b = make_invoice(regie, martin, "40.00"), make_invoice(regie, martin, "40.00")
        other = make_invoice(regie, diallo, "10.00")
        payment_record(regie=regie, actor=TITULAIRE, amount="50", mode="transfer",
                       allocations={a.number: "10", b.number: "40"})
        assert paid(a) == ("partly_paid", Decimal("10.00"))
        assert paid(b) == ("paid", Decimal("40.00"))
        with pytest.raises(RegieError, match="adressée à un autre payeur"):
            payment_record(regie=regie, actor=TITULAIRE, amount="40", mode="cash",
                           invoices=[a, other])
        with pytest.raises(RegieError, match="adressée à un autre payeur"):
            payment_record(regie=regie, actor=TITULAIRE, amount="10", mode="cash", payer=martin,
                           invoices=[other])
        with pytest.raises(RegieError, match="ne doit plus que 30,00 €"):
            payment_record(regie=regie, actor=TITULAIRE, amount="35", mode="cash",
                           allocations={a.number: "35"})
        with pytest.raises(RegieError, match="déjà payée"):
            payment_record(regie=regie, actor=TITULAIRE, amount="5", mode="cash",
                           invoices=[b])
        with pytest.raises(NotFound, match="Aucune facture F-404"):
            payment_record(regie=regie, actor=TITULAIRE, amount="5", mode="cash",
                           allocations={"F-404": "5"})
        assert LedgerEntry.objects.count() == 1


def test_a_sale_at_the_counter_needs_no_payer_record(venissieux):
    with in_schema(venissieux):
        regie = make_regie("R-PISC", "Piscine")
        entree = founding.product_save(regie=regie, actor=ADMIN, code="entree",
                                       name="Entrée adulte", unit_price="3.50")
        entry = payment_record(regie=regie, actor=MANDATAIRE, amount="10.50", mode="cash",
                               payer_name="Client au guichet", sales=[(entree, 3)])
        sale = Allocation.objects.get(entry=entry)
        assert (sale.product, sale.quantity, sale.amount) == (entree, 3, Decimal("10.50"))
        with pytest.raises(RegieError, match="ne sont affectés à rien"):
            payment_record(regie=regie, actor=MANDATAIRE, amount="12.00", mode="cash",
                           payer_name="Client au guichet", sales=[(entree, 3)])
        with pytest.raises(RegieError, match="ne couvre pas les achats"):
            payment_record(regie=regie, actor=MANDATAIRE, amount="7.00", mode="cash",
                           payer_name="Client au guichet", sales=[(entree, 3)])


@pytest.mark.parametrize("mode, details, message", [
    ("cheque", {"bank": "CIC"}, "numéro du chèque"),
    ("cheque", {"cheque_number": "123"}, "la banque"),
    ("card", {}, "référence du ticket"),
    ("other", {}, "une note"),
])
def test_each_mode_asks_for_what_the_receipt_shows(venissieux, mode, details, message):
    with in_schema(venissieux):
        regie = make_regie()
        with pytest.raises(RegieError, match=message):
            payment_record(regie=regie, actor=TITULAIRE, amount="10", mode=mode,
                           payer=make_payer(regie), details=details)


def test_a_float_is_never_an_amount(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        with pytest.raises(RegieError, match="pas de nombre flottant"):
            payment_record(regie=regie, actor=TITULAIRE, amount=0.1 + 0.2, mode="cash",
                           payer=make_payer(regie))


def test_the_same_payment_is_never_posted_twice(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        first = payment_record(regie=regie, actor=TITULAIRE, amount="10", mode="transfer",
                               payer=payer, source="api", external_ref="LOGICIEL-77")
        with pytest.raises(Duplicate, match=f"déjà enregistré \\(quittance {first.receipt}\\)"):
            payment_record(regie=regie, actor=TITULAIRE, amount="10", mode="transfer",
                           payer=payer, source="api", external_ref="LOGICIEL-77")
        drafts = [PaymentDraft(amount="1", mode="cash", payer=payer, external_ref="A", line=2),
                  PaymentDraft(amount="1", mode="cash", payer=payer, external_ref="A", line=3)]
        with pytest.raises(Duplicate, match="Ligne 3 : Le paiement A apparaît deux fois"):
            payments_post(regie=regie, actor=TITULAIRE, drafts=drafts)
        assert LedgerEntry.objects.count() == 1


def test_a_batch_is_all_or_nothing_and_numbered_in_order(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        good = [PaymentDraft(amount=f"{n}.00", mode="card", payer=payer,
                             details={"terminal_ref": f"T{n}"}, line=n) for n in range(1, 4)]
        bad = PaymentDraft(amount="5.555", mode="card", payer=payer,
                           details={"terminal_ref": "T9"}, line=9)
        with pytest.raises(RegieError, match="Ligne 9 : 5.555 € a plus de deux décimales"):
            payments_post(regie=regie, actor=TITULAIRE, drafts=[*good, bad])
        assert not LedgerEntry.objects.exists() and not holdings(regie)
        entries = payments_post(regie=regie, actor=TITULAIRE, drafts=good)
        assert [e.receipt_number for e in entries] == [1, 2, 3]
        assert holdings(regie) == {"card": Decimal("6.00")}


def test_a_reversal_releases_what_the_payment_paid(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        invoice = make_invoice(regie, payer, "45.00")
        entry = payment_record(regie=regie, actor=TITULAIRE, amount="60", mode="cash",
                               invoices=[invoice])
        assert (paid(invoice), credit_of(payer)) == (("paid", 45), 15)
        reversal = payment_reverse(entry=entry, actor=TITULAIRE, reason="Mauvais payeur")
        assert reversal.reverses == entry and reversal.amount == -60
        assert (paid(invoice), credit_of(payer)) == (("due", 0), 0)
        assert holdings(regie) == {"cash": Decimal("0.00")}
        assert AuditEvent.objects.filter(code="payment.reversed").get().summary == (
            f"Annulation de la quittance {entry.receipt} par la quittance {reversal.receipt} "
            ": Mauvais payeur")


def test_an_agent_reverses_their_own_payment_of_the_day_not_a_colleagues(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        mine = payment_record(regie=regie, actor=MANDATAIRE, amount="5", mode="cash",
                              payer=payer)
        theirs = payment_record(regie=regie, actor=TITULAIRE, amount="5", mode="cash",
                                payer=payer)
        payment_reverse(entry=mine, actor=MANDATAIRE, reason="doublon")
        with pytest.raises(RegieError, match="Seul le régisseur titulaire"):
            payment_reverse(entry=theirs, actor=MANDATAIRE, reason="doublon")
        payment_reverse(entry=theirs, actor=TITULAIRE, reason="doublon")


def test_cash_above_the_maximum_waits_for_a_deposit(venissieux):
    with in_schema(venissieux):
        regie = make_regie(cash_limit="500")
        payer = make_payer(regie)
        for _ in range(2):
            payment_record(regie=regie, actor=TITULAIRE, amount="200", mode="cash", payer=payer)
        with pytest.raises(Refused, match="700,00 € avec ce paiement pour un maximum de 500"):
            payment_record(regie=regie, actor=TITULAIRE, amount="300", mode="cash", payer=payer)
        with pytest.raises(Refused, match="versement"):
            payment_record(regie=regie, actor=TITULAIRE, amount="150", mode="cheque",
                           payer=payer, details={"cheque_number": "1", "bank": "CIC"})
        # a card payment reaches the Treasury account directly: no limit
        payment_record(regie=regie, actor=TITULAIRE, amount="900", mode="card", payer=payer,
                       details={"terminal_ref": "T1"})
        payment_record(regie=regie, actor=TITULAIRE, amount="100", mode="cash", payer=payer)
