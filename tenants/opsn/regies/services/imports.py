"""Files imported into a régie: invoices from the commune's business software, card
terminal (TPE) exports, bank statements (CAMT.053). Every import

- is done by an agent assigned to the régie (``permissions.require_collector``);
- is one transaction: a bad row refuses the whole file (the error names its line and
  column) and nothing at all is written;
- is done once per file (same bytes, same régie: refused) and skips what an earlier file
  already brought (an invoice number, a payment's external reference), so running an
  import again changes nothing;
- issues through ``invoices_issue`` and posts through ``payments_post``, like any other
  interface, and leaves one audit line for the file with its counts.

Payments that name an invoice still owing at least their amount are posted to it; the
others wait in the queue (``ImportedPayment``) for an agent, who posts them
(``queued_payment_post``) or dismisses them with a reason (``queued_payment_dismiss``).
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record
from opsn.finance.selectors import handed_over_of
from opsn.kernel.actors import Actor
from opsn.kernel.inputs import file_problem, problem
from opsn.kernel.metrics import MONEY_ANOMALIES
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic, commune_connection, on_commit
from opsn.regies import permissions
from opsn.regies.errors import Duplicate, Refused, RegieError
from opsn.regies.importers.camt053 import read_camt053
from opsn.regies.importers.card_csv import read_card_payments
from opsn.regies.importers.csv_common import at_column, normalise_encoding
from opsn.regies.importers.invoices_csv import InvoiceFile, LineRow, read_invoices
from opsn.regies.importers.payments import ImportedLine
from opsn.regies.models import (
    EntrySource,
    ImportBatch,
    ImportedPayment,
    ImportKind,
    Invoice,
    InvoiceSource,
    InvoiceStatus,
    LedgerEntry,
    Payer,
    PaymentMode,
    Product,
    QueueStatus,
    Regie,
)
from opsn.regies.selectors import payments_held
from opsn.regies.services.invoicing import (
    InvoiceDraft,
    LineDraft,
    _clean_payer,
    invoices_issue,
    line_draft,
    new_link_code,
)
from opsn.regies.services.payments import PaymentDraft, payments_post

ZERO = Decimal("0.00")
SOURCES = {ImportKind.CARD: EntrySource.CARD_IMPORT, ImportKind.BANK: EntrySource.BANK_IMPORT}
MODES = {ImportKind.CARD: PaymentMode.CARD, ImportKind.BANK: PaymentMode.TRANSFER}
# Shorter tokens of a payment's reference are not taken for invoice numbers: « 2026 »,
# « 12 » are years and amounts far more often.
MIN_NUMBER_LENGTH = 4
TOKEN = re.compile(r"[0-9A-Z](?:[0-9A-Z/_.\-]*[0-9A-Z])?")
SEPARATOR = "\x1f"  # the unit separator: refused in a payment's reference
# The CSV column of each field a service names in its errors.
INVOICE_COLUMNS = {"number": "numero", "due_on": "echeance", "issued_on": "date",
                   "payer": "payeur_ref", "lines": "prix_unitaire", "product": "produit",
                   "unit_price": "prix_unitaire", "label": "libelle", "quantity": "quantite",
                   "period_end": "periode_fin", "name": "payeur_nom", "email": "payeur_email",
                   "kind": "payeur_type"}


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def import_size_check(size: int) -> None:
    """A file of more than ``OPSN_IMPORT_MAX_MEGABYTES`` is refused before it is read."""
    cap = settings.OPSN_IMPORT_MAX_MEGABYTES
    if size > cap * 1_000_000:
        shown = f"{size / 1_000_000:.1f}".replace(".", ",")
        raise RegieError(f"Le fichier pèse {shown} Mo : un import en prend au plus {cap} Mo. "
                         "Découpez-le (par exemple par période) et importez chaque partie.",
                         field="file")


def received(content: bytes, file_name: str) -> str:
    """Every imported file, whatever its kind and wherever it comes from (the agents' page,
    ``opsn regie_import``), comes in here first: a file over the size cap is refused, what
    no input may hold is refused with its line (``opsn.kernel.inputs``: a NUL byte), then
    the file is known by its digest."""
    import_size_check(len(content))
    if found := file_problem(content):
        line, message = found
        raise RegieError(message, field="file", line=line)
    if (why := problem(file_name, numbers=False)) is not None:
        raise RegieError(f"Le nom du fichier {why}.", field="file")
    return sha256_of(content)


@contextmanager
def _without_collector_pauses() -> Iterator[None]:
    """A large file makes millions of short-lived objects and no cycle worth collecting
    before the end: the cyclic collector's full passes cost about a fifth of a
    100,000-entry import. Whatever cycles there are go at its next pass."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- The file ------------------------------------------------------------------------------

