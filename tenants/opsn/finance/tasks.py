"""The finance app's background jobs: the daily reminders of unpaid invoices
(``jobs.periodic``): one job fans out one job per commune that subscribes to the régies,
each run inside its commune's schema (the message carries it)."""

from __future__ import annotations

import logging

import dramatiq
from django.utils import timezone

from opsn.finance.reminders import open_regies, reminders_send
from opsn.jobs.broker import send
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import current_commune
from opsn.regies.invoice_documents import Renderer

logger = logging.getLogger("opsn.finance")
REMINDER_ACTOR = Actor.system("relances des factures impayées")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def send_reminders() -> None:
    """Daily: one job per active commune that subscribes to the régies."""
    for commune in tenancy.communes().active_with("regies"):
        send(send_commune_reminders, commune=commune)


@dramatiq.actor(max_retries=3, min_backoff=300_000, time_limit=3_600_000)
def send_commune_reminders() -> None:
    """Inside one commune: the reminders due today of each open régie (e-mails, then the
    letters as one PDF per régie). Each goes once (``reminders.reminders_send``): a retry
    sends only what did not go. A régie that fails does not keep the others waiting; the
    job fails after them, to be retried; e-mails that failed are tried again tomorrow."""
    if current_commune() is None:
        raise RuntimeError("send_commune_reminders runs inside a commune: send(…, commune=…)")
    today = timezone.localdate()
    renderer = Renderer()
    failed = []
    for regie in open_regies(today):
        try:
            counts = reminders_send(regie=regie, actor=REMINDER_ACTOR, on=today,
                                    renderer=renderer)
        except Exception:
            logger.exception("régie %s: reminders not made", regie.number)
            failed.append(regie.number)
            continue
        if any(counts.values()):
            logger.info("régie %s: reminders %s", regie.number, counts)
    if failed:
        raise RuntimeError(f"reminders not made for the régies {', '.join(failed)}")
