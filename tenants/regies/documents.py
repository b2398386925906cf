"""The receipt (quittance) as a PDF, in the commune's colours."""

from __future__ import annotations

from django.template.loader import render_to_string

from branding.selectors import current_profile
from regies.models import LedgerEntry
from regies.words import amount_in_words


def receipt_pdf(entry: LedgerEntry) -> bytes:
    """Must run inside the commune's schema (its profile and ledger live there)."""
    from weasyprint import HTML

    html = render_to_string("regies/receipt_pdf.html", {
        "entry": entry, "regie": entry.regie, "brand": current_profile(),
        "words": amount_in_words(entry.amount), "mode": entry.get_mode_display()})
    return HTML(string=html).write_pdf(pdf_variant="pdf/ua-1")
