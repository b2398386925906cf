"""The operator's HTTP API: what a client script sees."""

import json

from django.test import Client
from django.utils import timezone

from opsn.accounts.models import OperatorApiToken
from opsn.communes.models import Commune
from tests.helpers.communes import BOTH_DATABASES, EAST


def post(client, url, payload=None):
    return client.post(url, json.dumps(payload or {}), content_type="application/json")


def test_the_api_requires_a_token(db):
    anonymous = Client(HTTP_HOST="console.localhost")
    assert anonymous.get("/api/v1/communes").status_code == 401
    wrong = Client(HTTP_HOST="console.localhost", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.get("/api/v1/communes").status_code == 401


def test_a_revoked_token_is_refused(api, api_token):
    OperatorApiToken.objects.update(revoked_at=timezone.now())
    assert api.get("/api/v1/communes").status_code == 401


def test_the_api_is_only_served_on_the_operator_hosts(api_token):
    commune_host = Client(HTTP_HOST="venissieux.localhost",
                          HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert commune_host.get("/api/v1/communes").status_code == 404


def test_list_and_find_communes(api):
    body = api.get("/api/v1/communes").json()
    assert body["count"] == 2
    venissieux = next(c for c in body["items"] if c["insee_code"] == "69259")
    assert venissieux["name"] == "Vénissieux"
    assert venissieux["population"] == 65_502
    assert venissieux["status"] == "active"
    assert venissieux["domains"] == [{"domain": "venissieux.localhost", "is_primary": True}]
    assert "regies" in venissieux["modules"]

    assert [c["name"] for c in api.get("/api/v1/communes?q=vaulx").json()["items"]] == [
        "Vaulx-en-Velin"]
    assert api.get("/api/v1/communes?status=suspended").json()["count"] == 0


def test_onboard_one_commune(api):
    response = post(api, "/api/v1/communes", {"insee_code": "69273", "modules": ["regies"],
                                              "custom_domains": ["paiements.corbas.fr"]})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Corbas"
    assert body["modules"] == ["regies"]
    assert {d["domain"] for d in body["domains"]} == {"corbas.localhost", "paiements.corbas.fr"}
    assert body["schema_name"] == "c_69273"


@BOTH_DATABASES
def test_onboard_into_a_chosen_database(api):
    response = post(api, "/api/v1/communes", {"insee_code": "69273", "database": EAST})
    assert response.status_code == 201
    assert response.json()["database"] == EAST
    unknown = post(api, "/api/v1/communes", {"insee_code": "69091", "database": "west"})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_database")
    assert unknown.json()["field"] == "database"


def test_errors_are_json_with_a_code_a_message_and_the_right_status(api):
    unknown = post(api, "/api/v1/communes", {"insee_code": "99999"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_insee_code"
    assert unknown.json()["field"] == "insee_code"

    already = post(api, "/api/v1/communes", {"insee_code": "69259"})
    assert already.status_code == 409
    assert already.json()["code"] == "already_onboarded"

    bad_domain = post(api, "/api/v1/communes", {"insee_code": "69273",
                                                "custom_domains": ["http://x"]})
    assert bad_domain.status_code == 400
    assert bad_domain.json()["code"] == "invalid_domain"

    taken = post(api, "/api/v1/communes/69259/domains", {"domain": "vaulx-en-velin.localhost"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "domain_taken"

    assert api.get("/api/v1/communes/12345").status_code == 404
    assert post(api, "/api/v1/communes", {"modules": "x"}).status_code == 422
    assert not Commune.objects.filter(insee_code="69273").exists()


def test_suspend_and_resume(api):
    body = post(api, "/api/v1/communes/69259/suspend", {"reason": "impayés"}).json()
    assert (body["status"], body["status_reason"]) == ("suspended", "impayés")
    assert post(api, "/api/v1/communes/69259/suspend").status_code == 409
    assert post(api, "/api/v1/communes/69259/resume").json()["status"] == "active"


def test_domains_and_modules(api):
    body = post(api, "/api/v1/communes/69259/domains", {"domain": "Paiements.Venissieux.fr"})
    assert body.status_code == 201
    assert {"domain": "paiements.venissieux.fr", "is_primary": False} in body.json()["domains"]
    body = api.delete("/api/v1/communes/69259/domains/paiements.venissieux.fr").json()
    assert [d["domain"] for d in body["domains"]] == ["venissieux.localhost"]
    assert api.delete("/api/v1/communes/69259/domains/venissieux.localhost").status_code == 409

    body = api.put("/api/v1/communes/69259/modules", json.dumps({"modules": ["regies"]}),
                   content_type="application/json").json()
    assert body["modules"] == ["regies"]


def test_onboard_an_epci_in_a_batch(api):
    response = post(api, "/api/v1/batches", {"epci_siren": "243400017", "modules": ["regies"]})
    assert response.status_code == 202
    batch = api.get(f"/api/v1/batches/{response.json()['id']}").json()
    assert batch["label"] == "Montpellier Méditerranée Métropole"
    assert (batch["total"], batch["processed"], batch["errors"]) == (31, 31, {})
    assert Commune.objects.filter(epci_siren="243400017").count() == 31

    again = post(api, "/api/v1/batches", {"epci_siren": "243400017"}).json()
    assert set(again["outcomes"].values()) == {"already onboarded"}

    unknown = post(api, "/api/v1/batches", {"epci_siren": "000000000"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_epci")


def test_the_openapi_description_lists_every_operation(api):
    spec = api.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/communes", "/api/v1/communes/{insee_code}",
            "/api/v1/communes/{insee_code}/suspend", "/api/v1/communes/{insee_code}/offboard",
            "/api/v1/communes/{insee_code}/billing", "/api/v1/batches"} <= set(spec["paths"])


def test_set_the_chorus_pro_routing_of_a_commune(api):
    response = api.put("/api/v1/communes/69259/billing", json.dumps({
        "billing_siret": "21690259300013", "engagement_number": "EJ-7",
        "engagement_number_required": True}), content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    assert (body["billing_siret"], body["service_code"], body["engagement_number"],
            body["engagement_number_required"]) == ("21690259300013", "", "EJ-7", True)

    refused = api.put("/api/v1/communes/69259/billing", json.dumps({
        "billing_siret": "21690259300013", "engagement_number": "",
        "engagement_number_required": True}), content_type="application/json")
    assert refused.status_code == 400
    assert refused.json() == {"code": "invalid_billing_identifier",
                              "message": "Vénissieux exige un numéro d'engagement : "
                                         "donnez-le.", "field": "engagement_number"}
    bad = api.put("/api/v1/communes/69259/billing", json.dumps({
        "billing_siret": "2169025930001\u0000"}), content_type="application/json")
    assert (bad.status_code, bad.json()["field"]) == (400, "billing_siret")
    assert Commune.objects.get(insee_code="69259").engagement_number == "EJ-7"
