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
from xml.etree import ElementTree as ET

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


def _v(parent: ET.Element, tag: str, value: object, size: int | None = None) -> ET.Element:
    text = " ".join(str(value).split())
    return ET.SubElement(parent, tag, V=text[:size] if size else text)


def pes_aller(*, header: Header, year: int, bordereau: int, day: datetime.date,
              file_name: str, objet: str, titres: list[Titre]) -> bytes:
    """The file's bytes (ISO-8859-1, as Hélios reads them; a character beyond it is written
    as a character reference)."""
    ET.register_namespace("n", NS_ALLER)
    root = ET.Element(f"{{{NS_ALLER}}}PES_Aller")
    envelope = ET.SubElement(root, "Enveloppe")
    parameters = ET.SubElement(envelope, "Parametres")
    _v(parameters, "Version", "2")
    _v(parameters, "TypFic", "PESALR1")
    _v(parameters, "NomFic", file_name, 100)
    sender = ET.SubElement(envelope, "Emetteur")
    _v(sender, "Sigle", header.sender_code or header.budget_name, 30)
    _v(sender, "Adresse", header.sender_address or header.budget_name, 100)

    head = ET.SubElement(root, "EnTetePES")
    _v(head, "DteStr", day.isoformat())
    _v(head, "IdPost", header.post_code)
    _v(head, "LibellePoste", header.post_name, 100)
    _v(head, "IdColl", header.siret)
    _v(head, "CodCol", header.collectivity_code)
    _v(head, "CodBud", header.budget_code)
    _v(head, "LibelleColBud", header.budget_name, 100)

    receipts = ET.SubElement(root, "PES_RecetteAller")
    receipts_head = ET.SubElement(receipts, "EnTeteRecette")
    _v(receipts_head, "IdVer", "2")
    _v(receipts_head, "InfoDematerialisee", "0")
    slip = ET.SubElement(receipts, "Bordereau")
    block = ET.SubElement(slip, "BlocBordereau")
    _v(block, "Exer", year)
    _v(block, "IdBord", bordereau)
    _v(block, "DteBordEm", day.isoformat())
    _v(block, "TypBord", TYP_BORD_ORDINAIRE)
    _v(block, "NbrPce", len(titres))
    _v(block, "MtBordHt", _money(sum((t.total for t in titres), Decimal("0.00"))))
    _v(block, "Objet", objet, 160)
    for titre in titres:
        piece = ET.SubElement(slip, "Piece")
        info = ET.SubElement(piece, "BlocPiece")
        _v(info, "IdPce", titre.piece)
        _v(info, "TypPce", TYP_PCE_ORDINAIRE)
        _v(info, "NatPce", NAT_PCE_ORDINAIRE)
        _v(info, "ObjPce", titre.label, 160)
        _v(info, "NumeroFacture", titre.invoice_number, 20)
        for number, line in enumerate(titre.lines, start=1):
            row = ET.SubElement(piece, "LigneDePiece")
            bloc = ET.SubElement(ET.SubElement(row, "BlocLignePiece"), "InfoLignePiece")
            _v(bloc, "IdLigne", number)
            _v(bloc, "ObjLignePce", line.label, 160)
            _v(bloc, "Nature", line.nature)
            if line.fonction:
                _v(bloc, "Fonction", line.fonction)
            _v(bloc, "Majo", "0")
            _v(bloc, "TvaIntraCom", "0")
            _v(bloc, "MtHT", _money(line.amount))
            tiers = ET.SubElement(row, "Tiers")
            who = ET.SubElement(tiers, "InfoTiers")
            _v(who, "RefTiers", titre.debtor.reference, 15)
            _v(who, "CatTiers", CAT_TIERS.get(titre.debtor.kind, "01"))
            _v(who, "NatJur", NAT_JUR.get(titre.debtor.kind, "01"))
            _v(who, "Nom", titre.debtor.name, 38)
            where = ET.SubElement(tiers, "Adresse")
            _v(where, "TypAdr", "1")
            _v(where, "Adr2", titre.debtor.address, 38)
            _v(where, "CP", titre.debtor.postal_code, 5)
            _v(where, "Ville", titre.debtor.city, 38)
            _v(where, "CodRes", "0")
    return ET.tostring(root, encoding=ENCODING, xml_declaration=True)
