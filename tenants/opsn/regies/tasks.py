"""The régies' background jobs. The daily warnings (``jobs.periodic``): one job fans out
one job per commune, each of which runs inside its commune's schema (the message carries
it) and e-mails the keepers of its régies that must deposit now."""

from __future__ import annotations

import logging

import dramatiq

from opsn.agents.actors import Actor

logger = logging.getLogger("opsn.regies")
ACTOR = Actor.system("alertes des régies")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def warn_regies() -> None:
    """Daily: one job per active commune that subscribes to the régies (a commune that
    does not has none to warn about; a suspended one is not served)."""
    from opsn.communes.selectors import active_communes_with
    from opsn.jobs.broker import send

    for commune in active_communes_with("regies"):
        send(warn_commune_regies, commune=commune)


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def warn_commune_regies() -> None:
    """Inside one commune's schema: e-mail each open régie's keepers its overdue deposit
    or its maximum cash reached. Idempotent per day (``regie_warnings_send``): a retry
    sends only what did not go. One régie that fails does not keep the others waiting;
    the job fails after them, to be retried."""
    from django.db.models import Q
    from django.utils import timezone

    from opsn.communes.tenancy import current_commune
    from opsn.regies.models import Regie
    from opsn.regies.services.mailing import regie_warnings_send

    if current_commune() is None:
        raise RuntimeError("warn_commune_regies runs inside a commune: send(…, commune=…)")
    today = timezone.localdate()
    failed = []
    for regie in Regie.objects.filter(starts_on__lte=today).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gt=today)).order_by("number"):
        try:
            sent = regie_warnings_send(regie=regie, actor=ACTOR)
        except Exception:
            logger.exception("régie %s: warnings not sent", regie.number)
            failed.append(regie.number)
            continue
        if sent:
            logger.info("régie %s: warnings %s sent", regie.number, sent)
    if failed:
        raise RuntimeError(f"warnings not sent for the régies {', '.join(failed)}")
