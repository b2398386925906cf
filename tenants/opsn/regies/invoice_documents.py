"""The family's invoice (facture / avis des sommes à payer) and the yearly certificate of
payment (attestation de paiement), as PDF/UA in the commune's colours. Run inside the
commune's schema.

Speed (docs/decisions/0012-invoice-documents.md): a commune issues thousands of invoices
at once, and WeasyPrint takes tens of milliseconds a page. A ``Renderer`` keeps what does
not change from one invoice to the next — the parsed stylesheet in the commune's colours,
the font configuration, the images — and the HTML of each invoice is filled from one
template; the QR code is a small PNG (an SVG path costs more to draw than the rest of the
page). Many invoices are rendered by several processes (``render_many``): the parent reads
the database and writes the HTML, the children only turn HTML into PDF."""

from __future__ import annotations

import datetime
import io
import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import segno
from django.db.models import Prefetch, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.template.loader import render_to_string
from django.utils import timezone
from stdnum import iban as stdnum_iban

from opsn.branding.models import CommuneProfile
from opsn.branding.selectors import current_profile
from opsn.kernel.money import euros
from opsn.kernel.tenancy import current_commune
from opsn.regies.models import (
    Allocation,
    Invoice,
    InvoiceLine,
    Payer,
    PaymentMode,
)
from opsn.regies.verification import site_url

ZERO = Decimal("0.00")
COUNTER_MODES = (PaymentMode.CASH, PaymentMode.CHEQUE, PaymentMode.CARD)
PAY_PATH = "/payer/"  # the commune site's « Payer une facture »
SPACE_PATH = "/mon-espace/rattachements/"


def pay_url(number: str, domain: str) -> str:
    """The address printed on the invoice (and in its QR code): the commune site's page
    that pays an invoice by its number and code, without an account."""
    return site_url(domain, PAY_PATH, {"facture": number})


def _logo_uri(brand: CommuneProfile) -> str:
    image = brand.logo or brand.emblem
    if not image:
        return ""
    try:
        path = Path(image.path)
    except NotImplementedError:  # a storage without local files
        return ""
    return path.as_uri() if path.is_file() else ""


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


def formatted_iban(value: str) -> str:
    return stdnum_iban.format(value) if value else ""


# --- What does not change from one invoice to the next --------------------------------------

_WORKER: dict = {}


def _weasy(css_text: str):
    """The stylesheet parsed once, with its font configuration (per process)."""
    from weasyprint import CSS  # noqa: PLC0415  (WeasyPrint loads Pango: only when printing)
    from weasyprint.text.fonts import FontConfiguration  # noqa: PLC0415

    fonts = FontConfiguration()
    return fonts, CSS(string=css_text, font_config=fonts)


def _html_to_pdf(html: str, css_text: str, cache: dict, state: dict) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415

    if state.get("css_text") != css_text:
        state["fonts"], state["css"] = _weasy(css_text)
        state["css_text"] = css_text
    return HTML(string=html).write_pdf(pdf_variant="pdf/ua-1", stylesheets=[state["css"]],
                                       font_config=state["fonts"], cache=cache)


def _child_render(job: tuple[str, str]) -> bytes:
    """In a child process: HTML to PDF, nothing else (no database, no Django)."""
    css_text, html = job
    return _html_to_pdf(html, css_text, _WORKER.setdefault("cache", {}), _WORKER)


