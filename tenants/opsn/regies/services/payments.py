"""Posting payments to a régie's journal. Every payment — at the counter, over the API,
from a card-terminal or bank import, online — goes through ``payments_post``: the drafts
are checked against the founding act and the day's state, they get consecutive receipt
numbers under the régie's lock, the database chains them and keeps the holdings and the
invoices' paid amounts. All or nothing. A mistake is undone by ``payment_reverse``.

The checks are written once, here (``_check_draft``); ``payments_post`` runs them either
before taking the lock (the short way, one statement under the lock) or after (the long
way) — see its docstring. Either way the payments are inserted by one SQL function,
``regies_insert_payments`` (regies/sql/), from one document (``_posting``).

Money that arrives is never refused for the counter's closing: once the day is closed, a
transfer, a direct debit or an online payment (``ACCOUNT_MODES``, money that reaches the
régie's account by itself) is dated to the next open day; only what the drawer holds
(``DRAWER_MODES``) is refused. And money already collected (``collected``: PayFiP took
it) is refused by nothing in the régie's state that the payer cannot help — an agent's
appointment, the modes of the founding act, an invoice cancelled or paid meanwhile (what
it cannot pay goes to the payer's credit)."""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NoReturn

from django.conf import settings
from django.db.models import F, Q, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record
from opsn.finance.selectors import handed_over, handed_over_of, transmitted_message
from opsn.kernel.actors import Actor
from opsn.kernel.metrics import PAYMENTS
from opsn.kernel.money import euros, line_amount, parse_amount, parse_quantity
from opsn.kernel.tenancy import atomic, check_writable, commune_connection, on_commit
from opsn.regies import permissions
from opsn.regies.errors import Duplicate, NotFound, Refused, RegieError
from opsn.regies.models import (
    ACCOUNT_MODES,
    HELD_MODES,
    Allocation,
    DailyClosing,
    EntrySource,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    Payer,
    PaymentMode,
    Product,
    Regie,
)
from opsn.regies.selectors import (
    held_in_hand,
    next_open_day,
    payments_held,
    regie_columns,
    regie_with_version,
)

# What the agent must note for each mode (the receipt and the deposit slip show them).
REQUIRED_DETAILS = {
    PaymentMode.CHEQUE: {"cheque_number": "le numéro du chèque", "bank": "la banque"},
    PaymentMode.CARD: {"terminal_ref": "la référence du ticket du terminal"},
    PaymentMode.OTHER: {"note": "une note qui dit de quel paiement il s'agit"},
}
ZERO = Decimal("0.00")
# Django's ``choices.values`` is rebuilt on each read: once here (a file of 100,000
# payments reads it for each).
MODES = frozenset(PaymentMode.values)


@dataclass
class PaymentDraft:
    """A payment as an interface receives it. ``invoices`` are paid in the order given, up
    to what each still owes, or by the amounts of ``allocations``; ``sales`` are products
    bought at the counter; what remains is the payer's credit."""

    amount: object
    mode: str
    payer: Payer | None = None
    payer_name: str = ""
    invoices: Sequence[Invoice] = ()
    allocations: dict[str, object] | None = None  # invoice number -> amount
    sales: Sequence[tuple[Product, object]] = ()  # (product, quantity)
    details: dict = field(default_factory=dict)
    external_ref: str = ""
    line: int | None = None  # where it came from in an imported file


@dataclass
class _Checked:
    amount: Decimal
    mode: str
    payer: Payer | None
    payer_name: str
    details: dict
    external_ref: str
    pays: list[tuple[Invoice, Decimal]]
    sales: list[tuple[Product, Decimal, Decimal]]


def _fail(draft: PaymentDraft, message: str, error=RegieError, **kw) -> NoReturn:
    raise error(message, line=draft.line, **kw)


