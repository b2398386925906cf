"""Posting to a régie's ledger: every payment, at the counter, over the API or from an
import, goes through ``payment_record``; a mistake is undone by ``payment_reverse``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from communes.tenancy import connection
from regies.models import LedgerEntry, PaymentMode, ReceiptCounter, Regie

GENESIS = "0" * 64


class RegieError(ValueError):
    """A payment the régie cannot take; the message says why."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def parse_amount(value) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", ".").replace("\u202f", "").replace(" ", ""))
    except InvalidOperation:
        raise RegieError(f"« {value} » n'est pas un montant.", field="amount") from None
    if not amount.is_finite():
        raise RegieError(f"« {value} » n'est pas un montant.", field="amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise RegieError(f"{value} € a plus de deux décimales.", field="amount")
    if amount <= 0:
        raise RegieError("Le montant doit être positif.", field="amount")
    return amount.quantize(Decimal("0.01"))


def _post(regie: Regie, **fields) -> LedgerEntry:
    """Number and chain an entry; the régie row is locked until commit, so concurrent
    cashiers get consecutive numbers and one chain."""
    now = timezone.now()
    year = timezone.localtime(now).year
    counter, _ = ReceiptCounter.objects.get_or_create(regie=regie, year=year)
    counter = ReceiptCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    entry = LedgerEntry(regie=regie, year=year, receipt_number=counter.last_number,
                        posted_at=now, **fields)
    entry.save()  # the database chains it (trigger regies_ledger_chain)
    entry.refresh_from_db(fields=["previous_hash", "hash"])
    return entry


@transaction.atomic
def payment_record(*, regie: Regie, amount, mode: str, payer_name: str, agent: str,
                   details: dict | None = None) -> LedgerEntry:
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    value = parse_amount(amount)
    if mode not in PaymentMode.values:
        raise RegieError(f"Mode de paiement inconnu : « {mode} ».", field="mode")
    if mode not in regie.accepted_modes:
        label = PaymentMode(mode).label
        raise RegieError(f"La régie {regie.name} n'accepte pas ce mode de paiement ({label}).",
                         field="mode")
    if mode == PaymentMode.CASH and value > settings.OPSN_CASH_PAYMENT_LIMIT:
        raise RegieError(f"Un paiement en espèces est limité à "
                         f"{settings.OPSN_CASH_PAYMENT_LIMIT} € (CGI, art. 1680) : proposez "
                         "un chèque, la carte ou un virement.", field="amount")
    if not (payer_name or "").strip():
        raise RegieError("Le nom du payeur manque.", field="payer_name")
    today = timezone.localdate()
    if regie.starts_on > today or (regie.ends_on and regie.ends_on <= today):
        raise RegieError(f"La régie {regie.name} n'est pas ouverte aujourd'hui.")
    return _post(regie, amount=value, mode=mode, payer_name=payer_name.strip(),
                 details=details or {}, agent=agent)


@transaction.atomic
def payment_reverse(*, entry: LedgerEntry, reason: str, agent: str) -> LedgerEntry:
    """Cancel a posted payment by a new, negative entry that references it."""
    regie = Regie.objects.select_for_update().get(pk=entry.regie_id)
    entry = LedgerEntry.objects.get(pk=entry.pk)
    if not (reason or "").strip():
        raise RegieError("Donnez le motif de l'annulation.", field="reason")
    if entry.reverses_id is not None:
        raise RegieError("Une annulation ne s'annule pas : enregistrez un nouveau paiement.")
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise RegieError(f"La quittance {entry.receipt} est déjà annulée.")
    return _post(regie, amount=-entry.amount, mode=entry.mode, payer_name=entry.payer_name,
                 details={"annule": entry.receipt}, agent=agent, reverses=entry,
                 reason=reason.strip())


def verify_chain(regie: Regie) -> LedgerEntry | None:
    """The first entry whose link is broken (altered, removed or inserted), or None. The
    database recomputes every fingerprint with the function that wrote it: first the
    fingerprints (a plain scan, which PostgreSQL may run in parallel), then the links."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT min(id) FROM regies_ledgerentry
            WHERE regie_id = %s AND hash <> regies_entry_hash(previous_hash, regie_id, year,
                receipt_number, amount, mode, payer_name, details, agent, posted_at,
                reverses_id, reason)""", [regie.pk])
        altered = cursor.fetchone()[0]
        cursor.execute("""
            SELECT min(id) FROM (
                SELECT id, previous_hash, lag(hash) OVER (ORDER BY id) AS before
                FROM regies_ledgerentry WHERE regie_id = %s) chain
            WHERE previous_hash <> coalesce(before, %s)""", [regie.pk, GENESIS])
        unlinked = cursor.fetchone()[0]
    broken = min((pk for pk in (altered, unlinked) if pk is not None), default=None)
    return LedgerEntry.objects.get(pk=broken) if broken is not None else None
