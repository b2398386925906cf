"""The citizen's links to payer records and their statement across communes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from opsn.citizens import services
from opsn.citizens.errors import CitizenError, NotLinked, TooManyAttempts, WrongCode
from opsn.citizens.statement import Filters, receipt_pdf_for, statement
from opsn.communes.services import commune_suspend
from opsn.operations.models import Throttle
from opsn.regies.models import LedgerEntry
from opsn.regies.services import payments
from tests.helpers.citizens import family_books
from tests.helpers.communes import in_schema
from tests.helpers.regies import MANDATAIRE

CITIZEN = "fc|3f2a9c1e-citizen"
OTHER = "fc|77b0d4aa-neighbour"


@pytest.fixture
def books(venissieux, vaulx):
    return family_books(venissieux, vaulx)


def link_both(books):
    for commune, payer, *_ in books.values():
        services.payer_link_by_code(subject=CITIZEN, commune=commune, code=payer.link_code)


def test_linked_payers_of_two_communes_make_one_statement_newest_first(books):
    link_both(books)
    mine = statement(CITIZEN)
    seen = [(i.commune.insee_code, i.kind, i.invoice_number or i.receipt, i.amount, i.status)
            for i in mine.items]
    # Payments of today first (the later one on top), then the invoices by date.
    assert seen[:2] == [("69256", "payment", "2026-000001", Decimal("10.00"), None),
                        ("69259", "payment", "2026-000001", Decimal("57.50"), None)]
    assert sorted(seen[2:]) == [("69256", "invoice", "PISC-2026-7", Decimal("24.00"),
                                 "partly_paid"),
                                ("69259", "invoice", "CANT-2026-10", Decimal("57.50"), "paid"),
                                ("69259", "invoice", "CANT-2026-11", Decimal("30.00"), "due")]
    assert mine.paid == Decimal("67.50")
    assert mine.due == Decimal("44.00")  # 30.00 + what the pool still asks, 14.00
    assert mine.count == 5 and not mine.truncated
    assert "Famille Durand" not in {i.payer for i in mine.items}  # same commune, not linked


def test_a_cash_payment_at_the_counter_appears_at_once(books):
    link_both(books)
    commune, _martin, november, canteen = books["venissieux"]
    with in_schema(commune):
        entry = payments.payment_record(regie=canteen, actor=MANDATAIRE, amount="30.00",
                                        mode="cash", invoices=[november])
    mine = statement(CITIZEN)
    assert (mine.items[0].receipt, mine.items[0].amount, mine.items[0].mode) == (
        entry.receipt, Decimal("30.00"), "cash")
    assert mine.due == Decimal("14.00")
    receipt, pdf = receipt_pdf_for(CITIZEN, commune.pk, entry.pk)
    assert receipt == entry.receipt and pdf.startswith(b"%PDF")


def test_filters_by_commune_regie_year_mode_and_status(books):
    link_both(books)
    vaulx = books["vaulx"][0]
    assert {i.commune.insee_code for i in statement(CITIZEN, Filters(commune=vaulx.pk)).items
            } == {"69256"}
    assert statement(CITIZEN, Filters(commune=vaulx.pk, regie="R-001")).items == []
    assert [i.kind for i in statement(CITIZEN, Filters(mode="card")).items] == ["payment"]
    due = statement(CITIZEN, Filters(status="due"))
    assert [i.invoice_number for i in due.items] == ["CANT-2026-11"] and due.paid == 0
    assert statement(CITIZEN, Filters(year=2025)).items == []
    assert len(statement(CITIZEN, Filters(year=2026)).items) == 5
    with pytest.raises(CitizenError, match="Mode de paiement inconnu"):
        statement(CITIZEN, Filters(mode="bitcoin"))
    with pytest.raises(CitizenError, match="Choisissez la commune"):
        statement(CITIZEN, Filters(regie="R-001"))


def test_a_wrong_code_or_a_code_of_another_commune_is_refused(books, caplog):
    venissieux = books["venissieux"][0]
    vaulx_payer = books["vaulx"][1]
    with pytest.raises(WrongCode, match="Aucun payeur de Vénissieux n'a le code"):
        services.payer_link_by_code(subject=CITIZEN, commune=venissieux,
                                    code=vaulx_payer.link_code)
    with pytest.raises(WrongCode):
        services.payer_link_by_code(subject=CITIZEN, commune=venissieux, code="ABCD-EFGH-JKMN")
    assert "wrong link code for 69259" in caplog.text
    assert statement(CITIZEN).items == []


def test_a_code_links_once_and_the_same_payer_twice_is_refused(books):
    venissieux, martin, *_ = books["venissieux"]
    # Typed as people type it: lower case, without dashes.
    services.payer_link_by_code(subject=CITIZEN, commune=venissieux,
                                code=martin.link_code.replace("-", "").lower())
    with pytest.raises(CitizenError, match="déjà rattaché à votre compte"):
        services.payer_link_by_code(subject=CITIZEN, commune=venissieux, code=martin.link_code)
    with pytest.raises(CitizenError, match="déjà servi"):
        services.payer_link_by_code(subject=OTHER, commune=venissieux, code=martin.link_code)
    assert statement(OTHER).items == []


def test_guessing_codes_is_paused_then_locked(books, settings):
    settings.OPSN_LINK_MAX_FAILURES = 3
    settings.OPSN_LINK_LOCK_FAILURES = 5
    venissieux, martin, *_ = books["venissieux"]
    for n in range(3):
        with pytest.raises(WrongCode):
            services.payer_link_by_code(subject=CITIZEN, commune=venissieux,
                                        code=f"ZZZZ-ZZZZ-ZZZ{n + 2}")
    with pytest.raises(TooManyAttempts, match="réessayez après"):  # even the right code
        services.payer_link_by_code(subject=CITIZEN, commune=venissieux, code=martin.link_code)

    # An hour later: past the pause's window, within the day (24 hours) that counts for a
    # lock.
    Throttle.objects.filter(scope="link-code").update(until=timezone.now())
    for n in range(2):  # the window has passed; two more wrong codes make five in a day
        with pytest.raises(WrongCode):
            services.payer_link_by_code(subject=CITIZEN, commune=venissieux,
                                        code=f"YYYY-YYYY-YYY{n + 2}")
    with pytest.raises(TooManyAttempts, match="bloqué jusqu'au"):
        services.payer_link_by_code(subject=CITIZEN, commune=venissieux, code=martin.link_code)
    # Someone else is not held back by this person's guesses.
    services.payer_link_by_code(subject=OTHER, commune=venissieux, code=martin.link_code)


def test_linking_by_verified_email_and_unlinking(books):
    venissieux, martin, *_ = books["venissieux"]
    assert services.payers_with_email(venissieux, "Martin@Example.fr") == [
        {"id": martin.pk, "name": "Famille Martin"}]
    with pytest.raises(NotLinked):
        services.payer_link_by_email(subject=CITIZEN, commune=venissieux, payer_id=martin.pk,
                                     verified_email="someone@example.fr")
    link = services.payer_link_by_email(subject=CITIZEN, commune=venissieux,
                                        payer_id=martin.pk, verified_email="martin@example.fr")
    assert len(statement(CITIZEN).items) == 3
    services.payer_unlink(subject=CITIZEN, link_id=link.pk)
    assert statement(CITIZEN).items == []
    with pytest.raises(NotLinked):
        services.payer_unlink(subject=OTHER, link_id=link.pk)


def test_a_receipt_of_a_payer_not_linked_is_refused(books):
    link_both(books)
    venissieux = books["venissieux"][0]
    with in_schema(venissieux):

        durand = LedgerEntry.objects.get(payer__name="Famille Durand")
    with pytest.raises(NotLinked):
        receipt_pdf_for(CITIZEN, venissieux.pk, durand.pk)
    with pytest.raises(NotLinked):
        receipt_pdf_for(OTHER, venissieux.pk, durand.pk)


def test_a_suspended_commune_is_left_out(books):
    link_both(books)
    commune_suspend(commune=books["vaulx"][0], reason="impayés")
    assert {i.commune.insee_code for i in statement(CITIZEN).items} == {"69259"}