def _check_draft(regie: Regie, draft: PaymentDraft, invoices: dict[int, Invoice],
                 owed: dict[int, Decimal], collected: bool = False,
                 held: dict[int, str] | None = None) -> _Checked:
    """``owed`` is what each invoice still owes, lowered as the batch's drafts pay it.
    ``held``: the invoices another way of paying holds (a SEPA debit not settled yet,
    ``selectors.payments_held``), with why: refused before any money is taken; money
    already collected for one is kept out of the journal, for « À vérifier », until the
    debit is settled (then it pays what is left, or goes to the credit).
    ``collected``: the money is already on the régie's account; the founding act's modes
    do not refuse it, and an invoice it can no longer pay (cancelled, paid, moved to
    another régie or payer) is left out: the amount goes to the payer's credit."""
    try:
        amount = parse_amount(draft.amount, error=RegieError)
    except RegieError as exc:
        _fail(draft, exc.message, field="amount")
    mode = draft.mode
    if mode not in MODES:
        _fail(draft, f"Mode de paiement inconnu : « {mode} ».", field="mode")
    if mode not in regie.accepted_modes and not collected:
        _fail(draft, f"La régie {regie.name} n'accepte pas ce mode de paiement "
                     f"({PaymentMode(mode).label}).", field="mode")
    if mode == PaymentMode.CASH and amount > settings.OPSN_CASH_PAYMENT_LIMIT:
        _fail(draft, f"Un paiement en espèces est limité à {settings.OPSN_CASH_PAYMENT_LIMIT} € "
                     "(CGI, art. 1680) : proposez un chèque, la carte ou un virement.",
              field="amount")
    details = {k: str(v).strip() for k, v in (draft.details or {}).items() if str(v).strip()}
    for key, what in REQUIRED_DETAILS.get(PaymentMode(mode), {}).items():
        if not details.get(key):
            _fail(draft, f"Indiquez {what}.", field=key)

    payer = draft.payer
    if payer is not None and payer.regie_id != regie.pk:
        _fail(draft, f"{payer} n'est pas un payeur de la régie {regie.name}.", field="payer")
    pays: list[tuple[Invoice, Decimal]] = []
    given = {str(k).strip(): v for k, v in (draft.allocations or {}).items()}
    wanted = list(draft.invoices)
    if given:
        found = {inv.number: inv for inv in invoices.values() if inv.number in given}
        missing = [n for n in given if n not in found]
        if missing:
            _fail(draft, f"Aucune facture {missing[0]} dans la régie {regie.name}.", NotFound,
                  field="allocations")
        wanted = [found[n] for n in given]
    left = amount
    for stale in wanted:
        invoice = invoices[stale.pk]
        item = handed_over_of(invoice)
        if item is not None:
            if collected:  # money already on the régie's account: kept, for « À vérifier »
                _fail(draft, f"{transmitted_message(invoice.number, item)} Le paiement "
                             "reçu est à signaler au comptable public (réduction du titre "
                             "ou reversement) : il reste ici, à vérifier.", field="invoices")
            _fail(draft, transmitted_message(invoice.number, item), Refused,
                  field="invoices")
        if collected and _left_out(regie, invoice, payer, owed):
            continue
        why = (held or {}).get(invoice.pk)
        if why:
            if collected:  # money already on the régie's account: kept, for « À vérifier »
                _fail(draft, f"La facture {invoice.number} est en {why} : le paiement reçu "
                             "attend que la banque règle le prélèvement (s'il est rejeté, il "
                             "paiera la facture ; sinon il ira à l'avoir du payeur), à "
                             "vérifier.", field="invoices")
            _fail(draft, f"La facture {invoice.number} ne peut pas être payée maintenant : "
                         f"{why}. Elle sera payée par ce prélèvement ; s'il est rejeté, elle "
                         "pourra l'être autrement.", Refused, field="invoices")
        if invoice.regie_id != regie.pk:
            _fail(draft, f"La facture {invoice.number} n'est pas une facture de la régie "
                         f"{regie.name}.", field="invoices")
        if payer is None:
            payer = invoice.payer
        elif invoice.payer_id != payer.pk:
            _fail(draft, f"La facture {invoice.number} est adressée à un autre payeur "
                         f"({invoice.payer}) : un paiement ne règle que les factures de son "
                         "payeur.", field="invoices")
        if invoice.cancelled_at is not None:
            _fail(draft, f"La facture {invoice.number} est annulée.", Refused, field="invoices")
        due = owed[invoice.pk]
        if due <= 0:
            _fail(draft, f"La facture {invoice.number} est déjà payée.", Refused,
                  field="invoices")
        if given:
            try:
                part = parse_amount(given[invoice.number], field="allocations", error=RegieError)
            except RegieError as exc:
                _fail(draft, f"Facture {invoice.number} : {exc.message}", field="allocations")
            if part > due:
                _fail(draft, f"La facture {invoice.number} ne doit plus que {euros(due)} : "
                             f"{euros(part)} de trop.", field="allocations")
        else:
            part = min(due, left)
        if part > left:
            _fail(draft, f"Le paiement de {euros(amount)} ne couvre pas ce qui est affecté aux "
                         "factures.", field="allocations")
        if part > 0:
            pays.append((invoice, part))
            owed[invoice.pk] -= part
            left -= part
    sales = []
    for product, quantity in draft.sales:
        if product.regie_id != regie.pk or not product.is_active:
            _fail(draft, f"La régie {regie.name} ne vend pas « {product} ».", field="sales")
        try:
            qty = parse_quantity(quantity, error=RegieError)
        except RegieError as exc:
            _fail(draft, exc.message, field="sales")
        price = line_amount(qty, product.unit_price)
        if price > left:
            _fail(draft, f"Le paiement de {euros(amount)} ne couvre pas les achats "
                         f"({product.name} : {euros(price)}).", field="sales")
        if price > 0:
            sales.append((product, qty, price))
            left -= price
    payer_name = (draft.payer_name or "").strip() or (payer.name if payer else "")
    if not payer_name:
        _fail(draft, "Le nom du payeur manque.", field="payer_name")
    if left > 0 and payer is None:
        _fail(draft, f"{euros(left)} ne sont affectés à rien : choisissez le payeur (le reste "
                     "ira à son avoir), des factures ou des produits.", field="payer")
    return _Checked(amount=amount, mode=mode, payer=payer, payer_name=payer_name[:200],
                    details=details, external_ref=_external_ref(draft), pays=pays, sales=sales)


