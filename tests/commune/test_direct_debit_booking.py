"""SEPA direct debit, second slice: the bank's confirmation books the collection's debits
in the régie's journal (mode prélèvement SEPA, gapless receipts, dated to the collection
day, never refused for a closed day, once), the citizen's statement shows them; an
invoice in a debit not settled yet is not paid twice; returns (camt.054) reverse their
payment and reopen the invoice, once; pre-notifications go once."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from opsn.audit.models import AuditEvent
from opsn.citizens import services as citizens
from opsn.citizens.statement import statement
from opsn.direct_debit.booking import collection_confirm, collection_find
from opsn.direct_debit.camt054 import read_camt054
from opsn.direct_debit.errors import DirectDebitConflict, DirectDebitError
from opsn.direct_debit.models import (
    CollectionLine,
    DebitReturn,
    LineStatus,
    Mandate,
    NoticeStatus,
    PreNotification,
)
from opsn.direct_debit.notices import prenotifications_prepare
from opsn.direct_debit.returns import returns_import
from opsn.direct_debit.services import collect, creditor_set, mandate_record
from opsn.direct_debit.tasks import direct_debit_commune_daily, notify_debit_returns
from opsn.finance.handover import handover_create
from opsn.jobs.broker import send
from opsn.kernel.actors import Actor
from opsn.online_payments.errors import NotPayableOnline
from opsn.online_payments.models import OnlinePayment
from opsn.online_payments.services import online_payment_start, payfip_configure
from opsn.regies.chain import verify_chain
from opsn.regies.errors import Refused, RegieError
from opsn.regies.models import EntrySource, ImportedPayment, Invoice, LedgerEntry
from opsn.regies.services import cashdesk, founding
from opsn.regies.services.imports import bank_statement_import
from opsn.regies.services.payments import credit_apply, payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    TITULAIRE,
    make_budget,
    make_invoice,
    make_payer,
    make_regie,
)

ICS = "FR72ZZZ123456"
DFT_IBAN = "FR7630001007941234567890185"
CA_IBAN, CA_BIC = "FR7630006000011234567890189", "AGRIFRPP"
LBP_IBAN, LBP_BIC = "FR1420041010050500013M02606", "PSSTFRPPLYO"
CITIZEN = "fc|debit-citizen"
MODES = ["cash", "cheque", "card", "transfer", "direct_debit", "other", "online"]


def weekday_before(days: int) -> datetime.date:
    day = timezone.localdate() - datetime.timedelta(days=days)
    while day.weekday() >= 5:
        day -= datetime.timedelta(days=1)
    return day


@pytest.fixture
def books(venissieux):
    """Two families with a mandate, three invoices, collected on a past weekday (the
    bank's confirmation comes afterwards)."""
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        creditor_set(regie=regie, ics=ICS, iban=DFT_IBAN, bic="BDFEFRPP",
                     name="Ville de Vénissieux – cantine", actor=ADMIN)
        martin = make_payer(regie, "Famille Martin", email="famille.martin@example.fr")
        diallo = make_payer(regie, "Famille Diallo", email="famille.diallo@example.fr")
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


def debits(regie):
    return list(LedgerEntry.objects.filter(regie=regie, source=EntrySource.DIRECT_DEBIT)
                .order_by("receipt_number"))


def camt054(*returns: tuple[str, str, str], booked: datetime.date | None = None,
            msg: str = "RET-1") -> bytes:
    booked = booked or timezone.localdate()
    entries = "".join(f"""
      <Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>{booked.isoformat()}</Dt></BookgDt>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RDDT</Cd><SubFmlyCd>UPDD</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>{e2e}</EndToEndId><MndtId>X</MndtId></Refs>
          <AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>
          <RtrInf><Rsn><Cd>{code}</Cd></Rsn></RtrInf>
        </TxDtls></NtryDtls>
      </Ntry>""" for e2e, amount, code in returns)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>{msg}</MsgId><CreDtTm>{booked.isoformat()}T08:00:00</CreDtTm></GrpHdr>
    <Ntfctn><Id>N-1</Id><CreDtTm>{booked.isoformat()}T08:00:00</CreDtTm>
      <Acct><Id><IBAN>{DFT_IBAN}</IBAN></Id></Acct>{entries}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>""".encode()


def line_of(invoice) -> CollectionLine:
    return CollectionLine.objects.get(invoice=invoice)


# --- booking ---------------------------------------------------------------------------

def test_confirmation_books_each_debit_dated_to_the_collection_day(venissieux, books):
    regie, (martin, _), invoices, collection = books
    with in_schema(venissieux):
        confirmed = collection_confirm(collection=collection, actor=TITULAIRE)
        entries = debits(regie)
        assert (confirmed.count, confirmed.total) == (3, Decimal("124.13"))
        assert [e.amount for e in entries] == [Decimal("45.10"), Decimal("12.35"),
                                               Decimal("66.68")]
        assert {e.mode for e in entries} == {"direct_debit"}
        assert {e.day for e in entries} == {collection.collection_date}
        numbers = [e.receipt_number for e in entries]
        assert numbers == list(range(numbers[0], numbers[0] + 3))  # gapless
        assert (confirmed.first_receipt, confirmed.last_receipt) == (entries[0].receipt,
                                                                     entries[-1].receipt)
        assert entries[0].external_ref == f"sepa:{line_of(invoices[0]).end_to_end_id}"
        assert entries[0].details["rum"] == Mandate.objects.get(payer=martin).rum
        assert {i.status for i in Invoice.objects.filter(pk__in=[i.pk for i in invoices])} \
            == {"paid"}
        assert set(CollectionLine.objects.values_list("status", flat=True)) == {"booked"}
        assert verify_chain(regie) is None
        event = AuditEvent.objects.get(code="sepa.collection_booked")
        assert "3 prélèvement(s), 124,13 €" in event.summary


def test_the_citizens_statement_shows_the_debits(venissieux, books):
    _regie, (martin, _), _, collection = books
    citizens.payer_link_by_code(subject=CITIZEN, commune=venissieux, code=martin.link_code)
    with in_schema(venissieux):
        collection_confirm(collection=collection, actor=TITULAIRE)
    mine = statement(CITIZEN)
    payments = [(i.amount, i.mode_label) for i in mine.items if i.kind == "payment"]
    assert sorted(payments) == [(Decimal("12.35"), "prélèvement"),
                                (Decimal("45.10"), "prélèvement")]
    assert {i.status for i in mine.items if i.kind == "invoice"} == {"paid"}
    assert mine.due == Decimal("0.00")


def test_a_replayed_confirmation_changes_nothing(venissieux, books):
    regie, _, _, collection = books
    with in_schema(venissieux):
        collection_confirm(collection=collection, actor=TITULAIRE)
        with pytest.raises(DirectDebitConflict, match="déjà confirmée .* rien n'est "
                                                      "enregistré deux fois"):
            collection_confirm(collection=collection, actor=TITULAIRE)
        assert len(debits(regie)) == 3


def test_the_command_confirms_once_and_says_so(venissieux, books, capsys):
    regie, _, _, collection = books
    call_command("sepa_confirm", venissieux.slug, regie.number, collection.message_id)
    out = capsys.readouterr().out
    assert "3 prélèvement(s) enregistré(s), 124.13 €" in out
    with pytest.raises(CommandError, match="déjà confirmée") as refused:
        call_command("sepa_confirm", venissieux.slug, regie.number, collection.message_id)
    assert refused.value.returncode == 4
    with pytest.raises(CommandError, match="Aucune remise"):
        call_command("sepa_confirm", venissieux.slug, regie.number, "INCONNUE")
    with pytest.raises(CommandError, match="n'est pas une date"):
        call_command("sepa_confirm", venissieux.slug, regie.number, collection.message_id,
                     "--date", "31/02/2026")
    with in_schema(venissieux):
        assert len(debits(regie)) == 3


def test_a_closed_collection_day_moves_the_debits_to_the_next_open_day(venissieux, books):
    regie, _, _, collection = books
    day = collection.collection_date
    with in_schema(venissieux):
        cashdesk.day_close(regie=regie, actor=TITULAIRE, counted={}, day=day)
        collection_confirm(collection=collection, actor=TITULAIRE)
        assert {e.day for e in debits(regie)} == {day + datetime.timedelta(days=1)}


def test_a_confirmation_before_the_collection_date_or_in_the_future_is_refused(
        venissieux, books):
    regie, _, _, collection = books
    with in_schema(venissieux):
        with pytest.raises(DirectDebitError, match="ne la crédite pas avant"):
            collection_confirm(collection=collection, actor=TITULAIRE,
                               credited_on=collection.collection_date
                               - datetime.timedelta(days=1))
        with pytest.raises(DirectDebitError, match="est à venir"):
            collection_confirm(collection=collection, actor=TITULAIRE,
                               credited_on=timezone.localdate() + datetime.timedelta(days=1))
        assert collection_find(regie, str(collection.pk)) == collection
        assert debits(regie) == []


# --- an invoice in a debit not settled yet ----------------------------------------------

def test_the_counter_refuses_an_invoice_in_a_pending_debit(venissieux, books):
    regie, (martin, _), invoices, collection = books
    with in_schema(venissieux):
        when = f"{collection.collection_date:%d/%m/%Y}"
        with pytest.raises(Refused, match=f"prélèvement SEPA en cours, le {when}"):
            payment_record(regie=regie, actor=TITULAIRE, amount="45.10", mode="cash",
                           invoices=[invoices[0]])
        with pytest.raises(Refused, match="prélèvement SEPA en cours"):
            payment_record(regie=regie, actor=TITULAIRE, amount="45.10", mode="transfer",
                           payer=martin, allocations={"FAC-1": "45.10"})
        payment_record(regie=regie, actor=TITULAIRE, amount="5.00", mode="cash",
                       payer=martin)  # to the credit: not an invoice
        with pytest.raises(Refused, match="prélèvement SEPA en cours"):
            credit_apply(invoice=invoices[0], actor=TITULAIRE)
        # Money already collected (a PayFiP payment) is not refused for good: it waits.
        with pytest.raises(RegieError, match="à vérifier") as waits:
            payment_record(regie=regie, actor=TITULAIRE, amount="45.10", mode="online",
                           payer=martin, invoices=[invoices[0]], collected=True,
                           external_ref="payfip:1")
        assert not isinstance(waits.value, Refused)
        assert Invoice.objects.get(pk=invoices[0].pk).status == "due"
        collection_confirm(collection=collection, actor=TITULAIRE)
        # Once booked it is paid; the PayFiP money then goes to the credit.
        entry = payment_record(regie=regie, actor=TITULAIRE, amount="45.10", mode="online",
                               payer=martin, invoices=[invoices[0]], collected=True,
                               external_ref="payfip:1")
        assert not entry.allocations.exists()


def test_online_payment_does_not_start_for_an_invoice_in_a_pending_debit(venissieux, books):
    regie, _, invoices, collection = books
    with in_schema(venissieux):
        payfip_configure(regie=regie, actor=ADMIN, numcli="123456")
        with pytest.raises(NotPayableOnline, match="ne peut pas être payée en ligne : "
                                                   "prélèvement SEPA en cours, le "
                                                   f"{collection.collection_date:%d/%m/%Y}"):
            online_payment_start(invoice=invoices[0], email="famille@example.fr",
                                 started_by="test", notify_url="http://localhost/n",
                                 return_url_for=lambda payment: "http://localhost/r")
        assert not OnlinePayment.objects.exists()


def test_a_transfer_naming_an_invoice_in_a_pending_debit_waits(venissieux, books):
    regie, _, _invoices, _ = books
    statement_xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>S1</MsgId><CreDtTm>2026-12-01T08:00:00</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id><CreDtTm>2026-12-01T08:00:00</CreDtTm><Acct><Id><IBAN>{DFT_IBAN}</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">45.10</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2026-12-01</Dt></BookgDt><ValDt><Dt>2026-12-01</Dt></ValDt>
<BkTxCd/><NtryDtls><TxDtls><Refs><EndToEndId>VIR-1</EndToEndId></Refs>
<RmtInf><Ustrd>Facture FAC-1</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>""".encode()
    with in_schema(venissieux):
        batch = bank_statement_import(regie=regie, actor=TITULAIRE, content=statement_xml,
                                      file_name="releve.xml")
        assert batch.outcome["queued"] == 1 and batch.outcome["posted"] == 0
        assert "prélèvement SEPA en cours" in ImportedPayment.objects.get(regie=regie).note


# --- returns ---------------------------------------------------------------------------

def test_a_return_reverses_its_payment_and_reopens_the_invoice(
        venissieux, books, django_capture_on_commit_callbacks):
    regie, (_martin, _), invoices, collection = books
    with in_schema(venissieux):
        collection_confirm(collection=collection, actor=TITULAIRE)
        first = line_of(invoices[0])
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            imported = returns_import(content=camt054((first.end_to_end_id, "45.10", "AM04")),
                                      file_name="retours.xml", actor=TITULAIRE)
        assert (imported.returned, imported.ignored) == (1, [])
        returned = DebitReturn.objects.get()
        assert (returned.reason_code, returned.reason_label) == ("AM04",
                                                                 "provision insuffisante")
        reversal = returned.reversal
        assert reversal.amount == Decimal("-45.10") and reversal.reverses.external_ref \
            == f"sepa:{first.end_to_end_id}"
        assert reversal.mode == "direct_debit" and reversal.details["motif"] == "AM04"
        assert Invoice.objects.get(pk=invoices[0].pk).status == "due"
        assert Invoice.objects.get(pk=invoices[1].pk).status == "paid"
        assert line_of(invoices[0]).status == LineStatus.RETURNED
        assert LedgerEntry.objects.filter(regie=regie).count() == 4  # 3 debits, 1 reversal
        assert verify_chain(regie) is None
        to = sorted(tuple(m.to) for m in mail.outbox)
        assert to == [("famille.martin@example.fr",), (TITULAIRE.account,)]
        family = next(m for m in mail.outbox if m.to == ["famille.martin@example.fr"])
        assert "provision insuffisante" in family.body and "FAC-1" in family.body
        assert "45,10 €" in family.body
        assert AuditEvent.objects.filter(code="sepa.debit_returned").count() == 1
        # Told once: the job run again sends nothing.
        mail.outbox.clear()
        send(notify_debit_returns, [returned.pk], commune=venissieux)
        assert mail.outbox == []
        # The invoice can be paid again at the counter, and debited again.
        payment_record(regie=regie, actor=TITULAIRE, amount="45.10", mode="cash",
                       invoices=[invoices[0]])


def test_replayed_unknown_and_already_returned_debits_change_nothing(venissieux, books):
    regie, _, invoices, collection = books
    with in_schema(venissieux):
        collection_confirm(collection=collection, actor=TITULAIRE)
        first = line_of(invoices[0]).end_to_end_id
        content = camt054((first, "45.10", "MD06"))
        returns_import(content=content, file_name="r1.xml", actor=TITULAIRE)
        with pytest.raises(DirectDebitConflict, match="déjà été importé"):
            returns_import(content=content, file_name="r1-bis.xml", actor=TITULAIRE)
        again = returns_import(content=camt054((first, "45.10", "MD06"), ("999-999", "1.00",
                                                                         "AC04"), msg="RET-2"),
                               file_name="r2.xml", actor=TITULAIRE)
        assert again.returned == 0
        whys = [item["why"] for item in again.ignored]
        assert "déjà retourné (motif MD06" in whys[0]
        assert "Aucun prélèvement de la commune ne porte la référence « 999-999 »" in whys[1]
        assert LedgerEntry.objects.filter(regie=regie, amount__lt=0).count() == 1
        assert DebitReturn.objects.count() == 1


def test_two_returns_suspend_the_mandate_and_a_reject_before_booking_reverses_nothing(
        venissieux, books):
    _regie, (martin, _), invoices, collection = books
    with in_schema(venissieux):
        returns_import(content=camt054((line_of(invoices[1]).end_to_end_id, "12.35", "MS02")),
                       file_name="rejets.xml", actor=TITULAIRE)  # before the confirmation
        assert DebitReturn.objects.get().reversal is None
        assert Mandate.objects.get(payer=martin).status == "active"
        confirmed = collection_confirm(collection=collection, actor=TITULAIRE)
        assert confirmed.count == 2
        assert Invoice.objects.get(pk=invoices[1].pk).status == "due"
        returns_import(content=camt054((line_of(invoices[0]).end_to_end_id, "45.10", "AC04"),
                                       msg="RET-3"), file_name="retours.xml", actor=TITULAIRE)
        mandate = Mandate.objects.get(payer=martin)
        assert mandate.status == "suspended" and "2 prélèvements" in mandate.end_reason
        assert AuditEvent.objects.filter(code="sepa.mandate_suspended").count() == 1


@pytest.mark.parametrize("content, message", [
    (b"", "vide"),
    (b"<Document><unclosed>", "mal formé"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>',
     "n'est pas un avis de débit ou de crédit camt.054"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
     b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">&b;</Document>',
     "BkToCstmrDbtCdtNtfctn"),
    (camt054(("1-1", "12,3,4", "AM04")), "n'est pas un montant"),
    (camt054(("1-1", "10.00", "A\x01")), "mal formé"),
    (camt054(("1-1", "10.00", "TOOLONG")), "code ISO 20022 de 4 caractères"),
    (camt054(("1-1", "10.00", "AM04")).replace(b'Ccy="EUR"', b'Ccy="USD"'), "USD"),
])
def test_a_bad_return_file_is_refused_in_french(venissieux, content, message):
    with pytest.raises(DirectDebitError, match=message):
        read_camt054(content)


def test_the_returns_command(venissieux, books, tmp_path, capsys):
    _regie, _, invoices, collection = books
    with in_schema(venissieux):
        collection_confirm(collection=collection, actor=TITULAIRE)
        e2e = line_of(invoices[2]).end_to_end_id
    path = tmp_path / "camt054.xml"
    path.write_bytes(camt054((e2e, "66.68", "AM04"), ("404-404", "3.00", "AM04")))
    call_command("sepa_returns", venissieux.slug, str(path))
    out = capsys.readouterr().out
    assert "1 prélèvement(s) retourné(s) enregistré(s), 1 ignoré(s)" in out
    assert "« 404-404 »" in out
    with pytest.raises(CommandError, match="déjà été importé") as refused:
        call_command("sepa_returns", venissieux.slug, str(path))
    assert refused.value.returncode == 4


# --- pre-notification -----------------------------------------------------------------

def test_the_prenotification_is_sent_once(venissieux):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        creditor_set(regie=regie, ics=ICS, iban=DFT_IBAN, bic="BDFEFRPP",
                     name="Ville de Vénissieux – cantine", actor=ADMIN)
        martin = make_payer(regie, "Famille Martin", email="famille.martin@example.fr")
        silent = make_payer(regie, "Famille Sans Courriel")
        for payer in (martin, silent):
            mandate_record(payer=payer, debtor_name=payer.name, iban=CA_IBAN, bic=CA_BIC,
                           signed_on=datetime.date(2026, 9, 1), actor=ADMIN,
                           today=datetime.date(2026, 9, 1))
        today = timezone.localdate()
        soon = today + datetime.timedelta(days=20)
        make_invoice(regie, martin, "45.10", number="F-1", due_on=soon)
        make_invoice(regie, martin, "12.35", number="F-2", due_on=soon)
        make_invoice(regie, silent, "9.00", number="F-3", due_on=soon)
        make_invoice(regie, martin, "1.00", number="F-LATER",
                     due_on=today + datetime.timedelta(days=40))
        assert prenotifications_prepare(on=today, actor=Actor.system("test")) == []
        mail.outbox.clear()
        on = soon - datetime.timedelta(days=14)
        ids = prenotifications_prepare(on=on, actor=Actor.system("test"))
        assert len(ids) == 2
        assert prenotifications_prepare(on=on, actor=Actor.system("test")) == []
        send(direct_debit_commune_daily, commune=venissieux)  # prepares none, sends these
        send(direct_debit_commune_daily, commune=venissieux)  # sends nothing more
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        mandate = Mandate.objects.get(payer=martin)
        assert message.to == ["famille.martin@example.fr"]
        assert "57,45 €" in message.body and ICS in message.body and mandate.rum in message.body
        debit_day = soon
        while debit_day.weekday() >= 5:
            debit_day += datetime.timedelta(days=1)
        assert f"à partir du {debit_day:%d/%m/%Y}" in message.body
        assert "•••• 0189" in message.body and CA_IBAN not in message.body
        notices = {n.mandate.payer.name: n.status for n in PreNotification.objects.all()}
        assert notices == {"Famille Martin": NoticeStatus.SENT,
                           "Famille Sans Courriel": NoticeStatus.NO_ADDRESS}
        assert AuditEvent.objects.filter(code="sepa.prenotifications_sent").exists()


# --- selection -------------------------------------------------------------------------

def test_a_paid_or_handed_over_invoice_is_refused_at_selection(venissieux):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=MODES)
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        creditor_set(regie=regie, ics=ICS, iban=DFT_IBAN, bic="BDFEFRPP",
                     name="Ville de Vénissieux – cantine", actor=ADMIN)
        martin = make_payer(regie, "Famille Martin", address_line="3 rue Paul Bert",
                            postal_code="69200", city="Vénissieux")
        mandate_record(payer=martin, debtor_name=martin.name, iban=CA_IBAN, bic=CA_BIC,
                       signed_on=datetime.date(2026, 9, 1), actor=ADMIN,
                       today=datetime.date(2026, 9, 1))
        old = make_invoice(regie, martin, "20.00", number="FAC-OLD",
                           due_on=datetime.date(2026, 10, 15))
        handover_create(regie=regie, due_before=datetime.date(2026, 11, 1), actor=ADMIN,
                        day=datetime.date(2026, 12, 1))
        paid = make_invoice(regie, martin, "10.00", number="FAC-PAID")
        payment_record(regie=regie, actor=TITULAIRE, amount="10.00", mode="cash",
                       invoices=[paid])
        fresh = make_invoice(regie, martin, "30.00", number="FAC-NEW")
        day = datetime.date(2026, 12, 15)
        today = datetime.date(2026, 12, 7)
        with pytest.raises(DirectDebitError, match="FAC-OLD est transmise au comptable "
                                                   "public .* ne se prélève plus"):
            collect(regie=regie, collection_date=day, actor=TITULAIRE, today=today,
                    invoices=[old])
        with pytest.raises(DirectDebitError, match="FAC-PAID est déjà payée"):
            collect(regie=regie, collection_date=day, actor=TITULAIRE, today=today,
                    invoices=[fresh, paid])
        collection = collect(regie=regie, collection_date=day, actor=TITULAIRE, today=today)
        assert [line.invoice.number for line in collection.lines.all()] == ["FAC-NEW"]
        with pytest.raises(DirectDebitError, match="FAC-NEW est déjà dans la remise"):
            collect(regie=regie, collection_date=day, actor=TITULAIRE, today=today,
                    invoices=[fresh])
