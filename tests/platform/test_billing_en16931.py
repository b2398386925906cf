"""Every titre and credit note passes the official EN 16931 validation of CII invoices
(the CEN schematron, tests/data/en16931, run by Saxon): what Chorus Pro applies. Before,
every titre failed BR-E-02 and one with a service at 20 % BR-S-02: the seller had neither
a VAT identifier (BT-31) nor a tax registration identifier (BT-32).

Chorus Pro routes a titre by the commune's SIRET (BT-46/BT-47, scheme 0009), with its
service code (BT-10) and engagement number (BT-13) when it requires them."""

import io
from decimal import Decimal

import facturx
import pytest
from django.db import IntegrityError, InternalError, transaction
from lxml import etree
from pypdf import PdfReader

from opsn.billing import documents, issuing, services
from opsn.billing.computation import BillingError
from opsn.billing.models import Discount, Invoice, ServiceCharge
from opsn.communes.services import commune_set_billing
from tests.helpers.billing import subscribe_from
from tests.helpers.en16931 import en16931_failures

NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
SIRET = "21690259300013"  # an establishment of Vénissieux (SIREN 216902593)


@pytest.fixture
def year_2024(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    subscribe_from(2024)
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1234.56")
    services.rule_set(module="open-data", year=2024, kind="free")


def _xml(invoice: Invoice):
    return etree.fromstring(documents.invoice_xml(invoice))


def test_the_validator_is_the_real_one():
    """A CII example without the seller's VAT identifier fails as Chorus Pro would say."""
    xml = (b'<rsm:CrossIndustryInvoice xmlns:rsm="' + NS["rsm"].encode() + b'"/>')
    rules = {failure.rule for failure in en16931_failures(xml)}
    assert {"BR-01", "BR-02"} <= rules  # no specification identifier, no invoice number


def test_a_titre_of_exempt_contributions_passes(year_2024):
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.get(insee_code="69256")
    assert en16931_failures(documents.invoice_xml(invoice)) == []
    seller = _xml(invoice).find(".//ram:SellerTradeParty", NS)
    assert [(e.get("schemeID"), e.text) for e in seller.iterfind(
        "ram:SpecifiedTaxRegistration/ram:ID", NS)] == [("VA", "FR67256900994")]
    taxes = _xml(invoice).findall(".//ram:ApplicableHeaderTradeSettlement/"
                                  "ram:ApplicableTradeTax", NS)
    assert [(t.findtext("ram:CategoryCode", namespaces=NS),
             t.findtext("ram:ExemptionReason", namespaces=NS)) for t in taxes] == [
        ("E", documents.VAT_EXEMPTION)]


def test_a_titre_with_a_service_at_20_percent_routed_by_siret_passes(year_2024, venissieux):
    commune_set_billing(commune=venissieux, billing_siret="216 902 593 00013",
                        service_code="FINANCES", service_code_required=True,
                        engagement_number="EJ-2024-0042")
    ServiceCharge.objects.create(commune=venissieux, year=2024, label="Formation des "
                                 "régisseurs (2 jours)", amount_excl_vat=Decimal("1234.57"))
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.get(insee_code="69259")
    assert (invoice.commune_siret, invoice.service_code, invoice.engagement_number) == (
        SIRET, "FINANCES", "EJ-2024-0042")
    # What Chorus Pro reads: the XML inside the Factur-X file.
    _, xml = facturx.get_facturx_xml_from_pdf(documents.invoice_pdf(invoice), check_xsd=True)
    assert en16931_failures(xml) == []
    tree = etree.fromstring(xml)
    buyer = tree.find(".//ram:BuyerTradeParty", NS)
    assert (buyer.find("ram:GlobalID", NS).get("schemeID"),
            buyer.findtext("ram:GlobalID", namespaces=NS)) == ("0009", SIRET)
    legal = buyer.find("ram:SpecifiedLegalOrganization/ram:ID", NS)
    assert (legal.get("schemeID"), legal.text) == ("0009", SIRET)
    assert tree.findtext(".//ram:BuyerReference", namespaces=NS) == "FINANCES"
    assert tree.findtext(".//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
                         namespaces=NS) == "EJ-2024-0042"
    categories = sorted(t.findtext("ram:CategoryCode", namespaces=NS) for t in tree.findall(
        ".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", NS))
    assert categories == ["E", "S"]
    text = "".join(page.extract_text() for page in PdfReader(
        io.BytesIO(documents.invoice_pdf(invoice))).pages)
    for shown in (f"SIRET {SIRET}", "Code service FINANCES", "Engagement n° EJ-2024-0042",
                  "TVA intracommunautaire FR67256900994"):
        assert shown in text


def test_a_titre_with_a_discount_passes(year_2024, venissieux):
    Discount.objects.create(commune=venissieux, year=2024, module=None, percent=50,
                            reason="commune pilote, première année")
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.get(insee_code="69259")
    assert invoice.total == Decimal("617.28")
    assert en16931_failures(documents.invoice_xml(invoice)) == []


def test_a_credit_note_and_its_replacement_pass_and_keep_the_routing(year_2024, venissieux):
    commune_set_billing(commune=venissieux, billing_siret=SIRET,
                        engagement_number="EJ-1", engagement_number_required=True)
    ServiceCharge.objects.create(commune=venissieux, year=2024, label="Développement",
                                 amount_excl_vat=Decimal("500"))
    issuing.billing_issue(year=2024)
    invoice = issuing.invoice_send(invoice=Invoice.objects.get(insee_code="69259"))
    issuing.invoice_contest(invoice=invoice, reason="population erronée")
    credit, replacement = issuing.invoice_correct(
        invoice=invoice, lines=[("regies", "Contribution 2024 — Régies", "1000")],
        reason="population erronée")
    for document in (credit, replacement):
        assert en16931_failures(documents.invoice_xml(document)) == [], document.kind
        assert _xml(document).findtext(
            ".//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
            namespaces=NS) == "EJ-1"
    assert _xml(credit).findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"


def test_no_titre_is_issued_while_a_commune_lacks_a_reference_it_requires(year_2024,
                                                                          venissieux):
    commune_set_billing(commune=venissieux, billing_siret=SIRET, service_code="FIN",
                        service_code_required=True)
    # Written behind the registry's back: the run still refuses it.
    type(venissieux).objects.filter(pk=venissieux.pk).update(service_code="")
    with pytest.raises(BillingError, match=r"Vénissieux \(69259\) : code service"):
        issuing.billing_issue(year=2024)
    assert not Invoice.objects.exists()


def test_no_titre_is_issued_without_the_operators_vat_number(year_2024, settings):
    settings.OPSN_OPERATOR = {**settings.OPSN_OPERATOR, "vat_number": ""}
    with pytest.raises(BillingError, match="OPSN_OPERATOR_VAT_NUMBER"):
        issuing.billing_issue(year=2024)
    assert not Invoice.objects.exists()


def test_the_tax_registration_identifier_goes_beside_the_vat_number(year_2024, settings):
    settings.OPSN_OPERATOR = {**settings.OPSN_OPERATOR, "tax_registration": "2569009940001"}
    issuing.billing_issue(year=2024)
    xml = documents.invoice_xml(Invoice.objects.get(insee_code="69256"))
    assert en16931_failures(xml) == []
    seller = etree.fromstring(xml).find(".//ram:SellerTradeParty", NS)
    assert [e.get("schemeID") for e in seller.iterfind(
        "ram:SpecifiedTaxRegistration/ram:ID", NS)] == ["VA", "FC"]


def test_an_issued_titre_keeps_its_routing(year_2024, venissieux):
    commune_set_billing(commune=venissieux, billing_siret=SIRET)
    issuing.billing_issue(year=2024)
    commune_set_billing(commune=venissieux, billing_siret="21690259300021")
    invoice = Invoice.objects.get(insee_code="69259")
    assert invoice.commune_siret == SIRET  # the registry moved on; the titre did not
    for field, value in (("commune_siret", "21690259300021"), ("service_code", "X"),
                         ("engagement_number", "EJ-9")):
        with pytest.raises((IntegrityError, InternalError), match="cannot be rewritten"), \
                transaction.atomic():
            Invoice.objects.filter(pk=invoice.pk).update(**{field: value})
