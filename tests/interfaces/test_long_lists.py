"""Long lists are paginated on the server: the imports queue (two bank statements of
20,000 lines once made a 40 MB page that took 27 s), the journal, the payers, the
console's communes. One page of about 50 lines, French links in a named ``nav`` that keep
the filters, a bad page number is a page (never a 500), a form sent from a page comes
back to it. And an imported file has a size cap."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from opsn.agents.models import AgentRole
from opsn.kernel import pages
from opsn.regies.models import ImportedPayment
from opsn.regies.services.imports import file_import
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import grant, make_account, sign_in
from tests.helpers.regies import MANDATAIRE, TITULAIRE, make_payer, make_regie

BASE = "/espace/regies/R-001"
CARD = "date;montant;transaction;terminal;reference;payeur_ref;payeur_nom;numero_carte"


def agent_client(commune, account: str):
    make_account(account)
    with in_schema(commune):
        roles = list(AgentRole.objects.filter(account=account).values_list("role", flat=True))
    grant(commune, account, *roles)
    return sign_in(host_of(commune), account)


def rows(response) -> list[str]:
    """The queue's rows: each one's transaction reference."""
    return re.findall(r'<br><span class="muted">[^<]*?(TX-\d+)</span>',
                      response.content.decode())


def nav(response) -> str:
    found = re.search(r'<nav class="pagination" aria-label="([^"]*)">(.*?)</nav>',
                      response.content.decode(), re.S)
    assert found, "no pagination"
    return found.group(0)


def link(response, text: str) -> str:
    found = re.search(rf'<a href="([^"]*)"[^>]*>{text}</a>', nav(response))
    assert found, f"no link « {text} »"
    return found.group(1).replace("&amp;", "&")


@pytest.fixture
def queue(venissieux):
    """A régie whose imports queue holds 500 card payments no invoice matched."""
    with in_schema(venissieux):
        regie = make_regie()
        lines = [CARD] + [f"25/11/2026 10:02;{1 + i % 90},00;TX-{i:03d};TPE-01;inscription;;"
                          f"Mme Martin;" for i in range(500)]
        file_import(regie=regie, actor=MANDATAIRE, kind="card", file_name="tpe.csv",
                    content="\r\n".join(lines).encode())
        assert ImportedPayment.objects.filter(regie=regie).count() == 500
    return regie


def test_a_queue_of_500_lines_shows_one_page_and_its_links_work(venissieux, queue):
    client = agent_client(venissieux, MANDATAIRE.account)
    first = client.get(f"{BASE}/imports/")
    assert first.status_code == 200
    assert rows(first) == [f"TX-{i:03d}" for i in range(50)]
    assert 'aria-label="Pages : paiements importés en attente"' in nav(first)
    assert "Page 1 sur 10" in nav(first) and "500 paiements en attente" in first.content.decode()
    assert len(first.content) < 400_000  # not the whole queue

    second = client.get(f"{BASE}/imports/" + link(first, "Page suivante"))
    assert rows(second) == [f"TX-{i:03d}" for i in range(50, 100)]
    last = client.get(f"{BASE}/imports/" + link(second, "Dernière page"))
    assert rows(last) == [f"TX-{i:03d}" for i in range(450, 500)] and "Page 10 sur 10" in nav(last)
    assert rows(client.get(f"{BASE}/imports/" + link(last, "Première page")))[0] == "TX-000"


def test_a_line_dismissed_from_page_three_comes_back_to_page_three(venissieux, queue):
    make_account(TITULAIRE.account)
    keeper = agent_client(venissieux, TITULAIRE.account)
    third = keeper.get(f"{BASE}/imports/?page=3")
    with in_schema(venissieux):
        item = ImportedPayment.objects.get(reference="inscription",
                                           external_ref__endswith=rows(third)[0])
    action = re.search(rf'action="([^"]*/attente/{item.pk}/ecarter/[^"]*)"',
                       third.content.decode()).group(1)
    assert action.endswith("?page=3")
    refused = keeper.post(action, {f"d{item.pk}-reason": ""})  # no reason: shown again
    assert refused.status_code in (302, 400)
    if refused.status_code == 400:
        assert rows(refused) == rows(third)  # the same page, with the form's message
    done = keeper.post(action, {f"d{item.pk}-reason": "paiement d'une autre régie"})
    assert done.status_code == 302 and done["Location"].endswith("/imports/?page=3")


@pytest.mark.parametrize("number", ["abc", "-1", "0", "", "2.5", "9999999"])
def test_a_bad_page_number_is_a_page_not_an_error(venissieux, queue, number):
    client = agent_client(venissieux, MANDATAIRE.account)
    response = client.get(f"{BASE}/imports/", {"page": number})
    assert response.status_code == 200
    assert len(rows(response)) == 50


def test_a_page_number_beyond_any_database_number_is_a_clear_400(venissieux, queue):
    client = agent_client(venissieux, MANDATAIRE.account)
    for path in ("imports", "journal", "payeurs"):
        response = client.get(f"{BASE}/{path}/", {"page": "99999999999999999999"})
        assert response.status_code == 400  # the input guard's French page, not a 500


def test_a_nul_page_number_is_not_a_500(venissieux, queue):
    client = agent_client(venissieux, MANDATAIRE.account)
    for path in ("imports", "journal", "payeurs"):
        assert client.get(f"{BASE}/{path}/?page=%00").status_code in (200, 400)


def test_the_journal_and_the_payers_are_paginated_with_their_filters(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        for i in range(60):
            payer = make_payer(regie, f"Famille Martin {i:02d}")
            payment_record(regie=regie, actor=MANDATAIRE, amount="2.00", mode="cash",
                           payer=payer)
        for i in range(5):
            make_payer(regie, f"Famille Durand {i}")
    client = agent_client(venissieux, MANDATAIRE.account)

    journal = client.get(f"{BASE}/journal/", {"mode": "cash"})
    assert journal.status_code == 200 and "Page 1 sur 2" in nav(journal)
    following = link(journal, "Page suivante")
    assert parse_qs(urlsplit(following).query) == {"mode": ["cash"], "page": ["2"]}
    assert "Page 2 sur 2" in nav(client.get(f"{BASE}/journal/" + following))

    payers = client.get(f"{BASE}/payeurs/", {"q": "Martin"})  # 60 found: all, in pages
    assert "Page 1 sur 2" in nav(payers) and 'aria-label="Pages : payeurs"' in nav(payers)
    following = link(payers, "Page suivante")
    assert parse_qs(urlsplit(following).query) == {"q": ["Martin"], "page": ["2"]}
    second = client.get(f"{BASE}/payeurs/" + following).content.decode()
    assert "Famille Martin 59" in second and "Famille Durand" not in second


def test_the_consoles_communes_keep_their_filters_from_page_to_page(console, monkeypatch):
    monkeypatch.setattr(pages, "PER_PAGE", 1)  # two communes in the session: two pages
    first = console.get("/communes/", {"status": "active", "q": "v"})
    assert first.status_code == 200 and "Page 1 sur 2" in nav(first)
    following = link(first, "Page suivante")
    assert parse_qs(urlsplit(following).query) == {"status": ["active"], "q": ["v"],
                                                   "page": ["2"]}
    assert "Page 2 sur 2" in nav(console.get("/communes/" + following))
    assert console.get("/communes/", {"page": "abc"}).status_code == 200


def test_an_imported_file_over_the_cap_is_refused_in_french(venissieux, settings):
    settings.OPSN_IMPORT_MAX_MEGABYTES = 1
    with in_schema(venissieux):
        make_regie()
    client = agent_client(venissieux, MANDATAIRE.account)
    big = (CARD + "\r\n" + "25/11/2026 10:02;30,00;TX-1;TPE-01;x;;y;\r\n" * 30_000).encode()
    assert len(big) > 1_000_000
    response = client.post(f"{BASE}/imports/", {"kind": "card", "card-encoding": "utf-8",
                                                "card-file": SimpleUploadedFile("tpe.csv", big)})
    assert response.status_code == 400
    assert "Le fichier pèse 1,3 Mo : un import en prend au plus 1 Mo." in (
        response.content.decode().replace("&#x27;", "'"))
    with in_schema(venissieux):
        assert not ImportedPayment.objects.exists()
