"""The commune's HTTP API, as its business software sees it: credentials, payers,
invoices, payments with their receipts, and every refusal (a clear error, nothing
changed)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from opsn.agents.models import ServiceCredential
from opsn.agents.services import (
    CredentialError,
    service_credential_issue,
    service_credential_revoke,
)
from opsn.audit.models import AuditEvent
from opsn.regies.models import Invoice, LedgerEntry, Payer, Regie
from opsn.regies.services import cashdesk, founding
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import host_of, in_schema
from tests.helpers.regies import ADMIN, OPENED, TITULAIRE, make_invoice, make_payer, make_regie

SOFTWARE_IP = "203.0.113.7"
YEAR = timezone.localdate().year


def receipt(n: int) -> str:
    return f"{YEAR}-{n:06d}"


@dataclass
class Software:
    client: Client
    secret: str
    regie: Regie
    payer: Payer

    def post(self, path: str, payload=None, *, raw: str | None = None):
        body = raw if raw is not None else json.dumps(payload)
        return self.client.post(f"/api/v1{path}", body, content_type="application/json")

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1{path}", params)


def api_client(commune, secret: str | None) -> Client:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return Client(HTTP_HOST=host_of(commune), REMOTE_ADDR=SOFTWARE_IP, **extra)


@pytest.fixture
def software(venissieux) -> Software:
    """The school-meals software of Vénissieux, appointed mandataire of régie R-001."""
    with in_schema(venissieux):
        regie = make_regie()
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
        payer = make_payer(regie, external_ref="FAM-0042", email="martin@example.fr")
    return Software(api_client(venissieux, secret), secret, regie, payer)


def card(amount="12.50", ref="PAY-1", **more) -> dict:
    return {"amount": amount, "mode": "card", "payer": "FAM-0042", "external_ref": ref,
            "details": {"terminal_ref": f"TPE-{ref}"}, **more}


def without_time(body: dict) -> dict:
    body = dict(body)  # the client caches what .json() returned
    assert body.pop("posted_at").startswith(str(YEAR))
    assert body.pop("accounting_day").startswith(str(YEAR))
    return body


def journal(commune) -> list[str]:
    with in_schema(commune):
        return [e.receipt for e in LedgerEntry.objects.order_by("id")]


# --- Credentials ---------------------------------------------------------------------------

def test_a_credential_is_shown_once_and_only_its_hash_is_kept(venissieux):
    with in_schema(venissieux):
        _, secret = service_credential_issue(name=" Cantine-Ecoles ", actor=ADMIN)
        assert secret.startswith("opsn_c_") and len(secret) > 40
        stored = ServiceCredential.objects.get()
        assert stored.name == "cantine-ecoles"
        assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in json.dumps(list(ServiceCredential.objects.values()), default=str)
        assert (stored.created_by, stored.revoked_at, stored.last_used_at) == (
            ADMIN.account, None, None)
        with pytest.raises(CredentialError, match="existe déjà"):
            service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        with pytest.raises(CredentialError, match="minuscules, chiffres et tirets"):
            service_credential_issue(name="la cantine !", actor=ADMIN)
        assert list(AuditEvent.objects.filter(code="credential.issued").values_list(
            "actor", "summary")) == [(ADMIN.account,
                                      "Accès à l'API délivré au logiciel cantine-ecoles")]


UNAUTHENTICATED = {
    "code": "unauthenticated",
    "message": "Accès refusé : présentez le secret de l'accès délivré à votre logiciel par "
               "cette commune (en-tête « Authorization: Bearer opsn_c_… »). Un secret "
               "révoqué, ou délivré par une autre commune, n'est pas reconnu ici.",
    "field": None, "line": None}


def test_no_secret_a_wrong_one_or_a_revoked_one_is_refused(software, venissieux):
    for secret in (None, "opsn_c_not-a-real-secret", "opsn_operator-token"):
        response = api_client(venissieux, secret).get("/api/v1/regies")
        assert (response.status_code, response.json()) == (401, UNAUTHENTICATED)
    assert software.get("/regies").status_code == 200
    with in_schema(venissieux):
        assert ServiceCredential.objects.get().last_used_at is not None
        service_credential_revoke(credential=ServiceCredential.objects.get(), actor=ADMIN)
    response = software.get("/regies")
    assert (response.status_code, response.json()) == (401, UNAUTHENTICATED)
    assert software.post("/regies/R-001/payments", card()).status_code == 401
    assert journal(venissieux) == []


def test_a_secret_of_one_commune_is_unknown_under_another_communes_domain(software, vaulx):
    response = api_client(vaulx, software.secret).get("/api/v1/regies")
    assert (response.status_code, response.json()) == (401, UNAUTHENTICATED)
    with in_schema(vaulx):  # even where a régie of the same number exists
        make_regie()
    response = api_client(vaulx, software.secret).post(
        "/api/v1/regies/R-001/payments", json.dumps(card()), content_type="application/json")
    assert response.status_code == 401
    assert journal(vaulx) == []


def test_the_operators_token_does_not_open_the_communes_api(software, venissieux, api_token):
    response = api_client(venissieux, api_token).get("/api/v1/regies")
    assert response.status_code == 401


def test_a_regie_the_software_is_not_appointed_to_is_refused(software, venissieux):
    with in_schema(venissieux):
        make_regie("R-002", "Piscine municipale", staff=False)
    for response in (software.get("/regies/R-002/payers", q="Martin"),
                     software.post("/regies/R-002/payments", card()),
                     software.post("/regies/R-002/payers", {"external_ref": "X", "name": "X"})):
        assert (response.status_code, response.json()) == (403, {
            "code": "not_allowed",
            "message": f"Logiciel métier cantine-ecoles n'est ni régisseur ni mandataire de la "
                       f"régie Piscine municipale au {timezone.localdate():%d/%m/%Y} : seuls les "
                       "agents nommés encaissent pour elle.",
            "field": None, "line": None})
    response = software.get("/regies/R-404/payers")
    assert (response.status_code, response.json()) == (404, {
        "code": "not_found", "message": "Aucune régie numéro « R-404 » dans la commune.",
        "field": "number", "line": None})
    assert journal(venissieux) == []


def test_the_command_issues_appoints_and_revokes(venissieux, capsys):
    with in_schema(venissieux):
        make_regie()
    call_command("commune_api_credential", "--commune", "69259", "--name", "creches",
                 "--regie", "R-001")
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("opsn_c_")
    client = api_client(venissieux, secret)
    assert [r["number"] for r in client.get("/api/v1/regies").json()] == ["R-001"]
    with in_schema(venissieux):
        assert Regie.objects.get().assignments.filter(account="service:creches",
                                                      role="mandataire").exists()
    with pytest.raises(Exception, match="Aucune régie « R-9 »"):
        call_command("commune_api_credential", "--commune", "69259", "--name", "piscine",
                     "--regie", "R-9")
    with in_schema(venissieux):  # nothing left behind by the failed call
        assert not ServiceCredential.objects.filter(name="piscine").exists()
    call_command("commune_api_credential", "--commune", "69259", "--name", "creches",
                 "--revoke")
    assert client.get("/api/v1/regies").status_code == 401


# --- Régies and payers ---------------------------------------------------------------------

def test_the_regies_the_software_collects_for(software):
    response = software.get("/regies")
    assert (response.status_code, response.json()) == (200, [{
        "number": "R-001", "name": "Cantine et périscolaire",
        "accepted_modes": ["cash", "cheque", "card", "transfer", "other"],
        "starts_on": "2020-01-01", "ends_on": None}])


def test_a_payer_is_created_once_then_found_by_its_reference(software, venissieux):
    payload = {"external_ref": "FAM-0077", "name": "Famille Diallo", "kind": "family",
               "address_line": "12 avenue Jean Jaurès", "postal_code": "69200",
               "city": "Vénissieux", "email": "Diallo@Example.fr", "phone": "04 78 00 00 00"}
    created = software.post("/regies/R-001/payers", payload)
    assert created.status_code == 201
    body = dict(created.json())
    assert len(body.pop("link_code")) == 14
    assert body == {"external_ref": "FAM-0077", "kind": "family", "name": "Famille Diallo",
                    "address_line": "12 avenue Jean Jaurès", "postal_code": "69200",
                    "city": "Vénissieux", "email": "diallo@example.fr",
                    "phone": "04 78 00 00 00"}
    again = software.post("/regies/R-001/payers", {**payload, "name": "Autre nom"})
    assert again.status_code == 200, again.json()
    assert again.json()["link_code"] == created.json()["link_code"]
    assert again.json()["name"] == "Famille Diallo"
    with in_schema(venissieux):
        assert Payer.objects.filter(external_ref="FAM-0077").count() == 1

    found = software.get("/regies/R-001/payers", q="diallo").json()
    assert [p["external_ref"] for p in found] == ["FAM-0077"]
    assert [p["name"] for p in software.get("/regies/R-001/payers", q="FAM-0042").json()] == [
        "Famille Martin"]


def test_a_bad_payer_is_refused(software):
    response = software.post("/regies/R-001/payers", {"external_ref": "FAM-1", "name": "X",
                                                      "email": "pas-une-adresse"})
    assert (response.status_code, response.json()) == (400, {
        "code": "invalid", "message": "« pas-une-adresse » n'est pas une adresse électronique.",
        "field": "email", "line": None})
    response = software.post("/regies/R-001/payers", {"name": "Sans référence"})
    assert (response.status_code, response.json()) == (422, {
        "code": "invalid", "message": "external_ref : manque.", "field": "external_ref",
        "line": None})


# --- Invoices ------------------------------------------------------------------------------

def october(number="CANT-2026-10-0042", payer="FAM-0042", **more) -> dict:
    return {"number": number, "payer": payer, "label": "Cantine d'octobre",
            "issued_on": "2026-10-31", "due_on": "2026-11-30",
            "lines": [{"label": "Repas", "quantity": "12", "unit_price": "3.85",
                       "beneficiary": "Léa Martin", "period_start": "2026-10-01",
                       "period_end": "2026-10-31"},
                      {"label": "Garderie du matin", "quantity": 2, "unit_price": "1.10"}],
            **more}


OCTOBER = {
    "number": "CANT-2026-10-0042", "payer": "FAM-0042", "payer_name": "Famille Martin",
    "label": "Cantine d'octobre", "issued_on": "2026-10-31", "due_on": "2026-11-30",
    "total": "48.40", "amount_paid": "0.00", "remaining": "48.40", "status": "due",
    "online_payment": None,
    "lines": [{"label": "Repas", "quantity": "12", "unit_price": "3.85", "amount": "46.20",
               "product": None, "period_start": "2026-10-01", "period_end": "2026-10-31",
               "beneficiary": "Léa Martin", "nature": "", "fonction": ""},
              {"label": "Garderie du matin", "quantity": "2", "unit_price": "1.10",
               "amount": "2.20", "product": None, "period_start": None, "period_end": None,
               "beneficiary": "", "nature": "", "fonction": ""}]}


def test_invoices_are_issued_in_a_batch_and_read_back(software, venissieux):
    with in_schema(venissieux):
        founding.product_save(regie=software.regie, actor=ADMIN, code="repas", name="Repas",
                              unit_price="3.85", nature="7067", fonction="281")
    response = software.post("/regies/R-001/invoices", {"invoices": [
        october(),
        {"payer": "FAM-0042", "lines": [{"product": "repas", "quantity": "1.5"}]}]})
    assert response.status_code == 201, response.json()
    first, second = response.json()["invoices"]
    assert first == OCTOBER
    assert (second["number"], second["total"], second["lines"][0]["product"],
            second["lines"][0]["label"], second["lines"][0]["nature"],
            second["lines"][0]["fonction"]) == (f"R-001-{YEAR}-00001", "5.78", "repas",
                                                "Repas", "7067", "281")
    assert second["due_on"] > second["issued_on"]
    assert software.get("/regies/R-001/invoices/CANT-2026-10-0042").json() == OCTOBER
    with in_schema(venissieux):
        assert set(Invoice.objects.values_list("source", flat=True)) == {"api"}


def test_a_batch_of_invoices_is_all_or_nothing(software, venissieux):
    for batch, status, error in [
        ([october(), october("CANT-2026-10-0043", payer="FAM-9999")], 404, {
            "code": "not_found", "message": "Aucun payeur de référence « FAM-9999 » dans la "
                                            "régie Cantine et périscolaire : créez-le d'abord.",
            "field": "payer", "line": 2}),
        ([october(), october()], 409, {
            "code": "duplicate", "message": "Le numéro de facture CANT-2026-10-0042 apparaît "
                                            "deux fois (ligne 1).",
            "field": "number", "line": 2}),
        ([october(lines=[{"label": "Repas", "unit_price": "3.855"}])], 400, {
            "code": "invalid", "message": "3.855 € a plus de deux décimales.",
            "field": "unit_price", "line": 1}),
        ([october(lines=[{"label": "Repas", "unit_price": 3.85}])], 400, {
            "code": "invalid", "message": "« 3.85 » : montant à transmettre sous forme de texte "
                                          "ou de décimal, pas de nombre flottant.",
            "field": "unit_price", "line": 1}),
        ([october(due_on="2026-10-01")], 400, {
            "code": "invalid", "message": "L'échéance précède la date de la facture.",
            "field": "due_on", "line": 1}),
        ([october(), october("F-2", lines=[{"label": "Repas", "prix": "3"}])], 422, {
            "code": "invalid", "message": "lines.0.prix : champ inconnu.",
            "field": "lines.0.prix", "line": 2}),
    ]:
        response = software.post("/regies/R-001/invoices", {"invoices": batch})
        assert (response.status_code, response.json()) == (status, error)
    with in_schema(venissieux):
        assert not Invoice.objects.exists()
    assert software.post("/regies/R-001/invoices", {"invoices": [october()]}).status_code == 201
    again = software.post("/regies/R-001/invoices", {"invoices": [october()]})
    assert (again.status_code, again.json()["code"]) == (409, "duplicate")
    assert again.json()["message"] == ("La facture CANT-2026-10-0042 existe déjà : rien n'a été "
                                       "émis.")


def test_an_unknown_invoice(software):
    response = software.get("/regies/R-001/invoices/F-404")
    assert (response.status_code, response.json()) == (404, {
        "code": "not_found", "message": "Aucune facture F-404 dans la régie Cantine et "
                                        "périscolaire.", "field": "number", "line": None})


# --- Payments ------------------------------------------------------------------------------

def test_a_payment_gets_its_receipt_and_pays_the_invoice(software, venissieux):
    software.post("/regies/R-001/invoices", {"invoices": [october()]})
    response = software.post("/regies/R-001/payments", {
        "amount": "48.40", "mode": "card", "invoices": ["CANT-2026-10-0042"],
        "external_ref": "CB-2026-000981", "details": {"terminal_ref": "TPE-000981"}})
    assert response.status_code == 201, response.json()
    expected = {
        "receipt": receipt(1), "regie": "R-001", "amount": "48.40", "mode": "card",
        "payer": "FAM-0042", "payer_name": "Famille Martin", "external_ref": "CB-2026-000981",
        "details": {"terminal_ref": "TPE-000981"}, "collected_by": "Logiciel métier "
                                                                   "cantine-ecoles",
        "allocations": [{"invoice": "CANT-2026-10-0042", "amount": "48.40"}],
        "reverses": None, "reversed_by": None, "reason": ""}
    assert without_time(response.json()) == expected
    assert without_time(software.get(f"/regies/R-001/payments/{receipt(1)}").json()) == expected
    invoice = software.get("/regies/R-001/invoices/CANT-2026-10-0042").json()
    assert (invoice["status"], invoice["amount_paid"], invoice["remaining"]) == (
        "paid", "48.40", "0.00")
    with in_schema(venissieux):
        entry = LedgerEntry.objects.get()
        assert (entry.agent, entry.source) == ("service:cantine-ecoles", "api")
        event = AuditEvent.objects.get(code="payment.recorded")
        assert (event.actor, event.actor_kind, event.ip) == (
            "service:cantine-ecoles", "service", SOFTWARE_IP)


def test_the_receipt_pdf(software):
    software.post("/regies/R-001/payments", card())
    response = software.get(f"/regies/R-001/payments/{receipt(1)}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'inline; filename="quittance-R-001-{receipt(1)}.pdf"')

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert f"Quittance n° {receipt(1)}" in text and "Logiciel métier cantine-ecoles" in text
    assert software.get("/regies/R-001/payments/2026-999999/pdf").status_code == 404


def test_a_batch_of_payments_gets_consecutive_receipts(software, venissieux):
    with in_schema(venissieux):
        a = make_invoice(software.regie, software.payer, "40.00", number="F-A")
        make_invoice(software.regie, software.payer, "40.00", number="F-B")
    response = software.post("/regies/R-001/payments", {"payments": [
        card("10.00", "PAY-1"),
        card("50", "PAY-2", allocations={"F-A": "30", "F-B": "20.00"}),
        {"amount": 20, "mode": "cash", "invoices": ["F-B"], "external_ref": "PAY-3"}]})
    assert response.status_code == 201, response.json()
    payments = response.json()["payments"]
    assert [(p["receipt"], p["amount"], p["allocations"]) for p in payments] == [
        (receipt(1), "10.00", []),
        (receipt(2), "50.00", [{"invoice": "F-A", "amount": "30.00"},
                               {"invoice": "F-B", "amount": "20.00"}]),
        (receipt(3), "20.00", [{"invoice": "F-B", "amount": "20.00"}])]
    with in_schema(venissieux):
        a.refresh_from_db()
        assert a.amount_paid == Decimal("30.00")


def test_the_same_payment_sent_twice_is_posted_once(software, venissieux):
    first = software.post("/regies/R-001/payments", card(ref="CB-77"))
    assert first.status_code == 201
    again = software.post("/regies/R-001/payments", card(ref="CB-77"))
    assert (again.status_code, again.json()) == (409, {
        "code": "duplicate", "message": f"Le paiement CB-77 est déjà enregistré (quittance "
                                        f"{receipt(1)}).", "field": "external_ref", "line": 1})
    twice = software.post("/regies/R-001/payments", {"payments": [card(ref="CB-78"),
                                                                  card(ref="CB-78")]})
    assert (twice.status_code, twice.json()["message"], twice.json()["line"]) == (
        409, "Le paiement CB-78 apparaît deux fois.", 2)
    assert journal(venissieux) == [receipt(1)]


def closed_day(software, venissieux):
    with in_schema(venissieux):
        cashdesk.day_close(regie=software.regie, actor=TITULAIRE, counted={})


def other_payers_invoice(software, venissieux):
    with in_schema(venissieux):
        make_invoice(software.regie, make_payer(software.regie, "Famille Diallo"), "10.00",
                     number="F-DIALLO")


BAD_PAYMENTS = [
    ("three decimals", card("12.345"), None, 400, "invalid",
     "12.345 € a plus de deux décimales.", "amount"),
    ("a float", card(12.5), None, 400, "invalid",
     "« 12.5 » : montant à transmettre sous forme de texte ou de décimal, pas de nombre "
     "flottant.", "amount"),
    ("negative", card("-5.00"), None, 400, "invalid", "Le montant doit être positif.",
     "amount"),
    ("zero", card("0"), None, 400, "invalid", "Le montant doit être positif.", "amount"),
    ("not an amount", card("douze"), None, 400, "invalid", "« douze » n'est pas un montant.",
     "amount"),
    ("cash above the legal limit",
     {"amount": "300.01", "mode": "cash", "payer": "FAM-0042", "external_ref": "E-1"}, None,
     400, "invalid", "Un paiement en espèces est limité à 300 € (CGI, art. 1680) : proposez "
                     "un chèque, la carte ou un virement.", "amount"),
    ("a mode the régie does not accept", {**card(), "mode": "direct_debit"}, None, 400,
     "invalid", "La régie Cantine et périscolaire n'accepte pas ce mode de paiement "
                "(prélèvement SEPA).", "mode"),
    ("an unknown mode", {**card(), "mode": "bitcoin"}, None, 400, "invalid",
     "Mode de paiement inconnu : « bitcoin ».", "mode"),
    ("a card payment without its ticket", {**card(), "details": {}}, None, 400, "invalid",
     "Indiquez la référence du ticket du terminal.", "terminal_ref"),
    ("no external reference", card(ref=""), None, 400, "invalid",
     "Indiquez la référence du paiement dans votre logiciel (external_ref) : elle garantit "
     "qu'un paiement envoyé deux fois n'est encaissé qu'une fois.", "external_ref"),
    ("an unknown payer", card(payer="FAM-9999"), None, 404, "not_found",
     "Aucun payeur de référence « FAM-9999 » dans la régie Cantine et périscolaire.",
     "payer"),
    ("an unknown invoice", card(invoices=["F-404"]), None, 404, "not_found",
     "Aucune facture F-404 dans la régie Cantine et périscolaire.", "invoices"),
    ("an invoice of another payer", card(invoices=["F-DIALLO"]), other_payers_invoice, 400,
     "invalid", "La facture F-DIALLO est adressée à un autre payeur (Famille Diallo) : un "
                "paiement ne règle que les factures de son payeur.", "invoices"),
    ("a closed day", card(), closed_day, 409, "refused",
     f"La journée du {timezone.localdate():%d/%m/%Y} est arrêtée pour la régie Cantine et "
     "périscolaire : elle ne prend plus d'écriture.", None),
    ("a misspelt field", {**card(), "externalref": "X"}, None, 422, "invalid",
     "externalref : champ inconnu.", "externalref"),
    ("a missing amount", {"mode": "card", "external_ref": "X"}, None, 422, "invalid",
     "amount : manque.", "amount"),
    ("an amount that is not a string", card(["12"]), None, 422, "invalid",
     "amount : doit être un montant en texte, par exemple « 12.50 ».", "amount"),
]


@pytest.mark.parametrize(("payment", "before", "status", "code", "message", "field"),
                         [case[1:] for case in BAD_PAYMENTS], ids=[c[0] for c in BAD_PAYMENTS])
def test_a_bad_payment_is_refused_clearly_and_changes_nothing(software, venissieux, payment,
                                                              before, status, code, message,
                                                              field):
    if before:
        before(software, venissieux)
    response = software.post("/regies/R-001/payments", payment)
    line = None if code == "refused" else 1
    assert (response.status_code, response.json()) == (status, {
        "code": code, "message": message, "field": field, "line": line})
    assert journal(venissieux) == []


def test_a_batch_with_one_bad_payment_posts_none(software, venissieux):
    response = software.post("/regies/R-001/payments", {"payments": [
        card(ref="P-1"), card(ref="P-2"), card("1.999", ref="P-3")]})
    assert (response.status_code, response.json()) == (400, {
        "code": "invalid", "message": "1.999 € a plus de deux décimales.", "field": "amount",
        "line": 3})
    response = software.post("/regies/R-001/payments", {"payments": [
        card(ref="P-1"), {**card(ref="P-2"), "amount": None}]})
    assert (response.status_code, response.json()["field"], response.json()["line"]) == (
        422, "amount", 2)
    assert journal(venissieux) == []


@pytest.mark.parametrize("body", ['{"amount": "12.50", "mode": "card"', "amount=12.50",
                                  "\xff\xfe"])
def test_a_malformed_body_is_refused(software, venissieux, body):
    response = software.post("/regies/R-001/payments", raw=body)
    assert (response.status_code, response.json()) == (400, {
        "code": "malformed", "message": "Le corps de la requête n'est pas un document JSON "
                                        "valide.", "field": None, "line": None})
    assert journal(venissieux) == []


def test_a_payment_is_reversed_by_a_new_receipt(software, venissieux):
    software.post("/regies/R-001/payments", card())
    response = software.post(f"/regies/R-001/payments/{receipt(1)}/reversal",
                             {"reason": "Doublon du paiement en ligne"})
    assert response.status_code == 201, response.json()
    assert without_time(response.json()) == {
        "receipt": receipt(2), "regie": "R-001", "amount": "-12.50", "mode": "card",
        "payer": "FAM-0042", "payer_name": "Famille Martin", "external_ref": "",
        "details": {"annule": receipt(1)}, "collected_by": "Logiciel métier cantine-ecoles",
        "allocations": [], "reverses": receipt(1), "reversed_by": None,
        "reason": "Doublon du paiement en ligne"}
    assert software.get(f"/regies/R-001/payments/{receipt(1)}").json()["reversed_by"] == (
        receipt(2))
    again = software.post(f"/regies/R-001/payments/{receipt(1)}/reversal", {"reason": "encore"})
    assert (again.status_code, again.json()["code"], again.json()["message"]) == (
        409, "duplicate", f"La quittance {receipt(1)} est déjà annulée.")
    no_reason = software.post(f"/regies/R-001/payments/{receipt(2)}/reversal", {"reason": " "})
    assert (no_reason.status_code, no_reason.json()["message"]) == (
        400, "Donnez le motif de l'annulation.")
    assert journal(venissieux) == [receipt(1), receipt(2)]


def test_the_software_cannot_reverse_an_agents_payment(software, venissieux):
    with in_schema(venissieux):
        payment_record(regie=software.regie, actor=TITULAIRE, amount="5", mode="cash",
                       payer=software.payer)
    response = software.post(f"/regies/R-001/payments/{receipt(1)}/reversal",
                             {"reason": "erreur"})
    assert (response.status_code, response.json()["code"]) == (403, "not_allowed")
    assert journal(venissieux) == [receipt(1)]
    assert software.get("/regies/R-001/payments/2026-12").status_code == 404
    assert software.get("/regies/R-001/payments/n-importe").status_code == 404


# --- Documentation -------------------------------------------------------------------------

def test_the_openapi_description_and_the_docs_are_served(venissieux):
    client = Client(HTTP_HOST=host_of(venissieux))
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "opsn — API de la commune"
    assert {"/api/v1/regies", "/api/v1/regies/{number}/payers",
            "/api/v1/regies/{number}/invoices",
            "/api/v1/regies/{number}/invoices/{invoice_number}",
            "/api/v1/regies/{number}/owed",
            "/api/v1/regies/{number}/invoices/{invoice_number}/pdf",
            "/api/v1/regies/{number}/payers/{external_ref}/mandates",
            "/api/v1/regies/{number}/payers/{external_ref}/mandates/{rum}",
            "/api/v1/regies/{number}/payers/{external_ref}/mandates/{rum}/revoke",
            "/api/v1/regies/{number}/collections",
            "/api/v1/regies/{number}/collections/{collection_id}/pain008.xml",
            "/api/v1/regies/{number}/collections/{collection_id}/confirm",
            "/api/v1/regies/{number}/direct-debit-returns",
            "/api/v1/regies/{number}/handovers",
            "/api/v1/regies/{number}/handovers/{handover_id}",
            "/api/v1/regies/{number}/handovers/{handover_id}/pes.xml",
            "/api/v1/regies/{number}/handovers/{handover_id}/cancel",
            "/api/v1/regies/{number}/deposits/{year}/{slip}/pes.xml",
            "/api/v1/regies/{number}/payments", "/api/v1/regies/{number}/payments/{receipt}",
            "/api/v1/regies/{number}/payments/{receipt}/pdf",
            "/api/v1/regies/{number}/payments/{receipt}/reversal"} == set(spec["paths"])
    amount = spec["components"]["schemas"]["PaymentIn"]["properties"]["amount"]
    assert amount["type"] == "string"
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_the_api_lane_keeps_the_security_headers_and_the_request_context(software):
    """The API skips what only pages need (sessions, CSRF): a cookie of a signed-in page
    changes nothing, no cookie is set, the headers a browser would enforce are there."""
    software.client.cookies["sessionid"] = "a-session-of-a-page"
    response = software.client.post(
        "/api/v1/regies/R-001/payments",
        json.dumps({"amount": "12.50", "mode": "card", "payer": "FAM-0042",
                    "external_ref": "TPE-LANE", "details": {"terminal_ref": "T-1"}}),
        content_type="application/json", HTTP_X_REQUEST_ID="req-lane-1")
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "req-lane-1"
    assert response["Content-Length"] == str(len(response.content))
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert not response.cookies
    # A page of the same commune still has its session and CSRF middlewares.
    page = Client(HTTP_HOST=software.client.defaults["HTTP_HOST"]).get("/espace/regies/")
    assert page.status_code in (200, 302)
    assert page.wsgi_request.session is not None
