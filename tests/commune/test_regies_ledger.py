"""The régie's ledger: numbered receipts without gaps, reversals, an append-only and
tamper-evident chain, and the payments a régie must refuse."""

import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, InternalError, transaction
from django.utils import timezone
from pypdf import PdfReader

from opsn.branding.models import CommuneProfile
from opsn.communes.models import Commune
from opsn.kernel.tenancy import connection
from opsn.regies.chain import verify_chain
from opsn.regies.documents import receipt_pdf
from opsn.regies.errors import RegieError
from opsn.regies.models import LedgerEntry, Payer
from opsn.regies.services.payments import payment_record, payment_reverse
from opsn.regies.words import amount_in_words
from tests.helpers.communes import in_schema
from tests.helpers.regies import TITULAIRE, make_payer, make_regie, wipe_regies


def cantine(**changes):
    changes.setdefault("accepted_modes", ["cash", "cheque", "card"])
    return make_regie(**changes)


def pay(regie, amount="12.50", mode="cash", **kw):
    """A payment on account (no invoice): it goes to the payer's credit."""
    payer = Payer.objects.filter(regie=regie).first() or make_payer(regie)
    return payment_record(regie=regie, amount=amount, mode=mode, payer=payer, actor=TITULAIRE,
                          **kw)


def test_receipts_are_numbered_per_regie_and_year(venissieux):
    with in_schema(venissieux):
        a, b = cantine(), cantine(number="R-002", name="Piscine")
        receipts = [pay(a).receipt, pay(a).receipt, pay(b).receipt]
    year = datetime.date.today().year
    assert receipts == [f"{year}-000001", f"{year}-000002", f"{year}-000001"]


def test_a_reversal_references_the_original_and_both_stay(venissieux):
    with in_schema(venissieux):
        regie = cantine()
        entry = pay(regie, "40.00")
        reversal = payment_reverse(entry=entry, reason="erreur de montant", actor=TITULAIRE)
        assert (reversal.amount, reversal.reverses_id, reversal.receipt_number) == (
            Decimal("-40.00"), entry.pk, 2)
        assert LedgerEntry.objects.count() == 2
        with pytest.raises(RegieError, match="déjà annulée"):
            payment_reverse(entry=entry, reason="encore", actor=TITULAIRE)
        with pytest.raises(RegieError, match="ne s'annule pas"):
            payment_reverse(entry=reversal, reason="encore", actor=TITULAIRE)
        assert verify_chain(regie) is None


@pytest.mark.parametrize("statement", [
    "UPDATE regies_ledgerentry SET amount = 1",
    "DELETE FROM regies_ledgerentry",
    "TRUNCATE regies_ledgerentry CASCADE",
])
def test_the_database_refuses_to_change_a_posted_entry(venissieux, statement):
    with in_schema(venissieux):
        pay(cantine())
        with connection.cursor() as cursor:  # check the foreign keys now, not at commit
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises((IntegrityError, InternalError), match="never changed"), \
                transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
        assert LedgerEntry.objects.get().amount == Decimal("12.50")


def test_the_chain_names_the_first_altered_entry(venissieux):
    with in_schema(venissieux):
        regie = cantine()
        entries = [pay(regie, f"{n}.00") for n in range(1, 6)]
        assert verify_chain(regie) is None
        with connection.cursor() as cursor:  # an attacker with database rights
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE regies_ledgerentry DISABLE TRIGGER USER")
            cursor.execute("UPDATE regies_ledgerentry SET amount = 300 WHERE id = %s",
                           [entries[2].pk])
            cursor.execute("ALTER TABLE regies_ledgerentry ENABLE TRIGGER USER")
        assert verify_chain(regie).pk == entries[2].pk


@pytest.mark.parametrize("amount, mode, message", [
    ("12.345", "cash", "plus de deux décimales"),
    ("-5", "cash", "positif"),
    ("0", "cheque", "positif"),
    ("douze", "cash", "n'est pas un montant"),
    ("300.01", "cash", "limité à 300 €"),
    ("50", "transfer", "n'accepte pas ce mode"),
    ("50", "bitcoin", "Mode de paiement inconnu"),
])
def test_payments_a_regie_must_refuse(venissieux, amount, mode, message):
    with in_schema(venissieux):
        regie = cantine()
        with pytest.raises(RegieError, match=message):
            pay(regie, amount, mode)
        assert not LedgerEntry.objects.exists()
        pay(regie, "300.00", "cash")  # the limit itself is allowed
        assert LedgerEntry.objects.get().receipt_number == 1  # nothing was consumed


def test_concurrent_cashiers_get_unique_gapless_receipts(committed):
    commune = Commune.objects.get(insee_code="69259")
    with in_schema(commune):
        regie = cantine(number="R-CONC")
    errors: list[BaseException] = []

    def cashier(n: int) -> None:
        try:
            connection.set_tenant(commune)
            for _ in range(10):
                pay(regie, f"{n + 1}.00")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=cashier, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with in_schema(commune):
            numbers = sorted(LedgerEntry.objects.filter(regie=regie)
                             .values_list("receipt_number", flat=True))
            assert numbers == list(range(1, 81))
            assert verify_chain(regie) is None
    finally:
        with in_schema(commune):
            wipe_regies()


