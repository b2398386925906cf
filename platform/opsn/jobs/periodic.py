"""Periodic jobs, run once per period however many schedulers (replicas) run.

``opsn scheduler`` ticks every minute; for each job whose period has begun, it inserts a
``PeriodRun`` row (name, period) and enqueues the job only if the insert succeeded. The
database's unique constraint decides between replicas; a job is enqueued after its row
commits, and every periodic job is idempotent, so a retry never doubles anything.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from opsn.jobs.broker import send
from opsn.jobs.models import PeriodRun


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    period: Callable[[datetime.datetime], str]
    actor_path: str

    def actor(self):
        return import_string(self.actor_path)


def daily(now: datetime.datetime) -> str:
    return now.strftime("%Y-%m-%d")


def monthly(now: datetime.datetime) -> str:
    return now.strftime("%Y-%m")


def every_five_minutes(now: datetime.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:") + f"{now.minute // 5 * 5:02d}"


SCHEDULE = [
    PeriodicJob("billing-deadlines", daily, "opsn.billing.tasks.remind_billing_deadlines"),
    PeriodicJob("population-release", monthly,
                "opsn.referentiel.tasks.remind_population_release"),
    PeriodicJob("regies-warnings", daily, "opsn.regies.tasks.warn_regies"),
    PeriodicJob("public-statistics", daily,
                "opsn.public_service.tasks.refresh_public_statistics"),
    PeriodicJob("online-payments-reconciliation", every_five_minutes,
                "opsn.online_payments.tasks.reconcile_online_payments"),
    PeriodicJob("expired-attempts", daily, "opsn.operations.tasks.forget_expired_attempts"),
    PeriodicJob("payers-retention", daily, "opsn.citizens.tasks.pseudonymise_payers"),
    PeriodicJob("invoice-reminders", daily, "opsn.finance.tasks.send_reminders"),
    PeriodicJob("direct-debit-daily", daily, "opsn.direct_debit.tasks.direct_debit_daily"),
]


# How long the record of each run is kept (the five-minute job alone writes 288 a day).
KEPT_FOR = datetime.timedelta(days=90)


def tick(now: datetime.datetime | None = None) -> list[str]:
    """Enqueue the jobs whose period has begun and that no scheduler enqueued yet; forget
    the runs older than ``KEPT_FOR`` (a period that old never begins again)."""
    now = timezone.localtime(now or timezone.now())
    started = []
    for job in SCHEDULE:
        try:
            with transaction.atomic():
                PeriodRun.objects.create(name=job.name, period=job.period(now))
                send(job.actor())
        except IntegrityError:
            continue  # another scheduler has it
        started.append(job.name)
    if started:
        PeriodRun.objects.filter(enqueued_at__lt=now - KEPT_FOR).delete()
    return started
