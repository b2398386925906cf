"""CSV files of the régies, as a French spreadsheet opens them: ';' between fields, a
decimal comma, UTF-8 with a byte-order mark (without it, Excel reads the accents as
Windows-1252), CRLF line ends."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

import tablib
from django.utils import timezone

from opsn.finance.regularisation import deposit_regularisation
from opsn.regies.counted import NOT_COUNTED, closing_lines, deposit_count, sense
from opsn.regies.models import AGE_BUCKETS, Deposit, LedgerEntry, PaymentMode, Regie
from opsn.regies.owed import bucket_label, by_payer, past_due, summary
from opsn.regies.reports import RegieReport, deposit_entries

BOM = "\ufeff"
SLIP_HEADER = ["quittance", "date", "mode", "payeur", "montant", "cheque", "banque",
               "reference"]
COUNTED_HEADER = ["rubrique", "journee", "mode", "ecritures", "journal", "compte", "ecart",
                  "sens", "verse", "motif"]
REPORT_HEADER = ["rubrique", "cle", "libelle", "ecritures", "montant"]
OWED_HEADER = ["rubrique", "facture", "payeur", "code_rattachement", "reference", "emise_le",
               "echeance", "jours_de_retard", "tranche", "montant", "paye", "reste_du"]
PAYER_HEADER = ["payeur", "code_rattachement", "reference", "factures",
                *[f"reste_du_{key}" for key, *_rest in AGE_BUCKETS], "reste_du"]


def decimal_fr(value: Decimal) -> str:
    """-1234.5 → « -1234,50 » (no thousands separator: a spreadsheet reads it a number)."""
    return f"{value:.2f}".replace(".", ",")


def text(value: str) -> str:
    """A spreadsheet runs a cell that starts with = + - @ as a formula: a payer named
    « =HYPERLINK(…) » must stay text (OWASP, CSV injection)."""
    value = str(value or "")
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_text(header: list[str], rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def slip_order(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """By mode, in the order the modes are declared, then in posting order (the slip
    lists them so)."""
    order = {mode: i for i, mode in enumerate(PaymentMode.values)}
    return sorted(entries, key=lambda e: (order[e.mode], e.pk))


def cheque_of(entry: LedgerEntry) -> tuple[str, str]:
    """Number and bank of the cheque; a reversal shows those of the payment it cancels."""
    details = (entry.reverses.details if entry.reverses_id and entry.reverses else
               entry.details) or {}
    return details.get("cheque_number", ""), details.get("bank", "")


def reference_of(entry: LedgerEntry) -> str:
    """Where the payment came from: « annule … » for a reversal, else its external
    reference (terminal, bank, software, PayFiP), the terminal's ticket or the agent's
    note."""
    if entry.reverses_id:
        return f"annule {entry.reverses.receipt}" if entry.reverses else "annulation"
    details = entry.details or {}
    return entry.external_ref or details.get("terminal_ref", "") or details.get("note", "")


def deposit_slip_csv(deposit: Deposit) -> str:
    """One line per payment the deposit covers (reversals negative), in the slip's order."""
    rows = []
    for entry in slip_order(deposit_entries(deposit)):
        cheque, bank = cheque_of(entry)
        rows.append([entry.receipt, f"{timezone.localtime(entry.posted_at):%d/%m/%Y}",
                     PaymentMode(entry.mode).label, text(entry.payer_name),
                     decimal_fr(entry.amount), text(cheque), text(bank),
                     text(reference_of(entry))])
    return csv_text(SLIP_HEADER, rows)


def deposit_counted_csv(deposit: Deposit) -> str:
    """What the deposit says was counted (``opsn.regies.counted``), as the slip's first
    table: one ``mode`` line per mode (journal, counted, difference — negative for a
    déficit, positive for an excédent —, paid in, the reasons « dd/mm/yyyy : motif »),
    then a ``total`` line, then one ``arrete`` line per mode of each closing the deposit
    carries, by day. A mode no closing counted has « non compté » as its ``sens`` and
    neither a counted amount nor a difference."""
    count = deposit_count(deposit)
    rows = []
    for m in count.modes:
        counted = m.counted
        rows.append(["mode", "", PaymentMode(m.mode).label, str(m.entries),
                     decimal_fr(m.journal),
                     decimal_fr(counted) if counted is not None else "",
                     decimal_fr(m.difference) if m.was_counted else "",
                     m.sense if m.was_counted else NOT_COUNTED,
                     decimal_fr(m.paid), text(m.reasons)])
    total = count.counted
    rows.append(["total", "", "", str(count.entries), decimal_fr(count.journal),
                 decimal_fr(total) if total is not None else "",
                 decimal_fr(count.difference),
                 sense(count.difference) if total is not None else NOT_COUNTED,
                 decimal_fr(count.paid), ""])
    for closing in count.closings:
        rows += [["arrete", f"{closing.day:%d/%m/%Y}", PaymentMode(line.mode).label,
                  str(line.entries), decimal_fr(line.expected), decimal_fr(line.counted),
                  decimal_fr(line.difference), sense(line.difference), "", text(line.reason)]
                 for line in closing_lines(closing)]
    return csv_text(COUNTED_HEADER, rows)


