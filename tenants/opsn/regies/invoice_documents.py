"""The family's invoice (facture / avis des sommes à payer) and the yearly certificate of
payment (attestation de paiement), as PDF/UA in the commune's colours. Run inside the
commune's schema.

Speed (docs/decisions/0016-invoice-documents.md): a commune issues thousands of invoices
at once. They are typeset by Typst (the ``typst`` package: its compiler, in Rust, tags the
PDF for PDF/UA-1), about ten times faster than WeasyPrint, which renders the receipts: a
``Renderer`` keeps one compiler (fonts loaded, templates parsed) from one invoice to the
next, and the templates (``regies/typst/*.typ``) receive each document's values as JSON,
read as text, never as markup. Many invoices can also be rendered by several processes
(``render_many``): the parent reads the database, the children only typeset."""

from __future__ import annotations

import datetime
import io
import json
import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import segno
from django.db.models import Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from pypdf import PdfWriter
from stdnum import iban as stdnum_iban

from opsn.branding.models import CommuneProfile
from opsn.branding.selectors import current_profile
from opsn.kernel.money import euros
from opsn.kernel.tenancy import current_commune
from opsn.kernel.urls import public_url
from opsn.regies.models import (
    Allocation,
    Invoice,
    InvoiceLine,
    Payer,
    PaymentMode,
)
from opsn.regies.signals import invoice_debit_notice
from opsn.regies.typesetting import BATCH, CERTIFICATE, INVOICE, typeset, typeset_job

ZERO = Decimal("0.00")
COUNTER_MODES = (PaymentMode.CASH, PaymentMode.CHEQUE, PaymentMode.CARD)
PAY_PATH = "/payer/"  # the commune site's « Payer une facture »
SPACE_PATH = "/mon-espace/rattachements/"


def pay_url(number: str, domain: str) -> str:
    """The address printed on the invoice (and in its QR code): the commune site's page
    that pays an invoice by its number and code, without an account."""
    return public_url(domain, PAY_PATH, {"facture": number})


def _logo_path(brand: CommuneProfile) -> str:
    """The logo as a file the typesetter reads (files are stored under MEDIA_ROOT)."""
    image = brand.logo or brand.emblem
    if not image:
        return ""
    try:
        path = Path(image.path)
    except NotImplementedError:  # a storage without local files
        return ""
    return str(path) if path.is_file() else ""


