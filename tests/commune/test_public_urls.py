"""Absolute links carry the deployment's public base (``OPSN_PUBLIC_SCHEME``,
``OPSN_PUBLIC_PORT``: the demo sets the port it serves on), never the port of the request's
Host header: a receipt's verification URL (and its QR code), the administrator's
invitation, the return and notification URLs given to PayFiP."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

from django.core import mail
from pypdf import PdfReader

from opsn.communes import services
from opsn.online_payments.services import payfip_configure
from opsn.payfip_local.models import Operation
from opsn.regies.documents import receipt_pdf
from opsn.regies.services.payments import payment_record
from opsn.regies.verification import verification_url
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import Browser, make_account
from tests.helpers.regies import ADMIN, MANDATAIRE, make_invoice, make_payer, make_regie

CITIZEN = "camille.durand@citoyen.test"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_receipt_checks_on_the_public_port_of_the_commune_site(venissieux, settings):
    settings.OPSN_PUBLIC_PORT = 8000  # the demo, served on :8000
    with in_schema(venissieux):
        regie = make_regie()
        entry = payment_record(regie=regie, actor=MANDATAIRE, amount="12.50", mode="cash",
                               payer=make_payer(regie, "Famille Martin"))
        url = verification_url(entry, host_of(venissieux))
        text = pdf_text(receipt_pdf(entry)).replace("\n", "")
    assert url.startswith(f"http://{host_of(venissieux)}:8000/quittances/verifier/?regie=")
    assert f"{host_of(venissieux)}:8000/quittances/verifier/" in text

    settings.OPSN_PUBLIC_PORT, settings.OPSN_PUBLIC_SCHEME = 443, "https"
    with in_schema(venissieux):
        assert verification_url(entry, host_of(venissieux)).startswith(
            f"https://{host_of(venissieux)}/quittances/verifier/?")


def test_the_invitation_links_to_the_commune_site_on_its_public_port(
        db, settings, django_capture_on_commit_callbacks):
    settings.OPSN_PUBLIC_PORT = 8000
    with django_capture_on_commit_callbacks(execute=True):
        services.commune_onboard(insee_code="69091", admin_email="maire@givors.fr")
    [invitation] = mail.outbox
    assert "http://givors.localhost:8000/espace/" in invitation.body


def pay_online_through(venissieux, host_header: str) -> Operation:
    """A citizen linked to a payer presses « Payer en ligne », their browser naming
    ``host_header``; returns what the PayFiP provider was given."""
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["cash", "online"])
        payfip_configure(regie=regie, actor=ADMIN, numcli="049836")
        family = make_payer(regie, "Famille Durand")
        invoice = make_invoice(regie, family, "30.00", number="CANT-2026-11")
    make_account(CITIZEN)
    browser = Browser()
    host = host_of(venissieux)
    assert browser.sign_in(host, CITIZEN)[0] == host
    client = browser.client(host)
    assert client.post("/mon-espace/rattachements/",
                       {"code": family.link_code}).status_code == 302
    answer = client.post(f"/mon-espace/payer/{venissieux.pk}/{invoice.pk}/",
                         HTTP_HOST=host_header)
    assert answer.status_code == 302
    idop = parse_qs(urlsplit(answer["Location"]).query)["idop"][0]
    return Operation.objects.get(idop=idop)


def test_the_host_headers_port_never_reaches_payfip(venissieux):
    operation = pay_online_through(venissieux, f"{host_of(venissieux)}:6666")
    assert operation.urlnotif == f"http://{host_of(venissieux)}/paiement-en-ligne/notification/"
    assert operation.urlredirect.startswith(
        f"http://{host_of(venissieux)}/mon-espace/paiement-en-ligne/{venissieux.pk}/")


def test_payfip_comes_back_on_the_configured_public_port(venissieux, settings):
    settings.OPSN_PUBLIC_PORT = 8000
    operation = pay_online_through(venissieux, f"{host_of(venissieux)}:6666")
    assert operation.urlnotif == (
        f"http://{host_of(venissieux)}:8000/paiement-en-ligne/notification/")
    assert urlsplit(operation.urlredirect).netloc == f"{host_of(venissieux)}:8000"
