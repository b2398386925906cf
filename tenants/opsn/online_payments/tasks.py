"""The reconciliation of online payments (``jobs.periodic``, every few minutes): one job
fans out one job per commune, each of which runs inside its commune's schema (the message
carries it) and fetches the result of the payments whose notification has not come."""

from __future__ import annotations

import logging

import dramatiq

logger = logging.getLogger("opsn.online_payments")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def reconcile_online_payments() -> None:
    """One job per active commune that subscribes to the régies."""
    from opsn.communes.selectors import active_communes_with
    from opsn.jobs.broker import send

    for commune in active_communes_with("regies"):
        send(reconcile_commune_online_payments, commune=commune)


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def reconcile_commune_online_payments() -> None:
    """Inside one commune's schema. Idempotent: a payment already settled is not asked
    again, one recorded is never recorded twice."""
    from opsn.communes.tenancy import current_commune
    from opsn.online_payments.services import online_payments_reconcile

    commune = current_commune()
    if commune is None:
        raise RuntimeError("reconcile_commune_online_payments runs inside a commune: "
                           "send(…, commune=…)")
    counts = online_payments_reconcile()
    if counts:
        logger.info("online payments reconciled in %s: %s", commune.schema_name, counts)
    if counts.get("unavailable"):
        raise RuntimeError(f"PayFiP unavailable for {counts['unavailable']} payments")