def _quantity(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def _day(value: datetime.date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else ""


def period_text(start: datetime.date | None, end: datetime.date | None) -> str:
    if start and end:
        return _day(start) if start == end else f"du {_day(start)} au {_day(end)}"
    if start:
        return f"à partir du {_day(start)}"
    return f"jusqu'au {_day(end)}" if end else ""


def _qr_svg(url: str) -> str:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=3, border=1, xmldecl=False)
    return out.getvalue().decode()


def formatted_iban(value: str) -> str:
    return stdnum_iban.format(value) if value else ""


class Renderer:
    """Renders a commune's invoices one after the other: its branding read once. One per
    job (it holds the commune's branding)."""

    def __init__(self, brand: CommuneProfile | None = None, domain: str | None = None):
        self.brand = brand or current_profile()
        if domain is None:
            commune = current_commune()
            domain = (commune.primary_domain if commune is not None else None) or ""
        self.domain = domain
        brand = self.brand
        self.brand_data = {
            "name": brand.display_name, "address": brand.address_line,
            "city": brand.city, "city_line": f"{brand.postal_code} {brand.city}".strip(),
            "siret": brand.siret, "phone": brand.phone, "email": brand.email,
            "website": brand.website, "primary": brand.primary_color,
            "on_primary": brand.primary_text_color, "secondary": brand.secondary_color}
        self.logo = _logo_path(brand)

    def _common(self, regie, payer: Payer) -> dict:
        return {
            "brand": self.brand_data, "logo": self.logo,
            "regie": {"name": regie.name, "number": regie.number,
                      "founding_act": regie.founding_act, "accountant": regie.accountant,
                      "counter_hours": regie.counter_hours},
            "payer": {"name": payer.name, "address": payer.address_line,
                      "city_line": f"{payer.postal_code} {payer.city}".strip(),
                      "link_code": payer.link_code}}

    # The invoice
    def invoice_data(self, invoice: Invoice) -> dict:
        regie, payer = invoice.regie, invoice.payer
        modes = set(regie.accepted_modes)
        url = pay_url(invoice.number, self.domain) if (
            self.domain and PaymentMode.ONLINE in modes) else ""
        remaining = ZERO if invoice.cancelled_at else invoice.remaining
        cancelled = ""
        if invoice.cancelled_at:
            cancelled = (f"Facture annulée le {timezone.localdate(invoice.cancelled_at):%d/%m/%Y}"
                         + (f" : {invoice.cancel_reason}" if invoice.cancel_reason else "")
                         + ". Rien n'est à payer.")
        return {
            **self._common(regie, payer),
            "invoice": {
                "number": invoice.number, "label": invoice.label,
                "issued_on": _day(invoice.issued_on), "due_on": _day(invoice.due_on),
                "lines": [{"label": line.label, "beneficiary": line.beneficiary or "—",
                           "period": period_text(line.period_start, line.period_end) or "—",
                           "quantity": _quantity(line.quantity),
                           "unit_price": euros(line.unit_price), "amount": euros(line.amount)}
                          for line in invoice.lines.all()],
                "total": euros(invoice.total), "amount_paid": euros(invoice.amount_paid),
                "remaining": euros(remaining), "cancelled": cancelled,
                "paid": not cancelled and remaining <= 0, "open": remaining > 0},
            "pay": {
                "url": url,
                "qr": _qr_svg(url) if url else "",
                "counter_modes": ", ".join(PaymentMode(m).label for m in COUNTER_MODES
                                           if m in modes),
                "cheques": PaymentMode.CHEQUE in modes,
                "iban": formatted_iban(regie.iban) if PaymentMode.TRANSFER in modes else "",
                "direct_debit": PaymentMode.DIRECT_DEBIT in modes,
                "debit_notice": _debit_notice(invoice) if (
                    PaymentMode.DIRECT_DEBIT in modes and remaining > 0) else ""},
            "spaces_url": public_url(self.domain, SPACE_PATH) if self.domain
            else "l'espace en ligne de la commune",
        }

    def invoice_pdf(self, invoice: Invoice) -> bytes:
        return typeset(INVOICE, self.invoice_data(invoice))

    # The certificate
    def certificate_pdf(self, found: Certificate) -> bytes:
        return typeset(CERTIFICATE, {
            **self._common(found.payer.regie, found.payer),
            "year": str(found.year), "today": _day(timezone.localdate()),
            "lines": [{"beneficiary": line.beneficiary or "—", "label": line.label,
                       "period": line.period or "—", "invoice": line.invoice,
                       "amount": euros(line.amount)} for line in found.lines],
            "beneficiaries": [(name or "non précisé", euros(amount))
                              for name, amount in found.by_beneficiary()],
            "total": euros(found.total)})


def _debit_notice(invoice: Invoice) -> str:
    """The sentence announcing the invoice's debit (``signals.invoice_debit_notice``), or
    « »."""
    for _receiver, answer in invoice_debit_notice.send(sender=Invoice, invoice=invoice):
        if isinstance(answer, str) and answer:
            return answer
    return ""


def with_documents(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """What the document reads of each invoice, in three queries per chunk."""
    return invoices.select_related("regie", "payer").prefetch_related(
        Prefetch("lines", queryset=InvoiceLine.objects.order_by("id")))


def invoice_pdf(invoice: Invoice) -> bytes:
    """One invoice (the agent's « Imprimer », the citizen's download, the API, the
    e-mail). Inside the commune's schema."""
    return Renderer().invoice_pdf(invoice)


def render_many(renderer: Renderer, invoices: Iterable[Invoice], *, workers: int = 1,
                chunk: int = 200) -> Iterator[tuple[Invoice, bytes]]:
    """Each invoice with its PDF, in order. With ``workers`` > 1 the values of each
    invoice are read here and typeset by that many child processes (spawned: they import
    the typesetter alone, and never touch the parent's database connection)."""
    if workers <= 1:
        for invoice in invoices:
            yield invoice, renderer.invoice_pdf(invoice)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: list[Invoice] = []
        for invoice in invoices:
            pending.append(invoice)
            if len(pending) >= chunk:
                yield from _rendered(pool, renderer, pending)
                pending = []
        if pending:
            yield from _rendered(pool, renderer, pending)


def _rendered(pool, renderer: Renderer, invoices: list[Invoice]):
    jobs = [(INVOICE, json.dumps(renderer.invoice_data(invoice))) for invoice in invoices]
    yield from zip(invoices, pool.map(typeset_job, jobs, chunksize=16), strict=True)


def render_batches(renderer: Renderer, invoices: Iterable[Invoice], *, workers: int = 1,
                   chunk: int = 250) -> Iterator[tuple[int, bytes]]:
    """Invoices to print: one PDF per ``chunk`` of them (each invoice on its own pages),
    with how many it holds, in order. A document of many invoices shares its fonts and
    costs less than as many documents; ``workers`` child processes typeset the chunks
    (spawned: they import the typesetter alone)."""
    def chunks() -> Iterator[list[dict]]:
        pending: list[dict] = []
        for invoice in invoices:
            pending.append(renderer.invoice_data(invoice))
            if len(pending) >= chunk:
                yield pending
                pending = []
        if pending:
            yield pending

    if workers <= 1:
        for items in chunks():
            yield len(items), typeset(BATCH, items)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        window: list[tuple[int, Future[bytes]]] = []
        for items in chunks():  # a few chunks ahead, not the whole month in memory
            window.append((len(items), pool.submit(typeset_job, (BATCH, json.dumps(items)))))
            if len(window) > workers:
                count, future = window.pop(0)
                yield count, future.result()
        for count, future in window:
            yield count, future.result()


def merged(pdfs: Iterable[bytes]) -> bytes:
    """Several PDFs as one to print (a batch). Each invoice keeps its own PDF/UA file for
    the family; the merged file is for the agent's printer."""
    writer = PdfWriter()
    for data in pdfs:
        writer.append(io.BytesIO(data))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- The yearly certificate (attestation de paiement) ---------------------------------------

@dataclass
class PaidLine:
    beneficiary: str
    label: str
    period: str
    invoice: str
    amount: Decimal


@dataclass
class Certificate:
    payer: Payer
    year: int
    lines: list[PaidLine]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    def by_beneficiary(self) -> list[tuple[str, Decimal]]:
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            totals[line.beneficiary] = totals.get(line.beneficiary, ZERO) + line.amount
        return sorted(totals.items())


def _shares(amount: Decimal, lines: list[InvoiceLine], total: Decimal) -> list[Decimal]:
    """``amount`` paid on an invoice, shared among its lines in proportion to their
    amounts, to the cent (what rounding leaves goes to the last line)."""
    if total <= 0 or not lines:
        return []
    shares = [(amount * line.amount / total).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
              for line in lines]
    shares[-1] += amount - sum(shares, ZERO)
    return shares


def paid_in_year(payer: Payer, year: int) -> Certificate:
    """What the payer paid in ``year`` (by the accounting day of each payment), net of
    reversals and cancellations, for which beneficiary and period: each invoice's
    allocations shared among its lines; sales at the counter by product."""
    start, end = datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1)
    day = Coalesce("entry__dated_on", TruncDate("entry__posted_at"))
    allocations = (Allocation.objects.filter(entry__payer=payer)
                   .alias(day=day).filter(day__gte=start, day__lt=end))
    per_invoice = {row["invoice"]: row["net"] for row in (
        allocations.filter(invoice__isnull=False).values("invoice")
        .annotate(net=Sum("amount")).filter(~Q(net=0)))}
    lines: list[PaidLine] = []
    invoices = (Invoice.objects.filter(pk__in=per_invoice).order_by("issued_on", "number")
                .prefetch_related(Prefetch("lines", queryset=InvoiceLine.objects
                                           .order_by("id"))))
    for invoice in invoices:
        invoice_lines = list(invoice.lines.all())
        total = sum((line.amount for line in invoice_lines), ZERO)
        for line, share in zip(invoice_lines,
                               _shares(per_invoice[invoice.pk], invoice_lines, total),
                               strict=True):
            if share:
                lines.append(PaidLine(line.beneficiary, line.label,
                                      period_text(line.period_start, line.period_end),
                                      invoice.number, share))
    sales = (allocations.filter(invoice__isnull=True).values("product__name")
             .annotate(net=Sum("amount")).filter(~Q(net=0)).order_by("product__name"))
    for row in sales:
        lines.append(PaidLine("", row["product__name"], "", "vente au guichet", row["net"]))
    return Certificate(payer=payer, year=year, lines=lines)


def certificate_pdf(payer: Payer, year: int) -> bytes:
    """The attestation de paiement of ``payer`` for ``year``, what families give for the
    childcare tax credit and the CAF. Inside the commune's schema."""
    return Renderer().certificate_pdf(paid_in_year(payer, year))
