"""The régies' background jobs. The daily retention of payers' personal data
(``pseudonymise_commune_payers``, fanned out by ``opsn.citizens.tasks``, which knows the
payers linked to citizens' accounts). The daily warnings (``jobs.periodic``): one job fans out
one job per commune, each of which runs inside its commune's schema (the message carries
it) and e-mails the keepers of its régies that must deposit now."""

from __future__ import annotations

import logging

import dramatiq
from django.db.models import Q
from django.utils import timezone

from opsn.branding.selectors import payer_retention_years
from opsn.jobs.broker import send
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import current_commune
from opsn.regies.models import Regie
from opsn.regies.services.erasure import payers_pseudonymise
from opsn.regies.services.mailing import regie_warnings_send

logger = logging.getLogger("opsn.regies")
ACTOR = Actor.system("alertes des régies")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def warn_regies() -> None:
    """Daily: one job per active commune that subscribes to the régies (a commune that
    does not has none to warn about; a suspended one is not served)."""

    for commune in tenancy.communes().active_with("regies"):
        send(warn_commune_regies, commune=commune)


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def warn_commune_regies() -> None:
    """Inside one commune's schema: e-mail each open régie's keepers its overdue deposit
    or its maximum cash reached. Idempotent per day (``regie_warnings_send``): a retry
    sends only what did not go. One régie that fails does not keep the others waiting;
    the job fails after them, to be retried."""

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


RETENTION_ACTOR = Actor.system("conservation des données des payeurs")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def pseudonymise_commune_payers(linked: list[int]) -> None:
    """Inside one commune's schema: pseudonymise the payers past the commune's retention
    period, except ``linked`` (its payers linked to a citizen's account). Idempotent."""

    commune = current_commune()
    if commune is None:
        raise RuntimeError("pseudonymise_commune_payers runs inside a commune: "
                           "send(…, commune=…)")
    done = payers_pseudonymise(actor=RETENTION_ACTOR, years=payer_retention_years(),
                               linked=linked)
    if done:
        logger.info("%s payers pseudonymised in %s", done, commune.schema_name)
