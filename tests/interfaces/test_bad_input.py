"""Bad input is a 400 (issue 15): a NUL byte (``%00`` in a query string, a path or a form
field, ``\\u0000`` in a JSON body, a NUL in an imported file), an over-long value or a
number no database column takes, on the entry points that answered 500 — the agents'
payer and counter searches, the régie number in their addresses, « Mes paiements »
filters, the console's search and commune pages, both APIs' searches, paths and bodies,
the identity provider's sign-in e-mail, a PayFiP notification, an invoice import on the
web and on the command line. One input layer answers all of them with the usual French
message: JSON under /api/, the site's error page elsewhere.

And where the platform was looser than it should be: an amount is a plain decimal
(``"1e2"`` is not 100.00 €), and a request body is of the type its API documents (the
body ``true`` does not suspend a commune)."""

from __future__ import annotations

import html
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from opsn.agents.models import Role
from opsn.agents.services import service_credential_issue
from opsn.citizens import services as citizen_services
from opsn.communes.models import Commune
from opsn.kernel.inputs import InvalidInput, check
from opsn.kernel.money import InvalidAmount, parse_amount
from opsn.regies.models import ImportBatch, Invoice, LedgerEntry, Payer
from opsn.regies.services import founding
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import IDP_HOST, agent, make_account, sign_in
from tests.helpers.regies import ADMIN, OPENED, TITULAIRE, make_invoice, make_payer, make_regie

NUL = "\x00"
FORTY_DIGITS = "1234567890" * 4
LONG = "a" * 10_000
CITIZEN = "ines.moreau@citoyen.test"
INVOICE_HEADER = "numero;payeur_ref;payeur_nom;date;libelle;quantite;prix_unitaire"


def text(response) -> str:
    return html.unescape(response.content.decode())


def refused_page(response, *, what: str = "caractère nul") -> None:
    """The site's error page: 400, in French, saying what was wrong."""
    assert response.status_code == 400, (response.status_code, text(response)[:500])
    assert response["Content-Type"].startswith("text/html")
    assert "Requête incorrecte" in text(response) and what in text(response)


def refused_json(response, *, what: str = "caractère nul", field: str | None = None) -> None:
    """The APIs' error: 400, ``{code, message, field, line}``, the message in French."""
    assert response.status_code == 400, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] == "invalid_input" and what in body["message"], body
    if field is not None:
        assert body["field"] == field, body


@pytest.fixture
def books(venissieux):
    """Régie R-001 of Vénissieux, a family with an invoice, a citizen who linked it."""
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Famille Moreau", email="moreau@example.fr",
                           external_ref="FAM-0042")
        make_invoice(regie, payer, "45.00", number="F-2026-0001")
    citizen_services.payer_link_by_code(subject=CITIZEN, commune=venissieux,
                                        code=payer.link_code)
    return regie, payer


@pytest.fixture
def regisseur(venissieux, books) -> Client:
    return agent(venissieux, TITULAIRE.account, Role.REGISSEUR)


@pytest.fixture
def citizen(venissieux, books) -> Client:
    make_account(CITIZEN)
    return sign_in(host_of(venissieux), CITIZEN)


@pytest.fixture
def software(venissieux, books) -> Client:
    """A business software appointed mandataire of R-001, with its service credential."""
    regie, _ = books
    with in_schema(venissieux):
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
    return Client(HTTP_HOST=host_of(venissieux), HTTP_AUTHORIZATION=f"Bearer {secret}")


def post_json(client: Client, url: str, body) -> object:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, raw, content_type="application/json")


# --- The agents' pages -----------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/espace/regies/R-001/payeurs/?q=Mor%00eau",  # the payer search
    "/espace/regies/R-001/guichet/?q=%00",  # the counter's search
    "/espace/regies/R-%00/guichet/",  # the régie's number in the address
    "/espace/regies/R-001%00/journal/",
    f"/espace/regies/R-001/quittances/{FORTY_DIGITS}-1/",  # a number no column takes
    "/espace/regies/R-001/journal/?page=%00",
])
def test_the_agents_pages_refuse_bad_input_with_a_400_page(regisseur, url):
    what = "hors limites" if FORTY_DIGITS in url else "caractère nul"
    refused_page(regisseur.get(url), what=what)


def test_a_form_field_with_a_nul_is_refused_and_nothing_is_written(regisseur, venissieux):
    response = regisseur.post("/espace/regies/R-001/payeurs/nouveau/", {
        "name": "Famille\x00Dupont", "kind": "family"})
    refused_page(response)
    assert "Le champ « name »" in text(response)
    with in_schema(venissieux):
        assert not Payer.objects.filter(name__startswith="Famille").exclude(
            name="Famille Moreau").exists()


def test_a_long_value_is_refused_before_the_view(regisseur):
    response = regisseur.get("/espace/regies/R-001/payeurs/", {"q": LONG})
    refused_page(response, what="est trop long : 10\u202f000 caractères")


# --- The citizen's space ---------------------------------------------------------------------

