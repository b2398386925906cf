"""SEPA mandates as the agents and the business software enter them: a paper mandate on
the payer's page, its amendment and revocation, and ``POST …/payers/{ref}/mandates`` on the
commune API. The full IBAN never leaves the form that enters it."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from opsn.agents.models import AgentRole
from opsn.agents.services import service_credential_issue
from opsn.audit.models import AuditEvent
from opsn.direct_debit.models import Collection, Creditor, Mandate
from opsn.direct_debit.services import creditor_set, mandate_record
from opsn.regies.errors import NotAllowed
from opsn.regies.services import founding
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import grant, make_account, sign_in_webtest
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    OPENED,
    TITULAIRE,
    make_invoice,
    make_payer,
    make_regie,
)

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
    refused = revoke.submit(status=400)  # not confirmed
    assert "Cochez la confirmation pour révoquer le mandat" in text_of(refused)
    with in_schema(venissieux):
        assert Mandate.objects.get(pk=mandate.pk).status == "active"
    revoke = form_of(refused, "/revoquer/")
    revoke["confirm"] = True
    page = revoke.submit().follow()
    assert "Révoqué depuis le" in text_of(page)
    with in_schema(venissieux):
        assert Mandate.objects.get(pk=mandate.pk).status == "revoked"


def test_a_paper_mandate_without_signature_date_is_refused(venissieux, sepa_regie,
                                                          titulaire):
    regie, payer = sepa_regie
    page = titulaire.get(f"{BASE}/{regie.number}/payeurs/{payer.pk}/mandats/nouveau/")
    form = form_of(page, "/mandats/nouveau/")
    form["iban"], form["bic"], form["signed_on"] = CA_IBAN, CA_BIC, ""
    refused = form.submit(status=400)
    assert "Signé le" in text_of(refused) and "obligatoire" in text_of(refused)
    assert form_of(refused, "/mandats/nouveau/")["iban"].value == CA_IBAN  # to correct
    with in_schema(venissieux):
        assert not Mandate.objects.exists()


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


# --- The régie as creditor, collections from the pages and the API ------------------------

def collection_day() -> datetime.date:
    day = timezone.localdate() + datetime.timedelta(days=3)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


def test_the_titulaire_enters_the_creditor_and_bad_identifiers_are_refused(
        venissieux, sepa_regie, titulaire):
    regie, _ = sepa_regie
    page = titulaire.get(f"{BASE}/{regie.number}/prelevement/")
    assert page.html.title.get_text().startswith(f"Prélèvement SEPA – {regie.name} – ")
    assert len(page.html.find_all(id="retours")) == 1  # the returns' section, once
    assert "FR72ZZZ123456" in text_of(page) and "•••• 0185" in text_of(page)
    assert "30001007941234567890185" not in page.text
    form = form_of(page, "/prelevement/creancier/")
    form["ics"], form["iban"], form["bic"] = "FR73ZZZ123456", "FR76 3000 1007 9412 3456 7890 " \
        "185", "BDFEFRPP"
    refused = form.submit(status=400)
    assert "ses chiffres de contrôle ne correspondent pas" in text_of(refused)
    form = form_of(refused, "/prelevement/creancier/")
    form["ics"], form["iban"] = "FR72 ZZZ 123456", "FR76 3000 1007 9412 3456 7890 186"
    refused = form.submit(status=400)
    assert "L'IBAN « •••• 0186 » est erroné" in text_of(refused)
    form = form_of(refused, "/prelevement/creancier/")
    form["iban"], form["name"] = "FR76 1007 1690 0000 0100 0090 806", "Cantine de Vénissieux"
    form["bic"] = "TRPUFRP1"
    page = form.submit().follow()
    assert "Créancier SEPA enregistré : ICS FR72ZZZ123456, compte •••• 0806" in text_of(page)
    assert "10071690000001000090806" not in page.text
    with in_schema(venissieux):
        assert Creditor.objects.get(regie=regie).name == "Cantine de Vénissieux"
        assert AuditEvent.objects.filter(code="sepa.creditor_saved").count() == 2


def test_a_mandataire_may_not_change_the_creditor(venissieux, sepa_regie):
    regie, _ = sepa_regie
    with in_schema(venissieux), pytest.raises(NotAllowed, match="titulaire"):
        creditor_set(regie=regie, ics="FR72ZZZ123456", iban=CA_IBAN, bic=CA_BIC, name="X",
                     actor=MANDATAIRE)


def test_a_collection_prepared_confirmed_and_downloaded_from_the_pages(
        venissieux, sepa_regie, titulaire):
    regie, payer = sepa_regie
    with in_schema(venissieux):
        make_invoice(regie, payer, "45.00", "12.50", number="CANT-1")
        make_invoice(regie, payer, "30.00", number="CANT-2")
        mandate_record(payer=payer, debtor_name="Famille Martin", iban=CA_IBAN, bic=CA_BIC,
                       signed_on=datetime.date(2026, 9, 1), actor=ADMIN)
    day = collection_day()
    page = titulaire.get(f"{BASE}/{regie.number}/prelevement/")
    assert "Aucune remise" in text_of(page)
    form = next(f for f in page.forms.values() if f.action.endswith("/prelevement/remise/"))
    form["date"] = "2026-02-30"
    assert form.submit(status=400)
    form["date"] = day.isoformat()
    preview = form.submit()
    assert "2 factures" in text_of(preview) and "87,50 €" in text_of(preview)
    with in_schema(venissieux):
        assert not Collection.objects.exists()  # a preview writes nothing
    done = form_of(preview, "/prelevement/remise/").submit().follow()
    with in_schema(venissieux):
        collection = Collection.objects.get()
    assert f"Remise {collection.message_id}" in text_of(done)
    assert "CANT-1" in text_of(done) and "•••• 0189" in text_of(done)
    assert "1234567890189" not in done.text
    xml = done.click("Télécharger le fichier pain.008")
    assert xml.content_type == "application/xml"
    assert b"<CtrlSum>87.50</CtrlSum>" in xml.body and b"<SeqTp>FRST</SeqTp>" in xml.body
    listed = titulaire.get(f"{BASE}/{regie.number}/prelevement/")
    assert collection.message_id in text_of(listed) and "87,50 €" in text_of(listed)
    again = form_of(preview, "/prelevement/remise/").submit(status=400)  # replayed
    assert "Aucune facture à prélever" in text_of(again)
    with in_schema(venissieux):
        assert Collection.objects.count() == 1


def test_the_software_amends_revokes_and_collects(venissieux, software, sepa_regie):
    regie, payer = sepa_regie
    with in_schema(venissieux):
        make_invoice(regie, payer, "45.00", number="CANT-1")
    created = push(software, {"debtor_name": "Famille Martin", "iban": CA_IBAN, "bic": CA_BIC,
                              "signed_on": "2026-09-01", "rum": "CANT-42"})
    assert created.status_code == 201
    url = "/api/v1/regies/R-001/payers/FAM-0042/mandates/CANT-42"
    bad = software.patch(url, json.dumps({"iban": "FR7630006000011234567890188",
                                          "bic": CA_BIC}), content_type="application/json")
    assert bad.status_code == 400 and "est erroné" in bad.json()["message"]
    amended = software.patch(url, json.dumps({"iban": LBP_IBAN, "bic": LBP_BIC}),
                             content_type="application/json")
    assert amended.status_code == 200, amended.content
    assert amended.json()["rum"] == "CANT-42" and amended.json()["iban"] == "•••• 2606"
    missing = software.patch(url.replace("CANT-42", "NOPE"), json.dumps(
        {"iban": LBP_IBAN, "bic": LBP_BIC}), content_type="application/json")
    assert missing.status_code == 404

    day = collection_day()
    started = software.post("/api/v1/regies/R-001/collections",
                            json.dumps({"date": day.isoformat()}),
                            content_type="application/json")
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["count"] == 1 and body["total"] == "45.00"
    assert body["collection_date"] == day.isoformat()
    file = software.get(body["download_url"])
    assert file.status_code == 200 and b"<CtrlSum>45.00</CtrlSum>" in file.content
    assert b"FR1420041010050500013M02606" in file.content
    listed = software.get("/api/v1/regies/R-001/collections")
    assert [c["message_id"] for c in listed.json()] == [body["message_id"]]
    replay = software.post("/api/v1/regies/R-001/collections",
                           json.dumps({"date": day.isoformat()}),
                           content_type="application/json")
    assert replay.status_code == 400 and "Aucune facture" in replay.json()["message"]
    past = software.post("/api/v1/regies/R-001/collections", json.dumps({"date": "2020-01-06"}),
                         content_type="application/json")
    assert past.status_code == 400 and "est passée" in past.json()["message"]
    nonsense = software.post("/api/v1/regies/R-001/collections",
                             json.dumps({"date": "2026-02-30"}),
                             content_type="application/json")
    assert nonsense.status_code == 422

    revoked = software.post(f"{url}/revoke", json.dumps({"reason": "Courrier du 2/12"}),
                            content_type="application/json")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    twice = software.post(f"{url}/revoke", json.dumps({"reason": "encore"}),
                          content_type="application/json")
    assert twice.status_code == 409
