"""Periodic jobs run once per period, however many schedulers run."""

import datetime
import threading
from unittest import mock

from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from opsn.billing import issuing, services
from opsn.billing.models import Invoice
from opsn.billing.tasks import remind_billing_deadlines
from opsn.communes.models import CommuneModule
from opsn.jobs.models import PeriodRun
from opsn.jobs.periodic import tick
from opsn.referentiel.tasks import remind_population_release

NOON = timezone.make_aware(datetime.datetime(2026, 11, 22, 12, 0))


RECONCILE = "online-payments-reconciliation"  # every five minutes
STATISTICS = "public-statistics"  # daily: the open statistics
ATTEMPTS = "expired-attempts"  # daily
RETENTION = "payers-retention"  # daily: payers past the retention period pseudonymised
REMINDERS = "invoice-reminders"  # daily: the reminders of unpaid invoices
DEBITS = "direct-debit-daily"  # daily: SEPA pre-notifications, mandates that lapse


def test_each_job_runs_once_a_period(db):
    assert tick(NOON) == ["billing-deadlines", "population-release", "regies-warnings",
                          STATISTICS, RECONCILE, ATTEMPTS, RETENTION, REMINDERS, DEBITS]
    assert tick(NOON + datetime.timedelta(minutes=4)) == []
    assert tick(NOON + datetime.timedelta(hours=3)) == [RECONCILE]
    assert tick(NOON + datetime.timedelta(days=1)) == ["billing-deadlines", "regies-warnings",
                                                       STATISTICS, RECONCILE, ATTEMPTS, RETENTION,
                                                       REMINDERS, DEBITS]
    assert tick(NOON + datetime.timedelta(days=10)) == ["billing-deadlines",
                                                        "population-release",
                                                        "regies-warnings", STATISTICS,
                                                        RECONCILE, ATTEMPTS, RETENTION,
                                                        REMINDERS, DEBITS]


def test_the_record_of_runs_is_kept_ninety_days(db):
    summer = NOON - datetime.timedelta(days=100)
    tick(summer)
    PeriodRun.objects.update(enqueued_at=summer)  # recorded then (the field is auto_now_add)
    tick(NOON - datetime.timedelta(days=80))
    PeriodRun.objects.filter(enqueued_at__gt=summer).update(
        enqueued_at=NOON - datetime.timedelta(days=80))
    assert tick(NOON) == ["billing-deadlines", "population-release", "regies-warnings",
                          STATISTICS, RECONCILE, ATTEMPTS, RETENTION, REMINDERS, DEBITS]
    periods = list(PeriodRun.objects.values_list("period", flat=True))
    assert not [p for p in periods if p.startswith("2026-08")]  # 100 days old: forgotten
    every_job = 9  # each job's run of that day (the monthly one's period is the month)
    assert len([p for p in periods if p.startswith("2026-09")]) == every_job  # 80 days: kept
    assert len([p for p in periods if p.startswith("2026-11")]) == every_job


def test_several_schedulers_at_once_enqueue_each_job_once(committed):
    started: list[str] = []

    def scheduler() -> None:
        try:
            started.extend(tick(NOON))
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=scheduler) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(started) == sorted(["billing-deadlines", DEBITS, ATTEMPTS, REMINDERS,
                                          RECONCILE, RETENTION, "population-release",
                                          STATISTICS, "regies-warnings"])
    finally:
        PeriodRun.objects.all().delete()


def test_the_operator_hears_of_overdue_and_contested_invoices(venissieux, vaulx):
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="flat", flat_amount="1000")
    issuing.billing_issue(year=2024)
    late, contested = Invoice.objects.order_by("number")
    issuing.invoice_send(invoice=late, when=timezone.now() - datetime.timedelta(days=40))
    issuing.invoice_send(invoice=contested)
    issuing.invoice_contest(invoice=contested, reason="montant erroné")
    mail.outbox.clear()
    call_command("scheduler", "--once")
    subjects = [m.subject for m in mail.outbox]
    assert "Facturation : 1 titre(s) en retard, 1 contesté(s)" in subjects
    body = next(m.body for m in mail.outbox if m.subject.startswith("Facturation"))
    assert late.number in body and "montant erroné" in body


def test_the_operator_is_reminded_of_a_new_insee_release(db, settings):
    # The shipped figures are of 2023: in 2027 those of 2024 apply.
    with mock.patch("django.utils.timezone.localdate", return_value=datetime.date(2027, 2, 1)):
        remind_population_release.fn()
    assert mail.outbox[-1].subject == "Référentiel INSEE à mettre à jour"
    assert "celles de 2024 s'appliquent" in mail.outbox[-1].body
    mail.outbox.clear()
    remind_population_release.fn()  # in 2026 the 2023 figures are the right ones
    assert mail.outbox == []



def test_the_operator_is_reminded_that_the_titres_go_out_by_30_september(venissieux):
    with mock.patch("django.utils.timezone.localdate", return_value=datetime.date(2027, 8, 31)):
        remind_billing_deadlines.fn()
    assert mail.outbox == []
    with mock.patch("django.utils.timezone.localdate", return_value=datetime.date(2027, 9, 20)):
        remind_billing_deadlines.fn()
    assert mail.outbox[-1].subject == ("Facturation : les titres de l'année partent au plus "
                                       "tard le 30 septembre")
    assert ("Les titres 2027 doivent partir par Chorus Pro au plus tard le 30/09/2027 "
            "(il reste 10 jours)") in mail.outbox[-1].body