def test_my_payments_filters_refuse_bad_input(citizen, venissieux):
    refused_page(citizen.get(f"/mon-espace/?commune={venissieux.pk}&regie=R%00"))
    refused_page(citizen.get(f"/mon-espace/?annee={FORTY_DIGITS}"), what="hors limites")
    # What is well formed still filters (and a year nobody paid in shows nothing).
    assert citizen.get(f"/mon-espace/?commune={venissieux.pk}&regie=R-001").status_code == 200
    assert citizen.get("/mon-espace/?annee=1999").status_code == 200


# --- The console -----------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/communes/?q=V%00", "/communes/%00/",
                                 "/communes/69259%00/suspendre/"])
def test_the_console_refuses_bad_input(console, url):
    response = (console.post(url, {"reason": "x"}) if url.endswith("suspendre/")
                else console.get(url))
    refused_page(response)
    assert not Commune.objects.filter(status=Commune.Status.SUSPENDED).exists()


# --- The operator's API ----------------------------------------------------------------------

@pytest.mark.parametrize(("url", "what", "field"), [
    ("/api/v1/communes?q=V%00", "caractère nul", "q"),
    ("/api/v1/communes/69259%00", "caractère nul", "path"),
    (f"/api/v1/communes?offset={FORTY_DIGITS}", "hors limites", "offset"),
    (f"/api/v1/communes?limit=-{FORTY_DIGITS}", "hors limites", "limit"),
])
def test_the_operator_api_refuses_bad_input_as_json(api, url, what, field):
    refused_json(api.get(url), what=what, field=field)


def test_onboarding_refuses_a_nul_in_the_body(api):
    response = post_json(api, "/api/v1/communes", {"insee_code": "69\u00002 73"})
    refused_json(response, field="insee_code")
    refused_json(post_json(api, "/api/v1/communes", '{"insee_code": "\\ud800"}'),
                 what="Unicode invalide")
    assert not Commune.objects.filter(insee_code="69273").exists()


