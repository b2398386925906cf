"""The report per régie and period: totals by mode, by product, by agent, that add up to
the net total to the cent, reversals included; its bounds; its CSV."""

import datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from opsn.regies.errors import RegieError
from opsn.regies.exports import regie_report_csv
from opsn.regies.reports import NO_PRODUCT, SEVERAL_PRODUCTS, UNALLOCATED, regie_report
from opsn.regies.services import founding, invoicing
from opsn.regies.services.payments import credit_apply, payment_record, payment_reverse
from tests.helpers.communes import in_schema
from tests.helpers.regies import ADMIN, MANDATAIRE, TITULAIRE, make_invoice, make_payer, make_regie

NOVEMBER = (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(2026, month, day, hour, minute))


def posted_at(moment: datetime.datetime):
    """Everything the services do, as if at ``moment``."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def invoice_of(regie, payer, *lines):
    return invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, lines=list(lines),
                                   issued_on=datetime.date(2026, 10, 1),
                                   due_on=datetime.date(2026, 12, 31))


def a_month_of_takings():
    """Sales at the counter, invoices of one product, of several, of none, a payment to
    the payer's credit, two reversals; and payments just outside November."""
    regie = make_regie(cash_limit="5000")
    repas = founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                                  unit_price="3.85")
    garderie = founding.product_save(regie=regie, actor=ADMIN, code="garderie",
                                     name="Garderie", unit_price="2")
    payer = make_payer(regie)
    meals = invoice_of(regie, payer, invoicing.line_draft(product=repas, quantity="10"))
    mixed = invoice_of(regie, payer, invoicing.line_draft(product=repas, quantity="10"),
                       invoicing.line_draft(product=garderie, quantity="3"))
    plain = make_invoice(regie, payer, "20")
    with posted_at(at(31, 23, 30, month=10)):
        payment_record(regie=regie, actor=MANDATAIRE, amount="12", mode="cash",
                       payer=payer, sales=[(garderie, "6")])
    with posted_at(at(1, 0, 10)):
        payment_record(regie=regie, actor=MANDATAIRE, amount="7.70", mode="cash",
                       payer=payer, sales=[(repas, "2")])
    with posted_at(at(3)):
        cheque = payment_record(regie=regie, actor=TITULAIRE, amount="50", mode="cheque",
                                invoices=[meals],
                                details={"cheque_number": "1", "bank": "La Poste"})
        payment_record(regie=regie, actor=TITULAIRE, amount="30", mode="card",
                       invoices=[mixed], details={"terminal_ref": "T-1"})
    with posted_at(at(12)):
        payment_record(regie=regie, actor=MANDATAIRE, amount="20", mode="cash",
                       invoices=[plain])
        sale = payment_record(regie=regie, actor=MANDATAIRE, amount="4", mode="cash",
                              payer=payer, sales=[(garderie, "2")])
        payment_reverse(entry=sale, actor=MANDATAIRE, reason="erreur de produit")
        payment_record(regie=regie, actor=TITULAIRE, amount="100", mode="transfer",
                       payer=payer)
    with posted_at(at(30, 23, 50)):
        payment_reverse(entry=cheque, actor=TITULAIRE, reason="chèque sans provision")
    with posted_at(at(1, 0, 5, month=12)):
        payment_record(regie=regie, actor=MANDATAIRE, amount="9", mode="cash", payer=payer)
    return regie


def lines_of(breakdown):
    return {line.key: (line.entries, line.total) for line in breakdown}