def _refuse_early(regie: Regie, actor: Actor, kind: str, digest: str) -> None:
    """Before reading a large file: who imports, and whether it was already imported.
    Checked again under the régie's lock."""
    permissions.require_collector(regie, actor, timezone.localdate())
    _refuse_imported(regie, kind, digest)


def _refuse_imported(regie: Regie, kind: str, digest: str) -> None:
    earlier = ImportBatch.objects.filter(regie=regie, kind=kind, sha256=digest).first()
    if earlier is not None:
        at = timezone.localtime(earlier.imported_at)
        raise Duplicate(f"Ce fichier a déjà été importé dans la régie {regie.name} le "
                        f"{at:%d/%m/%Y} à {at:%H:%M} par {earlier.imported_by} "
                        f"(« {earlier.file_name} ») : il n'est pas importé une seconde fois.",
                        field="file")


def _open_batch(regie: Regie, actor: Actor, kind: str, digest: str, file_name: str,
                lines: int) -> tuple[Regie, ImportBatch]:
    """Lock the régie until commit (imports and postings one at a time) and record the
    file."""
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    today = timezone.localdate()
    if not regie.is_open_on(today):
        raise Refused(f"La régie {regie.name} n'est pas ouverte aujourd'hui : elle n'importe "
                      "rien.")
    permissions.require_collector(regie, actor, today)
    _refuse_imported(regie, kind, digest)
    batch = ImportBatch.objects.create(regie=regie, kind=kind, sha256=digest, lines=lines,
                                       file_name=(file_name or "fichier")[:255],
                                       imported_by=actor.account)
    return regie, batch


def _close_batch(batch: ImportBatch, regie: Regie, actor: Actor, outcome: dict) -> ImportBatch:
    batch.outcome = outcome
    batch.save(update_fields=["outcome"])
    record(actor, events.FileImported(target=f"import:{batch.pk}", data={
        "kind": ImportKind(batch.kind).label, "file_name": batch.file_name,
        "regie": regie.number, "outcome": outcome_summary(batch.kind, outcome),
        "counts": outcome}))
    return batch


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n <= 1 else many}"


def outcome_summary(kind: str, outcome: dict) -> str:
    """What an import did, in a sentence (audit log, command line, pages)."""
    if kind == ImportKind.INVOICES:
        parts = [f"{_plural(outcome['invoices'], 'facture émise', 'factures émises')} "
                 f"({euros(Decimal(outcome['total']))}, "
                 f"{_plural(outcome['invoice_lines'], 'ligne', 'lignes')})",
                 _plural(outcome["payers_created"], "payeur créé", "payeurs créés")]
        if outcome["already_imported"]:
            parts.append(_plural(outcome["already_imported"], "facture déjà importée",
                                 "factures déjà importées"))
        return ", ".join(parts)
    posted = _plural(outcome["posted"], "paiement encaissé", "paiements encaissés")
    if outcome["posted"]:
        posted += (f" ({euros(Decimal(outcome['total_posted']))}, quittances "
                   f"{outcome['first_receipt']} à {outcome['last_receipt']})")
    if outcome.get("dated_on"):
        posted += (f", datés du {datetime.date.fromisoformat(outcome['dated_on']):%d/%m/%Y} "
                   "(journée arrêtée)")
    parts = [posted, f"{outcome['queued']} à rapprocher"
             + (f" ({euros(Decimal(outcome['total_queued']))})" if outcome["queued"] else "")]
    if outcome["already_imported"]:
        parts.append(_plural(outcome["already_imported"], "déjà importé", "déjà importés"))
    if outcome.get("debits_ignored"):
        parts.append(_plural(outcome["debits_ignored"], "débit ignoré", "débits ignorés"))
    if outcome.get("others_ignored"):
        parts.append(_plural(outcome["others_ignored"], "écriture non comptabilisée ignorée",
                             "écritures non comptabilisées ignorées"))
    return ", ".join(parts)