def _left_out(regie: Regie, invoice: Invoice, payer: Payer | None,
              owed: dict[int, Decimal]) -> bool:
    """Money already collected cannot pay this invoice any more: it goes to the credit."""
    return (invoice.regie_id != regie.pk or invoice.cancelled_at is not None
            or owed[invoice.pk] <= 0 or (payer is not None and invoice.payer_id != payer.pk))


def _external_ref(draft: PaymentDraft) -> str:
    return (draft.external_ref or "").strip()[:100]


def _lock_and_check_day(regie: Regie, actor: Actor):
    """Lock the régie until commit (one poster at a time: consecutive numbers, one chain)
    and refuse a closed régie or a closed day."""
    regie, now, today = _lock(regie)
    if DailyClosing.objects.filter(regie=regie, day=today).exists():
        _refuse_closed_day(regie, today)
    return regie, now, today


def _lock(regie: Regie):
    # Read without the ORM's query compiler: every payment of the régie pays for this one.
    fields = Regie._meta.concrete_fields
    with commune_connection().cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(f.column for f in fields)} FROM regies_regie "
                       "WHERE id = %s FOR UPDATE", [regie.pk])
        row = cursor.fetchone()
    if row is None:
        raise Regie.DoesNotExist
    regie = Regie.from_db(commune_connection().alias, [f.attname for f in fields], row)
    now = timezone.now()
    today = timezone.localdate(now)
    if not regie.is_open_on(today):
        raise Refused(f"La régie {regie.name} n'est pas ouverte aujourd'hui"
                      + (f" (fusionnée dans la régie {regie.merged_into})."
                         if regie.merged_into_id else "."))
    return regie, now, today


def _refuse_closed_day(regie: Regie, today) -> NoReturn:
    raise Refused(f"La journée du {today:%d/%m/%Y} est arrêtée pour la régie {regie.name} :"
                  " elle ne prend plus d'écriture.")


@dataclass
class _State:
    first: int  # the first receipt number taken
    closed: bool
    collects: bool
    known: int | None  # the first entry of the source already holding one of the references


