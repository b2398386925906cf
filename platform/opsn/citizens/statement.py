"""A person's statement across communes: every invoice and payment of the payer records
they are linked to, newest first, with totals. The one place that reads across commune
schemas: one ``UNION ALL`` query over the linked schemas only (two branches each), grouped
by database, so its cost follows the person's links, not the number of communes."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connections
from psycopg import sql

from opsn.citizens.errors import CitizenError, NotLinked
from opsn.citizens.models import PayerLink
from opsn.communes.models import Commune
from opsn.finance.reminders import family_label, reminders_of
from opsn.kernel.tenancy import inside, note_schemas
from opsn.online_payments.selectors import LABELS as ONLINE_LABELS
from opsn.online_payments.selectors import PENDING, in_flight
from opsn.regies.documents import receipt_pdf
from opsn.regies.invoice_documents import certificate_pdf, invoice_pdf, with_documents
from opsn.regies.models import Invoice, LedgerEntry, Payer, receipt_label

ZERO = Decimal("0.00")
STATUS_LABELS = {"due": "à payer", "partly_paid": "payée en partie", "paid": "payée",
                 "cancelled": "annulée"}
MODE_LABELS = {"cash": "espèces", "cheque": "chèque", "card": "carte bancaire",
               "transfer": "virement", "direct_debit": "prélèvement", "online": "en ligne",
               "other": "autre"}
INVOICE_STATUSES = tuple(STATUS_LABELS)
TRANSMITTED_LABEL = "transmise au comptable public"
MODES = tuple(MODE_LABELS)

PAYMENTS = """
    SELECT 'payment' AS kind, {commune}::bigint AS commune_id, e.id, r.number AS regie,
           r.name AS regie_name, e.posted_at AS at, e.year, e.receipt_number AS receipt,
           NULL::text AS invoice, e.amount, e.mode, NULL::text AS status,
           e.reverses_id IS NOT NULL AS is_reversal, NULL::date AS due_on,
           NULL::numeric AS remaining, e.payer_name AS payer, false AS online,
           NULL::text AS transmitted
    FROM {schema}.regies_ledgerentry e JOIN {schema}.regies_regie r ON r.id = e.regie_id
    WHERE e.payer_id = ANY({payers}) {where}"""
INVOICES = """
    SELECT 'invoice' AS kind, {commune}::bigint AS commune_id, i.id, r.number AS regie,
           r.name AS regie_name, (i.issued_on::timestamp AT TIME ZONE {tz}) AS at,
           extract(year FROM i.issued_on)::int AS year, NULL::int AS receipt,
           i.number AS invoice, i.total AS amount, NULL::text AS mode, i.status,
           false AS is_reversal, i.due_on,
           CASE WHEN i.status IN ('due', 'partly_paid') THEN i.total - i.amount_paid END
               AS remaining,
           p.name AS payer,
           (i.status IN ('due', 'partly_paid') AND 'online' = ANY(r.accepted_modes)
            AND EXISTS (SELECT FROM {schema}.online_payments_payfipaccount a
                        WHERE a.regie_id = r.id AND a.enabled)
            AND NOT EXISTS (SELECT FROM {schema}.finance_handedoverinvoice h
                            WHERE h.invoice_id = i.id)) AS online,
           (SELECT u.number || '/' || u.year FROM {schema}.finance_handedoverinvoice h
              JOIN {schema}.finance_unpaidhandover u ON u.id = h.handover_id
            WHERE h.invoice_id = i.id) AS transmitted
    FROM {schema}.regies_invoice i JOIN {schema}.regies_regie r ON r.id = i.regie_id
         JOIN {schema}.regies_payer p ON p.id = i.payer_id
    WHERE i.payer_id = ANY({payers}) {where}"""


@dataclass(frozen=True)
class Filters:
    commune: int | None = None  # commune id
    regie: str = ""  # régie number (within the commune filter)
    year: int | None = None
    mode: str = ""  # payments only
    status: str = ""  # invoices only

    def check(self) -> Filters:
        if self.mode and self.mode not in MODES:
            raise CitizenError(f"Mode de paiement inconnu : « {self.mode} ».", field="mode")
        if self.status and self.status not in INVOICE_STATUSES:
            raise CitizenError(f"Statut inconnu : « {self.status} ».", field="status")
        if self.regie and self.commune is None:
            raise CitizenError("Choisissez la commune de la régie.", field="regie")
        return self


@dataclass
class Item:
    kind: str  # payment | invoice
    commune: Commune
    id: int
    regie: str
    regie_name: str
    at: datetime.datetime
    year: int
    receipt_number: int | None
    invoice_number: str | None
    amount: Decimal
    mode: str | None
    status: str | None
    is_reversal: bool
    due_on: datetime.date | None
    remaining: Decimal | None
    payer: str
    offers_online: bool = False  # an open invoice of a régie that takes PayFiP
    # The bordereau (« 3/2026 ») that handed the invoice over to the public accountant:
    # the family now pays the Trésor public, no longer the régie.
    transmitted: str | None = None
    # An online payment of the invoice in flight (online_payments.selectors): received and
    # being recorded, checked by the régie, or waiting for PayFiP's result.
    online_state: str = ""
    # The reminders the régie sent for the invoice (opsn.finance.reminders), as said to the
    # family: « Relance n° 1 du 20/11/2026 par courriel ».
    reminders: list[str] = field(default_factory=list)

    @property
    def payable_online(self) -> bool:
        """« Payer en ligne »: offered unless a payment of the invoice is in flight (one
        still waiting for its result may be taken up again, never doubled)."""
        return self.offers_online and self.online_state in ("", PENDING)

    @property
    def online_label(self) -> str:
        return ONLINE_LABELS.get(self.online_state, "")

    @property
    def mode_label(self) -> str:
        return MODE_LABELS.get(self.mode or "", "")

    @property
    def status_label(self) -> str:
        if self.transmitted and self.status in ("due", "partly_paid"):
            return TRANSMITTED_LABEL
        return STATUS_LABELS.get(self.status or "", "")

    @property
    def receipt(self) -> str:
        return receipt_label(self.year, self.receipt_number) if self.receipt_number else ""


@dataclass
class Statement:
    items: list[Item]
    paid: Decimal = ZERO  # payments net of reversals, within the filters
    due: Decimal = ZERO  # what open invoices still ask, within the filters
    count: int = 0
    links: list[PayerLink] = field(default_factory=list)
    truncated: bool = False


def _branches(commune: Commune, payer_ids: list[int], filters: Filters, params: list):
    """The two SELECTs of one commune, their parameters appended to ``params``."""
    schema = sql.Identifier(commune.schema_name)
    pay_where, inv_where = [], []
    pay_params: list = [commune.pk, payer_ids]
    inv_params: list = [commune.pk, payer_ids]
    if filters.regie:
        pay_where.append("r.number = %s")
        pay_params.append(filters.regie)
        inv_where.append("r.number = %s")
        inv_params.append(filters.regie)
    if filters.year:
        pay_where.append("e.year = %s")
        pay_params.append(filters.year)
        inv_where.append("i.issued_on >= %s AND i.issued_on < %s")
        inv_params += [datetime.date(filters.year, 1, 1), datetime.date(filters.year + 1, 1, 1)]
    if filters.mode:
        pay_where.append("e.mode = %s")
        pay_params.append(filters.mode)
    if filters.status:
        inv_where.append("i.status = %s")
        inv_params.append(filters.status)
    parts = []
    if not filters.status:  # a status is an invoice's
        parts.append(sql.SQL(PAYMENTS).format(
            commune=sql.Placeholder(), schema=schema, payers=sql.Placeholder(),
            where=sql.SQL("".join(f" AND {w}" for w in pay_where))))
        params += pay_params
    if not filters.mode:  # a mode is a payment's
        parts.append(sql.SQL(INVOICES).format(
            commune=sql.Placeholder(), schema=schema, payers=sql.Placeholder(),
            tz=sql.Literal(settings.TIME_ZONE),
            where=sql.SQL("".join(f" AND {w}" for w in inv_where))))
        params += inv_params
    return parts


def statement(subject: str, filters: Filters | None = None, *, limit: int = 200) -> Statement:
    """Newest first, at most ``limit`` items (``truncated`` says when there are more);
    the totals cover everything within the filters."""
    filters = (filters or Filters()).check()
    links = list(PayerLink.objects.filter(subject=subject, unlinked_at__isnull=True)
                 .select_related("commune"))
    wanted = [link for link in links if not link.commune.is_suspended
              and (filters.commune is None or link.commune_id == filters.commune)]
    by_database: dict[str, dict[int, tuple[Commune, list[int]]]] = defaultdict(dict)
    for link in wanted:
        entry = by_database[link.commune.database].setdefault(link.commune_id,
                                                              (link.commune, []))
        entry[1].append(link.payer_id)
    result = Statement(items=[], links=links)
    for database, communes in by_database.items():
        params: list = []
        parts = [part for commune, payers in communes.values()
                 for part in _branches(commune, payers, filters, params)]
        if not parts:
            continue
        union = sql.SQL(" UNION ALL ").join(parts)
        query = sql.SQL("""
            WITH items AS ({union})
            SELECT *, count(*) OVER () AS n,
                   sum(CASE WHEN kind = 'payment' THEN amount END) OVER () AS paid,
                   sum(remaining) OVER () AS due
            FROM items ORDER BY at DESC, kind, id DESC LIMIT %s""").format(union=union)
        note_schemas(database, [commune.schema_name for commune, _ in communes.values()])
        with connections[database].cursor() as cursor:
            cursor.execute(query.as_string(cursor.cursor.connection), [*params, limit + 1])
            rows = cursor.fetchall()
        known = {pk: commune for pk, (commune, _) in communes.items()}
        for row in rows:
            result.items.append(Item(row[0], known[row[1]], *row[2:18]))
        if rows:
            result.count += rows[0][18]
            result.paid += rows[0][19] or ZERO
            result.due += rows[0][20] or ZERO
    result.items.sort(key=lambda item: (item.at, item.kind == "invoice", item.id), reverse=True)
    result.truncated = len(result.items) > limit
    del result.items[limit:]
    _online_states(result.items)
    _reminders(result.items)
    return result


def _online_states(items: list[Item]) -> None:
    """The online payments in flight of the open invoices listed, one query per commune
    that has any (the rule's one home is ``online_payments.selectors.in_flight``)."""
    by_commune: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        if item.kind == "invoice" and item.offers_online:
            by_commune[item.commune.pk].append(item)
    for listed in by_commune.values():
        with inside(listed[0].commune):
            states = in_flight(item.id for item in listed)
        for item in listed:
            item.online_state = states.get(item.id, "")


def _reminders(items: list[Item]) -> None:
    """The reminders of the invoices listed, one query per commune that has invoices."""
    by_commune: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        if item.kind == "invoice":
            by_commune[item.commune.pk].append(item)
    for listed in by_commune.values():
        with inside(listed[0].commune):
            found = reminders_of(item.id for item in listed)
        for item in listed:
            item.reminders = [family_label(row) for row in found.get(item.id, [])]


def _linked(subject: str, commune_id: int, what: str) -> tuple[Commune, list[int]]:
    """The commune and the ids of the person's payers linked in it, or NotLinked (the
    same answer whether the commune, the link or the document is missing)."""
    payers = list(PayerLink.objects.filter(subject=subject, commune_id=commune_id,
                                           unlinked_at__isnull=True,
                                           commune__status=Commune.Status.ACTIVE)
                  .values_list("payer_id", flat=True))
    commune = Commune.objects.filter(pk=commune_id).first()
    if not payers or commune is None:
        raise NotLinked(f"{what} n'est pas celle d'un payeur rattaché à votre compte.")
    return commune, payers


def receipt_pdf_for(subject: str, commune_id: int, entry_id: int) -> tuple[str, bytes]:
    """The receipt of a payment of one of the person's linked payers: (receipt, PDF)."""

    commune, payers = _linked(subject, commune_id, "Cette quittance")
    with inside(commune):
        entry = (LedgerEntry.objects.select_related("regie")
                 .filter(pk=entry_id, payer_id__in=payers).first())
        if entry is None:
            raise NotLinked("Cette quittance n'est pas celle d'un payeur rattaché à votre "
                            "compte.")
        return entry.receipt, receipt_pdf(entry)


def invoice_pdf_for(subject: str, commune_id: int, invoice_id: int) -> tuple[str, bytes]:
    """An invoice of one of the person's linked payers: (number, PDF), read inside its
    commune's schema."""

    commune, payers = _linked(subject, commune_id, "Cette facture")
    with inside(commune):
        invoice = with_documents(Invoice.objects.filter(pk=invoice_id,
                                                        payer_id__in=payers)).first()
        if invoice is None:
            raise NotLinked("Cette facture n'est pas celle d'un payeur rattaché à votre "
                            "compte.")
        return invoice.number, invoice_pdf(invoice)


def certificate_pdf_for(subject: str, commune_id: int, payer_id: int, year: int) -> bytes:
    """The yearly certificate of payment of one of the person's linked payers."""

    commune, payers = _linked(subject, commune_id, "Cette attestation")
    if payer_id not in payers:
        raise NotLinked("Cette attestation n'est pas celle d'un payeur rattaché à votre "
                        "compte.")
    with inside(commune):
        payer = Payer.objects.select_related("regie").filter(pk=payer_id).first()
        if payer is None:
            raise NotLinked("Cette attestation n'est pas celle d'un payeur rattaché à votre "
                            "compte.")
        return certificate_pdf(payer, year)