class Renderer:
    """Renders a commune's invoices one after the other, keeping the stylesheet, fonts and
    images between them. One per job (it holds the commune's branding)."""

    def __init__(self, brand: CommuneProfile | None = None, domain: str | None = None):
        self.brand = brand or current_profile()
        if domain is None:
            commune = current_commune()
            domain = (commune.primary_domain if commune is not None else None) or ""
        self.domain = domain
        self.logo = _logo_uri(self.brand)
        self.css_text = render_to_string("regies/invoice_pdf.css", {"brand": self.brand})
        self._cache: dict = {}
        self._state: dict = {}

    def pdf(self, html: str) -> bytes:
        return _html_to_pdf(html, self.css_text, self._cache, self._state)

    # The invoice
    def invoice_html(self, invoice: Invoice) -> str:
        return render_to_string("regies/invoice_pdf.html", self.invoice_context(invoice))

    def invoice_context(self, invoice: Invoice) -> dict:
        regie, payer = invoice.regie, invoice.payer
        modes = set(regie.accepted_modes)
        url = pay_url(invoice.number, self.domain) if (
            self.domain and PaymentMode.ONLINE in modes) else ""
        remaining = ZERO if invoice.cancelled_at else invoice.remaining
        return {
            "brand": self.brand, "logo": self.logo, "invoice": invoice, "regie": regie,
            "payer": payer,
            "lines": [{"label": line.label, "beneficiary": line.beneficiary,
                       "period": period_text(line.period_start, line.period_end),
                       "quantity": _quantity(line.quantity),
                       "unit_price": euros(line.unit_price), "amount": euros(line.amount)}
                      for line in invoice.lines.all()],
            "total": euros(invoice.total), "amount_paid": euros(invoice.amount_paid),
            "remaining": euros(remaining),
            "cancelled": timezone.localdate(invoice.cancelled_at) if invoice.cancelled_at
            else None,
            "paid": remaining <= 0, "open": remaining > 0,
            "pay_url": url,
            "qr": segno.make(url, error="m").png_data_uri(scale=3, border=1) if url else "",
            "counter_modes": ", ".join(PaymentMode(m).label for m in COUNTER_MODES
                                       if m in modes),
            "takes_cheques": PaymentMode.CHEQUE in modes,
            "iban": formatted_iban(regie.iban) if PaymentMode.TRANSFER in modes else "",
            "direct_debit": PaymentMode.DIRECT_DEBIT in modes,
            "spaces_url": site_url(self.domain, SPACE_PATH) if self.domain
            else "l'espace en ligne de la commune",
        }

    def invoice_pdf(self, invoice: Invoice) -> bytes:
        return self.pdf(self.invoice_html(invoice))


def with_documents(invoices) -> Iterable[Invoice]:
    """What the document reads of each invoice, in three queries per chunk."""
    return invoices.select_related("regie", "payer").prefetch_related(
        Prefetch("lines", queryset=InvoiceLine.objects.order_by("id")))


def invoice_pdf(invoice: Invoice) -> bytes:
    """One invoice (the agent's « Imprimer », the citizen's download, the API, the
    e-mail). Inside the commune's schema."""
    return Renderer().invoice_pdf(invoice)


def render_many(renderer: Renderer, invoices: Iterable[Invoice], *, workers: int = 1,
                chunk: int = 200) -> Iterator[tuple[Invoice, bytes]]:
    """Each invoice with its PDF, in order. With ``workers`` > 1 the HTML of each invoice
    is written here and turned into PDF by that many child processes (forked: they need
    nothing but WeasyPrint, and never touch the parent's database connection)."""
    if workers <= 1:
        for invoice in invoices:
            yield invoice, renderer.invoice_pdf(invoice)
        return
    context = multiprocessing.get_context("fork")
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
    jobs = [(renderer.css_text, renderer.invoice_html(invoice)) for invoice in invoices]
    yield from zip(invoices, pool.map(_child_render, jobs, chunksize=8), strict=True)


def merged(pdfs: Iterable[bytes]) -> bytes:
    """Several PDFs as one to print (a batch). Each invoice keeps its own PDF/UA file for
    the family; the merged file is for the agent's printer."""
    from pypdf import PdfWriter  # noqa: PLC0415

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
    renderer = Renderer()
    found = paid_in_year(payer, year)
    html = render_to_string("regies/certificate_pdf.html", {
        "brand": renderer.brand, "logo": renderer.logo, "payer": payer, "regie": payer.regie,
        "year": str(year), "lines": [{"beneficiary": line.beneficiary or "—", "label": line.label,
                                 "period": line.period or "—", "invoice": line.invoice,
                                 "amount": euros(line.amount)} for line in found.lines],
        "beneficiaries": [(name or "non précisé", euros(amount))
                          for name, amount in found.by_beneficiary()],
        "total": euros(found.total), "today": timezone.localdate()})
    return renderer.pdf(html)