# Under the régie's lock every round trip delays every other poster of the régie: one
# statement takes the numbers and reads all that the checks need. It runs after the lock
# is granted, so it sees what committed before (a closing, the same payment posted
# meanwhile). The numbers are taken before the checks: a refusal rolls them back with the
# rest and leaves no gap. The counter and the appointment test are the SQL functions
# ``regies_take_receipt_numbers`` and ``regies_appointed_on`` (regies/sql/).
# The reference lookup names the partial unique index's condition (external_ref <> ''), so
# that it probes that index whatever the table's statistics say (an ORDER BY on receipt
# numbers made the planner scan the régie's entries right after a large import).
NUMBERS_AND_STATE = """
    SELECT regies_take_receipt_numbers(%(regie)s, %(year)s, %(count)s),
        EXISTS (SELECT FROM regies_dailyclosing WHERE regie_id = %(regie)s AND day = %(today)s),
        EXISTS (SELECT FROM regies_appointed_on(%(today)s) a WHERE a.regie_id = %(regie)s
                AND a.account = %(account)s),
        (SELECT min(id) FROM regies_ledgerentry WHERE regie_id = %(regie)s
         AND source = %(source)s AND external_ref <> '' AND external_ref = ANY(%(refs)s))"""


def _take_numbers_and_read(regie: Regie, actor: Actor, today, year: int, source: str,
                           count: int, refs: list[str]) -> _State:
    with commune_connection().cursor() as cursor:
        cursor.execute(NUMBERS_AND_STATE, {
            "regie": regie.pk, "year": year, "count": count, "today": today,
            "account": actor.account, "source": source, "refs": refs})
        return _State(*cursor.fetchone())


def _take_numbers(regie: Regie, year: int, count: int) -> int:
    """Reserve ``count`` consecutive receipt numbers; returns the first."""
    with commune_connection().cursor() as cursor:
        cursor.execute("SELECT regies_take_receipt_numbers(%s, %s, %s)",
                       [regie.pk, year, count])
        return cursor.fetchone()[0]


def payments_post(*, regie: Regie, actor: Actor, drafts: Sequence[PaymentDraft],
                  source: str = EntrySource.COUNTER, audit_each: bool = True,
                  collected: bool = False, on: datetime.date | None = None
                  ) -> list[LedgerEntry]:
    """Post payments, all or none, with consecutive receipt numbers. Imports pass
    ``audit_each=False`` and record one line for the whole file.

    Two ways, one set of rules. The short way checks the drafts on what it reads without a
    lock, then posts them in one statement that first makes sure nothing it read has
    changed (``regies_post_payments``, regies/sql/): the régie's lock is then held for
    that statement alone, which is what lets many clients post to one régie at once. When
    a check fails, or something changed meanwhile, the long way takes the lock, reads and
    checks again, and posts or refuses with the reason. Cash and cheques always go the long
    way: the encaisse they are checked against changes with every one of them. Both ways
    insert through ``regies_insert_payments``.

    Once the day is closed, a batch of transfers, direct debits and online payments is
    dated to the next open day (the long way: the short way's guard sees the closing);
    anything of the drawer refuses the batch. ``collected`` (money PayFiP already took,
    always the long way): see ``_check_draft``; the actor need not be appointed.

    ``on`` (money of the account only, the long way): the day the money reached the
    account when it is earlier than today (a direct debit booked when the bank confirms
    it): the payments are dated to the first open day from ``on``. Payments made by the
    source itself (``EntrySource.DIRECT_DEBIT``) are not held by a pending debit."""
    if not drafts:
        return []
    if on is not None and not all(d.mode in ACCOUNT_MODES for d in drafts):
        raise RegieError("Seul l'argent arrivé sur le compte de la régie (virement, "
                         "prélèvement, paiement en ligne) se date d'un jour passé.",
                         field="on")
    if (len(drafts) <= SHORT_WAY_MAX and not collected and on is None
            and not any(d.mode in HELD_MODES for d in drafts)):
        entries = _post_short_way(regie, actor, drafts, source, audit_each)
        if entries is not None:
            return entries
    return _post_under_lock(regie, actor, drafts, source, audit_each, collected, on)


