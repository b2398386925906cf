"""What is owed to a régie on a day: the invoices past their due date and still unpaid,
their age in buckets (0–30, 31–60, 61–90, more than 90 days past due), the totals per
payer and per bucket, and the same in CSV and ODS."""

import datetime
import io
import zipfile
from decimal import Decimal

import pytest

from opsn.regies.exports import owed_csv, owed_ods
from opsn.regies.models import Invoice
from opsn.regies.owed import by_payer, past_due, summary
from opsn.regies.services import invoicing
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import ADMIN, TITULAIRE, make_payer, make_regie

ON = datetime.date(2026, 12, 1)


def issue(regie, payer, amount: str, *, days_late: int, number: str) -> Invoice:
    due = ON - datetime.timedelta(days=days_late)
    return invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, number=number,
                                   issued_on=due - datetime.timedelta(days=30), due_on=due,
                                   lines=[invoicing.line_draft(label="Repas",
                                                               unit_price=amount)])


@pytest.fixture
def owed_regie(venissieux):
    """Martin owes four invoices of every age (one partly paid), Diallo one; a paid, a
    cancelled and a not-yet-due invoice owe nothing."""
    with in_schema(venissieux):
        regie = make_regie()
        martin = make_payer(regie, "Famille Martin", external_ref="FAM-1")
        diallo = make_payer(regie, "=Famille Diallo", external_ref="FAM-2")
        issue(regie, martin, "10.00", days_late=1, number="F-01")      # first day late
        issue(regie, martin, "20.00", days_late=30, number="F-30")
        partly = issue(regie, martin, "40.00", days_late=31, number="F-31")
        payment_record(regie=regie, actor=TITULAIRE, amount="15.00", mode="cash",
                       payer=martin, invoices=[partly])
        issue(regie, martin, "80.00", days_late=91, number="F-91")
        issue(regie, diallo, "5.50", days_late=90, number="F-90")
        paid = issue(regie, diallo, "7.00", days_late=45, number="F-PAID")
        payment_record(regie=regie, actor=TITULAIRE, amount="7.00", mode="cash",
                       payer=diallo, invoices=[paid])
        cancelled = issue(regie, diallo, "9.00", days_late=60, number="F-CANC")
        invoicing.invoice_cancel(invoice=cancelled, actor=ADMIN, reason="erreur")
        issue(regie, diallo, "100.00", days_late=0, number="F-TODAY")  # due today: not late
        return regie


def test_the_invoices_past_due_with_their_age(venissieux, owed_regie):
    with in_schema(venissieux):
        rows = [(i.number, i.days_late, i.bucket, i.owed) for i in past_due(owed_regie, ON)]
        assert rows == [("F-91", 91, "90+", Decimal("80.00")),
                        ("F-90", 90, "61-90", Decimal("5.50")),
                        ("F-31", 31, "31-60", Decimal("25.00")),
                        ("F-30", 30, "0-30", Decimal("20.00")),
                        ("F-01", 1, "0-30", Decimal("10.00"))]


def test_the_totals_per_bucket_and_per_payer(venissieux, owed_regie):
    with in_schema(venissieux):
        found = summary(owed_regie, ON)
        assert [(b.label, b.count, b.total) for b in found.buckets] == [
            ("0 à 30 jours", 2, Decimal("30.00")), ("31 à 60 jours", 1, Decimal("25.00")),
            ("61 à 90 jours", 1, Decimal("5.50")), ("plus de 90 jours", 1, Decimal("80.00"))]
        assert (found.count, found.total) == (5, Decimal("140.50"))
        assert [(b.label, share) for b, share in found.shares()] == [
            ("0 à 30 jours", 37), ("31 à 60 jours", 31), ("61 à 90 jours", 6),
            ("plus de 90 jours", 100)]
        payers = [(p.name, p.count, p.by_bucket, p.total) for p in by_payer(owed_regie, ON)]
        assert payers == [
            ("Famille Martin", 4, [Decimal("30.00"), Decimal("25.00"), Decimal("0.00"),
                                   Decimal("80.00")], Decimal("135.00")),
            ("=Famille Diallo", 1, [Decimal("0.00"), Decimal("0.00"), Decimal("5.50"),
                                    Decimal("0.00")], Decimal("5.50"))]
        # a day later, F-TODAY is late, F-30 is 31 days late and F-90 more than 90
        later = summary(owed_regie, ON + datetime.timedelta(days=1))
        assert [b.count for b in later.buckets] == [2, 2, 0, 2]


def test_nothing_owed(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        found = summary(regie, ON)
        assert (found.count, found.total, [b.total for b in found.buckets]) == (
            0, Decimal("0.00"), [Decimal("0.00")] * 4)
        assert [share for _, share in found.shares()] == [0, 0, 0, 0]


def test_the_csv_export(venissieux, owed_regie):
    with in_schema(venissieux):
        text = owed_csv(owed_regie, ON)
    assert text.startswith("\ufeffrubrique;facture;payeur;code_rattachement;reference;")
    lines = text.splitlines()
    assert lines[1].startswith("facture;F-91;Famille Martin;")
    assert lines[1].endswith(";FAM-1;02/08/2026;01/09/2026;91;plus de 90 jours;80,00;0,00;"
                             "80,00")
    assert any(line.startswith("facture;F-90;'=Famille Diallo;") for line in lines)
    assert lines[-5:] == ["tranche;;;;;;;;0 à 30 jours;;;30,00",
                          "tranche;;;;;;;;31 à 60 jours;;;25,00",
                          "tranche;;;;;;;;61 à 90 jours;;;5,50",
                          "tranche;;;;;;;;plus de 90 jours;;;80,00",
                          "total;;;;;;;;;;;140,50"]


def test_the_ods_export(venissieux, owed_regie):
    with in_schema(venissieux):
        content = owed_ods(owed_regie, ON)
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    xml = archive.read("content.xml").decode()
    for sheet in ("Factures", "Payeurs", "Tranches"):
        assert f'table:name="{sheet}"' in xml
    assert 'office:value-type="float" office:value="135.00"' in xml  # Martin, a number
    assert 'office:date-value="2026-09-01"' in xml  # F-91's due date, a date
    assert ">=Famille Diallo<" in xml  # text stays text: no formula in a typed cell
