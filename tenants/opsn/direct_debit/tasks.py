"""Direct debit's background jobs. Daily (``jobs.periodic``): one job fans out one job per
commune, which prepares the pre-notifications due (``OPSN_SEPA_PRENOTIFICATION_DAYS``
before the debit), sends them and those that failed, and lapses the mandates unused for 36
months. After a return report is imported: the e-mails to the families and the keepers;
after a payer revokes a mandate or changes its account online: the keepers' e-mail.
Every job is idempotent: a notice is sent once, a mandate lapses once."""

from __future__ import annotations

import logging

import dramatiq
from django.utils import timezone

from opsn.direct_debit.notices import (
    mandate_change_notify,
    prenotifications_prepare,
    prenotifications_send,
    prenotifications_to_retry,
    returns_notify,
)
from opsn.direct_debit.services import lapse_unused
from opsn.jobs.broker import send
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import current_commune

logger = logging.getLogger("opsn.direct_debit")
ACTOR = Actor.system("prélèvement SEPA")
CHUNK = 500  # notices per e-mail job: several jobs share the workers


def _in_commune(job: str) -> None:
    if current_commune() is None:
        raise RuntimeError(f"{job} runs inside a commune: send(…, commune=…)")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def direct_debit_daily() -> None:
    """Daily: one job per active commune that subscribes to the régies."""
    for commune in tenancy.communes().active_with("regies"):
        send(direct_debit_commune_daily, commune=commune)


@dramatiq.actor(max_retries=3, min_backoff=60_000, time_limit=3_600_000)
def direct_debit_commune_daily() -> None:
    """Inside one commune: the pre-notifications due today (committed), then their
    e-mails and those still to send, by jobs of ``CHUNK``; the mandates that lapse."""
    _in_commune("direct_debit_commune_daily")
    commune = current_commune()
    today = timezone.localdate()
    created = prenotifications_prepare(on=today, actor=ACTOR)
    ids = sorted({*created, *prenotifications_to_retry()})
    for start in range(0, len(ids), CHUNK):
        send(send_prenotifications, ids[start:start + CHUNK], commune=commune)
    lapsed = lapse_unused(on=today, actor=ACTOR)
    logger.info("direct debit daily: %d notices prepared, %d to send, %d mandates lapsed",
                len(created), len(ids), lapsed)


@dramatiq.actor(max_retries=3, min_backoff=300_000, time_limit=3_600_000)
def send_prenotifications(notice_ids: list[int]) -> None:
    _in_commune("send_prenotifications")
    counts = prenotifications_send(notice_ids, ACTOR)
    if counts["failed"]:
        raise RuntimeError(f"{counts['failed']} pre-notification e-mail(s) not sent")


@dramatiq.actor(max_retries=3, min_backoff=300_000)
def notify_debit_returns(return_ids: list[int]) -> None:
    """Inside one commune: tell the families and the keepers of the returned debits."""
    _in_commune("notify_debit_returns")
    counts = returns_notify(return_ids, ACTOR)
    logger.info("debit returns notified: %s", counts)
    if counts["failed"]:
        raise RuntimeError(f"{counts['failed']} debit return e-mail(s) not sent")


@dramatiq.actor(max_retries=3, min_backoff=300_000)
def notify_mandate_change(mandate_id: int, change: str) -> None:
    """Inside one commune: tell the régie's keepers that the payer revoked a mandate or
    gave it a new account online."""
    _in_commune("notify_mandate_change")
    if not mandate_change_notify(mandate_id, change, ACTOR):
        raise RuntimeError(f"mandate {mandate_id}: the keepers' e-mail was not sent")
