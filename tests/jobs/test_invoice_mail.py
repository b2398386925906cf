"""New invoices reach the family: one e-mail per invoice with its PDF, sent by the job
queue once the invoices are committed, inside their commune; never twice, a failure kept
for the agents, through the real broker as in production."""

from __future__ import annotations

import datetime
import smtplib
import socket
import uuid
from unittest import mock

import dramatiq
import pytest
from django.core import mail

from opsn.communes.models import Commune
from opsn.jobs.broker import make_broker
from opsn.jobs.models import OutboxMessage
from opsn.regies import tasks
from opsn.regies.models import InvoiceMailing
from opsn.regies.services import invoicing
from tests.helpers.communes import in_schema
from tests.helpers.documents import pdf_text
from tests.helpers.regies import ADMIN, make_payer, make_regie, wipe_regies

AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def drafts(*payers):
    issued = datetime.date(2026, 11, 30)
    return [invoicing.InvoiceDraft(
        payer=payer, issued_on=issued, due_on=issued + datetime.timedelta(days=30),
        lines=[invoicing.line_draft(label="Restauration scolaire", quantity="8",
                                    unit_price="3.50", beneficiary="Léa")])
        for payer in payers]


def families(regie):
    return (make_payer(regie, "Famille Martin", email="martin@example.fr"),
            make_payer(regie, "Famille Nguyen", email="nguyen@example.fr"),
            make_payer(regie, "Famille Petit", email="petit@example.fr",
                       invoices_by_email=False),
            make_payer(regie, "Famille Sans Adresse"))


def test_each_new_invoice_is_emailed_once_after_commit(venissieux,
                                                       django_capture_on_commit_callbacks):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["cash", "online"])
        martin, nguyen, petit, nobody = families(regie)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            issued = invoicing.invoices_issue(regie=regie, actor=ADMIN,
                                              drafts=drafts(martin, nguyen, petit, nobody))
            assert mail.outbox == []  # nothing leaves before the invoices are committed
        assert len(callbacks) == 1
        assert sorted(m.to[0] for m in mail.outbox) == ["martin@example.fr",
                                                        "nguyen@example.fr"]
        message = next(m for m in mail.outbox if m.to == ["martin@example.fr"])
        number = issued[0].number
        assert message.subject == f"Facture n° {number} — Mairie de Vénissieux"
        assert "Reste à payer : 28,00 €, avant le 30/12/2026" in message.body
        assert f"/payer/?facture={number}" in message.body
        [(name, content, kind)] = message.attachments
        assert (name, kind) == (f"facture-{number}.pdf", "application/pdf")
        assert martin.link_code in pdf_text(content)
        rows = {m.invoice.payer.name: (m.status, m.to, m.attempts)
                for m in InvoiceMailing.objects.select_related("invoice__payer")}
        assert rows == {"Famille Martin": ("sent", "martin@example.fr", 1),
                        "Famille Nguyen": ("sent", "nguyen@example.fr", 1)}

        # The same job again (a retry, a message delivered twice): nothing more is sent.
        tasks.mail_new_invoices.fn([i.pk for i in issued])
        assert len(mail.outbox) == 2


def test_a_failed_email_is_kept_and_sent_by_the_retry(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        martin, nguyen, *_ = families(regie)
        issued = invoicing.invoices_issue(regie=regie, actor=ADMIN,
                                          drafts=drafts(martin, nguyen))
        ids = [i.pk for i in issued]
        mail.outbox.clear()
        real_send = mail.EmailMessage.send

        def refuse_martin(message, *args, **kwargs):
            if message.to == ["martin@example.fr"]:
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            return real_send(message, *args, **kwargs)

        with mock.patch("django.core.mail.EmailMessage.send", refuse_martin), \
                pytest.raises(RuntimeError, match="1 invoice e-mail"):
            tasks.mail_new_invoices.fn(ids)  # fails: dramatiq retries it later
        failed = InvoiceMailing.objects.get(invoice=issued[0])
        assert (failed.status, failed.attempts) == ("failed", 1)
        assert "serveur de messagerie indisponible" in failed.error
        assert [m.to for m in mail.outbox] == [["nguyen@example.fr"]]

        tasks.mail_new_invoices.fn(ids)  # the retry: only Martin's goes
        assert [m.to for m in mail.outbox] == [["nguyen@example.fr"], ["martin@example.fr"]]
        failed.refresh_from_db()
        assert (failed.status, failed.attempts, failed.error) == ("sent", 2, "")


def test_the_job_refuses_to_run_outside_a_commune(db):
    with pytest.raises(RuntimeError, match="inside a commune"):
        tasks.mail_new_invoices.fn([1])


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_emails_go_through_the_real_broker_once(committed, settings, monkeypatch):
    if not reachable(5672):
        pytest.skip("no RabbitMQ on 127.0.0.1:5672")
    settings.OPSN_JOBS_MODE = "broker"
    broker = make_broker(AMQP)
    queue = f"opsn-test-{uuid.uuid4().hex[:8]}"
    actor = dramatiq.Actor(tasks.mail_new_invoices.fn, broker=broker,
                           actor_name=f"mail_new_invoices_{queue}", queue_name=queue,
                           priority=0, options={})
    monkeypatch.setattr(tasks, "mail_new_invoices", actor)  # what the hook sends
    venissieux = Commune.objects.get(insee_code="69259")
    worker = dramatiq.Worker(broker, worker_threads=2)
    worker.start()
    mail.outbox.clear()
    try:
        with in_schema(venissieux):
            regie = make_regie(accepted_modes=["cash", "online"])
            martin, nguyen, petit, nobody = families(regie)
            issued = invoicing.invoices_issue(regie=regie, actor=ADMIN,
                                              drafts=drafts(martin, nguyen, petit, nobody))
        broker.join(queue, timeout=60_000)
        worker.join()
        assert not OutboxMessage.objects.exists()  # handed to RabbitMQ at commit
        assert sorted(m.to[0] for m in mail.outbox) == ["martin@example.fr",
                                                        "nguyen@example.fr"]
        # Delivered again (a redelivery after a lost acknowledgement): sent once all the same.
        actor.send_with_options(args=([i.pk for i in issued],),
                                commune_schema=venissieux.schema_name)
        broker.join(queue, timeout=60_000)
        worker.join()
        assert len(mail.outbox) == 2
        with in_schema(venissieux):
            assert sorted(InvoiceMailing.objects.values_list("to", "status", "attempts")) == [
                ("martin@example.fr", "sent", 1), ("nguyen@example.fr", "sent", 1)]
    finally:
        worker.stop()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            broker.channel.queue_delete(name)
        broker.close()
        OutboxMessage.objects.all().delete()
        with in_schema(venissieux):
            wipe_regies()
