"""A payment as an imported file gives it, before it is matched to an invoice."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(slots=True)
class ImportedLine:
    line: int  # where it is in the file
    paid_on: datetime.date
    amount: Decimal
    external_ref: str  # the payment's identifier where it came from: never posted twice
    reference: str = ""  # free text where an invoice number may be found
    payer_ref: str = ""  # the payer's reference in the business software
    payer_name: str = ""  # the payer (the debtor, for a bank)
    details: dict[str, str] = field(default_factory=dict)  # kept on the receipt
    ref_field: str = "external_ref"  # the column or element that carried external_ref
