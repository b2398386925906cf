"""SEPA direct debit, the bank's side from the régie's pages and the commune API: the
agent confirms a collection the bank credited (the journal takes its debits, once, even on
a closed counter day), imports the bank's camt.054 return report (returned, ignored with
why; a bad file changes nothing); the returns show to the agent and the family."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from webtest import Upload

from opsn.agents.models import AgentRole
from opsn.agents.services import service_credential_issue
from opsn.direct_debit.booking import collection_confirm
from opsn.direct_debit.models import CollectionLine, Confirmation, DebitReturn, ReturnFile
from opsn.direct_debit.returns import returns_import
from opsn.direct_debit.services import collect, creditor_set, mandate_record
from opsn.regies.models import EntrySource, Invoice, LedgerEntry
from opsn.regies.services import cashdesk, founding
from tests.commune.test_direct_debit_booking import (
    CA_BIC,
    CA_IBAN,
    DFT_IBAN,
    ICS,
    LBP_BIC,
    LBP_IBAN,
    MODES,
    camt054,
    weekday_before,
)
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import grant, make_account, sign_in, sign_in_webtest
from tests.helpers.regies import ADMIN, OPENED, TITULAIRE, make_invoice, make_payer, make_regie

BASE = "/espace/regies"


def text_of(page) -> str:
    return re.sub(r"\s+", " ", page.html.get_text(" ").replace("\xa0", " "))


def form_of(page, action_suffix: str):
    return next(f for f in page.forms.values()
                if f.method.lower() == "post" and f.action.endswith(action_suffix))


@pytest.fixture
def books(venissieux):
    """Two families with a mandate, three invoices, collected on a past weekday."""
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        creditor_set(regie=regie, ics=ICS, iban=DFT_IBAN, bic="BDFEFRPP",
                     name="Ville de Vénissieux – cantine", actor=ADMIN)
        martin = make_payer(regie, "Famille Martin", email="famille.martin@example.fr",
                            external_ref="FAM-1")
        diallo = make_payer(regie, "Famille Diallo", email="famille.diallo@example.fr",
                            external_ref="FAM-2")
        signed = datetime.date(2026, 9, 1)
        for payer, iban, bic in ((martin, CA_IBAN, CA_BIC), (diallo, LBP_IBAN, LBP_BIC)):
            mandate_record(payer=payer, debtor_name=payer.name, iban=iban, bic=bic,
                           signed_on=signed, actor=ADMIN, today=signed)
        invoices = [make_invoice(regie, martin, "45.10", number="FAC-1"),
                    make_invoice(regie, martin, "12.35", number="FAC-2"),
                    make_invoice(regie, diallo, "66.68", number="FAC-3")]
        day = weekday_before(3)
        collection = collect(regie=regie, collection_date=day, actor=TITULAIRE,
                             today=day - datetime.timedelta(days=1))
        return regie, (martin, diallo), invoices, collection


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


@pytest.fixture
def software(venissieux, books):
    regie = books[0]
    with in_schema(venissieux):
        credential, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
    return Client(HTTP_HOST=host_of(venissieux), HTTP_AUTHORIZATION=f"Bearer {secret}")


def debits(regie):
    return list(LedgerEntry.objects.filter(regie=regie, source=EntrySource.DIRECT_DEBIT)
                .order_by("receipt_number"))


# --- Confirming a collection --------------------------------------------------------------

def test_the_agent_confirms_a_collection_on_a_closed_day_once(venissieux, books, titulaire):
    regie, _, _, collection = books
    day = collection.collection_date
    with in_schema(venissieux):
        cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={}, day=day)
    page = titulaire.get(f"{BASE}/{regie.number}/prelevement/remises/{collection.pk}/")
    assert "Enregistrer la confirmation" in text_of(page)
    form = form_of(page, "/confirmer/")
    assert form["credited_on"].value == day.isoformat()
    refused = form.submit(status=400)  # the confirmation box not ticked
    assert "Cochez la confirmation" in text_of(refused)
    with in_schema(venissieux):
        assert debits(regie) == []
    form = form_of(refused, "/confirmer/")
    form["credited_on"] = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    form["confirm"] = True
    future = form.submit(status=400)
    assert "est à venir" in text_of(future)
    form = form_of(future, "/confirmer/")
    form["credited_on"], form["confirm"] = day.isoformat(), True
    done = form.submit().follow()
    words = text_of(done)
    assert f"Remise {collection.message_id} confirmée : 3 prélèvement(s)" in words
    assert "124,13 €" in words and "Quittances" in words
    with in_schema(venissieux):
        entries = debits(regie)
        confirmation = Confirmation.objects.get()
    # The counter day was closed: the debits go to the next open day, never refused.
    assert {e.day for e in entries} == {day + datetime.timedelta(days=1)}
    assert (f"{confirmation.first_receipt} à {confirmation.last_receipt}" in words)
    assert "Enregistrer la confirmation" not in words
    replay = form.submit(status=409)  # the same form sent again (a double click, a back)
    assert "est déjà confirmée" in text_of(replay)
    with in_schema(venissieux):
        assert len(debits(regie)) == 3


def test_a_collection_not_yet_due_offers_no_confirmation(venissieux, titulaire):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        creditor_set(regie=regie, ics=ICS, iban=DFT_IBAN, bic="BDFEFRPP", name="Cantine",
                     actor=ADMIN)
        payer = make_payer(regie)
        mandate_record(payer=payer, debtor_name=payer.name, iban=CA_IBAN, bic=CA_BIC,
                       signed_on=datetime.date(2026, 9, 1), actor=ADMIN,
                       today=datetime.date(2026, 9, 1))
        make_invoice(regie, payer, "20.00")
        day = timezone.localdate() + datetime.timedelta(days=10)
        collection = collect(regie=regie, collection_date=day, actor=TITULAIRE)
    page = titulaire.get(f"{BASE}/{regie.number}/prelevement/remises/{collection.pk}/")
    assert "sa confirmation s'enregistre quand la banque l'a créditée" in text_of(page)


def test_the_software_confirms_a_collection_once(venissieux, books, software):
    regie, _, _, collection = books
    url = f"/api/v1/regies/{regie.number}/collections/{collection.pk}/confirm"
    early = software.post(url, json.dumps({"credited_on": "2020-01-06"}),
                          content_type="application/json")
    assert early.status_code == 400 and "ne la crédite pas avant" in early.json()["message"]
    done = software.post(url, json.dumps({}), content_type="application/json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert (body["count"], body["total"], body["to_credit"]) == (3, "124.13", 0)
    assert body["collection"] == collection.message_id
    assert body["credited_on"] == collection.collection_date.isoformat()
    assert body["first_receipt"] and body["last_receipt"]
    replay = software.post(url, json.dumps({}), content_type="application/json")
    assert replay.status_code == 409 and "est déjà confirmée" in replay.json()["message"]
    missing = software.post(url.replace(f"/{collection.pk}/", "/999999/"), json.dumps({}),
                            content_type="application/json")
    assert missing.status_code == 404 and "Aucune remise" in missing.json()["message"]
    nonsense = software.post(url, json.dumps({"credited_on": "2026-02-30"}),
                             content_type="application/json")
    assert nonsense.status_code == 422
    with in_schema(venissieux):
        assert len(debits(regie)) == 3


# --- Importing the bank's returns -----------------------------------------------------------

def e2e_of(invoice) -> str:
    return CollectionLine.objects.get(invoice=invoice).end_to_end_id


def returns_state():
    return (LedgerEntry.objects.count(), ReturnFile.objects.count(),
            DebitReturn.objects.count())


def test_the_agent_imports_the_banks_returns(venissieux, books, titulaire):
    regie, _, invoices, collection = books
    with in_schema(venissieux):
        collection_confirm(collection=collection, actor=TITULAIRE)
        e2e = e2e_of(invoices[2])
    content = camt054((e2e, "66.68", "AM04"), ("404-404", "3.00", "AM04"))
    page = titulaire.get(f"{BASE}/{regie.number}/prelevement/")
    assert "Aucun prélèvement retourné" in text_of(page)
    form = form_of(page, "/prelevement/retours/")
    form["file"] = Upload("camt054.xml", content, "application/xml")
    done = form.submit()
    words = text_of(done)
    assert "1 prélèvement(s) retourné(s) enregistré(s), 1 ignoré(s)" in words
    assert "FAC-3" in words and "AM04 – provision insuffisante" in words
    assert "« 404-404 »" in words
    with in_schema(venissieux):
        assert Invoice.objects.get(pk=invoices[2].pk).status != "paid"
        state = returns_state()
    listed = titulaire.get(f"{BASE}/{regie.number}/prelevement/")
    assert "AM04 – provision insuffisante" in text_of(listed) and "Famille Diallo" in text_of(
        listed)
    form = form_of(listed, "/prelevement/retours/")
    form["file"] = Upload("camt054-bis.xml", content, "application/xml")
    again = form.submit(status=409)
    assert "déjà été importé" in text_of(again)
    with in_schema(venissieux):
        assert returns_state() == state


@pytest.mark.parametrize("content, words", [
    (b"bonjour", "mal formé"),
    (b"<Document>\x00</Document>", "mal formé"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>',
     "n'est pas un avis de débit ou de crédit camt.054"),
    (b"x" * 1_100_000, "un import en prend au plus 1 Mo"),
])
def test_a_bad_returns_file_is_refused_in_french_from_the_pages(
        venissieux, books, titulaire, settings, content, words):
    settings.OPSN_IMPORT_MAX_MEGABYTES = 1
    regie = books[0]
    with in_schema(venissieux):
        collection_confirm(collection=books[3], actor=TITULAIRE)
        state = returns_state()
    form = form_of(titulaire.get(f"{BASE}/{regie.number}/prelevement/"), "/prelevement/retours/")
    form["file"] = Upload("retours.xml", content, "application/xml")
    refused = form.submit(status=400)
    assert words in text_of(refused) and "Rien n'a été enregistré" in text_of(refused)
    with in_schema(venissieux):
        assert returns_state() == state


def upload(client, number, content, name="camt054.xml"):
    return client.post(f"/api/v1/regies/{number}/direct-debit-returns",
                       {"file": SimpleUploadedFile(name, content, "application/xml")})


def test_the_software_imports_the_banks_returns(venissieux, books, software, settings):
    regie, _, invoices, collection = books
    with in_schema(venissieux):
        collection_confirm(collection=collection, actor=TITULAIRE)
        e2e = e2e_of(invoices[0])
        state = returns_state()
    settings.OPSN_IMPORT_MAX_MEGABYTES = 1
    for content, words in ((b"\x00\x00", "mal formé"), (b"x" * 1_100_000, "au plus 1 Mo"),
                           (b"<a/>", "camt.054")):
        bad = upload(software, regie.number, content)
        assert bad.status_code == 400 and words in bad.json()["message"], bad.content
    missing = software.post(f"/api/v1/regies/{regie.number}/direct-debit-returns", {})
    assert missing.status_code == 400 and missing.json()["field"] == "file"
    assert "camt.054" in missing.json()["message"]
    with in_schema(venissieux):
        assert returns_state() == state
    content = camt054((e2e, "45.10", "MD06"), ("404-404", "3.00", "AM04"), msg="RET-API")
    done = upload(software, regie.number, content)
    assert done.status_code == 201, done.content
    body = done.json()
    assert [(r["invoice"], r["payer"], r["amount"], r["reason_code"]) for r in
            body["returned"]] == [("FAC-1", "FAM-1", "45.10", "MD06")]
    assert body["returned"][0]["reversal_receipt"]
    assert body["returned"][0]["reason_label"].startswith("contestation du débiteur")
    assert [i["reference"] for i in body["ignored"]] == ["404-404"]
    replay = upload(software, regie.number, content, name="encore.xml")
    assert replay.status_code == 409 and "déjà été importé" in replay.json()["message"]


# --- Returns seen by the agent and the family ----------------------------------------------

def test_returns_show_on_the_payer_the_mandate_and_in_mes_paiements(venissieux, books,
                                                                    titulaire):
    regie, (martin, _), invoices, collection = books
    with in_schema(venissieux):
        collection_confirm(collection=collection, actor=TITULAIRE)
        content = camt054((e2e_of(invoices[0]), "45.10", "AM04"),
                          (e2e_of(invoices[1]), "12.35", "AC04"),
                          booked=collection.collection_date + datetime.timedelta(days=1))
        returns_import(content=content, file_name="retours.xml", actor=TITULAIRE)
        mandate = martin.mandates.get()
        assert mandate.status == "suspended"
    returned_on = f"{collection.collection_date + datetime.timedelta(days=1):%d/%m/%Y}"
    payer_page = text_of(titulaire.get(f"{BASE}/{regie.number}/payeurs/{martin.pk}/"))
    assert "Prélèvements retournés" in payer_page
    assert "AM04 – provision insuffisante" in payer_page and "AC04 – compte clôturé" in payer_page
    assert f"Mandat {mandate.rum} suspendu" in payer_page and returned_on in payer_page
    mandate_page = text_of(titulaire.get(
        f"{BASE}/{regie.number}/payeurs/{martin.pk}/mandats/{mandate.pk}/"))
    assert "Ce mandat est suspendu" in mandate_page and "45,10 €" in mandate_page
    assert "Changer de compte" not in mandate_page

    email = "famille.martin@example.fr"
    make_account(email)
    try:
        family = sign_in(host_of(venissieux), email)
        linked = family.post("/mon-espace/rattachements/", {"code": martin.link_code})
        assert linked.status_code == 302
        mine = re.sub(r"\s+", " ", family.get("/mon-espace/prelevement/").content.decode()
                      .replace("\xa0", " "))
        assert "Prélèvements retournés" in mine
        assert "FAC-1" in mine and "45,10 €" in mine and "Provision insuffisante" in mine
        assert "Compte clôturé" in mine and returned_on in mine
        assert f"Le mandat {mandate.rum} est suspendu" in mine
    finally:
        get_user_model().objects.filter(email=email).delete()