def file_import(*, regie: Regie, actor: Actor, kind: str, content: bytes, file_name: str,
                encoding: str = "utf-8") -> ImportBatch:
    """Import a file of ``kind`` (invoices, card, bank). ``encoding`` is for CSV files."""
    if kind == ImportKind.INVOICES:
        return invoices_import(regie=regie, actor=actor, content=content, file_name=file_name,
                               encoding=encoding)
    if kind == ImportKind.CARD:
        return card_payments_import(regie=regie, actor=actor, content=content,
                                    file_name=file_name, encoding=encoding)
    if kind == ImportKind.BANK:
        return bank_statement_import(regie=regie, actor=actor, content=content,
                                     file_name=file_name)
    raise RegieError(f"Type d'import inconnu « {kind} » : {', '.join(ImportKind.values)}.",
                     field="kind")


# --- Invoices ------------------------------------------------------------------------------

def invoices_import(*, regie: Regie, actor: Actor, content: bytes, file_name: str,
                    encoding: str = "utf-8") -> ImportBatch:
    """The business software's invoices: payers found by their reference (``payeur_ref``)
    or created, invoices issued with source=import. An invoice number already issued
    with the same payer and total is skipped (imported before); otherwise refused."""
    digest = received(content, file_name)
    encoding = normalise_encoding(encoding)
    _refuse_early(regie, actor, ImportKind.INVOICES, digest)
    with _without_collector_pauses():
        return _invoices_import(regie, actor, content, file_name, encoding, digest)


def _invoices_import(regie: Regie, actor: Actor, content: bytes, file_name: str,
                     encoding: str, digest: str) -> ImportBatch:
    parsed = read_invoices(content, encoding)
    with atomic():
        regie, batch = _open_batch(regie, actor, ImportKind.INVOICES, digest, file_name,
                                   parsed.rows)
        products = {p.code: p for p in Product.objects.filter(regie=regie)}
        payers, created = _payers_of(regie, parsed)
        taken = {inv.number: inv for inv in Invoice.objects.select_related("payer").filter(
            number__in=[i.number for i in parsed.invoices])}
        drafts, known = [], 0
        for rows in parsed.invoices:
            draft = InvoiceDraft(payer=payers[rows.payer_ref], issued_on=rows.issued_on,
                                 due_on=rows.due_on, number=rows.number, label=rows.label,
                                 lines=[_line(regie, row, products) for row in rows.lines],
                                 line=rows.line)
            if rows.number in taken:
                _same_invoice_or_refuse(regie, taken[rows.number], draft, rows.payer_ref)
                known += 1
            else:
                drafts.append(draft)
        try:
            invoices_issue(regie=regie, actor=actor, drafts=drafts,
                           source=InvoiceSource.IMPORT, batch=batch)
        except RegieError as exc:
            raise _in_file(exc, INVOICE_COLUMNS) from None
        outcome = {"rows": parsed.rows, "invoices": len(drafts),
                   "invoice_lines": sum(len(d.lines) for d in drafts),
                   "total": str(sum((d.total for d in drafts), ZERO)),
                   "payers_created": created, "payers_found": len(payers) - created,
                   "already_imported": known}
        return _close_batch(batch, regie, actor, outcome)


def _in_file(exc: RegieError, columns: dict[str, str]) -> RegieError:
    """A service's error, its field named as the file's column."""
    if exc.field not in columns:
        return exc
    return at_column(exc, columns[exc.field], exc.line)


def _payers_of(regie: Regie, parsed: InvoiceFile) -> tuple[dict[str, Payer], int]:
    """The file's payers by reference: found, or created (in bulk, with their link
    codes; the file's audit line counts them)."""
    found = {p.external_ref: p for p in Payer.objects.filter(
        regie=regie, external_ref__in=list(parsed.payers))}
    new = []
    for ref, row in parsed.payers.items():
        if ref in found:
            continue
        if not row.fields["name"]:
            raise RegieError(f"Le payeur {ref} n'existe pas dans la régie : indiquez son nom "
                             "pour le créer (colonne « payeur_nom »).", field="payeur_nom",
                             line=row.line)
        try:
            fields = _clean_payer({"kind": row.kind, **row.fields, "external_ref": ref})
        except RegieError as exc:
            raise at_column(exc, INVOICE_COLUMNS.get(exc.field or "", "payeur_nom"),
                            row.line) from None
        new.append(Payer(regie=regie, **fields))
    for payer, code in zip(new, _free_link_codes(len(new)), strict=True):
        payer.link_code = code
    Payer.objects.bulk_create(new, batch_size=2000)
    return {**found, **{p.external_ref: p for p in new}}, len(new)


