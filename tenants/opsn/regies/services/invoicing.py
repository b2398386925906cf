"""Payers and the invoices a régie sends them. An invoice is issued once and never
rewritten: a mistake is cancelled (what was paid returns to the payer's credit) and a new
invoice issued. Counter, API and CSV import all issue through ``invoices_issue``."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Sum
from django.utils import timezone

from opsn.audit import events
from opsn.audit.models import AuditEvent
from opsn.audit.services import record
from opsn.finance.selectors import handed_over
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros, line_amount, parse_amount, parse_quantity
from opsn.kernel.tenancy import atomic
from opsn.regies import permissions
from opsn.regies.errors import Duplicate, Refused, RegieError
from opsn.regies.imputation import imputation_of
from opsn.regies.models import (
    Allocation,
    ImportBatch,
    Invoice,
    InvoiceLine,
    InvoiceSource,
    Payer,
    PayerKind,
    Product,
    Regie,
)
from opsn.regies.signals import invoices_issued

# No 0/O, 1/I/L: a code read over the phone or copied from paper is typed right.
LINK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PAYER_FIELDS = ("kind", "name", "address_line", "postal_code", "city", "email", "phone",
                "external_ref", "invoices_by_email")


def new_link_code() -> str:
    raw = "".join(secrets.choice(LINK_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_link_code(value: str) -> str:
    raw = "".join(c for c in (value or "").upper() if c.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw


def _clean_payer(fields: dict) -> dict:
    clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}
    if "name" in clean and not clean["name"]:
        raise RegieError("Le nom du payeur manque.", field="name")
    if "kind" in clean and clean["kind"] not in PayerKind.values:
        raise RegieError(f"Type de payeur inconnu : « {clean['kind']} ».", field="kind")
    if clean.get("email"):
        clean["email"] = clean["email"].lower()
        try:
            validate_email(clean["email"])
        except ValidationError:
            raise RegieError(f"« {clean['email']} » n'est pas une adresse électronique.",
                             field="email") from None
    return clean


@atomic
def payer_create(*, regie: Regie, actor: Actor, name: str, kind: str = PayerKind.FAMILY,
                 address_line: str = "", postal_code: str = "", city: str = "",
                 email: str = "", phone: str = "", external_ref: str = "",
                 invoices_by_email: bool = True) -> Payer:
    permissions.require_invoicer(regie, actor, timezone.localdate(), "enregistrer un payeur")
    fields = _clean_payer({"kind": kind, "name": name, "address_line": address_line,
                           "postal_code": postal_code, "city": city, "email": email,
                           "phone": phone, "external_ref": external_ref,
                           "invoices_by_email": bool(invoices_by_email)})
    if fields["external_ref"] and Payer.objects.filter(
            regie=regie, external_ref=fields["external_ref"]).exists():
        raise Duplicate(f"Un payeur de la régie a déjà la référence "
                        f"{fields['external_ref']}.", field="external_ref")
    payer = Payer.objects.create(regie=regie, link_code=_free_link_code(), **fields)
    record(actor, events.PayerSaved(target=f"payer:{payer.pk}",
                                    data={"name": payer.name, "link_code": payer.link_code}))
    return payer


def _free_link_code() -> str:
    while True:  # 31^12 codes: a collision is rare, never silent
        code = new_link_code()
        if not Payer.objects.filter(link_code=code).exists():
            return code


@atomic
def payer_update(*, payer: Payer, actor: Actor, **changes) -> Payer:
    unknown = set(changes) - set(PAYER_FIELDS)
    if unknown:
        raise RegieError(f"Champ(s) inconnu(s) : {', '.join(sorted(unknown))}.")
    clean = _clean_payer(changes)
    payer = Payer.objects.select_for_update().select_related("regie").get(pk=payer.pk)
    permissions.require_invoicer(payer.regie, actor, timezone.localdate(),
                                 "modifier un payeur")
    if clean.get("external_ref") and Payer.objects.filter(
            regie=payer.regie_id, external_ref=clean["external_ref"]).exclude(
            pk=payer.pk).exists():
        raise Duplicate(f"Un payeur de la régie a déjà la référence {clean['external_ref']}.",
                        field="external_ref")
    for key, value in clean.items():
        setattr(payer, key, value)
    payer.save(update_fields=list(clean) or None)
    record(actor, events.PayerSaved(target=f"payer:{payer.pk}",
                                    data={"name": payer.name, "link_code": payer.link_code}))
    return payer


@dataclass
class LineDraft:
    label: str
    quantity: Decimal
    unit_price: Decimal
    product: Product | None = None
    period_start: datetime.date | None = None
    period_end: datetime.date | None = None
    beneficiary: str = ""

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price)


def line_draft(*, label: str = "", quantity="1", unit_price=None,
               product: Product | None = None, period_start=None, period_end=None,
               beneficiary: str = "") -> LineDraft:
    """A line as typed or imported: the product gives the label and price when they are
    not given."""
    if unit_price in (None, "") and product is None:
        raise RegieError("Indiquez le prix unitaire ou le produit.", field="unit_price")
    price = (product.unit_price if unit_price in (None, "") and product is not None
             else parse_amount(unit_price, field="unit_price", allow_zero=True, error=RegieError))
    label = (label or "").strip() or (product.name if product else "")
    if not label:
        raise RegieError("Le libellé de la ligne manque.", field="label")
    if period_start and period_end and period_end < period_start:
        raise RegieError("La période finit avant de commencer.", field="period_end")
    quantity = parse_quantity(quantity, error=RegieError)
    return LineDraft(label=label, quantity=quantity, unit_price=price,
                     product=product, period_start=period_start, period_end=period_end,
                     beneficiary=(beneficiary or "").strip())


@dataclass
class InvoiceDraft:
    payer: Payer
    issued_on: datetime.date
    due_on: datetime.date
    lines: list[LineDraft]
    number: str = ""
    label: str = ""
    line: int | None = None  # where it came from in an imported file
    total: Decimal = field(init=False)

    def __post_init__(self):
        self.number = (self.number or "").strip()
        self.total = sum((line.amount for line in self.lines), Decimal("0.00"))


def _check(regie: Regie, draft: InvoiceDraft) -> None:
    where = {"line": draft.line}
    if draft.payer.regie_id != regie.pk:
        raise RegieError(f"Le payeur {draft.payer} n'est pas un payeur de la régie "
                         f"{regie.name}.", field="payer", **where)
    if not draft.lines:
        raise RegieError("Une facture a au moins une ligne.", field="lines", **where)
    if draft.due_on < draft.issued_on:
        raise RegieError("L'échéance précède la date de la facture.", field="due_on", **where)
    if draft.total <= 0:
        raise RegieError("Le montant de la facture doit être positif.", field="lines", **where)
    if len(draft.number) > 30:
        raise RegieError("Le numéro de facture a au plus 30 caractères.", field="number",
                         **where)
    for line in draft.lines:
        if line.product is not None and line.product.regie_id != regie.pk:
            raise RegieError(f"Le produit {line.product} n'est pas un produit de la régie.",
                             field="product", **where)


@atomic
def invoices_issue(*, regie: Regie, actor: Actor, drafts: Sequence[InvoiceDraft],
                   source: str = InvoiceSource.AGENT,
                   batch: ImportBatch | None = None) -> list[Invoice]:
    """Issue invoices, all or none. Numbers given must be new in the commune; invoices
    without a number get ``<régie>-<year>-<n>``, consecutive."""
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    today = timezone.localdate()
    permissions.require_invoicer(regie, actor, today, "émettre de factures")
    if not regie.is_open_on(today):
        raise Refused(f"La régie {regie.name} est fermée.")
    seen: dict[str, int | None] = {}
    for draft in drafts:
        _check(regie, draft)
        if draft.number:
            if draft.number in seen:
                raise Duplicate(f"Le numéro de facture {draft.number} apparaît deux fois"
                                + (f" (ligne {seen[draft.number]})." if seen[draft.number]
                                   else "."), field="number", line=draft.line)
            seen[draft.number] = draft.line
    if seen:
        taken = set(Invoice.objects.filter(number__in=list(seen)).values_list("number",
                                                                              flat=True))
        for draft in drafts:
            if draft.number in taken:
                raise Duplicate(f"La facture {draft.number} existe déjà : rien n'a été "
                                "émis.", field="number", line=draft.line)
    _number_unnumbered(regie, [d for d in drafts if not d.number], today.year)
    created_at = timezone.now()
    invoices = Invoice.objects.bulk_create([
        Invoice(regie=regie, payer=d.payer, number=d.number, label=d.label.strip()[:200],
                issued_on=d.issued_on, due_on=d.due_on, total=d.total, source=source,
                import_batch=batch, created_by=actor.account, created_at=created_at)
        for d in drafts], batch_size=2000)
    # Each line keeps the imputation it is issued with (its product's, or the régie's).
    imputed = {p: imputation_of(regie, p)
               for p in {line.product for d in drafts for line in d.lines}}
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=invoice, product=line.product, label=line.label[:200],
                    quantity=line.quantity, unit_price=line.unit_price, amount=line.amount,
                    period_start=line.period_start, period_end=line.period_end,
                    beneficiary=line.beneficiary[:200], nature=imputed[line.product].nature,
                    fonction=imputed[line.product].fonction)
        for invoice, draft in zip(invoices, drafts, strict=True) for line in draft.lines],
        batch_size=5000)
    if batch is None:  # an import records one line for the whole file
        AuditEvent.objects.bulk_create([_issued(actor, inv, created_at) for inv in invoices])
    invoices_issued.send(sender=Invoice, invoices=invoices)
    return invoices


def _issued(actor: Actor, invoice: Invoice, at) -> AuditEvent:
    event = events.InvoiceIssued(target=f"invoice:{invoice.number}", data={
        "number": invoice.number, "total": euros(invoice.total).removesuffix(" €"),
        "payer": invoice.payer.name})
    return AuditEvent(at=at, code=event.code, actor=actor.account, actor_name=actor.name,
                      actor_kind=actor.kind, ip=actor.ip or None, target=event.target,
                      summary=event.summary(), data=event.payload())


def _number_unnumbered(regie: Regie, drafts: list[InvoiceDraft], year: int) -> None:
    if not drafts:
        return
    prefix = f"{regie.number}-{year}-"
    last = 0
    for number in Invoice.objects.filter(number__startswith=prefix).values_list("number",
                                                                                 flat=True):
        tail = number.removeprefix(prefix)
        if tail.isdigit():
            last = max(last, int(tail))
    for n, draft in enumerate(drafts, start=last + 1):
        draft.number = f"{prefix}{n:05d}"


def invoice_issue(*, regie: Regie, actor: Actor, payer: Payer, lines: Sequence[LineDraft],
                  issued_on: datetime.date | None = None, due_on: datetime.date | None = None,
                  number: str = "", label: str = "",
                  source: str = InvoiceSource.AGENT) -> Invoice:
    issued_on = issued_on or timezone.localdate()
    draft = InvoiceDraft(payer=payer, issued_on=issued_on,
                         due_on=due_on or issued_on + datetime.timedelta(days=30),
                         lines=list(lines), number=number, label=label)
    return invoices_issue(regie=regie, actor=actor, drafts=[draft], source=source)[0]


@atomic
def invoice_cancel(*, invoice: Invoice, actor: Actor, reason: str) -> Invoice:
    """Cancel an invoice. What its payments paid on it goes back to the payer's credit
    (negative allocations), where it can pay another invoice or be refunded."""
    if not (reason or "").strip():
        raise RegieError("Donnez le motif de l'annulation.", field="reason")
    regie = Regie.objects.select_for_update().get(pk=invoice.regie_id)
    permissions.require_invoicer(regie, actor, timezone.localdate(), "annuler une facture")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.cancelled_at is not None:
        raise Duplicate(f"La facture {invoice.number} est déjà annulée.")
    item = handed_over(invoice.pk)
    if item is not None:
        raise Refused(f"La facture {invoice.number} est transmise au comptable public "
                      f"(bordereau {item.handover.number}/{item.handover.year}) : elle ne "
                      "s'annule plus à la régie ; l'ordonnateur réduit ou annule le titre.")
    now = timezone.now()
    paid = (Allocation.objects.filter(invoice=invoice).values("entry")
            .annotate(net=Sum("amount")).exclude(net=0))
    Allocation.objects.bulk_create([
        Allocation(entry_id=row["entry"], invoice=invoice, amount=-row["net"], created_at=now,
                   created_by=actor.account) for row in paid])
    invoice.cancelled_at = now
    invoice.cancelled_by = actor.account
    invoice.cancel_reason = reason.strip()
    invoice.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
    record(actor, events.InvoiceCancelled(target=f"invoice:{invoice.number}",
                                          data={"number": invoice.number,
                                                "reason": invoice.cancel_reason}))
    return invoice