def _held(source: str, invoices) -> dict[int, str]:
    """The invoices another way of paying holds; a debit's own booking is not held."""
    return {} if source == EntrySource.DIRECT_DEBIT else payments_held(invoices)


# Beyond this, a batch (a file import) holds the lock long whichever way: the long way,
# tuned for large batches, serves it.
SHORT_WAY_MAX = 50

REGIE_WITH_VERSION = f"SELECT {regie_columns()} FROM regies_regie WHERE id = %s"


def _post_short_way(regie: Regie, actor: Actor, drafts: Sequence[PaymentDraft], source: str,
                    audit_each: bool) -> list[LedgerEntry] | None:
    """The drafts posted by ``regies_post_payments``, or None for the long way."""
    now = timezone.now()
    today = timezone.localdate(now)
    if getattr(regie, "row_version", None) is None:  # not read with its version yet
        with commune_connection().cursor() as cursor:
            cursor.execute(REGIE_WITH_VERSION, [regie.pk])
            row = cursor.fetchone()
        if row is None:
            return None
        regie = regie_with_version(row, commune_connection().alias)
    version = regie.row_version  # type: ignore[attr-defined]
    if not regie.is_open_on(today):
        return None
    wanted = {inv.pk for d in drafts for inv in d.invoices}
    numbers = {str(n).strip() for d in drafts for n in (d.allocations or {})}
    read = list(Invoice.objects.select_related("payer", "handed_over__handover").filter(
        Q(pk__in=wanted) | Q(number__in=numbers)).annotate(
        row_version=RawSQL("regies_invoice.xmin::text", ()))) if (wanted or numbers) else []
    invoices: dict[int, Invoice] = {inv.pk: inv for inv in read}
    versions = {inv.pk: inv.row_version for inv in read}
    owed = {pk: inv.total - inv.amount_paid for pk, inv in invoices.items()}
    held = _held(source, invoices)
    try:
        checked = [_check_draft(regie, d, invoices, owed, False, held) for d in drafts]
        _refuse_known(drafts, checked, None)
    except RegieError:
        return None  # the long way refuses it, with what it reads under the lock
    paid = {invoice.pk for c in checked for invoice, _ in c.pays}
    entries, document = _posting(regie, actor, checked, source, now, today, audit_each)
    # What the guard compares with what it finds under the lock.
    document.update({
        "regie_version": version, "day": today.isoformat(),
        "refs": sorted({c.external_ref for c in checked if c.external_ref}),
        "invoices": [[pk, versions[pk]] for pk in sorted(paid)]})
    check_writable()  # a commune being moved takes no payment (atomic() checks the long way)
    with commune_connection().cursor() as cursor:
        cursor.execute("SELECT regies_post_payments(%s::jsonb)", [json.dumps(document)])
        posted = cursor.fetchone()[0]
    if posted is None:
        return None
    posted = json.loads(posted)  # Django's connections read jsonb as text
    _posted(entries, posted["first"], posted["ids"])
    _count(entries)
    return entries


