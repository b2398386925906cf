"""The invoices of the commune's business software, one CSV row per invoice line; the
rows of one ``numero`` form one invoice (they need not follow each other). Columns are
described in docs/regie-imports.md."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from opsn.regies.importers.csv_common import Row, decode, read_table
from opsn.regies.models import PayerKind

REQUIRED = ("numero", "payeur_ref", "date")
# The payer's columns, and the Payer field each fills.
PAYER_COLUMNS = {"payeur_nom": ("name", 200), "payeur_email": ("email", 254),
                 "payeur_telephone": ("phone", 30), "payeur_adresse": ("address_line", 250),
                 "payeur_code_postal": ("postal_code", 10), "payeur_ville": ("city", 120)}
PAYER_KINDS = {"famille": PayerKind.FAMILY, "particulier": PayerKind.INDIVIDUAL,
               "association": PayerKind.ASSOCIATION, "organisme": PayerKind.ORGANISATION,
               "entreprise": PayerKind.ORGANISATION, **{k: k for k in PayerKind.values}}
# What an invoice's rows must all say alike.
INVOICE_COLUMNS = ("payeur_ref", "date", "echeance", "objet")


@dataclass
class PayerRow:
    """A payer as the file first describes it."""

    ref: str
    line: int
    kind: str
    fields: dict[str, str]  # Payer field -> value (name, email, …)


@dataclass
class LineRow:
    line: int
    product_code: str
    label: str
    quantity: Decimal
    unit_price: Decimal | None  # None: the product's price
    amount: Decimal | None  # the file's own line amount, checked against ours
    period_start: datetime.date | None
    period_end: datetime.date | None
    beneficiary: str


@dataclass
class InvoiceRows:
    number: str
    line: int  # its first row
    payer_ref: str
    issued_on: datetime.date
    due_on: datetime.date
    label: str
    lines: list[LineRow] = field(default_factory=list)


@dataclass
class InvoiceFile:
    rows: int
    invoices: list[InvoiceRows]
    payers: dict[str, PayerRow]  # by payeur_ref


def read_invoices(content: bytes, encoding: str = "utf-8") -> InvoiceFile:
    table = read_table(decode(content, encoding), required=REQUIRED, what="aucune facture")
    invoices: dict[str, InvoiceRows] = {}
    payers: dict[str, PayerRow] = {}
    first_row: dict[str, Row] = {}
    for row in table.rows:
        number = row.text("numero", required=True, max_length=30,
                          what="Le numéro de facture")
        ref = row.text("payeur_ref", required=True, max_length=60,
                       what="La référence du payeur")
        if ref not in payers:
            payers[ref] = _payer(row, ref)
        invoice = invoices.get(number)
        if invoice is None:
            issued_on = row.date("date", what="La date de la facture")
            due_on = row.optional_date("echeance") or issued_on + datetime.timedelta(days=30)
            invoice = invoices[number] = InvoiceRows(
                number=number, line=row.line, payer_ref=ref, issued_on=issued_on,
                due_on=due_on, label=row.text("objet", max_length=200))
            first_row[number] = row
        else:
            _same_invoice(row, first_row[number], number)
        invoice.lines.append(_line(row))
    return InvoiceFile(rows=len(table.rows), invoices=list(invoices.values()), payers=payers)


def _payer(row: Row, ref: str) -> PayerRow:
    kind_text = row.text("payeur_type").lower()
    kind = PAYER_KINDS.get(kind_text or "famille")
    if kind is None:
        row.fail(f"Type de payeur inconnu « {kind_text} » : famille, particulier, association "
                 "ou organisme", "payeur_type")
    fields = {name: row.text(column, max_length=limit)
              for column, (name, limit) in PAYER_COLUMNS.items()}
    return PayerRow(ref=ref, line=row.line, kind=str(kind), fields=fields)


def _same_invoice(row: Row, first: Row, number: str) -> None:
    for column in INVOICE_COLUMNS:
        if row.text(column) != first.text(column):
            row.fail(f"La facture {number} commence ligne {first.line} avec "
                     f"« {first.text(column)} » et non « {row.text(column)} » : toutes ses "
                     "lignes portent le même payeur, la même date, la même échéance et le "
                     "même objet", column)


def _line(row: Row) -> LineRow:
    product_code = row.text("produit")
    unit_price = row.optional_amount("prix_unitaire", allow_zero=True)
    if not product_code and unit_price is None:
        row.fail("Indiquez le code du produit ou le prix unitaire", "prix_unitaire")
    label = row.text("libelle", max_length=200)
    if not product_code and not label:
        row.fail("Le libellé de la ligne manque", "libelle")
    start, end = row.optional_date("periode_debut"), row.optional_date("periode_fin")
    if start and end and end < start:
        row.fail("La période finit avant de commencer", "periode_fin")
    return LineRow(line=row.line, product_code=product_code, label=label,
                   quantity=row.quantity("quantite"), unit_price=unit_price,
                   amount=row.optional_amount("montant", allow_zero=True),
                   period_start=start, period_end=end,
                   beneficiary=row.text("beneficiaire", max_length=200))