def _free_link_codes(count: int) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:  # 31^12 codes: collisions are rare, never silent
        wanted = {new_link_code() for _ in range(count - len(codes))} - codes
        taken = set(Payer.objects.filter(link_code__in=list(wanted))
                    .values_list("link_code", flat=True))
        codes |= wanted - taken
    return list(codes)


def _line(regie: Regie, row: LineRow, products: dict[str, Product]) -> LineDraft:
    product = None
    if row.product_code:
        product = products.get(row.product_code.lower())
        if product is None:
            known = ", ".join(sorted(products)) or "aucun produit"
            raise RegieError(f"La régie {regie.name} n'a pas de produit « {row.product_code} » "
                             f"dans son acte constitutif (produits : {known}) (colonne "
                             "« produit »).", field="produit", line=row.line)
        if not product.is_active:
            raise RegieError(f"Le produit « {product.code} » n'est plus proposé par la régie "
                             f"{regie.name} (colonne « produit »).", field="produit",
                             line=row.line)
    try:
        draft = line_draft(label=row.label, quantity=row.quantity, unit_price=row.unit_price,
                           product=product, period_start=row.period_start,
                           period_end=row.period_end, beneficiary=row.beneficiary)
    except RegieError as exc:
        raise at_column(exc, INVOICE_COLUMNS.get(exc.field or "", "prix_unitaire"),
                        row.line) from None
    if row.amount is not None and row.amount != draft.amount:
        raise RegieError(f"Le montant de la ligne, {euros(row.amount)}, n'est pas "
                         f"{draft.quantity.normalize():f} × {euros(draft.unit_price)} = "
                         f"{euros(draft.amount)} (arrondi au centime) (colonne « montant »).",
                         field="montant", line=row.line)
    return draft


def _same_invoice_or_refuse(regie: Regie, invoice: Invoice, draft: InvoiceDraft,
                            payer_ref: str) -> None:
    if (invoice.regie_id == regie.pk and invoice.payer.external_ref == payer_ref
            and invoice.total == draft.total):
        return
    raise Duplicate(f"La facture {invoice.number} existe déjà (émise le "
                    f"{invoice.issued_on:%d/%m/%Y}, {euros(invoice.total)}, {invoice.payer}) et "
                    "le fichier la décrit autrement : une facture émise ne se modifie pas, "
                    "annulez-la et émettez-en une autre sous un autre numéro (colonne "
                    "« numero »).", field="numero", line=draft.line)


# --- Payments ------------------------------------------------------------------------------

def card_payments_import(*, regie: Regie, actor: Actor, content: bytes, file_name: str,
                         encoding: str = "utf-8") -> ImportBatch:
    """A card terminal's export: each payment naming an invoice it can pay is posted
    (mode card, the terminal's transaction id as external reference); the rest is
    queued."""
    digest = received(content, file_name)
    encoding = normalise_encoding(encoding)
    _refuse_early(regie, actor, ImportKind.CARD, digest)
    with _without_collector_pauses():
        lines = read_card_payments(content, encoding)
        return _payments_import(regie, actor, ImportKind.CARD, digest, file_name, lines)


def _payments_import(regie: Regie, actor: Actor, kind: str, digest: str, file_name: str,
                     lines: list[ImportedLine], *, entries: int | None = None,
                     counts: dict | None = None) -> ImportBatch:
    with atomic():
        regie, batch = _open_batch(regie, actor, kind, digest, file_name,
                                   len(lines) if entries is None else entries)
        outcome = _post_and_queue(regie, actor, batch, lines) | (counts or {})
        return _close_batch(batch, regie, actor, outcome)


def bank_statement_import(*, regie: Regie, actor: Actor, content: bytes,
                          file_name: str) -> ImportBatch:
    """A CAMT.053 statement: booked credits naming an invoice are posted (mode
    transfer, the bank's reference as external reference); other credits are queued;
    debits are counted and ignored."""
    digest = received(content, file_name)
    _refuse_early(regie, actor, ImportKind.BANK, digest)
    with _without_collector_pauses():
        statement = read_camt053(content)
        return _payments_import(regie, actor, ImportKind.BANK, digest, file_name,
                                statement.payments, entries=statement.entries, counts={
                                    "version": statement.version,
                                    "entries": statement.entries,
                                    "debits_ignored": statement.debits,
                                    "others_ignored": statement.others})


