"""The real PayFiP client (``online_payments.payfip.SoapPayfip``) against the message
shapes of the DGFiP's PaiementSecurise web service. The web service itself is not
reachable from here: its answers are served by ``responses`` (this client layer only;
the round trips of tests/commune/test_online_payments.py go through the local test provider)."""

from __future__ import annotations

import pytest
import responses
from lxml import etree

from opsn.online_payments.payfip import (
    NS_SERVICE,
    NotYetKnown,
    PayfipError,
    Request,
    SoapPayfip,
    UnknownOperation,
    objet_of,
    refdet_of,
)

URL = "https://www.payfip.gouv.fr/tpa/services/securite"

CREATED = f"""<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
 <soap:Body>
  <ns2:creerPaiementSecuriseResponse xmlns:ns2="{NS_SERVICE}">
   <return><idOp>9a6f3c2e-6f8e-4ce0-a4b1-23d1b1f1c0aa</idOp></return>
  </ns2:creerPaiementSecuriseResponse>
 </soap:Body>
</soap:Envelope>"""

DETAIL = f"""<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
 <soap:Body>
  <ns2:recupererDetailPaiementSecuriseResponse xmlns:ns2="{NS_SERVICE}">
   <return>
    <dattrans>01122026</dattrans><exer>2026</exer><heurtrans>1432</heurtrans>
    <idOp>9a6f3c2e</idOp><mel>camille@example.fr</mel><montant>4500</montant>
    <numauto>112233</numauto><numcli>049836</numcli><objet>Facture CANT 2026 11</objet>
    <refdet>CANT202611</refdet><resultrans>{{code}}</resultrans><saisie>T</saisie>
   </return>
  </ns2:recupererDetailPaiementSecuriseResponse>
 </soap:Body>
</soap:Envelope>"""

FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
 <soap:Body>
  <soap:Fault>
   <faultcode>soap:Server</faultcode>
   <faultstring>fr.gouv.finances.cp.tpa.webservice.exceptions.FonctionnelleErreur</faultstring>
   <detail>
    <ns1:FonctionnelleErreur xmlns:ns1="http://securite.service.tpa.cp.finances.gouv.fr/reponse">
     <code>{code}</code><descriptif>{text}</descriptif><libelle>{text}</libelle>
     <severite>2</severite>
    </ns1:FonctionnelleErreur>
   </detail>
  </soap:Fault>
 </soap:Body>
</soap:Envelope>"""


def fields_of(body: bytes, operation: str) -> dict[str, str]:
    root = etree.fromstring(body)
    call = root.find(f".//{{{NS_SERVICE}}}{operation}")
    assert call is not None, body
    return {child.tag: child.text for child in call.find("arg0")}


@responses.activate
def test_creating_a_payment_sends_the_documented_fields_and_returns_the_idop(settings):
    settings.OPSN_PAYFIP_PAYMENT_URL = "https://www.payfip.gouv.fr/tpa/paiementws.web"
    responses.post(URL, body=CREATED, content_type="text/xml")
    client = SoapPayfip(service_url=URL)
    idop = client.create(Request(
        numcli="049836", exer=2026, refdet="CANT202611", objet="Facture CANT 2026 11",
        amount_cents=4500, email="camille@example.fr",
        notify_url="https://venissieux.example.fr/paiement-en-ligne/notification/",
        return_url="https://venissieux.example.fr/mon-espace/paiement-en-ligne/1/2/",
        environment="T"))
    assert idop == "9a6f3c2e-6f8e-4ce0-a4b1-23d1b1f1c0aa"
    sent = responses.calls[0].request
    assert sent.headers["Content-Type"].startswith("text/xml")
    assert fields_of(sent.body, "creerPaiementSecurise") == {
        "exer": "2026", "mel": "camille@example.fr", "montant": "4500", "numcli": "049836",
        "objet": "Facture CANT 2026 11", "refdet": "CANT202611", "saisie": "T",
        "urlnotif": "https://venissieux.example.fr/paiement-en-ligne/notification/",
        "urlredirect": "https://venissieux.example.fr/mon-espace/paiement-en-ligne/1/2/"}
    assert client.payment_url(idop) == (
        "https://www.payfip.gouv.fr/tpa/paiementws.web?idop="
        "9a6f3c2e-6f8e-4ce0-a4b1-23d1b1f1c0aa")


@pytest.mark.parametrize(("code", "paid"), [("P", True), ("V", True), ("R", False),
                                            ("Z", False), ("A", False)])
@responses.activate
def test_the_detail_of_a_payment_is_read_from_the_answer(code, paid):
    responses.post(URL, body=DETAIL.replace("{code}", code), content_type="text/xml")
    detail = SoapPayfip(service_url=URL).detail("9a6f3c2e")
    assert fields_of(responses.calls[0].request.body, "recupererDetailPaiementSecurise") == {
        "idOp": "9a6f3c2e"}
    assert (detail.resultrans, detail.paid, detail.amount_cents) == (code, paid, 4500)
    assert (detail.numcli, detail.refdet, detail.numauto) == ("049836", "CANT202611", "112233")
    assert f"{detail.paid_at:%d/%m/%Y %H:%M}" == "01/12/2026 14:32"


@pytest.mark.parametrize(("code", "error"), [("P5", NotYetKnown), ("P1", UnknownOperation),
                                             ("R3", PayfipError)])
@responses.activate
def test_faults_carry_payfip_codes(code, error):
    responses.post(URL, body=FAULT.format(code=code, text="Résultat non connu"), status=500,
                   content_type="text/xml")
    with pytest.raises(error) as raised:
        SoapPayfip(service_url=URL).detail("9a6f3c2e")
    assert raised.value.code == code and raised.value.message == "Résultat non connu"


@responses.activate
def test_an_unreachable_or_garbled_service_is_an_error_not_a_result():
    responses.post(URL, body="<html>maintenance</html>", status=503)
    with pytest.raises(PayfipError) as raised:
        SoapPayfip(service_url=URL).detail("x")
    assert raised.value.code == "http-503"
    responses.replace(responses.POST, URL, body="pas du XML", status=200)
    with pytest.raises(PayfipError) as raised:
        SoapPayfip(service_url=URL).detail("x")
    assert raised.value.code == "reponse-illisible"


def test_references_and_objet_fit_payfip_alphabets():
    assert refdet_of("CANT-2026/11") == "CANT202611"
    assert len(refdet_of("X" * 40)) == 30
    assert objet_of("Facture n° 12 — Cantine & périscolaire") == "Facture n 12 Cantine periscolaire"
