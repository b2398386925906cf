"""Amounts as people type them, checked and turned into exact ``Decimal`` euros."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from opsn.regies.errors import RegieError

CENT = Decimal("0.01")


def parse_amount(value, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """« 12,50 », « 1 234.5 », 12.5 → Decimal('12.50'); more than two decimals, a negative
    amount (or zero, unless allowed), or anything else is refused."""
    if isinstance(value, float):  # a float is never an amount: its cents are inexact
        raise RegieError(f"« {value} » : montant à transmettre sous forme de texte ou de "
                         "décimal, pas de nombre flottant.", field=field)
    text = str(value if value is not None else "").strip()
    for space in (" ", "\u00a0", "\u202f"):
        text = text.replace(space, "")
    text = text.replace(",", ".").removesuffix("€")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise RegieError(f"« {value} » n'est pas un montant.", field=field) from None
    if not amount.is_finite():
        raise RegieError(f"« {value} » n'est pas un montant.", field=field)
    if amount != amount.quantize(CENT):
        raise RegieError(f"{value} € a plus de deux décimales.", field=field)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise RegieError("Le montant doit être positif." if not allow_zero else
                         "Le montant ne peut pas être négatif.", field=field)
    if amount >= Decimal("1e10"):
        raise RegieError(f"{value} € dépasse le montant le plus élevé accepté.", field=field)
    return amount.quantize(CENT)


def parse_quantity(value, *, field: str = "quantity") -> Decimal:
    text = str(value if value is not None else "").strip().replace(",", ".")
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        raise RegieError(f"« {value} » n'est pas une quantité.", field=field) from None
    if not quantity.is_finite() or quantity <= 0:
        raise RegieError("La quantité doit être positive.", field=field)
    if quantity != quantity.quantize(Decimal("0.001")) or quantity >= Decimal("1e7"):
        raise RegieError(f"« {value} » : au plus trois décimales.", field=field)
    return quantity


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """The amount of a line, rounded to the cent, half up (as a receipt shows it)."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def euros(amount: Decimal) -> str:
    """12 345,50 € (narrow no-break space between thousands, as the billing pages write)."""
    return f"{amount:,.2f}".replace(",", "\u202f").replace(".", ",") + " €"
