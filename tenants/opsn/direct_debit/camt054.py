"""The bank's report of returned and rejected direct debits (R-transactions), in ISO 20022
camt.054 (BankToCustomerDebitCreditNotification), any version from camt.054.001.02: the
version is read from the document's namespace. No official schema ships with a library
we use (sepaxml bundles pain only), so the file is read defensively with lxml: no DTD, no
entity, no network, a bounded size; each element read is checked, and an error names its
line.

A return is a transaction (``NtryDtls/TxDtls``) with return information (``RtrInf``): its
end-to-end id (``Refs/EndToEndId``, as our pain.008 wrote it), its amount (``AmtDtls/
TxAmt/Amt``, or ``Amt`` in later versions, or the entry's when it books one transaction),
its reason code (``RtrInf/Rsn/Cd``), the day it was booked (the entry's ``BookgDt``).
Transactions without ``RtrInf`` are counted and left aside."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree

from opsn.direct_debit.errors import DirectDebitError
from opsn.kernel.money import parse_amount

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.054."

# The ISO 20022 return reasons (ExternalReturnReason1Code) a SEPA direct debit comes back
# with, in French as the families' banks say them.
REASONS = {
    "AC01": "IBAN du débiteur erroné",
    "AC04": "compte clôturé",
    "AC06": "compte bloqué",
    "AC13": "compte d'un consommateur non autorisé à ce type de prélèvement",
    "AG01": "opération interdite sur ce compte",
    "AG02": "code d'opération invalide",
    "AM04": "provision insuffisante",
    "AM05": "prélèvement en double",
    "BE05": "créancier non reconnu",
    "CNOR": "banque du créancier non joignable",
    "DNOR": "banque du débiteur non joignable",
    "FF01": "format du fichier invalide",
    "MD01": "pas de mandat valide",
    "MD02": "mandat incomplet ou erroné",
    "MD06": "contestation du débiteur (remboursement demandé)",
    "MD07": "débiteur décédé",
    "MS02": "refus du débiteur, sans motif donné",
    "MS03": "refus de la banque, sans motif donné",
    "RC01": "BIC erroné",
    "RR01": "identification du débiteur manquante (motif réglementaire)",
    "RR02": "nom ou adresse du débiteur manquant (motif réglementaire)",
    "RR03": "nom ou adresse du créancier manquant (motif réglementaire)",
    "RR04": "motif réglementaire",
    "SL01": "service particulier de la banque du débiteur (liste noire ou blanche)",
}


def reason_label(code: str) -> str:
    return REASONS.get(code, f"motif {code} (code non reconnu, voyez la banque)")


@dataclass(frozen=True)
class Return:
    line: int | None
    end_to_end_id: str
    amount: Decimal
    reason_code: str
    booked_on: datetime.date
    rum: str = ""

    @property
    def reason_label(self) -> str:
        return reason_label(self.reason_code)


@dataclass
class Notification:
    version: str  # camt.054.001.02
    message_id: str = ""
    transactions: int = 0
    returns: list[Return] = field(default_factory=list)


def _parser() -> etree.XMLParser:
    # No DTD, no entity expansion, no network: a report is data, never instructions.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def read_camt054(content: bytes) -> Notification:
    if not content.strip():
        raise DirectDebitError("Le fichier est vide.", line=1, field="xml")
    try:
        root = etree.parse(io.BytesIO(content), _parser()).getroot()
    except etree.XMLSyntaxError as exc:
        detail = (exc.msg or str(exc)).split(", line ")[0]
        raise DirectDebitError(f"Le fichier XML est mal formé : il est tronqué ou abîmé "
                               f"(détail : {detail}).", line=exc.lineno or None,
                               field="xml") from None
    qname = etree.QName(root)
    if qname.namespace is None or not qname.namespace.startswith(NAMESPACE_PREFIX):
        found = qname.namespace or "aucun espace de noms"
        raise DirectDebitError(f"Ce fichier n'est pas un avis de débit ou de crédit camt.054 "
                               f"({found}) : importez le rapport des prélèvements rejetés ou "
                               "retournés (camt.054) fourni par la banque.",
                               line=root.sourceline, field="xml")
    ns = {"c": qname.namespace}
    notice = Notification(version=qname.namespace.removeprefix("urn:iso:std:iso:20022:tech:"
                                                               "xsd:"))
    body = root.find("c:BkToCstmrDbtCdtNtfctn", ns)
    if body is None:
        raise DirectDebitError("Élément <BkToCstmrDbtCdtNtfctn> absent : le fichier n'est pas "
                               "un avis camt.054 complet.", line=root.sourceline, field="xml")
    notice.message_id = _text(body.find("c:GrpHdr/c:MsgId", ns))[:35]
    for entry in body.iterfind("c:Ntfctn/c:Ntry", ns):
        transactions = entry.findall("c:NtryDtls/c:TxDtls", ns)
        for tx in transactions:
            notice.transactions += 1
            info = tx.find("c:RtrInf", ns)
            if info is None:
                continue
            notice.returns.append(_return(entry, tx, info, ns, single=len(transactions) == 1))
    return notice


def _text(element) -> str:
    return " ".join((element.text or "").split()) if element is not None else ""


def _return(entry, tx, info, ns: dict, *, single: bool) -> Return:
    line = tx.sourceline
    e2e = _text(tx.find("c:Refs/c:EndToEndId", ns))
    if not e2e or e2e.upper() == "NOTPROVIDED":
        raise DirectDebitError("Un retour sans référence de bout en bout (<EndToEndId>) : "
                               "il ne peut être rapproché d'aucun prélèvement.", line=line,
                               field="EndToEndId")
    if len(e2e) > 35:
        raise DirectDebitError(f"Référence de bout en bout de {len(e2e)} caractères : 35 au "
                               "plus.", line=line, field="EndToEndId")
    code = _text(info.find("c:Rsn/c:Cd", ns)).upper()
    if not (len(code) == 4 and code.isascii() and code.isalnum()):
        shown = code[:20] or "absent"
        raise DirectDebitError(f"Le code motif du retour ({shown}) n'est pas un code ISO "
                               "20022 de 4 caractères (élément <RtrInf><Rsn><Cd>).",
                               line=info.sourceline, field="Rsn")
    amount_element = next((e for e in (tx.find("c:AmtDtls/c:TxAmt/c:Amt", ns),
                                       tx.find("c:Amt", ns),
                                       entry.find("c:Amt", ns) if single else None)
                           if e is not None), None)
    return Return(line=line, end_to_end_id=e2e, amount=_amount(amount_element, line),
                  reason_code=code, booked_on=_booked_on(entry, ns),
                  rum=_text(tx.find("c:Refs/c:MndtId", ns))[:35])


def _amount(element, line) -> Decimal:
    if element is None:
        raise DirectDebitError("Le montant du retour manque (élément <TxAmt><Amt>).",
                               line=line, field="Amt")
    currency = (element.get("Ccy") or "").strip().upper()
    if currency != "EUR":
        raise DirectDebitError(f"Montant en {currency or 'devise non précisée'} : les "
                               "prélèvements de la régie sont en euros (EUR).",
                               line=element.sourceline, field="Ccy")
    try:
        return parse_amount(_text(element), field="Amt", error=DirectDebitError)
    except DirectDebitError as exc:
        raise DirectDebitError(f"{exc.message.rstrip('.')} (élément <Amt>).",
                               line=element.sourceline, field="Amt") from None


def _booked_on(entry, ns: dict) -> datetime.date:
    for path in ("c:BookgDt/c:Dt", "c:BookgDt/c:DtTm", "c:ValDt/c:Dt", "c:ValDt/c:DtTm"):
        text = _text(entry.find(path, ns))
        if text:
            try:
                return datetime.date.fromisoformat(text[:10])
            except ValueError:
                break
    raise DirectDebitError("Date de comptabilisation du retour illisible ou absente "
                           "(élément <BookgDt>).", line=entry.sourceline, field="BookgDt")
