"""M57 imputation: every product and a régie's default get a nature account and a
fonction code of the plan; an invoice line keeps the imputation it was issued with, for
ever."""

import pytest
from django.db import IntegrityError, connection, transaction

from opsn.regies.errors import RegieError
from opsn.regies.models import InvoiceLine, Product
from opsn.regies.services import founding, invoicing
from tests.helpers.communes import in_schema
from tests.helpers.regies import ADMIN, make_invoice, make_payer, make_regie


def canteen(regie, **imputation) -> Product:
    return founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                                 unit_price="3.50", **imputation)


@pytest.mark.parametrize("imputation, field, message", [
    ({"nature": "7069"}, "nature", "Le compte par nature 7069 n'est pas dans le plan de "
                                   "comptes M57 chargé"),
    ({"nature": "706"}, "nature", "Le compte par nature 706 (Prestations de services) se "
                                  "subdivise : imputez au niveau le plus détaillé (7062, "
                                  "70631, 70632, 7066, 7067, 70688…)."),
    ({"nature": "7067", "fonction": "999"}, "fonction", "La fonction 999 n'est pas dans le "
                                                        "plan"),
    ({"fonction": "281"}, "nature", "Indiquez le compte par nature de cette fonction."),
])
def test_an_imputation_outside_the_plan_is_refused(venissieux, imputation, field, message):
    with in_schema(venissieux):
        regie = make_regie()
        with pytest.raises(RegieError) as refused:
            canteen(regie, **imputation)
        assert (refused.value.field, refused.value.message.startswith(message)) == (
            field, True), refused.value.message
        assert not Product.objects.exists()
        with pytest.raises(RegieError, match=field):
            founding.regie_imputation_set(regie=regie, actor=ADMIN, **imputation)
        regie.refresh_from_db()
        assert regie.nature_id is None


def test_a_line_keeps_the_imputation_it_was_issued_with(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="70688", fonction="020")
        meal = canteen(regie, nature="7067", fonction="281")
        nursery = founding.product_save(regie=regie, actor=ADMIN, code="creche",
                                        name="Crèche", unit_price="12.00")
        payer = make_payer(regie)
        invoice = invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, lines=[
            invoicing.line_draft(product=meal, quantity="4"),
            invoicing.line_draft(product=nursery),
            invoicing.line_draft(label="Photocopies", unit_price="0.50")])
        lines = list(invoice.lines.order_by("id").values_list("label", "nature", "fonction"))
        assert lines == [("Repas", "7067", "281"), ("Crèche", "70688", "020"),
                         ("Photocopies", "70688", "020")]

        canteen(regie, nature="7066", fonction="421")  # the product's imputation changes…
        later = make_invoice(regie, payer, "3.50")
        again = invoicing.invoice_issue(regie=regie, actor=ADMIN, payer=payer, lines=[
            invoicing.line_draft(product=Product.objects.get(code="repas"))])
        assert again.lines.get().nature == "7066"
        assert later.lines.get().nature == "70688"
        # … what was invoiced before does not move
        assert invoice.lines.get(label="Repas").nature == "7067"
        line = invoice.lines.get(label="Repas")
        with pytest.raises(IntegrityError, match="this is history, it is never changed"), \
                transaction.atomic(using=connection.alias):
            InvoiceLine.objects.filter(pk=line.pk).update(nature="7066")


def test_a_regie_without_imputation_issues_lines_not_imputed(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        invoice = make_invoice(regie, make_payer(regie), "45.00")
        assert invoice.lines.get().nature == ""
