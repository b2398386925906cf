"""Payers with their link codes, and invoices: exact to the cent, numbered, never
rewritten, cancelled by a traced act."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from opsn.regies.errors import Duplicate, NotAllowed, RegieError
from opsn.regies.models import Invoice, InvoiceLine, Payer
from opsn.regies.selectors import payers_search
from opsn.regies.services import founding, invoicing
from opsn.regies.services.payments import credit_apply, credit_of, payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    STRANGER,
    TITULAIRE,
    make_invoice,
    make_payer,
    make_regie,
)


def test_a_payer_gets_a_link_code_easy_to_read_and_to_type(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Association Les Petits Loups", kind="association",
                           email=" Contact@PetitsLoups.fr ")
        assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}",
                            payer.link_code)
        assert payer.email == "contact@petitsloups.fr"
        typed = payer.link_code.replace("-", " ").lower()
        assert list(payers_search(regie, typed)) == [payer]


@pytest.mark.parametrize("fields, message", [
    ({"name": " "}, "nom du payeur manque"),
    ({"email": "pas-un-courriel"}, "n'est pas une adresse"),
    ({"kind": "martien"}, "Type de payeur inconnu"),
])
def test_a_payer_with_errors_is_refused(venissieux, fields, message):
    with in_schema(venissieux):
        regie = make_regie()
        with pytest.raises(RegieError, match=message):
            make_payer(regie, **{"name": "Famille Diallo", **fields})
        assert not Payer.objects.exists()


def test_find_a_payer_by_name_code_reference_or_invoice_number(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        martin = make_payer(regie, "Famille Martin", external_ref="FAM-0042")
        diallo = make_payer(regie, "Famille Diallo")
        make_invoice(regie, diallo, "20.00", number="F2026-0099")
        assert list(payers_search(regie, "martin")) == [martin]
        assert list(payers_search(regie, "fam-0042")) == [martin]
        assert list(payers_search(regie, "F2026-0099")) == [diallo]
        assert list(payers_search(regie, "famille")) == [diallo, martin]


def test_an_invoice_adds_up_its_lines_to_the_cent(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        repas = founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                                      unit_price="3.85")
        payer = make_payer(regie)
        invoice = invoicing.invoice_issue(
            regie=regie, actor=ADMIN, payer=payer, label="Restauration scolaire — octobre",
            lines=[invoicing.line_draft(product=repas, quantity="17", beneficiary="Léa Martin",
                                        period_start=datetime.date(2026, 10, 1),
                                        period_end=datetime.date(2026, 10, 31)),
                   invoicing.line_draft(label="Garderie (½ h)", quantity="0.5",
                                        unit_price="1.25")])
        assert invoice.total == Decimal("66.08")  # 65.45 + 0.625 rounded half up to 0.63
        assert [(line.label, line.amount) for line in invoice.lines.all()] == [
            ("Repas", Decimal("65.45")), ("Garderie (½ h)", Decimal("0.63"))]
        assert invoice.number == f"R-001-{datetime.date.today().year}-00001"
        assert invoice.status == "due"
        second = make_invoice(regie, payer, "10.00")
        assert second.number.endswith("-00002")


@pytest.mark.parametrize("kwargs, message", [
    ({"lines": []}, "au moins une ligne"),
    ({"due_on": datetime.date(2026, 9, 1)}, "L'échéance précède"),
    ({"lines": [("Repas", "2", "-3")]}, "négatif"),
    ({"lines": [("Repas", "0", "3")]}, "quantité doit être positive"),
    ({"lines": [("Repas", "1.5555", "3")]}, "trois décimales"),
    ({"lines": [("", "1", "3")]}, "libellé de la ligne manque"),
    ({"lines": [("Gratuit", "1", "0")]}, "doit être positif"),
])
def test_an_invoice_with_errors_is_refused_and_nothing_is_issued(venissieux, kwargs, message):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        with pytest.raises(RegieError, match=message):
            lines = [invoicing.line_draft(label=label, quantity=q, unit_price=p)
                     for label, q, p in kwargs.get("lines", [("Repas", "1", "3")])]
            invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, lines=lines,
                                    issued_on=datetime.date(2026, 10, 1),
                                    due_on=kwargs.get("due_on", datetime.date(2026, 10, 31)))
        assert not Invoice.objects.exists()


def test_an_invoice_number_is_used_once_in_the_commune(venissieux):
    with in_schema(venissieux):
        cantine, piscine = make_regie(), make_regie("R-002", "Piscine")
        make_invoice(cantine, make_payer(cantine), number="2026-000123")
        with pytest.raises(Duplicate, match="2026-000123 existe déjà"):
            make_invoice(piscine, make_payer(piscine), number="2026-000123")


@pytest.mark.parametrize("statement", [
    "UPDATE regies_invoice SET total = 1",
    "UPDATE regies_invoice SET number = 'X'",
    "UPDATE regies_invoice SET payer_id = payer_id + 1",
    "DELETE FROM regies_invoice",
    "UPDATE regies_invoiceline SET amount = 1",
    "DELETE FROM regies_invoiceline",
])
def test_the_database_refuses_to_rewrite_an_invoice(venissieux, statement):
    with in_schema(venissieux):
        regie = make_regie()
        make_invoice(regie, make_payer(regie), "45.00")
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises((IntegrityError, InternalError), match="never"), \
                transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
        assert Invoice.objects.get().total == Decimal("45.00")


def test_the_database_refuses_an_invoice_whose_lines_do_not_add_up(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        with pytest.raises(IntegrityError, match="lines add up to 10"), transaction.atomic():
            invoice = Invoice.objects.create(regie=regie, payer=payer, number="X-1",
                                             issued_on=datetime.date(2026, 1, 1),
                                             due_on=datetime.date(2026, 2, 1),
                                             total=Decimal("12.00"), created_by="x")
            InvoiceLine.objects.create(invoice=invoice, label="Repas", quantity=1,
                                       unit_price=Decimal("10.00"), amount=Decimal("10.00"))
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_cancelling_an_invoice_returns_what_was_paid_to_the_payers_credit(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        invoice = make_invoice(regie, payer, "45.00")
        payment_record(regie=regie, actor=TITULAIRE, amount="20", mode="cash",
                       invoices=[invoice])
        assert credit_of(payer) == 0
        invoicing.invoice_cancel(invoice=invoice, actor=ADMIN, reason="Facturée deux fois")
        invoice.refresh_from_db()
        assert (invoice.status, invoice.amount_paid, credit_of(payer)) == (
            "cancelled", Decimal("0.00"), Decimal("20.00"))
        with pytest.raises(Duplicate, match="déjà annulée"):
            invoicing.invoice_cancel(invoice=invoice, actor=ADMIN, reason="encore")
        with pytest.raises(RegieError, match="est annulée"):
            payment_record(regie=regie, actor=TITULAIRE, amount="5", mode="cash",
                           invoices=[invoice])
        with pytest.raises(RegieError, match="motif"):
            invoicing.invoice_cancel(invoice=make_invoice(regie, payer), actor=ADMIN,
                                     reason=" ")


def test_only_the_regies_agents_and_the_communes_managers_keep_payers_and_invoices(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)  # by the administrator
        invoice = make_invoice(regie, payer, "20.00")
        assert invoicing.payer_update(payer=payer, actor=MANDATAIRE, phone="04 72 00 00 00")
        line = invoicing.line_draft(label="Repas", unit_price="4.00")
        refusals = [
            lambda: invoicing.payer_create(regie=regie, actor=STRANGER, name="Famille X"),
            lambda: invoicing.payer_update(payer=payer, actor=STRANGER, name="Autre"),
            lambda: invoicing.invoice_issue(regie=regie, actor=STRANGER, payer=payer,
                                            lines=[line]),
            lambda: invoicing.invoice_cancel(invoice=invoice, actor=STRANGER, reason="erreur"),
            lambda: credit_apply(invoice=invoice, actor=STRANGER),
        ]
        for refused in refusals:
            with pytest.raises(NotAllowed, match="pas nommé dans la régie"):
                refused()
        assert Payer.objects.count() == 1 and Invoice.objects.count() == 1
        payer.refresh_from_db()
        assert payer.name == "Famille Martin" and payer.phone == "04 72 00 00 00"
