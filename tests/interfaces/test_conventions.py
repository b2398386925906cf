"""The convention as a thing: per commune, its number, its term, its amendments and the
mentions its titres carry, set from the console and the operator API; the titres of its
term print them (PDF) and carry them in their Factur-X XML (BT-12, BT-22), still passing
the official EN 16931 schematron; bad input refused next to the field, nothing saved."""

import datetime
import io
from html import unescape

import pytest
from lxml import etree
from pypdf import PdfReader

from opsn.billing import conventions, documents, issuing, services
from opsn.billing.computation import BillingError
from opsn.billing.models import BillingEvent, Convention, Invoice
from opsn.communes.models import CommuneModule
from tests.helpers.en16931 import en16931_failures
from tests.helpers.identity import sign_in_webtest

CONSOLE = {"HTTP_HOST": "console.localhost"}
NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
MENTIONS = "Titre de solde de la contribution annuelle (article 6 de la convention)."


@pytest.fixture
def year_2024(db, venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")


@pytest.fixture
def browser(django_app, operator):
    return sign_in_webtest(django_app, "console.localhost", operator.username)


def _form(page, action):
    return next(f for f in page.forms.values()
                if "action" in f.fields and f["action"].value == action)


def test_a_convention_set_in_the_console_is_printed_on_its_titres(year_2024, browser):
    page = browser.get("/communes/69259/", extra_environ=CONSOLE).click(
        "Conventions de Vénissieux", extra_environ=CONSOLE)
    form = _form(page, "create")
    form["number"] = "CONV-2023-014"
    form["starts_on"] = "2023-01-01"
    form["ends_on"] = "2026-12-31"
    form["mentions"] = MENTIONS
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    assert "Convention n° CONV-2023-014 enregistrée." in unescape(page.text)
    convention = Convention.objects.get()
    form = _form(page, "amend")
    form["signed_on"] = "2024-03-15"
    form["subject"] = "Ajout du module Régies"
    page = form.submit(extra_environ=CONSOLE).follow(extra_environ=CONSOLE)
    text = unescape(page.text)
    assert "Avenant n° 1 du 15/03/2024 : Ajout du module Régies" in text
    assert "Avenant n° 1 du 15/03/2024 à la convention n° CONV-2023-014" in text  # history
    assert list(BillingEvent.objects.filter(insee_code="69259", code__startswith="conv")
                .order_by("id").values_list("code", flat=True)) == [
        "convention.created", "convention.amended"]

    issuing.billing_issue(year=2024)
    titre = Invoice.objects.get(insee_code="69259")
    assert titre.convention_number == "CONV-2023-014"
    assert titre.convention_mentions == (
        "Convention n° CONV-2023-014 du 01/01/2023 au 31/12/2026, avenant n° 1 du "
        f"15/03/2024. {MENTIONS}")
    xml = documents.invoice_xml(titre)
    assert en16931_failures(xml) == []
    tree = etree.fromstring(xml)
    assert tree.findtext(".//ram:ContractReferencedDocument/ram:IssuerAssignedID",
                         namespaces=NS) == "CONV-2023-014"
    assert MENTIONS in tree.findtext(".//ram:IncludedNote/ram:Content", namespaces=NS)
    pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(
        documents.invoice_pdf(titre))).pages)
    assert "CONV-2023-014" in pdf and "article 6 de la convention" in " ".join(pdf.split())
    # Vaulx-en-Velin has no convention: its titre says nothing of one.
    assert Invoice.objects.get(insee_code="69256").convention_mentions == ""

    # A correction keeps the mentions; changing the convention later changes no titre.
    issuing.invoice_send(invoice=titre)
    credit, replacement = issuing.invoice_correct(
        invoice=titre, reason="erreur", lines=[("regies", "Régies", "900")])
    assert replacement.convention_mentions == titre.convention_mentions
    assert en16931_failures(documents.invoice_xml(credit)) == []
    conventions.convention_set(commune=convention.commune, convention=convention,
                               number="CONV-2023-014", starts_on="2023-01-01",
                               ends_on="2027-12-31", mentions="autre chose")
    titre.refresh_from_db()
    assert MENTIONS in titre.convention_mentions


