"""The citizen's space in the browser's terms: signed in once (OpenID Connect), a citizen
links payer records of two communes from their sites, sees every invoice and payment in
« Mes paiements », downloads a receipt, filters, unlinks."""

from __future__ import annotations

import html

import pytest
from django.test import Client

from opsn.citizens.models import PayerLink
from opsn.regies.models import LedgerEntry
from opsn.regies.services import payments
from tests.helpers.citizens import family_books
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import Browser, make_account
from tests.helpers.regies import MANDATAIRE

CITIZEN = "camille.durand@citoyen.test"


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def books(venissieux, vaulx):
    return family_books(venissieux, vaulx)


@pytest.fixture
def citizen(books):
    """A citizen signed in on both communes' sites (one sign-in at the provider: the
    second site is silent)."""
    make_account(CITIZEN)
    browser = Browser()
    for key in ("venissieux", "vaulx"):
        where, _ = browser.sign_in(host_of(books[key][0]), CITIZEN)
        assert where == host_of(books[key][0])
    return browser


def link(browser, commune, code: str):
    return browser.client(host_of(commune)).post("/mon-espace/rattachements/", {"code": code})


def test_a_citizen_links_two_communes_and_sees_all_their_payments(books, citizen):
    venissieux, martin, november, canteen = books["venissieux"]
    vaulx, martin_vaulx, *_ = books["vaulx"]
    assert "Aucun dossier n'est encore rattaché" in page_text(
        citizen.client(host_of(venissieux)).get("/mon-espace/"))

    answer = link(citizen, venissieux, martin.link_code)
    assert answer.status_code == 302
    assert link(citizen, vaulx, martin_vaulx.link_code.lower()).status_code == 302

    # A cash payment recorded at the counter shows at once, on either site.
    with in_schema(venissieux):
        entry = payments.payment_record(regie=canteen, actor=MANDATAIRE, amount="30.00",
                                        mode="cash", invoices=[november])
    page = page_text(citizen.client(host_of(vaulx)).get("/mon-espace/"))
    assert f"Paiement, quittance n° {entry.receipt}" in page
    assert "Vénissieux" in page and "Vaulx-en-Velin" in page
    assert "Facture n° PISC-2026-7" in page and "Facture n° CANT-2026-10" in page
    assert "Famille Durand" not in page  # the other family of the same commune
    assert "payé : <strong>97,50 €</strong>" in page  # 57.50 + 10.00 + 30.00
    assert "reste à payer : <strong>14,00 €</strong>" in page

    pdf = citizen.client(host_of(vaulx)).get(
        f"/mon-espace/quittances/{venissieux.pk}/{entry.pk}.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")

    only_cards = citizen.client(host_of(venissieux)).get("/mon-espace/?mode=card")
    rows = page_text(only_cards).split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 1 and "carte bancaire" in rows and "Facture n°" not in rows


def test_a_wrong_code_says_so_and_guessing_is_stopped(books, citizen, settings):
    settings.OPSN_LINK_MAX_FAILURES = 2
    venissieux, martin, *_ = books["venissieux"]
    vaulx_payer = books["vaulx"][1]
    wrong = link(citizen, venissieux, vaulx_payer.link_code)  # a code of another commune
    assert wrong.status_code == 400
    assert "Aucun payeur de Vénissieux n'a le code" in page_text(wrong)
    assert link(citizen, venissieux, "ZZZZ-ZZZZ-ZZZZ").status_code == 400
    stopped = link(citizen, venissieux, martin.link_code)
    assert stopped.status_code == 429 and "Trop de codes erronés" in page_text(stopped)


def test_nobody_downloads_the_receipt_of_a_payer_not_linked(books, citizen):
    venissieux = books["venissieux"][0]
    with in_schema(venissieux):

        durand = LedgerEntry.objects.get(payer__name="Famille Durand")
    answer = citizen.client(host_of(venissieux)).get(
        f"/mon-espace/quittances/{venissieux.pk}/{durand.pk}.pdf")
    assert answer.status_code == 404


def test_linking_by_the_verified_email_and_unlinking(books, settings):
    venissieux, martin, *_ = books["venissieux"]
    make_account("martin@example.fr")  # the address the commune's record carries
    browser = Browser()
    browser.sign_in(host_of(venissieux), "martin@example.fr")
    client = browser.client(host_of(venissieux))
    page = page_text(client.get("/mon-espace/rattachements/"))
    assert "Dossiers à votre adresse électronique" in page and "Famille Martin" in page
    assert client.post("/mon-espace/rattachements/courriel/",
                       {"payer": martin.pk}).status_code == 302
    page = page_text(client.get("/mon-espace/rattachements/"))
    assert "Famille Martin — Vénissieux" in page

    link_id = PayerLink.objects.get(payer_id=martin.pk, unlinked_at__isnull=True).pk
    assert client.post(f"/mon-espace/rattachements/{link_id}/retirer/").status_code == 302
    assert "Aucun dossier n'est encore rattaché" in page_text(client.get("/mon-espace/"))


def test_the_space_asks_to_sign_in(books):
    answer = Client(HTTP_HOST=host_of(books["venissieux"][0])).get("/mon-espace/")
    assert answer.status_code == 302 and "/compte/connexion/" in answer["Location"]