def _post_and_queue(regie: Regie, actor: Actor, batch: ImportBatch,
                    lines: Sequence[ImportedLine]) -> dict:
    mode, source = MODES[ImportKind(batch.kind)], SOURCES[ImportKind(batch.kind)]
    if lines and mode not in regie.accepted_modes:
        raise Refused(f"La régie {regie.name} n'accepte pas les paiements par "
                      f"{PaymentMode(mode).label} : son acte constitutif ne le prévoit pas.",
                      field="mode")
    _refuse_repeated(lines)
    known = _known_refs(regie, mode, source, [line.external_ref for line in lines])
    fresh = [line for line in lines if line.external_ref not in known]
    book = _OpenInvoices(regie, fresh)
    posting: list[tuple[ImportedLine, list[int], str]] = []
    waiting: list[tuple[ImportedLine, str, str]] = []
    for line in fresh:
        matched = book.match(line)
        if isinstance(matched, _Match):
            posting.append((line, matched.invoices, matched.how))
        else:
            waiting.append((line, matched.note, matched.payer_hint))
    invoices = Invoice.objects.only("id").in_bulk([i for _, ids, _ in posting for i in ids])
    drafts = [PaymentDraft(amount=line.amount, mode=mode, invoices=[invoices[i] for i in ids],
                           details=line.details, external_ref=line.external_ref,
                           line=line.line) for line, ids, _ in posting]
    # Amounts, modes and references are checked already: an error here is a real one
    # (a closed day…) and refuses the file with the line payments_post names.
    entries = payments_post(regie=regie, actor=actor, drafts=drafts, source=source,
                            audit_each=False)
    notes = book.explain([(line, note) for line, note, _ in waiting])
    ImportedPayment.objects.bulk_create([
        ImportedPayment(regie=regie, batch=batch, line=line.line, paid_on=line.paid_on,
                        amount=line.amount, mode=mode, reference=line.reference[:300],
                        payer_hint=hint[:200], external_ref=line.external_ref,
                        note=notes.get(line.external_ref, note)[:300])
        for line, note, hint in waiting], batch_size=5000)
    if waiting:
        _count_unmatched(len(waiting))
    dated = {"dated_on": entries[0].dated_on.isoformat()} if entries and entries[0].dated_on else {}
    return dated | {"payments": len(lines), "posted": len(entries),
            "matched_by_reference": sum(1 for *_, how in posting if how == "reference"),
            "matched_by_payer": sum(1 for *_, how in posting if how == "payer"),
            "queued": len(waiting), "already_imported": len(lines) - len(fresh),
            "total_posted": str(sum((e.amount for e in entries), ZERO)),
            "total_queued": str(sum((line.amount for line, *_ in waiting), ZERO)),
            "first_receipt": entries[0].receipt if entries else "",
            "last_receipt": entries[-1].receipt if entries else ""}


def _count_unmatched(n: int) -> None:
    on_commit(lambda: MONEY_ANOMALIES.labels("import_unmatched").inc(n))


def _where(field: str) -> str:
    """A CSV column (« transaction ») or an XML element (« AcctSvcrRef »), as said."""
    return f"colonne « {field} »" if field.islower() else f"élément <{field}>"


def _refuse_repeated(lines: Sequence[ImportedLine]) -> None:
    seen: dict[str, int] = {}
    for line in lines:
        if not line.external_ref.isprintable():
            raise RegieError(f"La référence du paiement contient un caractère de contrôle "
                             f"({_where(line.ref_field)}).", field=line.ref_field,
                             line=line.line)
        if line.external_ref in seen:
            raise Duplicate(f"Le paiement {line.external_ref} apparaît deux fois dans le "
                            f"fichier, lignes {seen[line.external_ref]} et {line.line} "
                            f"({_where(line.ref_field)}).", field=line.ref_field,
                            line=line.line)
        seen[line.external_ref] = line.line