def regie_report_csv(report: RegieReport) -> str:
    """The report's lines: by mode, by product, by agent, then the totals."""
    rows = []
    for section, lines in (("mode", report.by_mode), ("produit", report.by_product),
                           ("agent", report.by_agent)):
        rows += [[section, text(line.key), text(line.label), str(line.entries),
                  decimal_fr(line.total)] for line in lines]
    rows += [["total", "paiements", "Paiements", str(report.payments),
              decimal_fr(report.collected)],
             ["total", "annulations", "Annulations", str(report.reversals),
              decimal_fr(report.reversed)],
             ["total", "net", "Total net", str(report.payments + report.reversals),
              decimal_fr(report.net_total)]]
    return csv_text(REPORT_HEADER, rows)


def _owed_rows(regie: Regie, on) -> tuple[list[list], list[list], list[list]]:
    """What is owed on ``on`` (``opsn.regies.owed``), as typed cells: the invoices, the
    payers, the buckets and the total. Text is made safe for a spreadsheet by the CSV
    writer; the ODS file types its cells (text stays text)."""
    invoices = [[inv.number, inv.payer.name, inv.payer.link_code, inv.payer.external_ref,
                 inv.issued_on, inv.due_on, inv.days_late, bucket_label(inv.bucket),
                 inv.total, inv.amount_paid, inv.owed]
                for inv in past_due(regie, on).iterator(chunk_size=2000)]
    payers = [[p.name, p.link_code, p.external_ref, p.count, *p.by_bucket, p.total]
              for p in by_payer(regie, on)]
    found = summary(regie, on)
    buckets = [[b.label, b.count, b.total] for b in found.buckets]
    buckets.append(["Total", found.count, found.total])
    return invoices, payers, buckets


def _csv_cell(value) -> str:
    if isinstance(value, Decimal):
        return decimal_fr(value)
    if hasattr(value, "strftime"):
        return f"{value:%d/%m/%Y}"
    return text(value) if isinstance(value, str) else str(value)


def owed_csv(regie: Regie, on) -> str:
    """One ``facture`` line per invoice owed (the oldest debt first), then one ``tranche``
    line per age bucket and the ``total`` line, each with what is left to pay."""
    invoices, _payers, buckets = _owed_rows(regie, on)
    rows = [["facture", *map(_csv_cell, row)] for row in invoices]
    rows += [["total" if label == "Total" else "tranche", "", "", "", "", "", "", "",
              "" if label == "Total" else label, "", "", decimal_fr(total)]
             for label, _count, total in buckets]
    return csv_text(OWED_HEADER, rows)


def owed_ods(regie: Regie, on) -> bytes:
    """The same as an OpenDocument spreadsheet (LibreOffice, Excel): three sheets, the
    invoices, the payers, the age buckets; amounts are numbers, dates dates."""
    invoices, payers, buckets = _owed_rows(regie, on)
    book = tablib.Databook()
    for title, header, rows in (
            ("Factures", OWED_HEADER[1:], invoices), ("Payeurs", PAYER_HEADER, payers),
            ("Tranches", ["tranche", "factures", "reste_du"], buckets)):
        sheet = tablib.Dataset(*[tuple(row) for row in rows], headers=header, title=title)
        book.add_sheet(sheet)
    return book.export("ods")


REGULARISATION_HEADER = ["versement", "nature", "libelle_nature", "fonction",
                         "libelle_fonction", "montant"]


def deposit_regularisation_csv(deposit: Deposit) -> str:
    """The deposit's titre de régularisation: one line per imputation (nature, fonction),
    « non affecté » last, then a ``total`` line equal to the deposit's total."""
    regularisation = deposit_regularisation(deposit)
    rows = [[deposit.slip, line.nature or "non affecté", text(line.nature_label),
             line.fonction, text(line.fonction_label), decimal_fr(line.amount)]
            for line in regularisation.lines]
    rows.append([deposit.slip, "total", "", "", "", decimal_fr(regularisation.total)])
    return csv_text(REGULARISATION_HEADER, rows)
