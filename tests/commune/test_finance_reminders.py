"""Reminders (relances) of unpaid invoices: the daily job reminds each invoice once per
level, by e-mail with its PDF when the payer takes e-mails, otherwise by a letter gathered
in one PDF to print; a payment, a contest or a hand-over to the public accountant stops
them; the schedule is the régie's, checked, with French errors."""

import datetime
import io
import smtplib
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from opsn.audit.models import AuditEvent
from opsn.citizens.personal_data import payer_record
from opsn.finance import reminders, tasks
from opsn.finance.errors import FinanceError
from opsn.finance.handover import handover_create
from opsn.finance.models import InvoiceReminder, ReminderLetterBatch
from opsn.jobs.broker import send
from opsn.regies.errors import NotAllowed
from opsn.regies.models import Regie
from opsn.regies.services import founding, invoicing
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    TITULAIRE,
    make_budget,
    make_payer,
    make_regie,
)


def later(days: int):
    """The job run ``days`` days from now."""
    return mock.patch("django.utils.timezone.now",
                      return_value=timezone.now() + datetime.timedelta(days=days))


def issue(regie, payer, amount: str, *, late: int, number: str):
    due = timezone.localdate() - datetime.timedelta(days=late)
    return invoicing.invoice_issue(
        regie=regie, actor=ADMIN, payer=payer, number=number, issued_on=due, due_on=due,
        lines=[invoicing.line_draft(label="Repas", unit_price=amount)])


def reminder_mail():
    return [m for m in mail.outbox if m.subject.startswith("Relance")]


def rows(invoice):
    return list(InvoiceReminder.objects.filter(invoice=invoice).order_by("level")
                .values_list("level", "channel", "status"))


def run(commune):
    send(tasks.send_commune_reminders, commune=commune)


@pytest.fixture
def late(venissieux):
    """Martin takes e-mails (20 days late), Diallo has no address (20 days late), Petit
    has one but refused e-mails (40 days late); one invoice due 5 days ago, one paid."""
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["cash", "cheque", "transfer", "online"])
        Regie.objects.filter(pk=regie.pk).update(iban="FR7630001007941234567890185",
                                                 counter_hours="lundi 9 h–12 h")
        regie.refresh_from_db()
        martin = make_payer(regie, "Famille Martin", email="martin@example.fr")
        diallo = make_payer(regie, "Famille Diallo", address_line="8 place Léon Sublet",
                            postal_code="69200", city="Vénissieux")
        petit = make_payer(regie, "Famille Petit", email="petit@example.fr",
                           invoices_by_email=False)
        invoices = {
            "martin": issue(regie, martin, "45.00", late=20, number="F-M"),
            "diallo": issue(regie, diallo, "12.30", late=20, number="F-D"),
            "petit": issue(regie, petit, "30.00", late=40, number="F-P"),
            "recent": issue(regie, martin, "9.00", late=5, number="F-R"),
            "paid": issue(regie, diallo, "8.00", late=25, number="F-PAID"),
        }
        payment_record(regie=regie, actor=TITULAIRE, amount="8.00", mode="cash",
                       payer=diallo, invoices=[invoices["paid"]])
        mail.outbox.clear()
        return regie, invoices


def test_each_reminder_goes_once_by_email_or_by_letter_even_when_the_job_runs_twice(
        venissieux, late):
    regie, invoices = late
    with in_schema(venissieux):
        run(venissieux)
        run(venissieux)  # a retry, a second scheduler: nothing more
        [message] = reminder_mail()
        assert message.to == ["martin@example.fr"]
        assert message.subject == "Relance : facture n° F-M — Mairie de Vénissieux"
        assert "Reste à payer : 45,00" in message.body
        assert "/payer/?facture=F-M" in message.body
        [(name, pdf, kind)] = message.attachments
        assert (name, kind) == ("facture-F-M.pdf", "application/pdf")
        assert pdf.startswith(b"%PDF")
        assert rows(invoices["martin"]) == [(1, "email", "sent")]
        # no address, or e-mails refused: a letter; 40 days late is a first reminder first
        assert rows(invoices["diallo"]) == [(1, "letter", "to_print")]
        assert rows(invoices["petit"]) == [(1, "letter", "to_print")]
        assert rows(invoices["recent"]) == rows(invoices["paid"]) == []
        [batch] = ReminderLetterBatch.objects.filter(regie=regie)
        assert batch.count == 2
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(bytes(batch.file))).pages)
        text = " ".join(text.split())
        assert "Relance — facture n° F-D" in text and "Relance — facture n° F-P" in text
        assert "Reste à payer : 12,30" in text
        assert "Payer une facture" in text and "/payer/?facture=F-D" in text
        assert "FR76 3000 1007 9412 3456 7890 185" in text
        assert "Facture n° F-D" in text  # the invoice follows its letter
        assert AuditEvent.objects.filter(code="invoice.reminded").count() == 3

        # fifteen days later: the second level (Petit's comes 15 days after its first)
        with later(15):
            run(venissieux)
            run(venissieux)
        assert rows(invoices["martin"]) == [(1, "email", "sent"), (2, "email", "sent")]
        assert rows(invoices["petit"])[1] == (2, "letter", "to_print")
        # and the invoice due 5 days ago is now 20 days late: its first
        assert rows(invoices["recent"]) == [(1, "email", "sent")]
        assert len(reminder_mail()) == 3
        assert "deuxième relance" in reminder_mail()[1].body
        assert "première relance" in reminder_mail()[2].body
        # the schedule has two levels: much later, only the recent one's second
        with later(60):
            run(venissieux)
            run(venissieux)
        assert len(reminder_mail()) == 4
        assert ReminderLetterBatch.objects.filter(regie=regie).count() == 2
        # the family's right of access carries them
        record = payer_record(invoices["martin"].payer_id)
        [sent] = [i for i in record["invoices"] if i["number"] == "F-M"]
        assert [(r["level"], r["channel"], r["to"]) for r in sent["reminders"]] == [
            (1, "email", "martin@example.fr"), (2, "email", "martin@example.fr")]


