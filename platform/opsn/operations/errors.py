"""Error reports to Sentry, when SENTRY_DSN is set: tagged with the commune, the user's
role and the release, never personal data."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from django.conf import settings
from sentry_sdk.integrations.django import DjangoIntegration

PERSONAL_KEYS = {"email", "username", "ip_address", "cookies", "authorization", "password",
                 "name", "phone"}


def scrub(event: Any, hint: Any = None) -> Any:
    event.pop("user", None)
    request = event.get("request") or {}
    for key in ("cookies", "data", "query_string", "env"):
        request.pop(key, None)
    headers = request.get("headers") or {}
    for key in list(headers):
        if key.lower() in ("cookie", "authorization", "x-forwarded-for", "x-real-ip"):
            headers[key] = "[filtered]"
    return event


def configure() -> None:
    if not settings.SENTRY_DSN:
        return

    sentry_sdk.init(dsn=settings.SENTRY_DSN, release=settings.OPSN_RELEASE,
                    environment=settings.OPSN_ENVIRONMENT, send_default_pii=False,
                    integrations=[DjangoIntegration()], before_send=scrub,
                    traces_sample_rate=0.0)
