"""The one interface to PayFiP, and its real implementation: the DGFiP's
``PaiementSecurise`` SOAP web service (decision 0007). ``provider()`` returns the
implementation the deployment uses (``OPSN_PAYFIP``): ``payfip`` (this module's
``SoapPayfip``) or ``local`` (the local test provider, ``payfip_local.client``, for the
demo and the tests), loaded by name so that no commune code imports the test provider.

The round trip, as PayFiP defines it:

1. ``create`` (``creerPaiementSecurise``: numcli, exer, refdet, objet, montant in cents,
   mel, urlnotif, urlredirect, saisie) → the operation id (``idOp``);
2. the payer's browser goes to ``payment_url(idop)`` and pays, or not;
3. PayFiP posts ``idOp=…`` to urlnotif (nothing else: the notification proves nothing)
   and sends the browser back to urlredirect;
4. ``detail`` (``recupererDetailPaiementSecurise``) → the result: ``resultrans`` P or V
   (paid by card, by direct debit), R or Z (refused), A (abandoned); the fault P5 while
   the result is not known yet (the payer is still on PayFiP's page, or left it and the
   operation lapses after about 15 minutes), P1 for an operation PayFiP does not know.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.utils.module_loading import import_string
from lxml import etree

from opsn.kernel.errors import DomainError

NS_SERVICE = ("http://securite.service.tpa.cp.finances.gouv.fr/services/mas_securite/"
              "contrat_paiement_securise/PaiementSecuriseService")
NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
PAID_CODES = ("P", "V")
REFUSED_CODES = ("R", "Z")
CANCELLED_CODES = ("A",)


class PayfipError(DomainError):
    """PayFiP answered with a fault (``code`` is its own: P1, P5, …), or did not answer."""

    http_status = 502

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class NotYetKnown(PayfipError):
    """P5: no result yet for this operation."""


class UnknownOperation(PayfipError):
    """P1: PayFiP does not know this operation (never created, or purged)."""


@dataclass(frozen=True)
class Request:
    numcli: str
    exer: int
    refdet: str
    objet: str
    amount_cents: int
    email: str
    notify_url: str
    return_url: str
    environment: str  # saisie: T, X, W


@dataclass(frozen=True)
class Detail:
    """What ``recupererDetailPaiementSecurise`` returns, as PayFiP says it."""

    idop: str
    resultrans: str
    amount_cents: int
    numcli: str = ""
    refdet: str = ""
    exer: str = ""
    numauto: str = ""
    dattrans: str = ""  # DDMMYYYY
    heurtrans: str = ""  # HHMM
    saisie: str = ""
    raw: dict = field(default_factory=dict)

    @property
    def paid(self) -> bool:
        return self.resultrans in PAID_CODES

    @property
    def paid_at(self) -> datetime.datetime | None:
        try:
            return datetime.datetime.strptime(self.dattrans + self.heurtrans, "%d%m%Y%H%M")
        except ValueError:
            return None


class PayfipService(Protocol):
    def create(self, request: Request) -> str: ...
    def payment_url(self, idop: str) -> str: ...
    def detail(self, idop: str) -> Detail: ...


def provider() -> PayfipService:
    name = {"payfip": "opsn.online_payments.payfip.SoapPayfip",
            "local": "opsn.payfip_local.client.LocalPayfip"}.get(settings.OPSN_PAYFIP,
                                                             settings.OPSN_PAYFIP)
    return import_string(name)()


REFDET_RE = re.compile(r"^[A-Za-z0-9]{1,30}$")


def refdet_of(text: str) -> str:
    """A debt reference PayFiP accepts: letters and digits, at most 30."""
    return re.sub(r"[^A-Za-z0-9]", "", text)[:30] or "0"


def objet_of(text: str) -> str:
    """PayFiP's ``objet``: at most 100 characters of [A-Za-z0-9 ] (accents dropped)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"['\-]", " ", ascii_text)
    ascii_text = re.sub(r"[^A-Za-z0-9 ]", "", ascii_text)
    return re.sub(r"\s+", " ", ascii_text).strip()[:100]


# --- The real web service ---------------------------------------------------------------

