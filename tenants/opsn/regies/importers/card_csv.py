"""A card terminal's (TPE) export, one CSV row per card payment. Card numbers are never
read, even when the export carries them: the payment provider keeps them, not the
régie. Columns are described in docs/regie-imports.md."""

from __future__ import annotations

from opsn.regies.importers.csv_common import decode, read_table
from opsn.regies.importers.payments import ImportedLine

REQUIRED = ("date", "montant", "transaction")


def read_card_payments(content: bytes, encoding: str = "utf-8") -> list[ImportedLine]:
    table = read_table(decode(content, encoding), required=REQUIRED, what="aucun paiement")
    payments = []
    for row in table.rows:
        transaction = row.text("transaction", required=True, max_length=100,
                               what="La référence de la transaction")
        terminal = row.text("terminal", max_length=40)
        paid_on = row.date("date", what="La date du paiement")
        details = {"terminal_ref": transaction, "paid_on": paid_on.isoformat()}
        if terminal:
            details["terminal"] = terminal
        payments.append(ImportedLine(
            line=row.line, paid_on=paid_on,
            amount=row.amount("montant"), external_ref=transaction,
            reference=row.text("reference", max_length=300),
            payer_ref=row.text("payeur_ref", max_length=60),
            payer_name=row.text("payeur_nom", max_length=200), details=details,
            ref_field="transaction"))
    return payments
