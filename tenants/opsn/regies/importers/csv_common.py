"""What every CSV import shares: the encoding (UTF-8, with or without BOM; Windows-1252
only when asked for), the delimiter (``;`` or ``,``, read from the header), column names
as people write them, and cells checked one by one. Every error names the file's line
and the column."""

from __future__ import annotations

import csv
import datetime
import io
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

from opsn.kernel.money import parse_amount, parse_quantity
from opsn.regies.errors import RegieError

ENCODINGS = {"utf-8": "UTF-8", "cp1252": "Windows-1252"}
ENCODING_ALIASES = {"utf8": "utf-8", "utf-8-sig": "utf-8", "windows-1252": "cp1252",
                    "win1252": "cp1252", "ansi": "cp1252"}
DELIMITERS = (";", ",", "\t")
BOM = b"\xef\xbb\xbf"
# dd/mm/yyyy or yyyy-mm-dd, optionally followed by a time that is not kept (terminals
# export « 03/10/2026 14:32:05 »).
DATE_FR = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                      r"(?:Z|[+-]\d{2}:?\d{2})?)?")


def normalise_encoding(encoding: str | None) -> str:
    name = (encoding or "utf-8").strip().lower()
    name = ENCODING_ALIASES.get(name, name)
    if name not in ENCODINGS:
        raise RegieError(f"Encodage « {encoding} » non pris en charge : UTF-8 (par défaut) ou "
                         "Windows-1252 (cp1252).", field="encoding")
    return name


def decode(content: bytes, encoding: str = "utf-8") -> str:
    """The file's text. UTF-8 is the default; a file that is not (most often Windows-1252
    from a spreadsheet) is refused with the line of the first byte that is not, rather
    than read with wrong accents."""
    name = normalise_encoding(encoding)
    if content.startswith(BOM):  # a BOM says UTF-8, whatever was asked
        name, content = "utf-8", content[len(BOM):]
    try:
        return content.decode(name)
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        byte = content[exc.start]
        if name == "utf-8":
            raise RegieError(
                f"Le fichier n'est pas encodé en UTF-8 (octet 0x{byte:02X}) : il a sans doute "
                "été enregistré en Windows-1252 (Excel, logiciel sous Windows). Enregistrez-le "
                "au format « CSV UTF-8 », ou importez-le en précisant l'encodage Windows-1252.",
                line=line, field="encoding") from None
        raise RegieError(f"L'octet 0x{byte:02X} n'existe pas en Windows-1252 : le fichier "
                         "n'est pas dans cet encodage.", line=line, field="encoding") from None


