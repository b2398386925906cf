"""Each invoice is a Factur-X file: a readable PDF with its EN 16931 XML inside."""

import datetime
import io
from decimal import Decimal

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from opsn.billing import documents, issuing, services
from opsn.billing.models import Invoice, ServiceCharge
from opsn.communes.models import CommuneModule
from tests.helpers.billing import wipe_billing

NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


@pytest.fixture
def issued(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1234.56")
    services.rule_set(module="open-data", year=2024, kind="free")
    issuing.billing_issue(year=2024)
    return Invoice.objects.get(insee_code="69259")


def test_the_invoice_is_a_factur_x_file_the_library_accepts(issued):
    pdf = documents.invoice_pdf(issued)
    filename, xml = facturx.get_facturx_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert tree.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS) == issued.number
    assert tree.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "380"
    total = tree.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
                      "ram:GrandTotalAmount", namespaces=NS)
    assert total.text == "1234.56"
    buyer = tree.find(".//ram:BuyerTradeParty", namespaces=NS)
    assert buyer.findtext("ram:Name", namespaces=NS) == "Vénissieux"
    assert buyer.findtext("ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS) == "216902593"


def test_the_pdf_says_who_owes_what(issued):
    text = "".join(page.extract_text() for page in PdfReader(
        io.BytesIO(documents.invoice_pdf(issued))).pages)
    assert f"Titre de recette n° {issued.number}" in text
    assert "Vénissieux" in text
    assert "1\u202f234,56 €" in text or "1 234,56 €" in text or "1234,56 €" in text
    assert "TVA" in text


def test_a_credit_note_is_type_381(issued):
    issuing.invoice_send(invoice=issued)
    issuing.invoice_contest(invoice=issued, reason="erreur")
    credit, _ = issuing.invoice_correct(invoice=issued, lines=[("regies", "Régies", "100")],
                                        reason="erreur")
    _, xml = facturx.get_facturx_xml_from_pdf(documents.invoice_pdf(credit), check_xsd=True)
    tree = etree.fromstring(xml)
    assert tree.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    assert tree.find(".//ram:GrandTotalAmount", namespaces=NS).text == "1234.56"


def test_documents_are_written_once(issued):
    invoices = list(Invoice.objects.all())
    assert documents.generate_documents(invoices) == 2
    assert documents.document_path(issued).read_bytes().startswith(b"%PDF")
    assert documents.generate_documents(invoices) == 0  # idempotent


def test_documents_are_written_by_several_processes(committed, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2032, 1, 1))
    services.rule_set(module="regies", year=2032, kind="flat", flat_amount="10")
    try:
        run = issuing.billing_issue(year=2032)
        invoices = list(run.invoice_set.all())
        assert documents.generate_documents(invoices, workers=2) == len(invoices) == 2
        for invoice in invoices:
            facturx.get_facturx_xml_from_pdf(documents.document_path(invoice).read_bytes(),
                                             check_xsd=True)
    finally:
        wipe_billing()
        CommuneModule.objects.update(starts_on=datetime.date.today())


def test_a_service_carries_vat_on_a_line_of_its_own(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")
    ServiceCharge.objects.create(commune=venissieux, year=2024,
                                 label="Formation des régisseurs (2 jours)",
                                 amount_excl_vat=Decimal("1234.57"))
    issuing.billing_issue(year=2024)
    invoice = Invoice.objects.get(insee_code="69259")
    assert (invoice.total_excl_vat, invoice.vat_total, invoice.total) == (
        Decimal("2234.57"), Decimal("246.91"), Decimal("2481.48"))  # 20 % of 1 234,57
    assert [(line.label, line.vat_rate) for line in invoice.lines.all()] == [
        ("Contribution 2024 — Régies", Decimal("0.00")),
        ("Formation des régisseurs (2 jours)", Decimal("20.00"))]
    assert Invoice.objects.get(insee_code="69256").vat_total == 0

    _, xml = facturx.get_facturx_xml_from_pdf(documents.invoice_pdf(invoice), check_xsd=True)
    tree = etree.fromstring(xml)
    taxes = {t.findtext("ram:CategoryCode", namespaces=NS): (
        t.findtext("ram:BasisAmount", namespaces=NS),
        t.findtext("ram:CalculatedAmount", namespaces=NS))
        for t in tree.findall(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax",
                              namespaces=NS)}
    assert taxes == {"E": ("1000.00", "0.00"), "S": ("1234.57", "246.91")}
    assert tree.find(".//ram:GrandTotalAmount", namespaces=NS).text == "2481.48"
    text = "".join(p.extract_text() for p in PdfReader(
        io.BytesIO(documents.invoice_pdf(invoice))).pages)
    assert "TVA 20,00 %" in text