@atomic
def _post_under_lock(regie: Regie, actor: Actor, drafts: Sequence[PaymentDraft], source: str,
                     audit_each: bool, collected: bool = False,
                     on: datetime.date | None = None) -> list[LedgerEntry]:
    regie, now, today = _lock(regie)
    # Money that reaches the régie's account by itself goes to the first day not closed
    # (from the day it arrived, ``on``, when it is booked later); its receipts are
    # numbered in that day's year.
    arriving = all(d.mode in ACCOUNT_MODES for d in drafts)
    day = next_open_day(regie, min(on or today, today)) if arriving else today
    state = _take_numbers_and_read(regie, actor, today, day.year, source, len(drafts),
                                   sorted({ref for d in drafts if (ref := _external_ref(d))}))
    if state.closed and not arriving:
        _refuse_closed_day(regie, today)
    if not state.collects and not collected:
        permissions.require_collector(regie, actor, today)  # raises, with its message

    # Read the invoices after the lock: what they still owe is then exact.
    wanted = {inv.pk for d in drafts for inv in d.invoices}
    numbers = {str(n).strip() for d in drafts for n in (d.allocations or {})}
    invoices = {inv.pk: inv for inv in Invoice.objects.select_related(
        "payer", "handed_over__handover").filter(
        Q(pk__in=wanted) | Q(number__in=numbers))} if (wanted or numbers) else {}
    owed = {pk: inv.total - inv.amount_paid for pk, inv in invoices.items()}
    held = _held(source, invoices)
    checked = [_check_draft(regie, d, invoices, owed, collected, held) for d in drafts]
    _refuse_known(drafts, checked, state.known)
    new_held = sum((c.amount for c in checked if c.mode in HELD_MODES), ZERO)
    if new_held and (in_hand := held_in_hand(regie)) + new_held > regie.cash_limit:
        raise Refused(f"Encaisse maximale de la régie {regie.name} : {euros(in_hand)} déjà "
                      f"détenus, {euros(in_hand + new_held)} avec ce paiement pour un maximum "
                      f"de {euros(regie.cash_limit)}. Faites un versement au comptable avant "
                      "d'encaisser d'autres espèces ou chèques.", field="amount")

    # Checked under the lock, numbered: inserted as the short way inserts, one round trip.
    entries, document = _posting(regie, actor, checked, source, now, day, audit_each)
    with commune_connection().cursor() as cursor:
        cursor.execute("SELECT regies_insert_payments(%s::jsonb, %s)",
                       [json.dumps(document), state.first])
        ids = cursor.fetchone()[0]
    _posted(entries, state.first, ids)
    _count(entries)
    return entries


# Where the receipt number goes in an audit line written before it is known.
RECEIPT_MARK = "\x1e"


def _posting(regie: Regie, actor: Actor, checked: list[_Checked], source: str, now, day,
             audit_each: bool) -> tuple[list[LedgerEntry], dict]:
    """The entries of checked payments (not yet numbered), and the document the SQL
    function ``regies_insert_payments`` inserts them from (regies/sql/), whichever way they
    are posted: the entries, what each pays (invoices, sales) and, with ``audit_each``, a
    ``payment.recorded`` audit line each, whose receipt the database writes in. ``day`` is
    their accounting day: recorded as ``dated_on`` when it is not the day of ``now``."""
    year = day.year
    dated_on = day if day != timezone.localdate(now) else None
    entries = [LedgerEntry(regie=regie, year=year, amount=c.amount, mode=c.mode,
                           source=source, payer=c.payer, payer_name=c.payer_name,
                           details=c.details, external_ref=c.external_ref,
                           agent=actor.account, agent_name=actor.name[:200], posted_at=now,
                           dated_on=dated_on)
               for c in checked]
    entries_doc = []
    for entry in entries:
        doc: dict[str, object] = {
            "amount": str(entry.amount), "mode": entry.mode, "payer": entry.payer_id,
            "payer_name": entry.payer_name, "details": entry.details,
            "external_ref": entry.external_ref}
        if audit_each:
            event = _recorded_event(regie, entry, receipt=RECEIPT_MARK)
            before, after = event.summary().split(RECEIPT_MARK, 1)
            doc["audit"] = [before, after, event.payload()]
        entries_doc.append(doc)
    document = {
        "regie": regie.pk, "year": year, "account": actor.account,
        "agent_name": actor.name[:200], "actor_name": actor.name, "actor_kind": actor.kind,
        "ip": actor.ip or None, "source": source, "posted_at": now.isoformat(),
        "dated_on": dated_on.isoformat() if dated_on else None,
        "code": events.PaymentRecorded.code, "entries": entries_doc,
        "allocations": [
            {"entry": i, "invoice": invoice.pk, "amount": str(part)}
            for i, c in enumerate(checked) for invoice, part in c.pays] + [
            {"entry": i, "product": product.pk, "quantity": str(qty), "amount": str(price)}
            for i, c in enumerate(checked) for product, qty, price in c.sales]}
    return entries, document


def _posted(entries: list[LedgerEntry], first: int, ids: list[int]) -> None:
    """The entries as the database numbered and inserted them."""
    for i, (entry, pk) in enumerate(zip(entries, ids, strict=True)):
        entry.receipt_number = first + i
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = commune_connection().alias