def _envelope(operation: str, fields: dict[str, str]) -> bytes:
    envelope = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soapenv": NS_SOAP,
                                                               "pai": NS_SERVICE})
    etree.SubElement(envelope, f"{{{NS_SOAP}}}Header")
    body = etree.SubElement(envelope, f"{{{NS_SOAP}}}Body")
    call = etree.SubElement(body, f"{{{NS_SERVICE}}}{operation}")
    arg = etree.SubElement(call, "arg0")
    for name, value in fields.items():
        etree.SubElement(arg, name).text = value
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _local(element) -> str:
    return etree_localname(element.tag)


def etree_localname(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse(content: bytes, operation: str) -> dict[str, str]:
    """The fields of ``<return>`` in the response; a SOAP fault raises its PayFiP code."""

    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False,
                                                                no_network=True))
    except etree.XMLSyntaxError as exc:
        raise PayfipError("reponse-illisible", str(exc)) from exc
    fault = root.find(f".//{{{NS_SOAP}}}Fault")
    if fault is not None:
        code = root.xpath("string(.//*[local-name()='FonctionnelleErreur']/*"
                          "[local-name()='code'])").strip()
        text = (root.xpath("string(.//*[local-name()='FonctionnelleErreur']/*"
                           "[local-name()='descriptif'])").strip()
                or root.xpath("string(.//*[local-name()='FonctionnelleErreur']/*"
                              "[local-name()='libelle'])").strip()
                or fault.findtext("faultstring") or "")
        error = {"P1": UnknownOperation, "P5": NotYetKnown}.get(code, PayfipError)
        raise error(code or "erreur-soap", text)
    answer = root.xpath(f".//*[local-name()='{operation}Response']/*[local-name()='return']")
    if not answer:
        raise PayfipError("reponse-inattendue", f"pas de réponse {operation}")
    return {_local(child): (child.text or "").strip() for child in answer[0]}


class SoapPayfip:
    """PayFiP's SOAP service over HTTPS, the envelope written here (no WSDL is read at run
    time). ``session`` is a ``requests`` session (the tests give one that serves recorded
    answers)."""

    def __init__(self, *, service_url: str | None = None, session=None,
                 timeout: float | None = None):
        self.service_url = service_url or settings.OPSN_PAYFIP_SERVICE_URL
        self.session = session or requests.Session()
        self.timeout = timeout or settings.OPSN_PAYFIP_TIMEOUT

    def _call(self, operation: str, fields: dict[str, str]) -> dict[str, str]:
        try:
            response = self.session.post(
                self.service_url, data=_envelope(operation, fields), timeout=self.timeout,
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ""})
        except requests.RequestException as exc:
            raise PayfipError("injoignable", str(exc)) from exc
        if response.status_code >= 400 and b"Fault" not in response.content:
            raise PayfipError(f"http-{response.status_code}", response.text[:200])
        return _parse(response.content, operation)

    def create(self, request: Request) -> str:
        fields = {"exer": str(request.exer), "mel": request.email,
                  "montant": str(request.amount_cents), "numcli": request.numcli,
                  "objet": request.objet, "refdet": request.refdet,
                  "saisie": request.environment, "urlnotif": request.notify_url,
                  "urlredirect": request.return_url}
        answer = self._call("creerPaiementSecurise", fields)
        idop = answer.get("idOp", "")
        if not idop:
            raise PayfipError("reponse-inattendue", "pas d'idOp dans la réponse")
        return idop

    def payment_url(self, idop: str) -> str:
        return f"{settings.OPSN_PAYFIP_PAYMENT_URL}?{urlencode({'idop': idop})}"

    def detail(self, idop: str) -> Detail:
        answer = self._call("recupererDetailPaiementSecurise", {"idOp": idop})
        try:
            cents = int(answer.get("montant", ""))
        except ValueError as exc:
            raise PayfipError("reponse-inattendue", f"montant « {answer.get('montant')} »"
                              ) from exc
        return Detail(idop=answer.get("idOp", idop), resultrans=answer.get("resultrans", ""),
                      amount_cents=cents, numcli=answer.get("numcli", ""),
                      refdet=answer.get("refdet", ""), exer=answer.get("exer", ""),
                      numauto=answer.get("numauto", ""), dattrans=answer.get("dattrans", ""),
                      heurtrans=answer.get("heurtrans", ""), saisie=answer.get("saisie", ""),
                      raw=answer)
