"""A bank statement in ISO 20022 camt.053 (BankToCustomerStatement), any version from
camt.053.001.02: the version is read from the document's namespace and the elements are
looked up in it. The file is read as a stream (``iterparse``, each entry freed once
read), so a statement of 100,000 entries takes seconds and little memory.

Only booked credit entries (``CdtDbtInd`` CRDT, status BOOK, not a reversal) are
payments; debits and the rest are counted and left aside. Amounts must be in euros.
An entry that books several transactions (``NtryDtls/TxDtls`` with their own amounts)
gives one payment per transaction."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal

from lxml import etree

from opsn.kernel.money import parse_amount
from opsn.regies.errors import RegieError
from opsn.regies.importers.payments import ImportedLine

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053."
# An end-to-end id the debtor did not give: banks write this literal instead.
NOT_PROVIDED = "NOTPROVIDED"
REFERENCE_LENGTH = 300


@dataclass
class Statement:
    version: str  # camt.053.001.08
    entries: int = 0
    debits: int = 0
    others: int = 0  # credits not booked (pending, information) or reversals
    payments: list[ImportedLine] = field(default_factory=list)


def _parser_options() -> dict:
    # No DTD, no entity expansion, no network: a statement is data, never instructions.
    return {"resolve_entities": False, "no_network": True, "load_dtd": False}


def _syntax_error(exc: etree.XMLSyntaxError) -> RegieError:
    detail = (exc.msg or str(exc)).split(", line ")[0]
    return RegieError(f"Le fichier XML est mal formé : il est tronqué ou abîmé (détail : "
                      f"{detail}).", line=exc.lineno or None, field="xml")


def _namespace(content: bytes) -> str:
    try:
        _, root = next(etree.iterparse(io.BytesIO(content), events=("start",),
                                       **_parser_options()))
    except StopIteration:
        raise RegieError("Le fichier est vide.", line=1, field="xml") from None
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    qname = etree.QName(root)
    if qname.namespace is None or not qname.namespace.startswith(NAMESPACE_PREFIX):
        found = qname.namespace or "aucun espace de noms"
        raise RegieError(f"Ce fichier n'est pas un relevé de compte CAMT.053 ({found}) : "
                         "importez le relevé de fin de journée (camt.053) fourni par la "
                         "banque.", line=root.sourceline, field="xml")
    return qname.namespace


def read_camt053(content: bytes) -> Statement:
    namespace = _namespace(content)
    reader = _EntryReader(namespace)
    try:
        for _, entry in etree.iterparse(io.BytesIO(content), events=("end",),
                                        tag=f"{{{namespace}}}Ntry", **_parser_options()):
            reader.read(entry)
            parent = entry.getparent()
            entry.clear(keep_tail=True)
            while entry.getprevious() is not None:  # already read: free it
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    return reader.statement


# The branches of an entry (then of a transaction) that hold what is read: the walk
# goes down these only (bank codes, agents, accounts, charges are left aside).
ENTRY_BRANCHES = frozenset({"Sts", "BookgDt", "ValDt", "NtryDtls"})
TRANSACTION_BRANCHES = frozenset({
    "Refs", "AmtDtls", "AmtDtls/TxAmt", "RmtInf", "RmtInf/Strd", "RmtInf/Strd/CdtrRefInf",
    "RmtInf/Strd/RfrdDocInf", "RltdPties", "RltdPties/Dbtr", "RltdPties/Dbtr/Pty",
    "RltdPties/UltmtDbtr", "RltdPties/UltmtDbtr/Pty"})


class _Elements:
    """An element's descendants by path (« RmtInf/Ustrd »), namespace left out, read in
    one walk down the branches that matter: a dozen ``findtext`` calls per entry cost
    several times more. Transactions (``TxDtls``) are indexed on their own."""

    def __init__(self, element, ns_length: int, branches: frozenset[str]):
        self.element = element
        self.by_path: dict[str, list] = {}
        self._walk(element, "", ns_length, branches)

    def _walk(self, element, prefix: str, ns_length: int, branches: frozenset[str]) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):  # a comment, a processing instruction
                continue
            path = prefix + tag[ns_length:]
            self.by_path.setdefault(path, []).append(child)
            if path in branches:
                self._walk(child, path + "/", ns_length, branches)

    def all(self, path: str) -> list:
        return self.by_path.get(path, [])

    def first(self, path: str):
        found = self.by_path.get(path)
        return found[0] if found else None

    def text(self, *paths: str) -> str:
        for path in paths:
            for element in self.by_path.get(path, ()):
                if element.text and element.text.strip():
                    return " ".join(element.text.split())
        return ""

    def texts(self, path: str) -> list[str]:
        return [" ".join(e.text.split()) for e in self.by_path.get(path, ())
                if e.text and e.text.strip()]


class _EntryReader:
    def __init__(self, namespace: str):
        self.ns_length = len(namespace) + 2  # « {namespace} »
        self.statement = Statement(version=namespace.removeprefix("urn:iso:std:iso:20022:"
                                                                  "tech:xsd:"))
        self.id_tag = f"{{{namespace}}}Id"
        self.parent = None
        self.statement_id = ""
        self.index = 0

    def read(self, element) -> None:
        statement = self.statement
        parent = element.getparent()
        if parent is not self.parent:  # a new <Stmt>: read its id before it is freed
            self.parent, self.index = parent, 0
            self.statement_id = (parent.findtext(self.id_tag) or "").strip() if (
                parent is not None) else ""
        self.index += 1
        statement.entries += 1
        entry = _Elements(element, self.ns_length, ENTRY_BRANCHES)
        direction = entry.text("CdtDbtInd")
        if direction == "DBIT":
            statement.debits += 1
            return
        if direction != "CRDT":
            raise RegieError(f"Sens de l'écriture « {direction} » inconnu : CRDT (crédit) ou "
                             "DBIT (débit).", line=element.sourceline, field="CdtDbtInd")
        status = entry.text("Sts/Cd", "Sts")
        if (status and status != "BOOK") or entry.text("RvslInd").lower() == "true":
            statement.others += 1
            return
        amount = self.amount(entry.first("Amt"), element)
        booked_on = self.booked_on(entry)
        transactions = [_Elements(tx, self.ns_length, TRANSACTION_BRANCHES)
                        for tx in entry.all("NtryDtls/TxDtls")]
        parts = self.split(transactions, amount)
        if parts is None:
            tx = transactions[0] if transactions else None
            statement.payments.append(self.payment(entry, tx, amount, booked_on, position=0))
        else:
            statement.payments.extend(self.payment(entry, tx, part, booked_on, position=n)
                                      for n, (tx, part) in enumerate(parts, start=1))

    def amount(self, element, where) -> Decimal:
        if element is None:
            raise RegieError("Le montant de l'écriture manque.", line=where.sourceline,
                             field="Amt")
        currency = (element.get("Ccy") or "").strip().upper()
        if currency != "EUR":
            raise RegieError(f"Montant en {currency or 'devise non précisée'} : la régie "
                             "n'encaisse qu'en euros (EUR), le relevé est refusé.",
                             line=element.sourceline, field="Ccy")
        try:
            return parse_amount((element.text or "").strip(), field="Amt", error=RegieError)
        except RegieError as exc:
            raise RegieError(f"{exc.message.rstrip('.')} (élément <Amt>).",
                             line=element.sourceline, field="Amt") from None

    def booked_on(self, entry: _Elements) -> datetime.date:
        text = entry.text("BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")
        try:
            return datetime.date.fromisoformat(text[:10])
        except ValueError:
            raise RegieError(f"Date de comptabilisation « {text} » illisible ou absente "
                             "(élément <BookgDt>).", line=entry.element.sourceline,
                             field="BookgDt") from None

    def split(self, transactions: list[_Elements], total: Decimal):
        """One part per transaction when the entry books several with their amounts
        adding up to the entry's; None to take the entry as one payment."""
        if len(transactions) < 2:
            return None
        parts = []
        for tx in transactions:
            element = tx.first("Amt")
            if element is None:
                element = tx.first("AmtDtls/TxAmt/Amt")
            if element is None:
                return None
            parts.append((tx, self.amount(element, tx.element)))
        return parts if sum(p for _, p in parts) == total else None

    def payment(self, entry: _Elements, tx: _Elements | None, amount: Decimal,
                booked_on: datetime.date, *, position: int) -> ImportedLine:
        """``position``: the transaction's rank in an entry split in several, or 0."""
        scope = tx if tx is not None else entry
        reference = " ".join(
            scope.texts("RmtInf/Ustrd") + scope.texts("RmtInf/Strd/CdtrRefInf/Ref")
            + scope.texts("RmtInf/Strd/RfrdDocInf/Nb")) or " ".join(
            [scope.text("AddtlTxInf"), entry.text("AddtlNtryInf")]).strip()
        debtor = scope.text("RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm",
                            "RltdPties/UltmtDbtr/Nm", "RltdPties/UltmtDbtr/Pty/Nm")
        external_ref, ref_field = self.external_ref(entry, tx, position)
        details = {"paid_on": booked_on.isoformat()}  # external_ref is the entry's own
        if reference:
            details["reference"] = reference[:140]
        if debtor:
            details["debtor"] = debtor[:140]
        return ImportedLine(line=scope.element.sourceline, paid_on=booked_on, amount=amount,
                            external_ref=external_ref, reference=reference[:REFERENCE_LENGTH],
                            payer_name=debtor[:200], details=details, ref_field=ref_field)

    def external_ref(self, entry: _Elements, tx: _Elements | None,
                     position: int) -> tuple[str, str]:
        """The bank's own reference first (unique per account), then the debtor's."""
        split = position > 0
        candidates = []
        if tx is not None:
            candidates.append(("AcctSvcrRef", tx.text("Refs/AcctSvcrRef")))
        if not split:
            candidates.append(("AcctSvcrRef", entry.text("AcctSvcrRef")))
        if tx is not None:
            end_to_end = tx.text("Refs/EndToEndId")
            candidates += [("EndToEndId", "" if end_to_end == NOT_PROVIDED else end_to_end),
                           ("TxId", tx.text("Refs/TxId"))]
        if split:
            base = entry.text("AcctSvcrRef") or entry.text("NtryRef")
            if base:
                candidates.append(("AcctSvcrRef", f"{base}/{position}"))
        else:
            candidates.append(("NtryRef", entry.text("NtryRef")))
        for name, value in candidates:
            if value:
                return value[:100], name
        # Nothing given: the statement's id and the entry's rank in it, stable when the
        # same statement is downloaded again.
        return f"{self.statement_id or 'releve'}:{self.index}"[:100], "Ntry"