def _refuse_known(drafts: Sequence[PaymentDraft], checked: list[_Checked],
                  known_pk: int | None) -> None:
    """Refuse a payment twice in the batch, or already posted (``known_pk``: the first
    entry holding one of the batch's references, read under the lock)."""
    refs: dict[str, PaymentDraft] = {}
    for draft, c in zip(drafts, checked, strict=True):
        if c.external_ref:
            if c.external_ref in refs:
                _fail(draft, f"Le paiement {c.external_ref} apparaît deux fois.", Duplicate,
                      field="external_ref")
            refs[c.external_ref] = draft
    if not refs or known_pk is None:
        return
    known = LedgerEntry.objects.get(pk=known_pk)
    if known.external_ref in refs:
        _fail(refs[known.external_ref], f"Le paiement {known.external_ref} est déjà enregistré "
                                        f"(quittance {known.receipt}).", Duplicate,
              field="external_ref")


def _recorded_event(regie: Regie, entry: LedgerEntry, receipt: str | None = None):
    data = {"receipt": receipt or entry.receipt,
            "amount": euros(entry.amount).removesuffix(" €"),
            "mode": PaymentMode(entry.mode).label, "payer": entry.payer_name,
            "regie": regie.number}
    if entry.dated_on:
        return events.PaymentRecordedForLater(target=f"entry:{entry.pk}", data={
            **data, "day": f"{entry.dated_on:%d/%m/%Y}"})
    return events.PaymentRecorded(target=f"entry:{entry.pk}", data=data)


def _count(entries: list[LedgerEntry]) -> None:
    by_mode: dict[tuple[str, str], int] = defaultdict(int)
    for entry in entries:
        by_mode[(entry.mode, entry.source)] += 1

    def count() -> None:
        for (mode, source), n in by_mode.items():
            PAYMENTS.labels(mode, source).inc(n)

    on_commit(count)


def payment_record(*, regie: Regie, actor: Actor, amount, mode: str,
                   payer: Payer | None = None, payer_name: str = "",
                   invoices: Sequence[Invoice] = (), allocations: dict | None = None,
                   sales: Sequence[tuple[Product, object]] = (), details: dict | None = None,
                   source: str = EntrySource.COUNTER, external_ref: str = "",
                   collected: bool = False) -> LedgerEntry:
    """One payment, its receipt returned."""
    draft = PaymentDraft(amount=amount, mode=mode, payer=payer, payer_name=payer_name,
                         invoices=invoices, allocations=allocations, sales=sales,
                         details=details or {}, external_ref=external_ref)
    return payments_post(regie=regie, actor=actor, drafts=[draft], source=source,
                         collected=collected)[0]


@atomic
def payment_reverse(*, entry: LedgerEntry, actor: Actor, reason: str,
                    returned_on: datetime.date | None = None,
                    details: dict | None = None) -> LedgerEntry:
    """Cancel a posted payment by a new, negative entry that references it; what it paid
    on invoices and sales is released the same way. The titulaire (or the suppléant
    standing in) reverses any payment; an agent, their own payment of the same day.

    ``returned_on``: the money left the régie's account by itself that day (a direct
    debit the debtor's bank returned, read from the bank's file: the caller says who may).
    Like money that arrives, it is never refused for a closed day: the reversal is dated
    to the first open day from ``returned_on``. ``details`` are kept on the reversal."""
    if not (reason or "").strip():
        raise RegieError("Donnez le motif de l'annulation.", field="reason")
    if returned_on is None:
        regie, now, today = _lock_and_check_day(entry.regie, actor)
        day = today
    else:
        if entry.mode not in ACCOUNT_MODES:
            raise RegieError("Seul un paiement arrivé sur le compte de la régie (virement, "
                             "prélèvement, paiement en ligne) est retourné par la banque.",
                             field="entry")
        regie, now, today = _lock(entry.regie)
        day = next_open_day(regie, min(returned_on, today))
    entry = LedgerEntry.objects.get(pk=entry.pk)
    if entry.reverses_id is not None:
        raise Refused("Une annulation ne s'annule pas : enregistrez un nouveau paiement.")
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise Duplicate(f"La quittance {entry.receipt} est déjà annulée.")
    own_today = (entry.agent == actor.account
                 and timezone.localdate(entry.posted_at) == today
                 and permissions.may_collect(regie, actor.account, today))
    if not own_today and returned_on is None:
        permissions.require_keeper(regie, actor, today, "annuler la quittance d'un autre agent "
                                                        "ou d'un autre jour")
    first = _take_numbers(regie, day.year, 1)
    reversal = LedgerEntry.objects.create(
        regie=regie, year=day.year, receipt_number=first, amount=-entry.amount,
        mode=entry.mode, payer=entry.payer, payer_name=entry.payer_name,
        details={**(details or {}), "annule": entry.receipt}, source=entry.source,
        agent=actor.account, agent_name=actor.name[:200], posted_at=now,
        dated_on=day if day != today else None, reverses=entry, reason=reason.strip()[:300])
    net = (Allocation.objects.filter(entry=entry).values("invoice", "product")
           .annotate(amount=Sum("amount"), quantity=Sum("quantity")).exclude(amount=0))
    Allocation.objects.bulk_create([
        Allocation(entry=reversal, invoice_id=row["invoice"], product_id=row["product"],
                   quantity=row["quantity"], amount=-row["amount"], created_at=now,
                   created_by=actor.account) for row in net])
    record(actor, events.PaymentReversed(target=f"entry:{entry.pk}", data={
        "receipt": entry.receipt, "reversal": reversal.receipt, "reason": reversal.reason}))
    _count([reversal])
    return reversal


