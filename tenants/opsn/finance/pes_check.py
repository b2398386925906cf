"""What a PES V2 « PES_Aller » file of titres must hold that no schema says: the bordereau's
count and total equal its pieces', each piece's lines are imputed (a nature account) and
positive, its identifiers unique, and each line has its debtor. The structure (element
names and order) is the one ``opsn.finance.pes`` writes (docs/decisions/0018-pes-v2.md).
Returns the problems in French, none when the file holds."""

from __future__ import annotations

import io
from decimal import Decimal, InvalidOperation

from lxml import etree

MAX_BYTES = 200 * 1024 * 1024


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
        root = etree.parse(io.BytesIO(data), parser).getroot()
    except etree.XMLSyntaxError as exc:
        return [f"Le XML est mal formé ({(exc.msg or str(exc)).split(', line ')[0]})."]
    if etree.QName(root).localname != "PES_Aller":
        return [f"La racine est « {etree.QName(root).localname} », pas « PES_Aller »."]
    problems: list[str] = []
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