def _known_refs(regie: Regie, mode: str, source: str, refs: list[str]) -> set[str]:
    """References an earlier file already brought: posted, or in the queue. The refs go
    as one text parameter split by the server (a hundred thousand bound parameters cost
    seconds to send), and are joined rather than tested with ``= ANY``: an array computed
    in the query is searched element by element for each row of the régie."""
    if not refs:
        return set()
    with commune_connection().cursor() as cursor:
        cursor.execute(f"""
            WITH refs AS (SELECT unnest(string_to_array(%(refs)s, %(separator)s)) AS ref)
            SELECT e.external_ref FROM {LedgerEntry._meta.db_table} e JOIN refs
                ON e.external_ref = refs.ref
                WHERE e.regie_id = %(regie)s AND e.source = %(source)s
            UNION
            SELECT q.external_ref FROM {ImportedPayment._meta.db_table} q JOIN refs
                ON q.external_ref = refs.ref
                WHERE q.regie_id = %(regie)s AND q.mode = %(mode)s""",
                       {"refs": SEPARATOR.join(refs), "separator": SEPARATOR,
                        "regie": regie.pk, "source": source, "mode": mode})
        return {row[0] for row in cursor.fetchall()}


def plain(text: str) -> str:
    """Upper case, no accents, single spaces: « Lefèvre  Léa » → « LEFEVRE LEA »."""
    text = text or ""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(c))
    return " ".join(text.upper().split())


def compact(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text)


def reference_tokens(text: str) -> list[str]:
    """What may be an invoice number in a payment's reference, in order."""
    found = []
    for token in TOKEN.findall(plain(text)):
        found.append(token)
        if any(c in token for c in "/._"):
            found.extend(p for p in re.split(r"[/._]+", token) if p)
    return [t for t in found if len(t) >= MIN_NUMBER_LENGTH]


@dataclass
class _Match:
    invoices: list[int]
    how: str  # reference | payer


@dataclass
class _Queue:
    note: str
    payer_hint: str = ""


