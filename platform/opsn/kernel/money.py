"""Amounts: the one place that reads an amount people typed and writes one for people.

Money is a ``Decimal`` of euros with two decimals, or an ``int`` of cents where a
computation must be exact to the cent (the operator's billing). Never a float.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from opsn.kernel.errors import DomainError

CENT = Decimal("0.01")
LARGEST = Decimal("1e10")  # 10 billion euros: more is a typing error, not an amount
# 12, 12.5, .5, 12. with a sign (refused later with its own message); digits 0-9 only.
PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class InvalidAmount(DomainError):
    code = "invalid_amount"


def parse_amount(value, *, field: str = "amount", allow_zero: bool = False, what: str = "",
                 error: type[DomainError] = InvalidAmount) -> Decimal:
    """« 12,50 », « 1 234.5 », 12.5 → Decimal('12.50'); more than two decimals, a negative
    amount (or zero, unless allowed), a float, or anything else is refused with ``error``
    (the caller's domain), its message prefixed with ``what`` when given."""
    def refuse(message: str) -> DomainError:
        return error(f"{what} : {message}" if what else message, field=field)

    if isinstance(value, float):  # a float is never an amount: its cents are inexact
        raise refuse(f"« {value} » : montant à transmettre sous forme de texte ou de "
                     "décimal, pas de nombre flottant.")
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        amount = value if isinstance(value, Decimal) else Decimal(value)
    else:
        # Text: a plain decimal as people write it, nothing Python's Decimal also reads
        # (« 1e2 » is not 100 €, nor « 1_000 » a thousand, nor other scripts' digits).
        text = str(value if value is not None else "").strip()
        for space in (" ", "\u00a0", "\u202f"):
            text = text.replace(space, "")
        text = text.replace(",", ".").removesuffix("€")
        if not PLAIN_DECIMAL.fullmatch(text):
            raise refuse(f"« {value} » n'est pas un montant.")
        amount = Decimal(text)
    if not amount.is_finite():
        raise refuse(f"« {value} » n'est pas un montant.")
    if amount >= LARGEST or amount <= -LARGEST:
        raise refuse(f"{value} € dépasse le montant le plus élevé accepté.")
    if amount != amount.quantize(CENT):
        raise refuse(f"{value} € a plus de deux décimales.")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise refuse("Le montant doit être positif." if not allow_zero else
                     "Le montant ne peut pas être négatif.")
    return amount.quantize(CENT)


def parse_quantity(value, *, field: str = "quantity",
                   error: type[DomainError] = InvalidAmount) -> Decimal:
    """« 2,5 », 3 → Decimal; a plain decimal only (as ``parse_amount``), positive, three
    decimals at most, below ten million."""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        quantity = Decimal(value)
    else:
        text = str(value if value is not None else "").strip().replace(",", ".")
        if not PLAIN_DECIMAL.fullmatch(text):
            raise error(f"« {value} » n'est pas une quantité.", field=field)
        quantity = Decimal(text)
    if not quantity.is_finite() or quantity <= 0:
        raise error("La quantité doit être positive.", field=field)
    if quantity >= Decimal("1e7") or quantity != quantity.quantize(Decimal("0.001")):
        raise error(f"« {value} » : au plus trois décimales.", field=field)
    return quantity


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """The amount of a line, rounded to the cent, half up (as a receipt shows it)."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal | None, *, error: type[DomainError] = InvalidAmount) -> int:
    """Euros to cents, exactly: an amount with more than two decimals is refused."""
    if amount is None:
        return 0
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise error(f"{amount} € a plus de deux décimales.")
    return int(quantized * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def euros(amount: Decimal) -> str:
    """12 345,50 € (narrow no-break space between thousands), as every page writes it."""
    return f"{amount:,.2f}".replace(",", "\u202f").replace(".", ",") + " €"


def format_cents(cents: int) -> str:
    return euros(from_cents(cents))
