"""Checks a PES V2 « PES_Aller » file of titres, first against the schema the project keeps
(``data/pes_aller.xsd``: exactly the elements, order and ``V`` values ``opsn.finance.pes``
writes; docs/decisions/0018-pes-v2.md says its source and limits), then against what no
schema says: the bordereau's count and total equal its pieces', each piece's lines are
imputed (a nature account) and positive, its identifiers unique, and each line has its
debtor. Returns the problems in French, none when the file holds."""

from __future__ import annotations

import functools
import io
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

MAX_BYTES = 200 * 1024 * 1024
SCHEMA = Path(__file__).parent / "data" / "pes_aller.xsd"
# The first problems the schema finds are enough to fix a file (one mistake repeated on ten
# thousand titres says the same thing ten thousand times).
MAX_SCHEMA_PROBLEMS = 20


@functools.cache
def _schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA), parser))


def _name(text: str) -> str:
    return re.sub(r"\{[^}]*\}", "", text)


def _names(text: str) -> str:
    return ", ".join(_name(x.strip()) for x in text.split(",") if x.strip())


_SCHEMA_MESSAGES = [
    (re.compile(r"Element '([^']+)': This element is not expected\. Expected is "
                r"(?:one of )?\( ?([^)]*?) ?\)"),
     lambda m: f"L'élément {_name(m[1])} n'est pas attendu ici (inconnu du schéma ou mal "
               f"placé) ; attendu : {_names(m[2])}."),
    (re.compile(r"Element '([^']+)': This element is not expected"),
     lambda m: f"L'élément {_name(m[1])} n'est pas attendu ici (inconnu du schéma ou en "
               "trop)."),
    (re.compile(r"Element '([^']+)': Missing child element\(s\)\. Expected is "
                r"(?:one of )?\( ?([^)]*?) ?\)"),
     lambda m: f"L'élément {_name(m[1])} est incomplet : il manque l'élément obligatoire "
               f"{_names(m[2])}."),
    (re.compile(r"Element '([^']+)': The attribute 'V' is required but missing"),
     lambda m: f"L'élément {_name(m[1])} n'a pas sa valeur (attribut V)."),
    (re.compile(r"Element '([^']+)', attribute '([^']+)': The attribute '[^']+' is not "
                r"allowed"),
     lambda m: f"L'élément {_name(m[1])} porte un attribut inconnu ({m[2]})."),
    (re.compile(r"Element '([^']+)', attribute 'V': '([^']*)' is not a valid value"),
     lambda m: f"L'élément {_name(m[1])} a une valeur invalide : « {m[2][:60]} »."),
    (re.compile(r"Element '([^']+)', attribute 'V': \[facet '[^']+'\] The value "
                r"'([^']*)'"),
     lambda m: f"L'élément {_name(m[1])} a une valeur invalide : « {m[2][:60]} »."),
    (re.compile(r"Element '([^']+)': Character content"),
     lambda m: f"L'élément {_name(m[1])} contient du texte : les valeurs sont dans "
               "l'attribut V."),
    (re.compile(r"Element '([^']+)'"),
     lambda m: f"L'élément {_name(m[1])} ne suit pas le schéma PES_Aller du projet."),
]


def _french(message: str) -> str:
    for pattern, say in _SCHEMA_MESSAGES:
        found = pattern.search(message)
        if found:
            return say(found)
    return "Le fichier ne suit pas le schéma PES_Aller du projet."


def schema_problems(tree) -> list[str]:
    """What the project's schema refuses, in French, each naming the element (and where it
    is, as an XPath, since our files are written on one line)."""
    schema = _schema()
    if schema.validate(tree):
        return []
    problems: list[str] = []
    for entry in schema.error_log:
        said = _french(entry.message)
        where = _name(entry.path or "")
        problem = f"Schéma : {said}" + (f" (à {where})" if where else "")
        if problem not in problems:
            problems.append(problem)
        if len(problems) >= MAX_SCHEMA_PROBLEMS:
            problems.append("Schéma : d'autres écarts suivent (corrigez d'abord ceux-ci).")
            break
    return problems


def _v(element, path: str) -> str | None:
    found = element.find(path)
    return None if found is None else found.get("V")


def _amount(value: str | None) -> Decimal | None:
    try:
        amount = Decimal(value or "")
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def check(data: bytes) -> list[str]:
    if len(data) > MAX_BYTES:
        return [f"Le fichier dépasse {MAX_BYTES // (1024 * 1024)} Mo."]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=True)
    try:
        tree = etree.parse(io.BytesIO(data), parser)
    except etree.XMLSyntaxError as exc:
        return [f"Le XML est mal formé ({(exc.msg or str(exc)).split(', line ')[0]})."]
    root = tree.getroot()
    if etree.QName(root).localname != "PES_Aller":
        return [f"La racine est « {etree.QName(root).localname} », pas « PES_Aller »."]
    problems = schema_problems(tree)
    for needed in ("Enveloppe", "EnTetePES/IdColl", "EnTetePES/CodCol", "EnTetePES/CodBud",
                   "EnTetePES/IdPost", "PES_RecetteAller/Bordereau/BlocBordereau"):
        found = root.find(needed)
        if found is None:
            problems.append(f"L'élément {needed} manque.")
        elif needed.startswith("EnTetePES/") and not (found.get("V") or "").strip():
            problems.append(f"L'élément {needed} est vide.")
    for bordereau in root.iterfind("PES_RecetteAller/Bordereau"):
        block = bordereau.find("BlocBordereau")
        if block is None:
            continue
        said_count, said_total = _v(block, "NbrPce"), _amount(_v(block, "MtBordHt"))
        pieces = bordereau.findall("Piece")
        total, seen = Decimal("0"), set()
        for piece in pieces:
            number = _v(piece, "BlocPiece/IdPce")
            if not number:
                problems.append("Un titre n'a pas d'identifiant (IdPce).")
            elif number in seen:
                problems.append(f"Le titre {number} apparaît deux fois.")
            seen.add(number)
            lines = piece.findall("LigneDePiece")
            if not lines:
                problems.append(f"Le titre {number} n'a aucune ligne.")
            for line in lines:
                info = line.find("BlocLignePiece/InfoLignePiece")
                amount = _amount(_v(info, "MtHT")) if info is not None else None
                if amount is None or amount <= 0:
                    problems.append(f"Le titre {number} a une ligne sans montant positif.")
                else:
                    total += amount
                if info is None or not _v(info, "Nature"):
                    problems.append(f"Le titre {number} a une ligne sans imputation (Nature).")
                if not _v(line, "Tiers/InfoTiers/Nom"):
                    problems.append(f"Le titre {number} a une ligne sans débiteur (Tiers).")
        if said_count != str(len(pieces)):
            problems.append(f"Le bordereau annonce {said_count} titre(s) (NbrPce), il en a "
                            f"{len(pieces)}.")
        if said_total != total:
            problems.append(f"Le bordereau annonce {said_total} € (MtBordHt), ses lignes font "
                            f"{total} €.")
    return problems