class _OpenInvoices:
    """The régie's invoices still owing, by number (as written, or without its dashes,
    dots and slashes), and what each owes, lowered as the file's payments are matched."""

    def __init__(self, regie: Regie, lines: Sequence[ImportedLine]):
        self.regie = regie
        # An invoice handed over to the public accountant is no longer the régie's to
        # collect: money naming it waits in the queue (``explain`` says why).
        rows = (Invoice.objects.filter(regie=regie, cancelled_at__isnull=True,
                                       handed_over__isnull=True,
                                       status__in=[InvoiceStatus.DUE, InvoiceStatus.PARTLY_PAID])
                .order_by("due_on", "id")
                .values_list("id", "number", "payer_id", "total", "amount_paid"))
        self.owed: dict[int, Decimal] = {}
        self.number: dict[int, str] = {}
        self.payer_of: dict[int, int] = {}
        self.by_number: dict[str, int] = {}
        by_compact: dict[str, int | None] = {}
        self.of_payer: dict[int, list[int]] = {}
        for pk, number, payer_id, total, paid in rows:
            self.owed[pk], self.number[pk], self.payer_of[pk] = total - paid, number, payer_id
            self.by_number[plain(number)] = pk
            key = compact(plain(number))
            by_compact[key] = None if key in by_compact else pk  # ambiguous: not used
            self.of_payer.setdefault(payer_id, []).append(pk)
        self.by_compact = {k: v for k, v in by_compact.items() if v is not None}
        self.payers = _PayerHints(regie, lines)
        # Invoices in a SEPA debit not settled yet: a transfer for one waits for someone.
        self.held = payments_held(self.owed) if lines else {}

    def named(self, reference: str) -> list[int]:
        found: list[int] = []
        for token in reference_tokens(reference):
            pk = self.by_number.get(token) or self.by_compact.get(compact(token))
            if pk is not None and pk not in found:
                found.append(pk)
        return found

    def match(self, line: ImportedLine) -> _Match | _Queue:
        payer = self.payers.of(line)
        hint = self.payers.hint(line, payer)
        named = self.named(line.reference)
        if named:
            return self._by_reference(line, named, payer, hint)
        if payer is not None:
            return self._by_payer(line, payer, hint)
        return _Queue("Aucune facture à payer reconnue dans la référence"
                      + (f" « {line.reference[:120]} »." if line.reference else
                         " (référence vide)."), hint)

    def _by_reference(self, line: ImportedLine, named: list[int], payer: Payer | None,
                      hint: str) -> _Match | _Queue:
        numbers = " et ".join(self.number[pk] for pk in named)
        if len({self.payer_of[pk] for pk in named}) > 1:
            return _Queue(f"Les factures {numbers} sont adressées à des payeurs différents.",
                          hint)
        if payer is not None and line.payer_ref and payer.pk != self.payer_of[named[0]]:
            return _Queue(f"La facture {numbers} n'est pas adressée au payeur {payer} nommé "
                          "par la ligne.", hint)
        held = [pk for pk in named if pk in self.held]
        if held:
            return _Queue(f"La facture {self.number[held[0]]} est en {self.held[held[0]]} : "
                          "ce virement la paierait deux fois ; remboursez-le ou affectez-le "
                          "à l'avoir du payeur.", hint)
        # An invoice settled by a payment higher in the file takes no more.
        owing = [pk for pk in named if self.owed[pk] > 0]
        if not owing:
            return _Queue(f"La facture {numbers} est déjà réglée par un paiement plus haut "
                          "dans le fichier.", hint)
        owed = sum((self.owed[pk] for pk in owing), ZERO)
        if line.amount > owed:
            return _Queue(f"{euros(line.amount)} dépassent ce que doit encore la facture "
                          f"{numbers} ({euros(owed)}) : affectez le reste (avoir, autre "
                          "facture) ou remboursez.", hint)
        return self._take(owing, line.amount, "reference")

    def _by_payer(self, line: ImportedLine, payer: Payer, hint: str) -> _Match | _Queue:
        still = [pk for pk in self.of_payer.get(payer.pk, [])
                 if self.owed[pk] > 0 and pk not in self.held]
        exact = [pk for pk in still if self.owed[pk] == line.amount]
        if len(exact) == 1:
            return self._take(exact, line.amount, "payer")
        if still and sum((self.owed[pk] for pk in still), ZERO) == line.amount:
            return self._take(still, line.amount, "payer")
        return _Queue(f"Payeur reconnu ({payer}), mais aucune de ses factures ne doit "
                      f"{euros(line.amount)}.", hint)

    def _take(self, invoices: list[int], amount: Decimal, how: str) -> _Match:
        left = amount
        for pk in invoices:  # as payments_post will: in order, up to what each owes
            part = min(self.owed[pk], left)
            self.owed[pk] -= part
            left -= part
        return _Match(list(invoices), how)

    def explain(self, waiting: list[tuple[ImportedLine, str]]) -> dict[str, str]:
        """Better notes for queued payments that name an invoice that is not open: paid,
        cancelled, or of another régie (one query for all)."""
        tokens = {t: line for line, _ in waiting for t in reference_tokens(line.reference)
                  if any(c.isdigit() for c in t)}  # an invoice number has digits
        if not tokens:
            return {}
        notes: dict[str, str] = {}  # by external reference
        closed = Invoice.objects.filter(number__in=list(tokens)).select_related(
            "regie", "handed_over__handover")
        for invoice in closed:
            line = tokens.get(plain(invoice.number))
            if line is None or line.external_ref in notes:
                continue
            if invoice.regie_id != self.regie.pk:
                note = (f"La facture {invoice.number} est une facture de la régie "
                        f"{invoice.regie.name}.")
            elif invoice.cancelled_at is not None:
                note = f"La facture {invoice.number} est annulée."
            elif (item := handed_over_of(invoice)) is not None:
                note = (f"La facture {invoice.number} est transmise au comptable public "
                        f"(bordereau {item.handover.number}/{item.handover.year}) : signalez ce "
                        "paiement au comptable (réduction du titre ou reversement).")
            elif invoice.status == InvoiceStatus.PAID and invoice.pk not in self.owed:
                note = f"La facture {invoice.number} est déjà payée."
            else:
                continue
            notes[line.external_ref] = note
        return notes


