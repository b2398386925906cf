"""No browser or proxy keeps a copy of a page or file with personal data: every answer to a
signed-in person or to an API credential, and every answer under the agents', the
citizen's, the APIs' and the console's addresses, says ``Cache-Control: no-store,
private``. Public pages and files stay cacheable."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from opsn.agents.models import Role
from opsn.agents.services import service_credential_issue
from opsn.branding.models import CommuneProfile
from opsn.regies.models import LedgerEntry
from opsn.regies.services import cashdesk
from opsn.regies.services.payments import payment_record
from tests.helpers.citizens import family_books
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import Browser, agent, make_account
from tests.helpers.regies import ADMIN, TITULAIRE, make_invoice, make_payer, make_regie

BASE = "/espace/regies/R-001"


def private(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


@pytest.fixture
def books(venissieux, vaulx):
    return family_books(venissieux, vaulx)


@pytest.fixture
def books_with_a_deposit(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Famille Martin", email="martin@example.fr")
        invoice = make_invoice(regie, payer, "45.00", number="CANT-2026-10")
        entry = payment_record(regie=regie, actor=TITULAIRE, amount="45.00", mode="cheque",
                               invoices=[invoice],
                               details={"cheque_number": "0012345", "bank": "La Banque"})
        deposit = cashdesk.deposit_make(regie=regie, actor=TITULAIRE)
    return payer, entry, deposit


def test_the_agents_pages_and_files(venissieux, books_with_a_deposit):
    payer, entry, deposit = books_with_a_deposit
    year, number = entry.receipt.split("-")
    client = agent(venissieux, "regisseur@venissieux.fr", Role.REGISSEUR)
    pages = ["/espace/regies/", f"{BASE}/payeurs/", f"{BASE}/payeurs/{payer.id}/",
             f"{BASE}/quittances/{year}-{number}/", f"{BASE}/quittances/{year}-{number}/pdf/",
             f"{BASE}/journal/", f"{BASE}/rapports/", f"{BASE}/rapports/rapport.csv",
             f"{BASE}/versements/", f"{BASE}/guichet/", f"{BASE}/imports/",
             f"{BASE}/versements/V{deposit.year}-{deposit.number}/bordereau.pdf",
             f"{BASE}/versements/V{deposit.year}-{deposit.number}/bordereau.csv",
             "/espace/identite/", "/espace/agents/", "/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)
        assert private(response), url


def test_pages_under_the_agents_space_even_before_signing_in(venissieux):
    anonymous = Client(HTTP_HOST=host_of(venissieux))
    for url in ("/espace/regies/", f"{BASE}/payeurs/", "/mon-espace/", "/compte/connexion/"):
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert private(response), url


def test_the_citizens_payments_and_receipts(books):
    venissieux, martin, *_ = books["venissieux"]
    make_account("martin@example.fr")  # the address the commune's record carries
    browser = Browser()
    browser.sign_in(host_of(venissieux), "martin@example.fr")
    client = browser.client(host_of(venissieux))
    assert client.post("/mon-espace/rattachements/courriel/",
                       {"payer": martin.pk}).status_code == 302
    with in_schema(venissieux):
        entry = LedgerEntry.objects.filter(payer=martin).first()
    for url in ("/mon-espace/", "/mon-espace/rattachements/",
                f"/mon-espace/quittances/{venissieux.id}/{entry.id}.pdf"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert private(response), url


def test_the_console_and_the_operator_api(console, api):
    for url in ("/", "/communes/", "/communes/69259/", "/facturation/"):
        response = console.get(url)
        assert response.status_code in (200, 302), url
        assert private(response), url
    for url in ("/api/v1/communes", "/api/v1/communes/69259"):
        response = api.get(url)
        assert response.status_code == 200, url
        assert private(response), url
    refused = Client(HTTP_HOST="console.localhost").get("/api/v1/communes")
    assert refused.status_code == 401
    assert private(refused)


def test_the_communes_api(venissieux):
    with in_schema(venissieux):
        make_regie()
        _, secret = service_credential_issue(name="cantine-ecoles", actor=ADMIN)
    client = Client(HTTP_HOST=host_of(venissieux), HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.get("/api/v1/regies")
    assert response.status_code == 200
    assert private(response)


def test_public_pages_and_files_stay_cacheable(venissieux, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "#003366").save(png, format="PNG")
    with in_schema(venissieux):
        profile = CommuneProfile.objects.get()
        profile.logo.save("logo.png", io.BytesIO(png.getvalue()))
    anonymous = Client(HTTP_HOST=host_of(venissieux))
    for url in ("/", "/identite/logo", "/quittances/verifier/"):
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in response.get("Cache-Control", ""), url
    # The logo is a public file, for a signed-in agent too.
    client = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    assert "no-store" not in client.get("/identite/logo").get("Cache-Control", "")
