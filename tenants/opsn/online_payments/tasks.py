"""The reconciliation of online payments (``jobs.periodic``, every few minutes): one job
fans out one job per commune, each of which runs inside its commune's schema (the message
carries it) and fetches the result of the payments whose notification has not come."""

from __future__ import annotations

import logging

import dramatiq

from opsn.jobs.broker import send
from opsn.kernel import tenancy
from opsn.kernel.tenancy import current_commune
from opsn.online_payments.services import online_payments_reconcile

logger = logging.getLogger("opsn.online_payments")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def reconcile_online_payments() -> None:
    """One job per active commune that subscribes to the régies."""

    for commune in tenancy.communes().active_with("regies"):
        send(reconcile_commune_online_payments, commune=commune)


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def reconcile_commune_online_payments() -> None:
    """Inside one commune's schema. Idempotent: a payment already settled is not asked
    again, one recorded is never recorded twice."""

    commune = current_commune()
    if commune is None:
        raise RuntimeError("reconcile_commune_online_payments runs inside a commune: "
                           "send(…, commune=…)")
    counts = online_payments_reconcile()
    if counts:
        logger.info("online payments reconciled in %s: %s", commune.schema_name, counts)
    if counts.get("unavailable"):
        raise RuntimeError(f"PayFiP unavailable for {counts['unavailable']} payments")
