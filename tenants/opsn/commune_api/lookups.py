"""The reads the API needs to turn what the business software sends (a régie number, payer
and invoice references, a receipt number) into the domain's objects, and the JSON it gets
back. Every write goes through ``regies.services``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from django.utils import timezone

from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import commune_connection
from opsn.regies import permissions, selectors
from opsn.regies.errors import NotFound
from opsn.regies.models import Allocation, Invoice, LedgerEntry, Payer, Product, Regie

RECEIPT = re.compile(r"(\d{4})-(\d{1,9})")


# Every call of the API starts here: one round trip, without the ORM's query compiler
# (its cost is paid by every client of a busy régie). The régie is read with its row
# version, as posting checks it (``selectors.regie_columns``): posting then does not read
# it again. The appointment test is the SQL function ``regies_appointed_on``; the services
# check it again under the régie's lock.
REGIE_AND_PAYERS = f"""
    SELECT {selectors.regie_columns("r")},
        EXISTS (SELECT FROM regies_appointed_on(%(today)s) a WHERE a.regie_id = r.id
                AND a.account = %(account)s),
        p.id, p.name, p.external_ref
    FROM regies_regie r
    LEFT JOIN regies_payer p ON p.regie_id = r.id AND p.external_ref = ANY(%(refs)s)
    WHERE r.number = %(number)s"""


def regie_and_payers(actor: Actor, number: str,
                     refs: Iterable[str] = ()) -> tuple[Regie, dict[str, Payer]]:
    """The régie ``number`` of the current commune, if ``actor`` collects for it today,
    and its payers whose ``external_ref`` is in ``refs``. The payers carry the fields the
    API and the services read first (the others load if asked for)."""
    today = timezone.localdate()
    db = commune_connection().alias
    with commune_connection().cursor() as cursor:
        cursor.execute(REGIE_AND_PAYERS, {"account": actor.account, "today": today,
                                          "refs": sorted({r for r in refs if r}),
                                          "number": number})
        rows = cursor.fetchall()
    if not rows:
        raise NotFound(f"Aucune régie numéro « {number} » dans la commune.", field="number")
    regie = selectors.regie_with_version(rows[0], db)
    collects, *_ = rows[0][selectors.REGIE_WIDTH:]
    if not collects:
        permissions.require_collector(regie, actor, today)  # raises, with the domain's words
    payers = {}
    for row in rows:
        payer_id, name, ref = row[selectors.REGIE_WIDTH + 1:]
        if payer_id is not None:
            payer = Payer.from_db(db, ["id", "regie_id", "name", "external_ref"],
                                  (payer_id, regie.pk, name, ref))
            payer.regie = regie
            payers[payer.external_ref] = payer
    return regie, payers


def regie_for(actor: Actor, number: str) -> Regie:
    return regie_and_payers(actor, number)[0]


def payers_by_ref(regie: Regie, refs: Iterable[str]) -> dict[str, Payer]:
    wanted = {r for r in refs if r}
    if not wanted:
        return {}
    return {p.external_ref: p for p in Payer.objects.filter(regie=regie, external_ref__in=wanted)}


def invoices_by_number(regie: Regie, numbers: Iterable[str]) -> dict[str, Invoice]:
    wanted = {n for n in numbers if n}
    if not wanted:
        return {}
    return {i.number: i for i in Invoice.objects.filter(regie=regie, number__in=wanted)}


def products_by_code(regie: Regie, codes: Iterable[str]) -> dict[str, Product]:
    wanted = {c.strip().lower() for c in codes if c and c.strip()}
    if not wanted:
        return {}
    return {p.code: p for p in Product.objects.filter(regie=regie, code__in=wanted)}


def invoice(regie: Regie, number: str) -> Invoice:
    found = (Invoice.objects.filter(regie=regie, number=number).select_related("payer")
             .prefetch_related("lines__product").first())
    if found is None:
        raise NotFound(f"Aucune facture {number} dans la régie {regie.name}.", field="number")
    return found


def invoices(pks: list[int]) -> list[Invoice]:
    order = {pk: i for i, pk in enumerate(pks)}
    found = (Invoice.objects.filter(pk__in=pks).select_related("payer")
             .prefetch_related("lines__product"))
    return sorted(found, key=lambda inv: order[inv.pk])


def entry(regie: Regie, receipt: str) -> LedgerEntry:
    match = RECEIPT.fullmatch(receipt.strip())
    found = match and (LedgerEntry.objects.filter(
        regie=regie, year=int(match[1]), receipt_number=int(match[2]))
        .select_related("regie", "payer", "reverses", "reversed_by").first())
    if not found:
        raise NotFound(f"Aucune quittance {receipt} dans la régie {regie.name}.",
                       field="receipt")
    return found


def allocations_of(entries: list[LedgerEntry]) -> dict[int, list[Allocation]]:
    found: dict[int, list[Allocation]] = {e.pk: [] for e in entries}
    for row in (Allocation.objects.filter(entry__in=entries, invoice__isnull=False)
                .select_related("invoice").order_by("id")):
        found[row.entry_id].append(row)
    return found


# --- What the client sees ------------------------------------------------------------------

def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def regie_out(regie: Regie) -> dict:
    return {"number": regie.number, "name": regie.name, "accepted_modes": regie.accepted_modes,
            "starts_on": regie.starts_on, "ends_on": regie.ends_on}


def payer_out(payer: Payer) -> dict:
    return {key: getattr(payer, key) for key in (
        "external_ref", "link_code", "kind", "name", "address_line", "postal_code", "city",
        "email", "phone")}


def invoice_out(inv: Invoice, online_payment: str = "") -> dict:
    """``online_payment``: the state of an online payment of the invoice in flight
    (``online_payments.selectors.in_flight``), empty when there is none."""
    return {
        "number": inv.number, "payer": inv.payer.external_ref, "payer_name": inv.payer.name,
        "label": inv.label, "issued_on": inv.issued_on, "due_on": inv.due_on,
        "total": money(inv.total), "amount_paid": money(inv.amount_paid),
        "remaining": money(inv.remaining), "status": inv.status,
        "online_payment": online_payment or None,
        "lines": [{"label": line.label, "quantity": f"{line.quantity.normalize():f}",
                   "unit_price": money(line.unit_price), "amount": money(line.amount),
                   "product": line.product.code if line.product else None,
                   "period_start": line.period_start, "period_end": line.period_end,
                   "beneficiary": line.beneficiary, "nature": line.nature,
                   "fonction": line.fonction} for line in inv.lines.all()]}


def entry_out(regie: Regie, e: LedgerEntry, allocations: list[Allocation],
              reversed_by: LedgerEntry | None = None, reverses: LedgerEntry | None = None,
              ) -> dict:
    return {
        "receipt": e.receipt, "regie": regie.number, "amount": money(e.amount),
        "mode": e.mode, "payer": e.payer.external_ref or None if e.payer else None,
        "payer_name": e.payer_name, "external_ref": e.external_ref, "details": e.details,
        "posted_at": e.posted_at, "accounting_day": e.day,
        "collected_by": e.agent_name or e.agent,
        "allocations": [{"invoice": a.invoice.number, "amount": money(a.amount)}
                        for a in allocations if a.invoice is not None],
        "reverses": reverses.receipt if reverses else None,
        "reversed_by": reversed_by.receipt if reversed_by else None,
        "reason": e.reason}


def stored_entry_out(e: LedgerEntry) -> dict:
    """An entry read back (its reversal, if any, was selected with it)."""
    try:
        reversed_by = e.reversed_by
    except LedgerEntry.DoesNotExist:
        reversed_by = None
    return entry_out(e.regie, e, allocations_of([e])[e.pk], reversed_by=reversed_by,
                     reverses=e.reverses)