def test_the_command_line_verifies_and_names_the_broken_link(venissieux, capsys):
    with in_schema(venissieux):
        regie = cantine()
        entries = [pay(regie) for _ in range(3)]
    call_command("verify_ledger", "69259")
    assert "R-001 Cantine et périscolaire: chaîne intègre (3 écritures)" in capsys.readouterr().out
    with in_schema(venissieux), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE regies_ledgerentry DISABLE TRIGGER USER")
        cursor.execute("UPDATE regies_ledgerentry SET payer_name = 'X' WHERE id = %s",
                       [entries[1].pk])
        cursor.execute("ALTER TABLE regies_ledgerentry ENABLE TRIGGER USER")
    with pytest.raises(CommandError, match="chaîne est rompue") as failed:
        call_command("verify_ledger", "69259", "R-001")
    assert failed.value.returncode == 1
    assert f"CHAÎNE ROMPUE à la quittance {entries[1].receipt}" in capsys.readouterr().out


@pytest.mark.parametrize("amount, words", [
    (Decimal("12.50"), "douze euros et cinquante centimes"),
    (Decimal("300.00"), "trois cents euros"),
    (Decimal("1.01"), "un euro et un centime"),
    (Decimal("0.80"), "quatre-vingts centimes"),
    (Decimal("2000000"), "deux millions d'euros"),
    (Decimal("-40"), "moins quarante euros"),
])
def test_amounts_in_words(amount, words):
    assert amount_in_words(amount) == words


def test_the_receipt_pdf_has_the_commune_the_amount_in_words_and_the_agent(venissieux):
    with in_schema(venissieux):
        CommuneProfile.objects.update(official_name="Ville de Vénissieux")
        entry = pay(cantine(), "12.50")
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt_pdf(entry))).pages)
    assert f"Quittance n° {entry.receipt}" in text
    assert "Ville de Vénissieux" in text and "Cantine et périscolaire" in text
    assert "12,50 €" in text
    assert "douze euros et cinquante centimes" in text
    assert "Marie Lefèvre" in text and "espèces" in text


def test_each_regie_chains_to_its_own_last_entry_when_others_post_in_between(venissieux):
    with in_schema(venissieux):
        canteen = make_regie()
        pool = make_regie(number="R-002", name="Piscine", staff=False)
        payers = {canteen: make_payer(canteen), pool: make_payer(pool, "Famille Rossi")}

        def pay(regie):
            return payment_record(regie=regie, actor=TITULAIRE, amount="5.00", mode="cash",
                                  payer=payers[regie])

        first = pay(canteen)
        for _ in range(3):
            pay(pool)
        second = pay(canteen)
        first, second = (LedgerEntry.objects.get(pk=e.pk) for e in (first, second))
        assert second.previous_hash == first.hash
        assert verify_chain(canteen) is None and verify_chain(pool) is None


def test_the_first_receipt_of_a_year_chains_to_the_last_entry_of_the_year_before(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie)
        last_year = timezone.localdate().year - 1
        with connection.cursor() as cursor:  # entries of last year, as they were posted then
            for n in (1, 2, 3):
                cursor.execute("""
                    INSERT INTO regies_ledgerentry (regie_id, year, receipt_number, amount, mode,
                        payer_name, details, source, external_ref, agent, agent_name,
                        posted_at, reason, previous_hash, hash)
                    VALUES (%s, %s, %s, 10, 'cash', 'Famille Martin', '{}', 'counter', '',
                            %s, '', %s, '', '', '')""",
                               [regie.pk, last_year, n, TITULAIRE.account,
                                datetime.datetime(last_year, 6, n, 10, tzinfo=datetime.UTC)])
        december = LedgerEntry.objects.get(regie=regie, year=last_year, receipt_number=3)
        first = payment_record(regie=regie, actor=TITULAIRE, amount="5.00", mode="cash",
                               payer=payer)
        second = payment_record(regie=regie, actor=TITULAIRE, amount="6.00", mode="cash",
                                payer=payer)
        first, second = (LedgerEntry.objects.get(pk=e.pk) for e in (first, second))
        assert first.receipt_number == 1 and first.previous_hash == december.hash
        assert second.previous_hash == first.hash
        assert verify_chain(regie) is None


def test_regies_of_two_communes_with_the_same_id_keep_their_own_chains(venissieux, vaulx):
    """The chain trigger carries the last entry from one insert to the next within a
    transaction: the same régie id in another commune's schema is another régie."""
    regies, payers = {}, {}
    for commune in (vaulx, venissieux):
        with in_schema(commune):
            with connection.cursor() as cursor:  # the same id in both communes
                cursor.execute("SELECT setval(pg_get_serial_sequence('regies_regie', 'id'), "
                               "999)")
            regies[commune] = make_regie()
            payers[commune] = make_payer(regies[commune])
    assert regies[venissieux].pk == regies[vaulx].pk

    def pay(commune):
        with in_schema(commune):
            return payment_record(regie=regies[commune], actor=TITULAIRE, amount="5.00",
                                  mode="cash", payer=payers[commune])

    with transaction.atomic():  # one transaction, as a job touching two communes could be
        pay(vaulx), pay(venissieux), pay(vaulx)
    for commune in (venissieux, vaulx):
        with in_schema(commune):
            assert verify_chain(regies[commune]) is None
