"""Liveness and readiness, answered before host routing: an orchestrator probes the pod's
address, which names no commune."""

from __future__ import annotations

import json

import dramatiq
from django.conf import settings
from django.db import connections
from django.http import HttpResponse


def _database() -> str | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]


def _broker() -> str | None:
    if not settings.OPSN_BROKER_URL:
        return None  # in-process broker: nothing to reach

    broker = dramatiq.get_broker()
    try:
        if hasattr(broker, "client"):  # redis
            broker.client.ping()
        elif hasattr(broker, "connection"):  # rabbitmq
            broker.connection  # noqa: B018 - opens (or reuses) the connection
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]


def liveness() -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def readiness() -> HttpResponse:
    """Ready when the database answers. A broker that is down does not make the pod
    unready: pages are still served and jobs wait in the outbox (``jobs.broker.send``)
    until it returns; the answer says so, for monitoring."""
    checks = {"database": _database(), "broker": _broker()}
    ready = checks["database"] is None
    body = {"ready": ready, "checks": {k: v or "ok" for k, v in checks.items()}}
    if checks["broker"]:
        body["degraded"] = "jobs wait in the outbox until the broker returns"
    return HttpResponse(json.dumps(body), status=200 if ready else 503,
                        content_type="application/json")
