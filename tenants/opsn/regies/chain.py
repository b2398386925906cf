"""Verifying a régie's journal: every entry's fingerprint, and its link to the previous
one, recomputed by the database with the function that wrote them (migration 0006)."""

from __future__ import annotations

from opsn.kernel.tenancy import commune_connection
from opsn.regies.models import LedgerEntry, Regie

GENESIS = "0" * 64

FINGERPRINT = """regies_entry_hash(previous_hash, regie_id, year, receipt_number, amount, mode,
    payer_id, payer_name, details, source, external_ref, agent, agent_name, posted_at,
    reverses_id, reason, dated_on)"""


def verify_chain(regie: Regie) -> LedgerEntry | None:
    """The first entry whose link is broken (altered, removed or inserted), or None. First
    the fingerprints (a plain scan, which PostgreSQL runs in parallel), then the links."""
    with commune_connection().cursor() as cursor:
        # min(id + 0), not min(id): for min(id) the planner walks the primary key in order
        # and stops at the first bad row, in one process; every row is read anyway when the
        # chain is sound, and a parallel scan reads them on every core (1,000,000 entries on
        # 2 cores: 3.6 s instead of 7.3 s).
        cursor.execute(f"""
            SELECT min(id + 0) FROM regies_ledgerentry
            WHERE regie_id = %s AND hash <> {FINGERPRINT}""", [regie.pk])
        altered = cursor.fetchone()[0]
        cursor.execute("""
            SELECT min(id) FROM (
                SELECT id, previous_hash, lag(hash) OVER (ORDER BY id) AS before
                FROM regies_ledgerentry WHERE regie_id = %s) chain
            WHERE previous_hash <> coalesce(before, %s)""", [regie.pk, GENESIS])
        unlinked = cursor.fetchone()[0]
    broken = min((pk for pk in (altered, unlinked) if pk is not None), default=None)
    return LedgerEntry.objects.get(pk=broken) if broken is not None else None
