"""SEPA mandates as the agents and the business software enter them: a paper mandate on
the payer's page, its amendment and revocation, and ``POST …/payers/{ref}/mandates`` on the
commune API. The full IBAN never leaves the form that enters it."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from opsn.agents.models import AgentRole
from opsn.agents.services import service_credential_issue
from opsn.direct_debit.models import Mandate
from opsn.direct_debit.services import creditor_set
from opsn.regies.services import founding
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import grant, make_account, sign_in_webtest
from tests.helpers.regies import ADMIN, OPENED, TITULAIRE, make_payer, make_regie

BASE = "/espace/regies"
CA_IBAN, CA_BIC = "FR76 3000 6000 0112 3456 7890 189", "AGRIFRPP"
LBP_IBAN, LBP_BIC = "FR1420041010050500013M02606", "PSSTFRPPLYO"


def text_of(page) -> str:
    return re.sub(r"\s+", " ", page.html.get_text(" ").replace("\xa0", " "))


def form_of(page, action_suffix: str):
    return next(f for f in page.forms.values()
                if f.method.lower() == "post" and f.action.endswith(action_suffix))


@pytest.fixture
def sepa_regie(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        creditor_set(regie=regie, ics="FR72ZZZ123456", iban="FR7630001007941234567890185",
                     bic="BDFEFRPP", name="Ville de Vénissieux", actor=ADMIN)
        payer = make_payer(regie, external_ref="FAM-0042")
    return regie, payer


@pytest.fixture
def titulaire(django_app, venissieux):
    make_account(TITULAIRE.account)
    with in_schema(venissieux):
        roles = list(AgentRole.objects.filter(account=TITULAIRE.account)
                     .values_list("role", flat=True))
    grant(venissieux, TITULAIRE.account, *roles)
    sign_in_webtest(django_app, host_of(venissieux), TITULAIRE.account)
    django_app.extra_environ = {**django_app.extra_environ, "HTTP_HOST": host_of(venissieux)}
    return django_app


def test_an_agent_records_amends_and_revokes_a_paper_mandate(venissieux, sepa_regie,
                                                             titulaire):
    regie, payer = sepa_regie
    payer_url = f"{BASE}/{regie.number}/payeurs/{payer.pk}/"
    page = titulaire.get(payer_url)
    assert "Aucun mandat de prélèvement" in text_of(page)
    form = form_of(page.click("Enregistrer un mandat papier"), "/mandats/nouveau/")
    form["iban"], form["bic"], form["signed_on"] = "FR7630006000011234567890188", CA_BIC, \
        "2026-09-01"
    refused = form.submit(status=400)
    assert "L'IBAN « •••• 0188 » est erroné" in text_of(refused)
    form = form_of(refused, "/mandats/nouveau/")
    form["iban"] = CA_IBAN
    page = form.submit().follow()
    with in_schema(venissieux):
        mandate = Mandate.objects.get(payer=payer)
    assert mandate.rum in text_of(page) and "•••• 0189" in text_of(page)
    assert "1234567890189" not in page.text
    page = titulaire.get(f"{payer_url}mandats/{mandate.pk}/")
    assert "•••• 0189" in text_of(page) and "1234567890189" not in page.text
    amend = form_of(page, "/modifier/")
    amend["iban"], amend["bic"] = LBP_IBAN, "PS"
    refused = amend.submit(status=400)
    assert "Le BIC « PS » est erroné" in text_of(refused)
    amend = form_of(refused, "/modifier/")
    amend["bic"] = LBP_BIC
    page = amend.submit().follow()
    assert f"Mandat {mandate.rum}" in text_of(page) and "•••• 2606" in text_of(page)
    assert "la référence reste la même" in text_of(page)
    revoke = form_of(page, "/revoquer/")
    revoke["reason"] = "Lettre de la famille"
    page = revoke.submit().follow()
    assert "Révoqué depuis le" in text_of(page)
    with in_schema(venissieux):
        assert Mandate.objects.get(pk=mandate.pk).status == "revoked"


def test_a_nul_byte_or_a_huge_iban_is_a_clear_refusal(venissieux, sepa_regie, titulaire):
    regie, payer = sepa_regie
    page = titulaire.get(f"{BASE}/{regie.number}/payeurs/{payer.pk}/mandats/nouveau/")
    form = form_of(page, "/mandats/nouveau/")
    form["iban"], form["bic"], form["signed_on"] = "FR76\x00300", CA_BIC, "2026-09-01"
    assert form.submit(expect_errors=True).status_code == 400
    form["iban"] = "9" * 59
    refused = form.submit(status=400)
    assert "est erroné" in text_of(refused)


@pytest.fixture
def software(venissieux, sepa_regie):
    regie, _ = sepa_regie
    with in_schema(venissieux):
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
    return Client(HTTP_HOST=host_of(venissieux), HTTP_AUTHORIZATION=f"Bearer {secret}")


def push(client, payload, ref="FAM-0042"):
    return client.post(f"/api/v1/regies/R-001/payers/{ref}/mandates", json.dumps(payload),
                       content_type="application/json")


def test_the_business_software_pushes_a_mandate(venissieux, software):
    payload = {"debtor_name": "Famille Martin", "iban": CA_IBAN, "bic": CA_BIC,
               "signed_on": "2026-09-01", "rum": "CANTINE-FAM-0042-1"}
    created = push(software, payload)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["rum"] == "CANTINE-FAM-0042-1" and body["iban"] == "•••• 0189"
    assert "1234567890189" not in created.content.decode()
    again = push(software, payload)
    assert again.status_code == 200 and again.json() == body
    amended = push(software, {**payload, "iban": LBP_IBAN, "bic": LBP_BIC})
    assert amended.status_code == 200
    assert amended.json()["rum"] == "CANTINE-FAM-0042-1"
    assert amended.json()["iban"] == "•••• 2606"
    with in_schema(venissieux):
        mandate = Mandate.objects.get(rum="CANTINE-FAM-0042-1")
        assert mandate.iban == LBP_IBAN and mandate.source == "api"
        assert Mandate.objects.count() == 1
    listed = software.get("/api/v1/regies/R-001/payers/FAM-0042/mandates")
    assert [m["iban"] for m in listed.json()] == ["•••• 2606"]


@pytest.mark.parametrize(("payload", "status", "words"), [
    ({"iban": "FR7630006000011234567890188"}, 400, "est erroné"),
    ({"signed_on": None}, 400, "date de signature"),
    ({"rum": "É" * 10}, 400, "35 caractères au plus"),
    ({"debtor_name": "a\x00b"}, 400, ""),
    ({"iban": "9" * 100}, 422, ""),
])
def test_a_bad_mandate_is_refused_clearly(venissieux, software, payload, status, words):
    good = {"debtor_name": "Famille Martin", "iban": CA_IBAN, "bic": CA_BIC,
            "signed_on": "2026-09-01"}
    refused = push(software, {**good, **payload})
    assert refused.status_code == status, refused.content
    assert words in refused.json()["message"]
    with in_schema(venissieux):
        assert not Mandate.objects.exists()


def test_an_unknown_payer_is_a_404(venissieux, software):
    refused = push(software, {"debtor_name": "X", "iban": CA_IBAN, "bic": CA_BIC,
                              "signed_on": "2026-09-01"}, ref="NOPE")
    assert refused.status_code == 404
    assert "Aucun payeur de référence « NOPE »" in refused.json()["message"]