@pytest.mark.parametrize("body", ["true", "1", '"suspendue"', "[]", "null"])
def test_a_body_that_is_not_the_documented_object_is_a_400(api, body):
    response = post_json(api, "/api/v1/communes/69259/suspend", body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "malformed"
    assert "objet JSON" in response.json()["message"]
    assert Commune.objects.get(insee_code="69259").status == Commune.Status.ACTIVE


def test_the_documented_object_still_suspends(api):
    response = post_json(api, "/api/v1/communes/69259/suspend", {"reason": "impayés"})
    assert response.status_code == 200, response.content
    assert Commune.objects.get(insee_code="69259").status == Commune.Status.SUSPENDED


# --- The commune's API -----------------------------------------------------------------------

@pytest.mark.parametrize(("url", "field"), [
    ("/api/v1/regies/R-001/payers?q=Mor%00eau", "q"),
    ("/api/v1/regies/R%00/payers", "path"),
    ("/api/v1/regies/R-001/invoices/F-2026%00", "path"),
    ("/api/v1/regies/R-001/payments/2026-%00", "path"),
])
def test_the_commune_api_refuses_bad_input_as_json(software, url, field):
    refused_json(software.get(url), field=field)


def test_the_commune_api_refuses_a_nul_in_a_payment_and_posts_nothing(software, venissieux):
    response = post_json(software, "/api/v1/regies/R-001/payments", {
        "amount": "12.50", "mode": "card", "external_ref": "PAY-1", "payer": "FAM-0042",
        "payer_name": "Famille\u0000Moreau"})
    refused_json(response, field="payer_name")
    response = post_json(software, "/api/v1/regies/R-001/payments", {"payments": [
        {"amount": "12.50", "mode": "card", "external_ref": "PAY-1", "payer": "FAM-0042"},
        {"amount": "1.00", "mode": "card", "external_ref": "PAY-2", "payer": "FAM-0042",
         "details": {"note": "x" * 5_000}}]})
    refused_json(response, what="trop long", field="payments.1.details.note")
    with in_schema(venissieux):
        assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize("amount", ["1e2", "1E2", "12.5e0", "0x10", "1_000", "١٢", "Infinity",
                                    "NaN", "12.50.1", "--3"])
def test_an_amount_is_a_plain_decimal(software, venissieux, amount):
    response = post_json(software, "/api/v1/regies/R-001/payments", {
        "amount": amount, "mode": "card", "external_ref": "PAY-1", "payer": "FAM-0042",
        "details": {"terminal_ref": "TPE-1"}})
    assert response.status_code == 400, response.content
    assert response.json()["message"] == f"« {amount} » n'est pas un montant."
    assert response.json()["field"] == "amount"
    with in_schema(venissieux):
        assert not LedgerEntry.objects.exists()


def test_what_people_type_for_an_amount_still_reads():
    assert [parse_amount(v) for v in ("12,50", " 1 234,5 ", "1\u202f234.50 €", "12", "+12",
                                      ".5", "7.", 12, Decimal("3.10"))] == [
        Decimal(v) for v in ("12.50", "1234.50", "1234.50", "12.00", "12.00", "0.50", "7.00",
                             "12.00", "3.10")]
    with pytest.raises(InvalidAmount, match="n'est pas un montant"):
        parse_amount("1e2")
    with pytest.raises(InvalidAmount, match="Le montant doit être positif"):
        parse_amount("-5")


def test_the_commune_api_refuses_a_body_that_is_not_an_object(software, venissieux):
    for body in ("true", "[]", '"12.50"'):
        response = post_json(software, "/api/v1/regies/R-001/payers", body)
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "malformed", response.json()


# --- The identity provider and PayFiP --------------------------------------------------------

def test_the_identity_providers_sign_in_refuses_a_nul_in_the_email(db):
    response = Client(HTTP_HOST=IDP_HOST).post("/connexion/", {
        "email": "admin@venissieux.fr\x00", "password": "x"})
    refused_page(response)


def test_a_payfip_notification_with_a_nul_is_refused(venissieux):
    response = Client(HTTP_HOST=host_of(venissieux)).post("/paiement-en-ligne/notification/",
                                                           {"idOp": "a\x00b"})
    assert response.status_code == 400


def test_a_nul_in_a_cookie_is_refused(regisseur):
    regisseur.cookies["sessionid"] = "abcdefgh\x00ijkl"
    refused_page(regisseur.get("/espace/regies/"))


# --- File imports ----------------------------------------------------------------------------

def invoice_file(name: str) -> bytes:
    return (f"{INVOICE_HEADER}\r\nF-2026-0101;FAM-0099;{name};02/11/2026;Cantine;1;12,50\r\n"
            ).encode()


def test_an_invoice_import_with_a_nul_names_its_line_on_the_web(regisseur, venissieux):
    upload = invoice_file("Famille\x00Leroy")
    response = regisseur.post("/espace/regies/R-001/imports/", {
        "kind": "invoices", "invoices-file": _named("factures.csv", upload)})
    assert response.status_code == 400, text(response)[:500]
    assert "Ligne 2 : Le fichier contient un caractère nul (octet 0x00)" in text(response)
    with in_schema(venissieux):
        assert not Invoice.objects.filter(number="F-2026-0101").exists()
        assert not ImportBatch.objects.exists()


def test_an_invoice_import_with_a_nul_is_refused_on_the_command_line(venissieux, books,
                                                                   tmp_path):
    path = tmp_path / "factures.csv"
    path.write_bytes(invoice_file("Famille\x00Leroy"))
    with pytest.raises(CommandError) as refused:
        call_command("regie_import", str(path), commune="69259", regie="R-001",
                     kind="invoices", agent=TITULAIRE.account)
    assert refused.value.returncode == 2
    assert str(refused.value).startswith(
        "Ligne 2 : Le fichier contient un caractère nul (octet 0x00)")
    with in_schema(venissieux):
        assert not Invoice.objects.filter(number="F-2026-0101").exists()


def test_an_over_long_cell_is_refused_with_its_line(venissieux, books, tmp_path):
    path = tmp_path / "factures.csv"
    path.write_bytes(invoice_file("Famille " + "L" * 5_000))
    with pytest.raises(CommandError) as refused:
        call_command("regie_import", str(path), commune="69259", regie="R-001",
                     kind="invoices", agent=TITULAIRE.account)
    assert refused.value.returncode == 2
    assert str(refused.value).startswith("Ligne 2 : ")


def test_a_command_refuses_a_number_no_column_takes(db):
    with pytest.raises(CommandError) as refused:
        call_command("billing_preview", int(FORTY_DIGITS))
    assert refused.value.returncode == 2
    assert "hors limites" in str(refused.value)


def test_the_guard_names_what_it_refuses():
    with pytest.raises(InvalidInput) as refused:
        check("12\x00", field="q")
    assert refused.value.message == ("La valeur de « q » contient un caractère nul (%00), "
                                     "qu'aucune saisie ne peut contenir.")


def _named(name: str, content: bytes):
    return SimpleUploadedFile(name, content, content_type="text/csv")


# --- Found by the hostile crawl (test_hostile_crawl.py) --------------------------------------

def test_a_query_parameter_named_like_a_method_is_just_a_filter(regisseur):
    """The journal's template read request.GET.lists, which ?lists=x made a text."""
    response = regisseur.get("/espace/regies/R-001/journal/", {"lists": "x", "mode": "cash"})
    assert response.status_code == 200
    assert '<input type="hidden" name="lists" value="x">' in text(response)


def test_signing_out_for_an_unknown_client_is_refused(db):
    response = Client(HTTP_HOST=IDP_HOST).get("/logout/", {"client_id": "inconnu"})
    assert response.status_code == 400


def test_a_body_too_large_is_refused_in_the_apis_words(software, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_048_576
    response = post_json(software, "/api/v1/regies/R-001/payers",
                         {"external_ref": "X", "name": "y" * 1_100_000})
    refused_json(response, what="trop volumineux (1,0 Mo au plus)")
