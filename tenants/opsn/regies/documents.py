"""The régies' documents as PDF/UA, in the commune's colours: the receipt (quittance) and
the deposit slip (bordereau de versement)."""

from __future__ import annotations

from pathlib import Path

from django.template.loader import render_to_string
from django.utils import timezone

from opsn.branding.models import CommuneProfile
from opsn.branding.selectors import current_profile
from opsn.finance.regularisation import deposit_regularisation
from opsn.kernel.money import euros
from opsn.kernel.tenancy import current_commune
from opsn.regies.counted import (
    NOT_COUNTED,
    DepositCount,
    closing_lines,
    deposit_count,
    difference_text,
)
from opsn.regies.exports import cheque_of, slip_order
from opsn.regies.models import Deposit, LedgerEntry, PaymentMode
from opsn.regies.reports import deposit_entries
from opsn.regies.verification import qr_svg_data_uri, verification_code, verification_url
from opsn.regies.words import amount_in_words


def _pdf(template: str, context: dict) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415

    html = render_to_string(template, context)
    return HTML(string=html).write_pdf(pdf_variant="pdf/ua-1")


def receipt_pdf(entry: LedgerEntry) -> bytes:
    """Must run inside the commune's schema (its profile and ledger live there). The
    receipt carries the address, code and QR code that let anyone check it."""

    commune = current_commune()
    domain = (commune.primary_domain if commune is not None else None) or ""
    check = verification_url(entry, domain) if domain else ""
    return _pdf("regies/receipt_pdf.html", {
        "entry": entry, "regie": entry.regie, "brand": current_profile(),
        "amount": euros(entry.amount), "words": amount_in_words(entry.amount),
        "mode": entry.get_mode_display(), "code": verification_code(entry),
        "check_url": check, "qr": qr_svg_data_uri(check) if check else ""})


def _logo_uri(brand: CommuneProfile) -> str:
    """The logo as a file the renderer reads (files are stored under MEDIA_ROOT)."""
    image = brand.logo or brand.emblem
    if not image:
        return ""
    try:
        path = Path(image.path)
    except NotImplementedError:  # a storage without local files
        return ""
    return path.as_uri() if path.is_file() else ""


def _counted_context(count: DepositCount) -> dict:
    """The slip's figures as it writes them: per mode the journal, what was counted and
    the difference with its reasons; the closings carried, day by day."""
    return {
        "modes": [{"label": m.label, "entries": m.entries, "journal": euros(m.journal),
                   "counted": euros(m.counted) if m.counted is not None else NOT_COUNTED,
                   "difference": m.difference_text or "—", "paid": euros(m.paid),
                   "reasons": [str(gap) for gap in m.gaps]} for m in count.modes],
        "closings": [{"day": c.day, "by": c.closed_by_name or c.closed_by,
                      "at": timezone.localtime(c.closed_at), "notes": c.notes,
                      "lines": [{"label": PaymentMode(line.mode).label,
                                 "expected": euros(line.expected),
                                 "counted": euros(line.counted),
                                 "difference": difference_text(line.difference),
                                 "reason": line.reason} for line in closing_lines(c)]}
                     for c in count.closings],
        "uncounted_days": count.uncounted_days, "previous_slip": count.previous_slip,
        "journal": euros(count.journal),
        "counted": euros(count.counted) if count.counted is not None else NOT_COUNTED,
        "partly": count.counted_partly, "difference": count.difference_text,
        "has_difference": bool(count.difference)}


def deposit_slip_pdf(deposit: Deposit) -> bytes:
    """The bordereau de versement: per mode the journal's amount, what was counted at the
    closings the deposit carries and the difference (excédent or déficit de caisse) with
    its reasons (``opsn.regies.counted``); those closings day by day; then every payment
    it covers grouped by mode (reversals negative), the total paid in in figures and in
    words, and a box for each signature. Inside the commune's schema."""
    by_mode: dict[str, list[dict]] = {}
    for entry in slip_order(deposit_entries(deposit)):
        cheque, bank = cheque_of(entry)
        by_mode.setdefault(entry.mode, []).append({
            "receipt": entry.receipt, "date": timezone.localtime(entry.posted_at),
            "payer": entry.payer_name, "amount": euros(entry.amount), "cheque": cheque,
            "bank": bank, "note": getattr(entry, "note", ""),  # annotated by deposit_entries
            "reversal": entry.reverses_id is not None})
    lines = list(deposit.lines.all())
    groups = [{"mode": line.mode, "label": PaymentMode(line.mode).label,
               "entries": line.entries, "total": euros(line.amount),
               "rows": by_mode.get(line.mode, []), "cheques": line.mode == PaymentMode.CHEQUE}
              for line in sorted(lines, key=lambda x: PaymentMode.values.index(x.mode))]
    count = deposit_count(deposit)
    brand = current_profile()
    return _pdf("regies/deposit_slip_pdf.html", {
        "deposit": deposit, "regie": deposit.regie, "brand": brand, "logo": _logo_uri(brand),
        "groups": groups, "count": sum(line.entries for line in lines),
        "counted": _counted_context(count),
        "total": euros(count.paid), "words": amount_in_words(count.paid),
        "made_at": timezone.localtime(deposit.made_at),
        "first": deposit.first_entry.receipt, "last": deposit.last_entry.receipt,
        "regularisation": [{"nature": line.nature, "nature_label": line.nature_label,
                            "fonction": line.fonction, "fonction_label": line.fonction_label,
                            "amount": euros(line.amount)}
                           for line in deposit_regularisation(deposit).lines],
        "regularisation_total": euros(deposit.total)})
