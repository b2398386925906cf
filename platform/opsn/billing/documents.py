"""The invoice as documents: the PDF a person reads and the EN 16931 XML Chorus Pro reads,
together in one Factur-X file (a PDF/A-3 with the XML inside).

PDF by WeasyPrint (from an HTML template), XML by drafthorse (the CII syntax), assembled and
checked against the Factur-X XSD by the `factur-x` library.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

import facturx
from django.conf import settings
from django.db import connections
from django.template.loader import render_to_string
from django.utils import timezone
from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.tradelines import LineItem

from opsn.billing.computation import vat_breakdown
from opsn.billing.models import Invoice

logger = logging.getLogger("opsn.billing")

ZERO = Decimal("0.00")
VAT_EXEMPTION = "Contribution des collectivités membres, nette de taxe (hors champ de la TVA)"


def documents_dir(year: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "operator" / "billing" / str(year)


def document_path(invoice: Invoice) -> Path:
    return documents_dir(invoice.year) / f"{invoice.number}.pdf"


def invoice_xml(invoice: Invoice) -> bytes:
    operator = settings.OPSN_OPERATOR
    lines = list(invoice.lines.all())
    doc = Document()
    doc.context.guideline_parameter.id = "urn:cen.eu:en16931:2017"
    doc.header.id = invoice.number
    doc.header.type_code = "381" if invoice.kind == Invoice.Kind.CREDIT_NOTE else "380"
    doc.header.issue_date_time = timezone.localtime(invoice.issued_at).date()
    agreement = doc.trade.agreement
    seller = agreement.seller
    seller.name = operator["name"]
    seller.legal_organization.id = ("0002", operator["siren"])  # BT-30: SIREN
    seller.address.line_one = operator["address"]
    seller.address.postcode = operator["postcode"]
    seller.address.city_name = operator["city"]
    seller.address.country_id = "FR"
    # BT-31, the seller's VAT identifier: required by BR-E-02 (the contributions, exempt)
    # and BR-S-02 (a service at 20 %). BT-32 when the operator gives one.
    seller.tax_registrations.add(TaxRegistration(id=("VA", operator["vat_number"])))
    if operator.get("tax_registration"):
        seller.tax_registrations.add(TaxRegistration(id=("FC", operator["tax_registration"])))
    buyer = agreement.buyer
    buyer.name = invoice.commune_name
    if invoice.commune_siret:
        # Chorus Pro routes by the SIRET of the commune's billing establishment (scheme
        # 0009): BT-46 and BT-47.
        buyer.global_id.add(("0009", invoice.commune_siret))
        buyer.legal_organization.id = ("0009", invoice.commune_siret)
    elif invoice.commune_siren:
        buyer.legal_organization.id = ("0002", invoice.commune_siren)
    buyer.address.country_id = "FR"
    if invoice.service_code:
        agreement.buyer_reference = invoice.service_code  # BT-10: Chorus Pro service code
    if invoice.engagement_number:
        agreement.buyer_order.issuer_assigned_id = invoice.engagement_number  # BT-13
    if invoice.convention_number:
        agreement.contract.issuer_assigned_id = invoice.convention_number  # BT-12
    if invoice.convention_mentions:
        doc.header.notes.add(IncludedNote(content=invoice.convention_mentions))  # BT-22
    if invoice.correction_reason:
        doc.header.notes.add(IncludedNote(
            content=f"Motif de la correction : {invoice.correction_reason}"))
    settlement = doc.trade.settlement
    settlement.currency_code = "EUR"
    settlement.payment_means.type_code = "30"  # credit transfer
    # A credit note carries positive amounts: its type code (381) says it is a credit.
    negate = invoice.kind == Invoice.Kind.CREDIT_NOTE

    def signed(value: Decimal) -> Decimal:
        # Never "-0.00" (a free line of a credit note): EN 16931 BR-27 reads it negative.
        return (-value if negate else value) + ZERO

    for line in lines:
        item = LineItem()
        item.document.line_id = str(line.position)
        item.product.name = line.label
        item.agreement.net.amount = signed(line.amount)
        item.delivery.billed_quantity = (Decimal("1.0000"), "C62")
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = "S" if line.vat_rate else "E"
        item.settlement.trade_tax.rate_applicable_percent = line.vat_rate
        item.settlement.monetary_summation.total_amount = signed(line.amount)
        doc.trade.items.add(item)
    for rate, (basis, vat) in vat_breakdown(lines).items():
        tax = ApplicableTradeTax()
        tax.calculated_amount = signed(vat)
        tax.basis_amount = signed(basis)
        tax.type_code = "VAT"
        if not rate:
            tax.exemption_reason = VAT_EXEMPTION
        tax.category_code = "S" if rate else "E"
        tax.rate_applicable_percent = rate
        settlement.trade_tax.add(tax)
    summary = settlement.monetary_summation
    summary.line_total = signed(invoice.total_excl_vat)
    summary.charge_total = ZERO
    summary.allowance_total = ZERO
    summary.tax_basis_total = signed(invoice.total_excl_vat)
    summary.tax_total = (signed(invoice.vat_total), "EUR")
    summary.grand_total = signed(invoice.total)
    summary.due_amount = signed(invoice.total)
    return doc.serialize(schema="FACTUR-X_EN16931")


_font_config = None


def _fonts():
    """One font configuration per process: building it costs a third of a render."""
    global _font_config
    if _font_config is None:
        from weasyprint.text.fonts import FontConfiguration  # noqa: PLC0415

        _font_config = FontConfiguration()
    return _font_config


def invoice_pdf(invoice: Invoice) -> bytes:
    """The Factur-X file: a PDF/A-3 with the invoice's XML inside, checked on the way."""
    from weasyprint import HTML  # noqa: PLC0415

    html = render_to_string("billing/invoice_pdf.html", {
        "invoice": invoice, "lines": invoice.lines.all(), "operator": settings.OPSN_OPERATOR,
        "vat": vat_breakdown(invoice.lines.all()),
        "vat_exemption": VAT_EXEMPTION,
        "contest_days": settings.OPSN_INVOICE_CONTEST_DAYS,
        "payment_days": settings.OPSN_INVOICE_PAYMENT_DAYS})
    pdf = HTML(string=html).write_pdf(pdf_variant="pdf/a-3b", font_config=_fonts())
    return facturx.generate_from_binary(
        pdf, invoice_xml(invoice), flavor="factur-x", level="en16931", check_xsd=True,
        lang="fr-FR", pdf_metadata={
            "author": settings.OPSN_OPERATOR["name"],
            "keywords": "Factur-X, titre de recette",
            "title": f"{invoice.get_kind_display().capitalize()} {invoice.number}",
            "subject": f"{invoice.get_kind_display().capitalize()} {invoice.number} — "
                       f"{invoice.commune_name}"})


def ensure_document(invoice: Invoice) -> Path:
    path = document_path(invoice)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(invoice_pdf(invoice))
        partial.rename(path)  # never a half-written file under the final name
    return path


def _generate(ids: list[int]) -> int:
    done = 0
    for invoice in Invoice.objects.filter(pk__in=ids).prefetch_related("lines"):
        ensure_document(invoice)
        done += 1
    return done


def _generate_in_child(ids: list[int]) -> int:
    try:
        return _generate(ids)  # the parent closed its connections before forking
    finally:
        connections.close_all()


def generate_documents(invoices, *, workers: int = 1) -> int:
    """Write the missing Factur-X files; several processes when ``workers`` > 1.
    Idempotent: a file already written is kept."""
    ids = [i.pk for i in invoices if not document_path(i).exists()]
    if not ids:
        return 0
    if workers <= 1 or connections["default"].in_atomic_block:
        return _generate(ids)
    # Each process opens its own connection: none may inherit the parent's socket.
    connections.close_all()
    chunks = [ids[i::workers] for i in range(workers)]

    with ProcessPoolExecutor(max_workers=workers,
                             mp_context=multiprocessing.get_context("fork")) as pool:
        return sum(pool.map(_generate_in_child, chunks))

