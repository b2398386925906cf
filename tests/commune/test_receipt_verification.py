"""Anyone checks a receipt on the commune's site from what is printed on it (or its QR
code): authentic, amount, date; never the payer; a wrong code or another commune's
receipt is not found, and both look the same."""

import html
import io

from django.test import Client
from pypdf import PdfReader

from opsn.regies.documents import receipt_pdf
from opsn.regies.models import LedgerEntry
from opsn.regies.services import payments
from opsn.regies.verification import receipt_verified, verification_code, verification_url
from tests.helpers.communes import host_of, in_schema
from tests.helpers.regies import TITULAIRE, make_payer, make_regie


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_a_receipt_is_checked_by_its_number_and_code_without_the_payers_name(venissieux,
                                                                           vaulx):
    with in_schema(venissieux):
        regie = make_regie()
        entry = payments.payment_record(regie=regie, actor=TITULAIRE, amount="1234.50",
                                        mode="cheque", payer=make_payer(regie, "Famille Martin"),
                                        details={"cheque_number": "0012", "bank": "La Banque"})
        code = verification_code(entry)
        url = verification_url(entry, host_of(venissieux))
    assert len(code) == 19 and code.count("-") == 3
    assert url.startswith("http://venissieux.localhost/quittances/verifier/?regie=R-001&")

    visitor = Client(HTTP_HOST=host_of(venissieux))  # nobody signed in
    page = visitor.get(url.split("localhost", 1)[1])
    assert page.status_code == 200
    assert "Quittance authentique" in text(page) and "1 234,50 €" in text(page).replace(
        "\u202f", " ")
    assert f"n° <strong>{entry.receipt}</strong>" in text(page)
    assert "Famille Martin" not in text(page)

    wrong = visitor.get("/quittances/verifier/", {"regie": "R-001", "quittance": entry.receipt,
                                                   "code": "0000-0000-0000-0000"})
    missing = visitor.get("/quittances/verifier/", {"regie": "R-001", "quittance": "2026-999",
                                                     "code": code})
    elsewhere = Client(HTTP_HOST=host_of(vaulx)).get(
        "/quittances/verifier/", {"regie": "R-001", "quittance": entry.receipt, "code": code})
    for refused in (wrong, missing, elsewhere):
        assert refused.status_code == 404 and "Aucune quittance" in text(refused)
    # Typed as people type it: lower case, spaces instead of dashes.
    with in_schema(venissieux):
        assert receipt_verified(regie_number="R-001", receipt=f" {entry.receipt} ",
                                code=code.lower().replace("-", " ")) == entry


def test_a_reversed_receipt_says_so(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        entry = payments.payment_record(regie=regie, actor=TITULAIRE, amount="12.00",
                                        mode="cash", payer=make_payer(regie))
        reversal = payments.payment_reverse(entry=entry, actor=TITULAIRE, reason="erreur")
        code = verification_code(LedgerEntry.objects.get(pk=entry.pk))
    page = Client(HTTP_HOST=host_of(venissieux)).get(
        "/quittances/verifier/", {"regie": "R-001", "quittance": entry.receipt, "code": code})
    assert "Cette quittance a été annulée" in text(page) and reversal.receipt in text(page)


def test_the_receipt_pdf_carries_the_address_and_code_to_check_it(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        entry = payments.payment_record(regie=regie, actor=TITULAIRE, amount="12.00",
                                        mode="cash", payer=make_payer(regie))
        pdf = receipt_pdf(entry)
        code = verification_code(entry)
    content = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Code de vérification : {code}" in content
    assert "venissieux.localhost/quittances/verifier/" in content.replace("\n", "")
