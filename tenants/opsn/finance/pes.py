"""The PES V2 « PES_Aller » file of a hand-over: one bordereau of titres de recettes (one
titre, ``Piece``, per unpaid invoice), each of its lines (``LigneDePiece``) with its M57
imputation, the amount still owed and the debtor (``Tiers``). Pure: it writes what it is
given, in the order and with the element names of the DGFiP's published PES V2 « Aller »
structure (docs/finance-guide.md, section 4, says where it comes from and what is still to
check against the DGFiP's schemas). Every value travels in a ``V`` attribute."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

# The namespaces the published files declare on their root (the ``n:`` prefix).
NS_ALLER = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"
ENCODING = "ISO-8859-1"

# Codes of the titre and its debtor (PES V2 « Recette » nomenclatures).
TYP_BORD_ORDINAIRE = "01"  # bordereau ordinaire de titres
TYP_PCE_ORDINAIRE = "01"  # titre ordinaire
NAT_PCE_ORDINAIRE = "01"
CAT_TIERS = {"family": "01", "individual": "01", "association": "50", "organisation": "50"}
NAT_JUR = {"family": "01", "individual": "01", "association": "03", "organisation": "04"}


@dataclass(frozen=True)
class Header:
    post_code: str
    post_name: str
    siret: str
    collectivity_code: str
    budget_code: str
    budget_name: str
    sender_code: str = ""
    sender_address: str = ""


@dataclass(frozen=True)
class Line:
    label: str
    nature: str
    fonction: str
    amount: Decimal


@dataclass(frozen=True)
class Debtor:
    reference: str
    kind: str
    name: str
    address: str
    postal_code: str
    city: str


@dataclass(frozen=True)
class Titre:
    piece: int
    invoice_number: str
    label: str
    debtor: Debtor
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


# What an attribute value may not hold as is: XML 1.0 refuses control characters (a NUL
# pasted in a name), and &, <, > and " are escaped.
_CONTROLS = dict.fromkeys(range(32))
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def _text(value: object, size: int | None = None) -> str:
    text = " ".join(str(value).split()).translate(_CONTROLS)
    return (text[:size] if size else text).translate(_ESCAPES)


class _Writer:
    """Elements written as text, each value in its ``V`` attribute: ten thousand titres
    are written in a fraction of a second (an element tree takes seconds)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def open(self, tag: str) -> None:
        self.parts.append(f"<{tag}>")

    def close(self, tag: str) -> None:
        self.parts.append(f"</{tag}>")

    def v(self, tag: str, value: object, size: int | None = None) -> None:
        self.parts.append(f'<{tag} V="{_text(value, size)}" />')


def pes_aller(*, header: Header, year: int, bordereau: int, day: datetime.date,
              file_name: str, objet: str, titres: list[Titre]) -> bytes:
    """The file's bytes (ISO-8859-1, as Hélios reads them; a character beyond it is written
    as a character reference)."""
    w = _Writer()
    w.parts.append(f"<?xml version='1.0' encoding='{ENCODING}'?>\n")
    w.parts.append(f'<n:PES_Aller xmlns:n="{NS_ALLER}">')
    w.open("Enveloppe")
    w.open("Parametres")
    w.v("Version", "2")
    w.v("TypFic", "PESALR1")
    w.v("NomFic", file_name, 100)
    w.close("Parametres")
    w.open("Emetteur")
    w.v("Sigle", header.sender_code or header.budget_name, 30)
    w.v("Adresse", header.sender_address or header.budget_name, 100)
    w.close("Emetteur")
    w.close("Enveloppe")

    w.open("EnTetePES")
    w.v("DteStr", day.isoformat())
    w.v("IdPost", header.post_code)
    w.v("LibellePoste", header.post_name, 100)
    w.v("IdColl", header.siret)
    w.v("CodCol", header.collectivity_code)
    w.v("CodBud", header.budget_code)
    w.v("LibelleColBud", header.budget_name, 100)
    w.close("EnTetePES")

    w.open("PES_RecetteAller")
    w.open("EnTeteRecette")
    w.v("IdVer", "2")
    w.v("InfoDematerialisee", "0")
    w.close("EnTeteRecette")
    w.open("Bordereau")
    w.open("BlocBordereau")
    w.v("Exer", year)
    w.v("IdBord", bordereau)
    w.v("DteBordEm", day.isoformat())
    w.v("TypBord", TYP_BORD_ORDINAIRE)
    w.v("NbrPce", len(titres))
    w.v("MtBordHt", _money(sum((t.total for t in titres), Decimal("0.00"))))
    w.v("Objet", objet, 160)
    w.close("BlocBordereau")
    for titre in titres:
        w.open("Piece")
        w.open("BlocPiece")
        w.v("IdPce", titre.piece)
        w.v("TypPce", TYP_PCE_ORDINAIRE)
        w.v("NatPce", NAT_PCE_ORDINAIRE)
        w.v("ObjPce", titre.label, 160)
        w.v("NumeroFacture", titre.invoice_number, 20)
        w.close("BlocPiece")
        debtor = titre.debtor
        for number, line in enumerate(titre.lines, start=1):
            w.open("LigneDePiece")
            w.open("BlocLignePiece")
            w.open("InfoLignePiece")
            w.v("IdLigne", number)
            w.v("ObjLignePce", line.label, 160)
            w.v("Nature", line.nature)
            if line.fonction:
                w.v("Fonction", line.fonction)
            w.v("Majo", "0")
            w.v("TvaIntraCom", "0")
            w.v("MtHT", _money(line.amount))
            w.close("InfoLignePiece")
            w.close("BlocLignePiece")
            w.open("Tiers")
            w.open("InfoTiers")
            w.v("RefTiers", debtor.reference, 15)
            w.v("CatTiers", CAT_TIERS.get(debtor.kind, "01"))
            w.v("NatJur", NAT_JUR.get(debtor.kind, "01"))
            w.v("Nom", debtor.name, 38)
            w.close("InfoTiers")
            w.open("Adresse")
            w.v("TypAdr", "1")
            w.v("Adr2", debtor.address, 38)
            w.v("CP", debtor.postal_code, 5)
            w.v("Ville", debtor.city, 38)
            w.v("CodRes", "0")
            w.close("Adresse")
            w.close("Tiers")
            w.close("LigneDePiece")
        w.close("Piece")
    w.close("Bordereau")
    w.close("PES_RecetteAller")
    w.close("n:PES_Aller")
    return "".join(w.parts).encode(ENCODING, "xmlcharrefreplace")