def credit_of(payer: Payer) -> Decimal:
    """What the payer paid and no invoice or sale took: their credit (avoir)."""
    paid = (LedgerEntry.objects.filter(payer=payer).aggregate(s=Coalesce(Sum("amount"), ZERO))
            ["s"])
    used = (Allocation.objects.filter(entry__payer=payer)
            .aggregate(s=Coalesce(Sum("amount"), ZERO))["s"])
    return paid - used


@atomic
def credit_apply(*, invoice: Invoice, actor: Actor, amount=None) -> Decimal:
    """Pay ``invoice`` (in full, or ``amount``) from its payer's credit, oldest payments
    first. Returns the amount applied."""
    regie = Regie.objects.select_for_update().get(pk=invoice.regie_id)
    permissions.require_invoicer(regie, actor, timezone.localdate(), "utiliser un avoir")
    invoice = Invoice.objects.select_related("payer").get(pk=invoice.pk)
    if invoice.status in (InvoiceStatus.CANCELLED, InvoiceStatus.PAID):
        raise Refused(f"La facture {invoice.number} est {InvoiceStatus(invoice.status).label}.")
    item = handed_over(invoice.pk)
    if item is not None:
        raise Refused(transmitted_message(invoice.number, item))
    why = payments_held([invoice.pk]).get(invoice.pk)
    if why:
        raise Refused(f"La facture {invoice.number} ne peut pas être payée maintenant : "
                      f"{why}. Elle sera payée par ce prélèvement.")
    available = credit_of(invoice.payer)
    wanted = invoice.remaining if amount is None else parse_amount(amount, error=RegieError)
    if wanted > invoice.remaining:
        raise RegieError(f"La facture {invoice.number} ne doit que {euros(invoice.remaining)}.",
                         field="amount")
    if available <= 0:
        raise Refused(f"{invoice.payer} n'a pas d'avoir.")
    to_apply = min(wanted, available)
    now = timezone.now()
    rows, left = [], to_apply
    sources = (LedgerEntry.objects.filter(payer=invoice.payer, amount__gt=0,
                                          reversed_by__isnull=True)
               .annotate(used=Coalesce(Sum("allocations__amount"), ZERO))
               .filter(used__lt=F("amount")).order_by("id"))
    for entry in sources:
        if left <= 0:
            break
        part = min(entry.amount - entry.used, left)
        rows.append(Allocation(entry=entry, invoice=invoice, amount=part, created_at=now,
                               created_by=actor.account))
        left -= part
    Allocation.objects.bulk_create(rows)
    record(actor, events.CreditApplied(target=f"invoice:{invoice.number}", data={
        "payer": invoice.payer.name, "amount": euros(to_apply).removesuffix(" €"),
        "invoice": invoice.number}))
    return to_apply
