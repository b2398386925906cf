"""What a régie's sales are imputed to in the commune's budget (M57): an imputation as
typed, checked against the plan, and the one a line of an invoice is issued with."""

from __future__ import annotations

from opsn.finance.errors import FinanceError
from opsn.finance.selectors import Imputation, checked_imputation
from opsn.regies.errors import RegieError
from opsn.regies.models import Product, Regie


def imputation(nature: str = "", fonction: str = "") -> Imputation:
    """An imputation as typed, checked against the commune's M57 plan; the plan's refusal
    in the régies' words (same message, same field)."""
    try:
        return checked_imputation(nature, fonction)
    except FinanceError as exc:
        raise RegieError(exc.message, field=exc.field) from None


def imputation_of(regie: Regie, product: Product | None) -> Imputation:
    """What a line of ``regie`` selling ``product`` (or no product) is imputed to: the
    product's imputation when it has one, else the régie's default — taken whole, never
    the nature of one with the fonction of the other. Invoicing copies it onto the line."""
    if product is not None and product.nature_id:
        return Imputation(nature=product.nature_id, fonction=product.fonction_id or "")
    return Imputation(nature=regie.nature_id or "", fonction=regie.fonction_id or "")
