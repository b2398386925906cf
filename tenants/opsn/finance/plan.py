"""The M57 plan of accounts: reading an edition's file and loading it into a commune.

The file is CSV as a French spreadsheet writes it (``;`` between fields, UTF-8, a BOM
allowed), one line per account or fonction code:

    edition;type;code;libelle;chapitre
    2026;nature;7067;Redevances et droits des services périscolaires et d'enseignement;70
    2026;fonction;281;Hébergement et restauration scolaires;

The shipped edition is ``finance/data/m57-<edition>.csv`` (where it comes from:
docs/finance-guide.md). A file is read entirely and checked before anything is written;
loading it again changes nothing. An account a new edition no longer has is not deleted
(products and invoices name it): it is marked retired, and no product may be imputed to it
any more."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from opsn.finance.errors import FinanceError
from opsn.finance.models import Fonction, Nature, PlanEntry
from opsn.kernel.inputs import file_problem, problem
from opsn.kernel.tenancy import atomic

COLUMNS = ("edition", "type", "code", "libelle", "chapitre")
KINDS: dict[str, type[Nature] | type[Fonction]] = {"nature": Nature, "fonction": Fonction}
CODE = re.compile(r"[0-9]{1,10}")
CHAPTER = re.compile(r"[0-9]{2,3}")
EDITION = re.compile(r"[0-9A-Za-z._-]{1,20}")


@dataclass(frozen=True)
class Line:
    kind: str
    code: str
    label: str
    chapter: str = ""


@dataclass
class Plan:
    edition: str
    lines: list[Line]

    def of(self, kind: str) -> list[Line]:
        return [line for line in self.lines if line.kind == kind]


@dataclass
class Loaded:
    """What loading an edition changed in one commune."""

    edition: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.changed) + len(self.retired)

    def summary(self) -> str:
        if not self.changes:
            return f"édition {self.edition} : rien à changer ({self.unchanged} lignes déjà à jour)"
        parts = [f"{len(self.added)} ajoutée(s)", f"{len(self.changed)} modifiée(s)",
                 f"{len(self.retired)} retirée(s)", f"{self.unchanged} inchangée(s)"]
        return f"édition {self.edition} : " + ", ".join(parts)


def _header_name(value: str) -> str:
    """« Libellé » → « libelle »: accents and case do not matter in the header."""
    plain = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(c for c in plain if not unicodedata.combining(c))


def _decode(content: bytes) -> str:
    if found := file_problem(content):
        line, message = found
        raise FinanceError(message, field="file", line=line)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise FinanceError(
            f"Le fichier n'est pas encodé en UTF-8 (octet 0x{content[exc.start]:02X}) : il a "
            "sans doute été enregistré en Windows-1252 (Excel). Enregistrez-le au format "
            "« CSV UTF-8 ».", field="file", line=line) from None


def read_plan(content: bytes) -> Plan:
    """The edition a file holds, checked line by line; a ``FinanceError`` names the first
    line and column at fault."""
    text = _decode(content)
    if not text.strip():
        raise FinanceError("Le fichier est vide : il doit commencer par la ligne d'en-tête "
                           f"« {';'.join(COLUMNS)} ».", field="file")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = [_header_name(h) for h in next(rows)]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        hint = (" Les champs sont séparés par des virgules : le fichier attend des "
                "points-virgules (« ; »)." if len(header) == 1 and "," in header[0] else "")
        raise FinanceError(f"Colonne(s) manquante(s) : {', '.join(missing)}. L'en-tête attendu "
                           f"est « {';'.join(COLUMNS)} ».{hint}", field="file", line=1)
    at = {name: header.index(name) for name in COLUMNS}
    edition = ""
    lines: list[Line] = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise FinanceError(f"{len(row)} champ(s) au lieu de {len(header)}.", field="file",
                               line=number)
        value = {name: row[i].strip() for name, i in at.items()}
        for name, cell in value.items():
            if (why := problem(cell, max_length=300)) is not None:
                raise FinanceError(f"La valeur {why} (colonne « {name} »).", field=name,
                                   line=number)
        if not EDITION.fullmatch(value["edition"]):
            raise FinanceError(f"« {value['edition']} » n'est pas une édition (par exemple "
                               "2026) (colonne « edition »).", field="edition", line=number)
        if edition and value["edition"] != edition:
            raise FinanceError(f"Le fichier mêle deux éditions : {edition} et "
                               f"{value['edition']} (colonne « edition »).", field="edition",
                               line=number)
        edition = value["edition"]
        kind = value["type"].lower()
        if kind not in KINDS:
            raise FinanceError(f"Type « {value['type']} » inconnu : nature ou fonction "
                               "(colonne « type »).", field="type", line=number)
        code = value["code"]
        if not CODE.fullmatch(code):
            raise FinanceError(f"« {code} » n'est pas un code M57 (des chiffres, 10 au plus) "
                               "(colonne « code »).", field="code", line=number)
        if not value["libelle"]:
            raise FinanceError("Le libellé manque (colonne « libelle »).", field="libelle",
                               line=number)
        chapter = value["chapitre"]
        if kind == "nature":
            if not CHAPTER.fullmatch(chapter) or not code.startswith(chapter):
                raise FinanceError(f"Le compte {code} n'a pas son chapitre : les 2 ou 3 "
                                   "premiers chiffres du compte, par exemple 70 (colonne "
                                   "« chapitre »).", field="chapitre", line=number)
        else:
            chapter = ""
        if (kind, code) in seen:
            raise FinanceError(f"Le code {kind} {code} apparaît deux fois (déjà ligne "
                               f"{seen[kind, code]}).", field="code", line=number)
        seen[kind, code] = number
        lines.append(Line(kind=kind, code=code, label=value["libelle"], chapter=chapter))
    if not any(line.kind == "nature" for line in lines):
        raise FinanceError("Le fichier ne contient aucun compte par nature.", field="file")
    return Plan(edition=edition, lines=lines)


def _leaves(lines: list[Line]) -> set[str]:
    """The most detailed codes: no other code of the same list extends them."""
    codes = sorted(line.code for line in lines)
    return {c for i, c in enumerate(codes)
            if not (i + 1 < len(codes) and codes[i + 1].startswith(c))}


def _fields(line: Line, leaves: set[str], model: type) -> dict:
    values = {"label": line.label, "imputable": line.code in leaves, "retired_in": ""}
    if model is Nature:
        values["chapter"] = line.chapter
    return values


def latest_edition() -> str:
    editions = [*Nature.objects.values_list("edition", flat=True).distinct()]
    return max(editions, default="")


@atomic
def load_plan(plan: Plan) -> Loaded:
    """Load an edition into the current commune, all of it or nothing. An older edition than
    the one loaded is refused (it would retire the accounts the newer one added)."""
    current = latest_edition()
    if current and plan.edition < current:
        raise FinanceError(f"L'édition {plan.edition} est plus ancienne que l'édition "
                           f"{current} déjà chargée : rien n'a été chargé.", field="edition")
    done = Loaded(edition=plan.edition)
    for kind, model in KINDS.items():
        lines = plan.of(kind)
        leaves = _leaves(lines)
        existing: dict[str, PlanEntry] = {e.code: e for e in model.objects.all()}
        new, updated = [], []
        for line in lines:
            wanted = _fields(line, leaves, model)
            entry = existing.pop(line.code, None)
            if entry is None:
                new.append(model(code=line.code, edition=plan.edition, **wanted))
                done.added.append(f"{kind} {line.code}")
                continue
            differs = [k for k, v in wanted.items() if getattr(entry, k) != v]
            if differs:
                done.changed.append(f"{kind} {line.code}")
            else:
                done.unchanged += 1
            if differs or entry.edition != plan.edition:
                for key, value in wanted.items():
                    setattr(entry, key, value)
                entry.edition = plan.edition
                updated.append(entry)
        for entry in existing.values():
            if not entry.retired_in:
                entry.retired_in = plan.edition
                updated.append(entry)
                done.retired.append(f"{kind} {entry.code}")
        model.objects.bulk_create(new)  # type: ignore[arg-type]
        model.objects.bulk_update(
            updated,  # type: ignore[arg-type]
            ["label", "imputable", "retired_in", "edition",
             *(["chapter"] if model is Nature else [])])
    return done