def test_a_payment_in_full_a_contest_or_a_hand_over_stops_the_reminders(venissieux, late):
    regie, invoices = late
    with in_schema(venissieux):
        run(venissieux)
        martin, diallo, petit = invoices["martin"], invoices["diallo"], invoices["petit"]
        payment_record(regie=regie, actor=TITULAIRE, amount="45.00", mode="cash",
                       payer=martin.payer, invoices=[martin])
        reminders.invoice_contest(invoice=diallo, actor=TITULAIRE,
                                  reason="Absent du 3 au 7 : repas non pris")
        assert AuditEvent.objects.filter(code="invoice.contested").exists()
        payment_record(regie=regie, actor=TITULAIRE, amount="10.00", mode="cash",
                       payer=petit.payer, invoices=[petit])  # partly paid: goes on
        with later(15):
            run(venissieux)
        assert [r[0] for r in rows(martin)] == [1]
        assert [r[0] for r in rows(diallo)] == [1]
        petit_rows = InvoiceReminder.objects.filter(invoice=petit).order_by("level")
        assert [(r.level, r.owed) for r in petit_rows] == [(1, Decimal("30.00")),
                                                          (2, Decimal("20.00"))]
        # the contest settled: reminders resume
        reminders.invoice_contest_lift(invoice=diallo, actor=ADMIN,
                                       reason="Repas bien servis (registre)")
        with later(16):
            run(venissieux)
        assert [r[0] for r in rows(diallo)] == [1, 2]


def test_an_invoice_handed_over_to_the_accountant_is_no_longer_reminded(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        payer = make_payer(regie, "Famille Martin", email="martin@example.fr",
                           address_line="3 rue Paul Bert", postal_code="69200",
                           city="Vénissieux")
        invoice = issue(regie, payer, "45.00", late=20, number="F-H")
        handover_create(regie=regie, actor=ADMIN, due_before=timezone.localdate())
        mail.outbox.clear()
        run(venissieux)
        assert rows(invoice) == [] and reminder_mail() == []


def test_an_email_that_fails_is_kept_tried_again_and_sent_by_letter_after_three_tries(
        venissieux, late):
    _regie, invoices = late
    martin = invoices["martin"]
    with in_schema(venissieux), mock.patch("django.core.mail.EmailMessage.send",
                                           side_effect=smtplib.SMTPException("refusé")):
        run(venissieux)
        [row] = InvoiceReminder.objects.filter(invoice=martin)
        assert (row.status, row.attempts) == ("failed", 1)
        assert "n'a pas pu être envoyé" in row.error
        assert AuditEvent.objects.filter(code="invoice.reminder_failed").count() == 1
        run(venissieux)
        run(venissieux)
        assert InvoiceReminder.objects.get(invoice=martin).attempts == 3
        run(venissieux)
        row = InvoiceReminder.objects.get(invoice=martin)
        assert (row.level, row.channel, row.status, row.attempts) == (1, "letter", "to_print", 4)
        assert row.letters is not None


def test_the_schedule_is_the_regies_checked_in_french_and_can_be_switched_off(
        venissieux, late):
    regie, invoices = late
    check = reminders.checked_delays
    assert check(["10", "", ""]) == (10,)
    assert check(["15", "30", "60"]) == (15, 30, 60)
    for typed, message in (
            (["", "", ""], "au moins le délai de la première relance"),
            (["0", "", ""], "entre 1 et 365"),
            (["abc", "", ""], "« abc » ne convient pas"),
            (["15", "400", ""], "entre 1 et 365"),
            (["30", "15", ""], "doit venir après la première"),
            (["15", "", "60"], "Donnez le délai de la deuxième relance"),
            (["\x00", "", ""], "au moins le délai"),
            (["99999999999999999999", "", ""], "entre 1 et 365")):
        with pytest.raises(FinanceError, match=message):
            check(typed)
    with in_schema(venissieux):
        assert reminders.schedule_of(regie).delays == (15, 30)  # the default
        with pytest.raises(NotAllowed):
            reminders.reminder_schedule_save(regie=regie, actor=MANDATAIRE, enabled=True,
                                             delays=["10"])
        reminders.reminder_schedule_save(regie=regie, actor=TITULAIRE, enabled=True,
                                         delays=["25", "", ""])
        run(venissieux)
        assert reminder_mail() == []  # 20 days late: not yet
        assert rows(invoices["petit"]) == [(1, "letter", "to_print")]
        reminders.reminder_schedule_save(regie=regie, actor=ADMIN, enabled=False,
                                         delays=["25"])
        with later(10):
            run(venissieux)
        assert reminder_mail() == []
        assert AuditEvent.objects.filter(code="reminders.schedule_saved").count() == 2
