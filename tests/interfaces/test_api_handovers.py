"""The hand-over to the public accountant from the commune's API: created by a rule
(due before a day, at least an amount) or for the invoices named, read with its state and
its lines, cancelled before acceptance; refusals in the API's error shape, nothing half
made; documented in the OpenAPI description."""

import json

import pytest
from django.test import Client

from opsn.agents.models import AgentRole, Role
from opsn.agents.services import service_credential_issue
from opsn.finance.acks import ack_import
from opsn.finance.models import UnpaidHandover
from opsn.regies.services import founding
from tests.commune.test_finance_acks import ack_xml
from tests.commune.test_finance_handover import unpaid  # noqa: F401 (fixture)
from tests.helpers.communes import host_of, in_schema
from tests.helpers.regies import ADMIN, OPENED


@pytest.fixture
def finance_software(venissieux, unpaid):  # noqa: F811
    regie, _ = unpaid
    with in_schema(venissieux):
        credential, secret = service_credential_issue(name="gestion-financiere", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
        AgentRole.objects.create(account=credential.account, role=Role.FINANCE)
        cashier, cashier_secret = service_credential_issue(name="cantine", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=cashier.account,
                                  role="mandataire", starts_on=OPENED)
    return (Client(HTTP_HOST=host_of(venissieux), HTTP_AUTHORIZATION=f"Bearer {secret}"),
            Client(HTTP_HOST=host_of(venissieux),
                   HTTP_AUTHORIZATION=f"Bearer {cashier_secret}"))


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def test_a_hand_over_by_rule_is_read_back_with_its_lines_and_cancelled(venissieux,
                                                                       finance_software):
    client, _ = finance_software
    made = post(client, "/api/v1/regies/R-001/handovers",
                {"due_before": "2026-11-15", "min_amount": "20.00"})
    assert made.status_code == 201, made.content
    body = made.json()
    # F-2 owes 10.50 only: left out by min_amount
    assert (body["number"], body["count"], body["total"], body["state"]) == (
        1, 2, "77.00", "sent")
    assert [(x["invoice"], x["amount"], x["state"]) for x in body["lines"]] == [
        ("F-1", "53.00", "pending"), ("F-3", "24.00", "pending")]
    read = client.get(f"/api/v1/regies/R-001/handovers/{body['id']}", {"limit": 1}).json()
    assert [x["invoice"] for x in read["lines"]] == ["F-1"] and read["next_offset"] == 1
    xml = client.get(f"/api/v1/regies/R-001/handovers/{body['id']}/pes.xml")
    assert xml.status_code == 200 and b"<MtBordHt V=\"77.00\" />" in xml.content
    cancelled = post(client, f"/api/v1/regies/R-001/handovers/{body['id']}/cancel",
                     {"reason": "Montant minimum mal choisi"})
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert {x["state"] for x in cancelled.json()["lines"]} == {"cancelled"}


def test_a_hand_over_of_named_invoices_and_its_refusals(venissieux, finance_software):
    client, cashier = finance_software
    refused = post(client, "/api/v1/regies/R-001/handovers", {"invoices": ["F-3", "F-PAID"]})
    assert refused.status_code == 400
    assert refused.json()["field"] == "invoices"
    assert "La facture F-PAID ne peut pas être transmise : elle est payée" in (
        refused.json()["message"])
    later = post(client, "/api/v1/regies/R-001/handovers", {"invoices": ["F-NOPE"]})
    assert "n'a pas de facture F-NOPE" in later.json()["message"]
    with in_schema(venissieux):
        assert not UnpaidHandover.objects.exists()  # all or nothing
    made = post(client, "/api/v1/regies/R-001/handovers", {"invoices": ["F-3", "F-1"]})
    assert made.status_code == 201
    assert [x["invoice"] for x in made.json()["lines"]] == ["F-1", "F-3"]
    again = post(client, "/api/v1/regies/R-001/handovers", {"invoices": ["F-1"]})
    assert "déjà transmise au comptable public" in again.json()["message"]
    # a cashier's software may not hand over
    denied = post(cashier, "/api/v1/regies/R-001/handovers", {"due_before": "2026-11-15"})
    assert denied.status_code == 403
    # bad input: no rule, a bad amount, an unknown hand-over
    assert post(client, "/api/v1/regies/R-001/handovers", {}).status_code == 422
    bad = post(client, "/api/v1/regies/R-001/handovers",
               {"due_before": "2026-11-15", "min_amount": "1e999999"})
    assert (bad.status_code, bad.json()["field"]) == (400, "min_amount")
    assert client.get("/api/v1/regies/R-001/handovers/999999").status_code == 404
    # accepted: no longer cancelled
    handover_id = made.json()["id"]
    with in_schema(venissieux):
        done = UnpaidHandover.objects.get(pk=handover_id)
        ack_import(handover=done, data=ack_xml(done, whole="1"), file_name="a.xml",
                   actor=ADMIN)
    read = client.get(f"/api/v1/regies/R-001/handovers/{handover_id}").json()
    assert read["state"] == "accepted" and {x["state"] for x in read["lines"]} == {"accepted"}
    late = post(client, f"/api/v1/regies/R-001/handovers/{handover_id}/cancel",
                {"reason": "trop tard"})
    assert late.status_code == 403 and "ne peut plus être annulé" in late.json()["message"]


def test_the_openapi_description_has_the_hand_over(venissieux, finance_software):
    client, _ = finance_software
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/regies/{number}/handovers",
            "/api/v1/regies/{number}/handovers/{handover_id}",
            "/api/v1/regies/{number}/handovers/{handover_id}/cancel",
            "/api/v1/regies/{number}/handovers/{handover_id}/pes.xml"} <= set(spec["paths"])
    create = spec["paths"]["/api/v1/regies/{number}/handovers"]["post"]
    assert "Transmet au comptable public" in create["description"]

