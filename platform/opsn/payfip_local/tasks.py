"""The local provider's notification: a POST of ``idOp=…`` to the payment's urlnotif, as
PayFiP sends it, in a background job (the payer's request does not wait for it, and a
single-threaded server does not call itself). It goes to this deployment's own handler
(``accounts.oidc.InProcessAdapter``): urlnotif is always one of our communes' domains."""

from __future__ import annotations

import logging

import dramatiq
import requests
from django.utils import timezone

from opsn.accounts.oidc import InProcessAdapter
from opsn.payfip_local.models import Operation

logger = logging.getLogger("opsn.payfip_local")


@dramatiq.actor(max_retries=5, min_backoff=5_000)
def notify(idop: str) -> None:
    operation = Operation.objects.get(idop=idop)
    session = requests.Session()
    session.mount("http://", InProcessAdapter())
    session.mount("https://", InProcessAdapter())
    response = session.post(operation.urlnotif, data={"idOp": idop}, timeout=10)
    logger.info("local PayFiP: notification of %s → %s", idop, response.status_code)
    if response.status_code >= 500:
        raise RuntimeError(f"notification of {idop}: HTTP {response.status_code}")
    Operation.objects.filter(pk=operation.pk).update(notified_at=timezone.now())
