"""Anyone can check a receipt (quittance) on the commune's site, without signing in: its
régie, number and verification code give back whether it is authentic, its amount and
date — never the payer's name. The code is the first 64 bits of the entry's chain hash,
which the database computed when it was posted and never changes: it cannot be made up
without the journal, and it says nothing about the payer."""

from __future__ import annotations

import hmac
import re

import segno

from opsn.kernel.urls import public_url
from opsn.regies.models import LedgerEntry

CODE_LENGTH = 16  # hex digits: 64 bits


def verification_code(entry: LedgerEntry) -> str:
    # The database writes the hash on insert: an entry just posted does not carry it yet.
    chained = entry.hash or LedgerEntry.objects.values_list("hash", flat=True).get(pk=entry.pk)
    digits = chained[:CODE_LENGTH].upper()
    return "-".join(digits[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def verification_url(entry: LedgerEntry, domain: str) -> str:
    """On the commune's site as the public reaches it (``opsn.kernel.urls``)."""
    return public_url(domain, "/quittances/verifier/", {
        "regie": entry.regie.number, "quittance": entry.receipt,
        "code": verification_code(entry)})


def qr_svg_data_uri(url: str) -> str:
    return segno.make(url, error="m").svg_data_uri(scale=3, border=1)


RECEIPT = re.compile(r"^\s*(\d{4})-(\d{1,9})\s*$")


def receipt_verified(*, regie_number: str, receipt: str, code: str) -> LedgerEntry | None:
    """The entry these three name, or None (whether the receipt does not exist or the code
    is wrong: the answer is the same, so numbers cannot be probed)."""
    found = RECEIPT.match(receipt or "")
    typed = re.sub(r"[^0-9A-Fa-f]", "", code or "").lower()
    if not found or len(typed) != CODE_LENGTH:
        return None
    entry = (LedgerEntry.objects.select_related("regie", "reversed_by")
             .filter(regie__number=(regie_number or "").strip(), year=int(found[1]),
                     receipt_number=int(found[2])).first())
    if entry is None or not hmac.compare_digest(entry.hash[:CODE_LENGTH], typed):
        return None
    return entry
