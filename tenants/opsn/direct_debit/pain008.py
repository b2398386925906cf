"""The pain.008.001.02 file of a collection, written by sepaxml (docs/decisions/0016) and
validated against the ISO 20022 schema it bundles.

sepaxml writes the group header, one payment information block per sequence type (FRST,
RCUR, OOFF) with its totals, and the transactions; it does not write the mandate
amendment. We add it to the transactions that carry one (EPC SDD Core rulebook, AT-24):
``AmdmntInd`` true and, in ``AmdmntInfDtls``, the original debtor account (a new IBAN at
the same bank) or « SMNDA » as the original debtor agent (another bank), then validate."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sepaxml
from lxml import etree
from sepaxml import SepaDD

from opsn.direct_debit.errors import DirectDebitError

SCHEMA = "pain.008.001.02"
NS = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"


@dataclass(frozen=True)
class Debit:
    end_to_end_id: str
    amount: Decimal
    sequence_type: str
    rum: str
    signed_on: datetime.date
    debtor_name: str
    iban: str
    bic: str
    description: str
    original_iban: str = ""  # the amendment: same bank, the account before
    new_bank: bool = False  # the amendment: another bank (SMNDA)


@dataclass(frozen=True)
class Written:
    xml: bytes
    message_id: str
    count: int
    total: Decimal


def cents(amount: Decimal) -> int:
    value = amount * 100
    if value != value.to_integral_value():
        raise DirectDebitError(f"Montant {amount} : pas plus de deux décimales.")
    return int(value)


def write(*, name: str, ics: str, iban: str, bic: str, collection_date: datetime.date,
          debits: list[Debit]) -> Written:
    document = SepaDD({"name": name, "IBAN": iban, "BIC": bic, "batch": True,
                       "creditor_id": ics, "currency": "EUR", "instrument": "CORE"},
                      schema=SCHEMA, clean=True)
    for debit in debits:
        document.add_payment({
            "name": debit.debtor_name, "IBAN": debit.iban, "BIC": debit.bic,
            "amount": cents(debit.amount), "type": debit.sequence_type,
            "collection_date": collection_date, "mandate_id": debit.rum,
            "mandate_date": debit.signed_on, "description": debit.description,
            "endtoend_id": debit.end_to_end_id})
    raw = document.export(validate=False)
    root = etree.fromstring(raw)  # our own document, just written
    amended = {d.end_to_end_id: d for d in debits if d.original_iban or d.new_bank}
    if amended:
        _add_amendments(root, amended)
    out = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    problem = schema_problem(root)
    if problem:
        raise DirectDebitError("Le fichier de prélèvement ne respecte pas le schéma ISO "
                               f"20022 pain.008.001.02 ({problem}) : rien n'a été remis.")
    header = root.find(f"{{{NS}}}CstmrDrctDbtInitn/{{{NS}}}GrpHdr")
    assert header is not None
    total = Decimal(header.findtext(f"{{{NS}}}CtrlSum") or "0")
    count = int(header.findtext(f"{{{NS}}}NbOfTxs") or "0")
    expected = sum((d.amount for d in debits), Decimal("0"))
    if total != expected or count != len(debits):  # never: sepaxml sums in cents
        raise DirectDebitError(f"Totaux du fichier faux : {count} prélèvements pour {total} €,"
                               f" attendu {len(debits)} pour {expected} €.")
    return Written(xml=out, message_id=header.findtext(f"{{{NS}}}MsgId") or "",
                   count=count, total=total)


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _add_amendments(root: etree._Element, amended: dict[str, Debit]) -> None:
    for tx in root.iter(_q("DrctDbtTxInf")):
        debit = amended.get(tx.findtext(f"{_q('PmtId')}/{_q('EndToEndId')}") or "")
        if debit is None:
            continue
        mandate = tx.find(f"{_q('DrctDbtTx')}/{_q('MndtRltdInf')}")
        assert mandate is not None
        etree.SubElement(mandate, _q("AmdmntInd")).text = "true"
        details = etree.SubElement(mandate, _q("AmdmntInfDtls"))
        if debit.new_bank:
            agent = etree.SubElement(etree.SubElement(details, _q("OrgnlDbtrAgt")),
                                     _q("FinInstnId"))
            etree.SubElement(etree.SubElement(agent, _q("Othr")), _q("Id")).text = "SMNDA"
        else:
            account = etree.SubElement(etree.SubElement(details, _q("OrgnlDbtrAcct")), _q("Id"))
            etree.SubElement(account, _q("IBAN")).text = debit.original_iban


@functools.cache
def _schema() -> etree.XMLSchema:
    """The ISO 20022 schema sepaxml ships, read once by libxml2 (sepaxml's own check,
    pure-Python xmlschema, takes about 1 s per 1,000 debits: too slow for a large
    commune's month)."""
    return etree.XMLSchema(etree.parse(str(Path(sepaxml.__file__).parent / "schemas"
                                           / f"{SCHEMA}.xsd")))


def schema_problem(root: etree._Element) -> str:
    """What makes the document invalid against pain.008.001.02 (its first error), or ""."""
    schema = _schema()
    if schema.validate(root):
        return ""
    error = schema.error_log.last_error
    return f"ligne {error.line} : {error.message}" if error else "invalide"


def validate(xml: bytes) -> None:
    """Raise ``DirectDebitError`` unless ``xml`` is a valid pain.008.001.02 document."""
    problem = schema_problem(etree.fromstring(xml))
    if problem:
        raise DirectDebitError(f"Fichier pain.008.001.02 invalide : {problem}.")
