"""The titre de régularisation of a deposit: what the commune's budget must record for what
the régie collected and paid in, broken down by M57 imputation (nature account and
fonction). Its lines add up to the deposit's total, to the cent.

How each euro of the deposit is imputed (the one home of that rule; the deposit's page, its
CSV and its PDF read it here):

- a payment of an invoice pays the invoice's lines in their order (as a hand-over counts
  what remains of them): the part of the lines it covers — after what earlier payments of
  the invoice covered — carries each line's imputation, copied at issue;
- a sale at the counter (a product and a quantity, no invoice) carries the product's
  imputation, or the régie's default;
- what a payment did not allocate when the deposit was made (the payer's credit, an
  overpayment) is « non affecté » : no account of revenue yet; it is shown apart, with
  the lines of invoices issued without imputation;
- a reversal (negative entry) takes back what its allocations released, line by line.
Allocations made after the deposit (a credit applied later) are not in it: the deposit
is fixed once made."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from opsn.finance.models import Fonction, Nature
from opsn.regies.imputation import imputation_of
from opsn.regies.models import Allocation, Deposit, InvoiceLine, LedgerEntry, Product

ZERO = Decimal("0.00")
UNIMPUTED = ("", "")


@dataclass(frozen=True)
class RegularisationLine:
    nature: str
    fonction: str
    nature_label: str
    fonction_label: str
    amount: Decimal

    @property
    def imputed(self) -> bool:
        return bool(self.nature)


@dataclass(frozen=True)
class Regularisation:
    deposit: Deposit
    lines: list[RegularisationLine]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def unimputed(self) -> Decimal:
        return sum((line.amount for line in self.lines if not line.imputed), ZERO)


def _slice(lines: list[InvoiceLine], low: Decimal, high: Decimal) -> dict[tuple, Decimal]:
    """What of the lines (laid end to end in their order) lies between ``low`` and
    ``high``, per imputation."""
    out: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    start = ZERO
    for line in lines:
        end = start + line.amount
        part = min(end, high) - max(start, low)
        if part > 0:
            out[(line.nature, line.fonction)] += part
        start = end
    return out


def deposit_regularisation(deposit: Deposit) -> Regularisation:
    entries = list(LedgerEntry.objects.filter(
        regie_id=deposit.regie_id, id__gte=deposit.first_entry_id,
        id__lte=deposit.last_entry_id).values_list("id", "amount"))
    ids = [pk for pk, _ in entries]
    allocations = list(Allocation.objects.filter(entry_id__in=ids,
                                                 created_at__lte=deposit.made_at)
                       .values("id", "entry_id", "invoice_id", "product_id", "amount"))
    invoice_ids = {a["invoice_id"] for a in allocations if a["invoice_id"]}
    # Every allocation of these invoices, in order: what was paid before each one.
    before: dict[int, Decimal] = {}
    running: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in (Allocation.objects.filter(invoice_id__in=invoice_ids).order_by("id")
                .values("id", "invoice_id", "amount")):
        before[row["id"]] = running[row["invoice_id"]]
        running[row["invoice_id"]] += row["amount"]
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=invoice_ids).order_by("invoice",
                                                                                 "id"):
        lines[line.invoice_id].append(line)
    products = Product.objects.in_bulk({a["product_id"] for a in allocations
                                        if a["product_id"]})
    regie = deposit.regie
    amounts: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    allocated: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for a in allocations:
        allocated[a["entry_id"]] += a["amount"]
        amount = a["amount"]
        if a["invoice_id"]:
            start = before[a["id"]]
            low, high = (start, start + amount) if amount > 0 else (start + amount, start)
            sign = 1 if amount > 0 else -1
            part = _slice(lines[a["invoice_id"]], low, high)
            for key, value in part.items():
                amounts[key] += sign * value
            covered = sum(part.values(), ZERO)
            if covered != abs(amount):  # never: lines add up to the invoice's total
                amounts[UNIMPUTED] += sign * (abs(amount) - covered)
        else:
            imputation = imputation_of(regie, products[a["product_id"]])
            amounts[(imputation.nature, imputation.fonction)] += amount
    for pk, amount in entries:
        if amount - allocated[pk]:
            amounts[UNIMPUTED] += amount - allocated[pk]
    natures = dict(Nature.objects.filter(code__in={k[0] for k in amounts})
                   .values_list("code", "label"))
    fonctions = dict(Fonction.objects.filter(code__in={k[1] for k in amounts})
                     .values_list("code", "label"))
    ordered = sorted((k for k, v in amounts.items() if v), key=lambda k: (not k[0], k))
    return Regularisation(deposit, [
        RegularisationLine(nature=n, fonction=f, nature_label=natures.get(n, ""),
                           fonction_label=fonctions.get(f, ""), amount=amounts[(n, f)])
        for n, f in ordered])