@pytest.mark.parametrize(("typed", "field", "message"), [
    ({"number": " "}, "number", "Donnez le numéro de la convention"),
    ({"ends_on": "2022-12-31"}, "ends_on", "avant de commencer"),
    ({"starts_on": "31/02/2024"}, "starts_on", "n'est pas une date"),
    ({"starts_on": "1899-01-01"}, "starts_on", "hors des années de facturation"),
    ({"starts_on": ""}, "starts_on", "Donnez le début"),
    ({"mentions": "x" * 1001}, "mentions", "1000 caractères"),
    ({"starts_on": "2025-06-01", "ends_on": "2028-12-31"}, "starts_on",
     "a déjà la convention n° C-1 du 01/01/2023 au 31/12/2025"),
])
def test_a_bad_convention_is_refused_next_to_its_field(year_2024, browser, venissieux, typed,
                                                       field, message):
    conventions.convention_set(commune=venissieux, number="C-1", starts_on="2023-01-01",
                               ends_on="2025-12-31")
    page = browser.get("/facturation/conventions/69259/", extra_environ=CONSOLE)
    form = _form(page, "create")
    values = {"number": "C-2", "starts_on": "2023-01-01", "ends_on": "2024-12-31",
              "mentions": "", **typed}
    if "ends_on" not in typed and "starts_on" not in typed:
        values.update(starts_on="2026-01-01", ends_on="2028-12-31")
    for name, value in values.items():
        form[name] = value
    response = form.submit(extra_environ=CONSOLE, status=400)
    text = unescape(response.text)
    assert message in text
    assert f'id="n-{field}" ' in text and 'aria-invalid="true"' in text
    assert Convention.objects.count() == 1


def test_an_amendment_after_the_term_is_refused(year_2024, venissieux):
    convention = conventions.convention_set(commune=venissieux, number="C-1",
                                            starts_on="2023-01-01", ends_on="2025-12-31")
    with pytest.raises(BillingError, match="après la fin de la convention"):
        conventions.amendment_add(convention=convention, signed_on="2026-01-02", subject="x")
    with pytest.raises(BillingError, match="objet de l'avenant"):
        conventions.amendment_add(convention=convention, signed_on="2024-01-02", subject=" ")
    assert not convention.amendments.exists()


def test_the_operator_api_sets_a_convention_and_its_amendments(year_2024, api):
    created = api.post("/api/v1/communes/69256/conventions", {
        "number": "VV-2024", "starts_on": "2024-01-01", "ends_on": "2026-12-31",
        "mentions": "Première année : remise de 50 %."}, content_type="application/json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    refused = api.post("/api/v1/communes/69256/conventions", {
        "number": "VV-2025", "starts_on": "2026-01-01", "ends_on": "2025-12-31"},
        content_type="application/json")
    assert (refused.status_code, refused.json()["field"]) == (400, "ends_on")
    amended = api.post(f"/api/v1/communes/69256/conventions/{pk}/amendments",
                       {"signed_on": "2025-02-01", "subject": "Tarif 2025"},
                       content_type="application/json")
    assert amended.status_code == 201
    assert amended.json()["amendments"] == [{"number": 1, "signed_on": "2025-02-01",
                                             "subject": "Tarif 2025"}]
    changed = api.put(f"/api/v1/communes/69256/conventions/{pk}", {
        "number": "VV-2024", "starts_on": "2024-01-01", "ends_on": "2027-12-31",
        "mentions": ""}, content_type="application/json")
    assert changed.json()["ends_on"] == "2027-12-31"
    assert api.get("/api/v1/communes/69259/conventions").json() == []
    other = api.put(f"/api/v1/communes/69259/conventions/{pk}", {
        "number": "X", "starts_on": "2024-01-01", "ends_on": "2027-12-31"},
        content_type="application/json")
    assert other.status_code == 404  # another commune's convention is not reachable
    issuing.billing_issue(year=2024)
    assert Invoice.objects.get(insee_code="69256").convention_number == "VV-2024"