def column_key(name: str) -> str:
    """« Numéro de facture » → « numero_de_facture »: header cells compared without case,
    accents or spacing."""
    text = unicodedata.normalize("NFKD", name.strip().lstrip("\ufeff"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise RegieError("En-tête illisible : les colonnes doivent être séparées par « ; » ou "
                         "« , ».", line=1)
    return best


def _date(text: str) -> datetime.date:
    if match := DATE_FR.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
    elif match := DATE_ISO.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    else:
        raise ValueError(text)
    return datetime.date(year, month, day)


def parse_date(value: str) -> datetime.date:
    """« 03/10/2026 » or « 2026-10-03 » (a time after it is ignored); anything else, or a
    day that does not exist, is refused."""
    text = (value or "").strip()
    try:
        return _date(text)
    except ValueError:
        raise RegieError(f"« {text} » n'est pas une date (jj/mm/aaaa ou aaaa-mm-jj).") from None


def at_column(exc: RegieError, column: str, line: int | None) -> RegieError:
    """The same error, said of a file's cell."""
    return type(exc)(f"{exc.message.rstrip('.')} (colonne « {column} »).", field=column,
                     line=line)


@dataclass
class Row:
    """One data row: its cells by column key, and the file line where it starts."""

    line: int
    cells: dict[str, str]

    def fail(self, message: str, column: str | None = None) -> NoReturn:
        where = f" (colonne « {column} »)" if column else ""
        raise RegieError(f"{message.rstrip('.')}{where}.", field=column, line=self.line)

    def text(self, column: str, *, required: bool = False, max_length: int | None = None,
             what: str = "") -> str:
        value = (self.cells.get(column) or "").strip()
        if required and not value:
            self.fail(f"{what or 'La valeur'} manque", column)
        if max_length is not None and len(value) > max_length:
            self.fail(f"« {value[:40]}… » dépasse {max_length} caractères", column)
        return value

    def amount(self, column: str, *, allow_zero: bool = False) -> Decimal:
        value = self.text(column, required=True, what="Le montant")
        try:
            return parse_amount(value, field=column, allow_zero=allow_zero, error=RegieError)
        except RegieError as exc:
            raise at_column(exc, column, self.line) from None

    def optional_amount(self, column: str, *, allow_zero: bool = False) -> Decimal | None:
        return self.amount(column, allow_zero=allow_zero) if self.text(column) else None

    def quantity(self, column: str, default: str = "1") -> Decimal:
        try:
            return parse_quantity(self.text(column) or default, field=column, error=RegieError)
        except RegieError as exc:
            raise at_column(exc, column, self.line) from None

    def date(self, column: str, *, what: str = "La date") -> datetime.date:
        value = self.text(column, required=True, what=what)
        try:
            return parse_date(value)
        except RegieError as exc:
            raise at_column(exc, column, self.line) from None

    def optional_date(self, column: str) -> datetime.date | None:
        return self.date(column) if self.text(column) else None


@dataclass
class Table:
    delimiter: str
    columns: list[str]  # keys, in the header's order
    rows: list[Row]


def read_table(text: str, *, required: tuple[str, ...], what: str) -> Table:
    """Header and rows. Columns outside the format are ignored (exports carry more);
    missing required ones, a duplicated column, a row with too many cells or a broken
    quote are refused with their line. Blank rows are skipped. ``what`` names the file's
    content in the message of an empty file (« aucune facture »)."""
    lines = text.splitlines()
    header_index = next((i for i, raw in enumerate(lines) if raw.strip()), None)
    if header_index is None:
        raise RegieError("Le fichier est vide.", line=1)
    delimiter = _delimiter(lines[header_index])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[Row] = []
    columns: list[str] | None = None
    consumed = 0
    try:
        for cells in reader:
            start, consumed = consumed + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if columns is None:
                columns = _header(cells, start, required)
                continue
            rows.append(_row(cells, columns, start, delimiter))
    except csv.Error as exc:
        raise RegieError(f"Ligne CSV illisible ({exc}) : un guillemet n'est sans doute pas "
                         "refermé.", line=reader.line_num) from None
    if not rows:
        raise RegieError(f"Le fichier ne contient {what} : seulement l'en-tête.", line=2)
    return Table(delimiter=delimiter, columns=columns or [], rows=rows)


def _header(cells: list[str], line: int, required: tuple[str, ...]) -> list[str]:
    columns = [column_key(c) for c in cells]
    seen: set[str] = set()
    for key in columns:
        if key and key in seen:
            raise RegieError(f"La colonne « {key} » apparaît deux fois dans l'en-tête.",
                             field=key, line=line)
        seen.add(key)
    missing = [c for c in required if c not in seen]
    if missing:
        raise RegieError(f"Colonne(s) absente(s) de l'en-tête : {', '.join(missing)}. "
                         f"Colonnes attendues au moins : {', '.join(required)}.",
                         field=missing[0], line=line)
    return columns


def _row(cells: list[str], columns: list[str], line: int, delimiter: str) -> Row:
    extra = cells[len(columns):]
    if any(c.strip() for c in extra):
        shown = {"\t": "tabulation"}.get(delimiter, delimiter)
        raise RegieError(f"La ligne a {len(cells)} colonnes, l'en-tête {len(columns)} : un "
                         f"« {shown} » dans une valeur doit être entre guillemets.", line=line)
    return Row(line=line, cells={key: value for key, value in zip(columns, cells, strict=False)
                                 if key})