def test_every_breakdown_adds_up_to_the_net_total(venissieux):
    with in_schema(venissieux):
        regie = a_month_of_takings()
        report = regie_report(regie, *NOVEMBER)
    net = Decimal("7.70") + 50 + 30 + 20 + 4 - 4 + 100 - 50
    assert (report.payments, report.reversals) == (6, 2)
    assert (report.collected, report.reversed, report.net_total) == (
        Decimal("211.70"), Decimal("-54.00"), net)
    assert lines_of(report.by_mode) == {
        "cash": (4, Decimal("27.70")), "cheque": (2, Decimal("0.00")),
        "card": (1, Decimal("30.00")), "transfer": (1, Decimal("100.00"))}
    assert [line.key for line in report.by_mode] == ["cash", "cheque", "card", "transfer"]
    assert lines_of(report.by_agent) == {
        MANDATAIRE.account: (4, Decimal("27.70")), TITULAIRE.account: (4, Decimal("130.00"))}
    assert {line.key: line.label for line in report.by_agent}[MANDATAIRE.account] == \
        "Julie Martin"
    # the cheque paid 38,50 of the meals' invoice (then cancelled), and 11,50 went to
    # credit (then cancelled); the 100 € transfer is credit
    assert lines_of(report.by_product) == {
        "garderie": (2, Decimal("0.00")), "repas": (3, Decimal("7.70")),
        SEVERAL_PRODUCTS: (1, Decimal("30.00")), NO_PRODUCT: (1, Decimal("20.00")),
        UNALLOCATED: (3, Decimal("100.00"))}
    for breakdown in (report.by_mode, report.by_product, report.by_agent):
        assert sum(line.total for line in breakdown) == report.net_total
        assert all(isinstance(line.total, Decimal) for line in breakdown)


def test_the_period_includes_its_first_and_last_days_and_nothing_else(venissieux):
    with in_schema(venissieux):
        regie = a_month_of_takings()
        first_day = regie_report(regie, NOVEMBER[0], NOVEMBER[0])
        last_day = regie_report(regie, NOVEMBER[1], NOVEMBER[1])
        october = regie_report(regie, datetime.date(2026, 10, 31), datetime.date(2026, 10, 31))
        december = regie_report(regie, datetime.date(2026, 12, 1), datetime.date(2026, 12, 1))
        with pytest.raises(RegieError, match="avant son début"):
            regie_report(regie, NOVEMBER[1], NOVEMBER[0])
    assert (first_day.payments, first_day.net_total) == (1, Decimal("7.70"))  # 00:10
    assert (last_day.reversals, last_day.net_total) == (1, Decimal("-50.00"))  # 23:50
    assert october.net_total == Decimal("12.00") and december.net_total == Decimal("9.00")
    # a reversal alone lands, negative, where the payment it cancels went
    assert lines_of(last_day.by_product) == {"repas": (1, Decimal("-38.50")),
                                             UNALLOCATED: (1, Decimal("-11.50"))}


def test_a_credit_applied_later_does_not_rewrite_a_past_period(venissieux):
    with in_schema(venissieux):
        regie = a_month_of_takings()
        before = regie_report(regie, *NOVEMBER)
        later = make_invoice(regie, regie.payers.get(), "60", number="F-LATER")
        with posted_at(at(5, month=12)):  # from the credit of the transfer of 12/11
            assert credit_apply(invoice=later, actor=TITULAIRE) == Decimal("60.00")
        assert regie_report(regie, *NOVEMBER) == before


def test_the_report_is_a_handful_of_queries_whatever_the_volume(venissieux,
                                                                 django_assert_num_queries):
    with in_schema(venissieux):
        regie = a_month_of_takings()
        with django_assert_num_queries(6):
            regie_report(regie, *NOVEMBER)


def test_the_report_csv(venissieux):
    with in_schema(venissieux):
        regie = make_regie(cash_limit="5000")
        repas = founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                                      unit_price="3.85")
        payer = make_payer(regie)
        with posted_at(at(2)):
            payment_record(regie=regie, actor=MANDATAIRE, amount="1500", mode="cheque",
                           payer=payer, sales=[(repas, "4")],
                           details={"cheque_number": "7", "bank": "CIC"})
            wrong = payment_record(regie=regie, actor=MANDATAIRE, amount="2.50", mode="cash",
                                   payer=payer)
            payment_reverse(entry=wrong, actor=MANDATAIRE, reason="erreur")
        csv = regie_report_csv(regie_report(regie, *NOVEMBER))
    assert csv == (
        "\ufeffrubrique;cle;libelle;ecritures;montant\r\n"
        "mode;cash;espèces;2;0,00\r\n"
        "mode;cheque;chèque;1;1500,00\r\n"
        "produit;repas;Repas;1;15,40\r\n"
        "produit;avoir:non-affecte;Non affecté (avoir du payeur);3;1484,60\r\n"
        "agent;caisse@venissieux.fr;Julie Martin;3;1500,00\r\n"
        "total;paiements;Paiements;2;1502,50\r\n"
        "total;annulations;Annulations;1;-2,50\r\n"
        "total;net;Total net;3;1500,00\r\n")