class _PayerHints:
    """Who a payment says it is from: a payer's reference (card exports), or a debtor's
    name (bank) that is one payer's name, case and accents aside."""

    def __init__(self, regie: Regie, lines: Sequence[ImportedLine]):
        refs = {line.payer_ref for line in lines if line.payer_ref}
        names = {plain(line.payer_name) for line in lines if line.payer_name}
        self.by_ref = {p.external_ref: p for p in Payer.objects.filter(
            regie=regie, external_ref__in=list(refs))} if refs else {}
        self.by_name: dict[str, Payer | None] = {}
        if names:
            for payer in Payer.objects.filter(regie=regie).only("id", "name", "external_ref"):
                key = plain(payer.name)
                if key in names:
                    self.by_name[key] = None if key in self.by_name else payer  # homonyms

    def of(self, line: ImportedLine) -> Payer | None:
        if line.payer_ref:
            return self.by_ref.get(line.payer_ref)
        return self.by_name.get(plain(line.payer_name)) if line.payer_name else None

    def hint(self, line: ImportedLine, payer: Payer | None) -> str:
        if payer is not None:
            return f"{payer.name} (réf. {payer.external_ref})" if payer.external_ref else payer.name
        name = line.payer_name
        return f"{name} (réf. {line.payer_ref})" if line.payer_ref else name


# --- The queue -----------------------------------------------------------------------------

def _locked_item(item: ImportedPayment) -> tuple[Regie, ImportedPayment]:
    regie = Regie.objects.select_for_update().get(pk=item.regie_id)
    item = (ImportedPayment.objects.select_for_update(of=("self",))
            .select_related("batch", "entry").get(pk=item.pk))
    if item.status == QueueStatus.POSTED:
        raise Duplicate(f"Ce paiement importé est déjà encaissé (quittance "
                        f"{item.entry.receipt if item.entry else '?'}).")
    if item.status == QueueStatus.DISMISSED:
        raise Duplicate(f"Ce paiement importé a été écarté le "
                        f"{timezone.localtime(item.resolved_at):%d/%m/%Y} : {item.note}")
    return regie, item


def _resolved(actor: Actor, item: ImportedPayment, resolution: str, **data) -> None:
    record(actor, events.QueuedPaymentResolved(target=f"queued:{item.pk}", data={
        "line": item.line, "amount": euros(item.amount).removesuffix(" €"),
        "resolution": resolution, "file_name": item.batch.file_name,
        "external_ref": item.external_ref, **data}))


@atomic
def queued_payment_post(*, item: ImportedPayment, actor: Actor, payer: Payer | None = None,
                        invoices: Sequence[Invoice] = (),
                        allocations: dict[str, object] | None = None) -> LedgerEntry:
    """Post a queued payment to a payer (the rest of its invoices' dues goes to their
    credit) or to invoices, through ``payments_post``: its mode and external reference
    are the imported ones. Any agent assigned to the régie may."""
    regie, item = _locked_item(item)
    details = {"paid_on": item.paid_on.isoformat()}
    if item.mode == PaymentMode.CARD:
        details["terminal_ref"] = item.external_ref
    if item.reference:
        details["reference"] = item.reference[:140]
    named = payer is not None or bool(invoices) or bool(allocations)
    draft = PaymentDraft(amount=item.amount, mode=item.mode, payer=payer, invoices=invoices,
                         allocations=allocations, details=details,
                         payer_name="" if named else item.payer_hint,
                         external_ref=item.external_ref)
    (entry,) = payments_post(regie=regie, actor=actor, drafts=[draft],
                             source=SOURCES[ImportKind(item.batch.kind)], audit_each=False)
    item.status, item.entry = QueueStatus.POSTED, entry
    item.resolved_by, item.resolved_at = actor.account, entry.posted_at
    item.save(update_fields=["status", "entry", "resolved_by", "resolved_at"])
    _resolved(actor, item, f"encaissé, quittance {entry.receipt} ({entry.payer_name})",
              receipt=entry.receipt)
    return entry


@atomic
def queued_payment_dismiss(*, item: ImportedPayment, actor: Actor,
                           reason: str) -> ImportedPayment:
    """Leave a queued payment aside (not for this régie, refunded to the payer…), with the
    reason. The titulaire, or the suppléant standing in, decides: money received is not
    set aside by whoever happens to collect."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise RegieError("Donnez le motif : pourquoi ce paiement n'est-il pas encaissé par la "
                         "régie ?", field="reason")
    regie, item = _locked_item(item)
    permissions.require_keeper(regie, actor, timezone.localdate(), "écarter un paiement importé")
    item.status, item.note = QueueStatus.DISMISSED, reason[:300]
    item.resolved_by, item.resolved_at = actor.account, timezone.now()
    item.save(update_fields=["status", "note", "resolved_by", "resolved_at"])
    _resolved(actor, item, f"écarté : {item.note}")
    return item

