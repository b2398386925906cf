"""Probes, metrics, logs, error reports and security headers."""

import io
import json
import logging

import dramatiq
import sentry_sdk
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client

from opsn.jobs.broker import make_broker
from opsn.kernel import context
from opsn.operations import errors, probes
from opsn.operations.logs import ContextFilter, Formatter
from opsn.operations.middleware import RequestContextMiddleware


def test_probes_answer_on_any_host_without_a_commune(db):
    for host in ("10.0.0.12:8000", "venissieux.localhost", "console.localhost"):
        client = Client(HTTP_HOST=host)
        assert client.get("/healthz").content == b"ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "checks": {"database": "ok", "broker": "ok"}}


def test_readiness_fails_when_the_database_is_gone(db, monkeypatch):
    monkeypatch.setattr(probes, "_database", lambda: "OperationalError: connection refused")
    ready = Client(HTTP_HOST="10.0.0.12").get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "OperationalError: connection refused"


def test_readiness_reports_a_real_broker_that_is_down(db, settings):
    settings.OPSN_BROKER_URL = "redis://127.0.0.1:6379/15"
    previous = dramatiq.get_broker()
    dramatiq.set_broker(make_broker("redis://127.0.0.1:1/15"))  # nothing listens there
    try:
        ready = Client(HTTP_HOST="10.0.0.12").get("/readyz")
    finally:
        dramatiq.set_broker(previous)
    # Still ready: pages are served and jobs wait in the outbox (tests/jobs/test_faults.py).
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert "Connection" in ready.json()["checks"]["broker"]
    assert "outbox" in ready.json()["degraded"]


def test_metrics_count_requests_by_view_and_communes_by_status(db, settings):
    Client(HTTP_HOST="venissieux.localhost").get("/")
    body = Client(HTTP_HOST="10.0.0.12").get("/metrics").content.decode()
    assert 'opsn_http_requests_total{method="GET",status="2xx",view="commune_site:home"}' in body
    assert 'opsn_communes{status="active"} 2.0' in body
    assert "venissieux" not in body  # no commune label: bounded cardinality

    settings.OPSN_METRICS_TOKEN = "s3cret"
    assert Client(HTTP_HOST="10.0.0.12").get("/metrics").status_code == 401
    assert Client(HTTP_HOST="10.0.0.12", HTTP_AUTHORIZATION="Bearer s3cret").get(
        "/metrics").status_code == 200


def test_log_lines_are_json_with_the_request_id_and_the_commune():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(Formatter())
    logger = logging.getLogger("opsn.test.json")
    logger.addHandler(handler)
    tokens = context.request_id.set("abc123"), context.commune.set("69259")
    try:
        logger.warning("paiement refusé")
    finally:
        context.request_id.reset(tokens[0])
        context.commune.reset(tokens[1])
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "paiement refusé"
    assert (line["request_id"], line["commune"], line["level"]) == ("abc123", "69259",
                                                                   "WARNING")


def test_every_response_carries_a_request_id_and_security_headers(venissieux):
    response = Client(HTTP_HOST="venissieux.localhost", HTTP_X_REQUEST_ID="req-42").get("/")
    assert response["X-Request-ID"] == "req-42"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert len(Client(HTTP_HOST="venissieux.localhost").get("/")["X-Request-ID"]) == 32


def test_error_reports_carry_no_personal_data():
    event = {"user": {"email": "marie@example.fr", "ip_address": "1.2.3.4"},
             "request": {"cookies": {"sessionid": "x"}, "data": {"password": "p"},
                         "headers": {"Cookie": "sessionid=x", "Authorization": "Bearer t",
                                     "User-Agent": "Firefox"}},
             "tags": {"commune": "69259"}}
    scrubbed = errors.scrub(event)
    assert "user" not in scrubbed
    assert "cookies" not in scrubbed["request"] and "data" not in scrubbed["request"]
    assert scrubbed["request"]["headers"] == {"Cookie": "[filtered]",
                                              "Authorization": "[filtered]",
                                              "User-Agent": "Firefox"}
    assert scrubbed["tags"] == {"commune": "69259"}


def test_error_reports_are_tagged_with_the_commune_and_role(venissieux, settings, rf):
    captured = []
    settings.SENTRY_DSN = "https://key@errors.invalid/1"
    sentry_sdk.init(dsn=settings.SENTRY_DSN, before_send=lambda e, h: captured.append(e),
                    default_integrations=False)
    try:
        def view(request):
            sentry_sdk.capture_message("boom")

            return HttpResponse("ok")

        request = rf.get("/")
        request.commune = venissieux
        request.user = AnonymousUser()
        with sentry_sdk.isolation_scope():
            RequestContextMiddleware(view)(request)
    finally:
        sentry_sdk.init()  # no DSN: reporting off again
    assert captured[0]["tags"]["commune"] == "69259"
    assert captured[0]["tags"]["role"] == "anonymous"


def test_forms_post_to_the_site_and_to_the_identity_provider_only(venissieux, settings):
    """Browsers apply form-action along a form's redirects: signing out goes to the
    provider; the provider's own sign-in forms end on any site's callback."""
    settings.OPSN_OIDC_ISSUER = "https://connexion.opsn.example.fr"
    policy = Client(HTTP_HOST="venissieux.localhost").get("/")["Content-Security-Policy"]
    assert "form-action 'self' https://connexion.opsn.example.fr" in policy
    provider = Client(HTTP_HOST=settings.OPSN_IDP_HOST).get("/connexion/")
    assert "form-action" not in provider["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in provider["Content-Security-Policy"]


def test_forms_may_also_lead_to_the_payment_provider(venissieux, settings):
    """« Payer en ligne » posts to the site, which sends the browser to PayFiP's page."""
    settings.OPSN_OIDC_ISSUER = "https://connexion.opsn.example.fr"
    settings.OPSN_PAYFIP = "payfip"
    policy = Client(HTTP_HOST="venissieux.localhost").get("/")["Content-Security-Policy"]
    assert ("form-action 'self' https://connexion.opsn.example.fr https://www.payfip.gouv.fr"
            in policy)
    settings.OPSN_PAYFIP = "local"
    settings.OPSN_PAYFIP_LOCAL_URL = "http://localhost:8000/payfip-local"
    policy = Client(HTTP_HOST="venissieux.localhost").get("/")["Content-Security-Policy"]
    assert policy.endswith("form-action 'self' https://connexion.opsn.example.fr "
                           "http://localhost:8000")
    # The local provider's page ends on whichever commune's site asked.
    page = Client(HTTP_HOST="localhost").get("/payfip-local/tpa/paiementws.web?idop=x")
    assert page.status_code == 404 and "form-action" not in page["Content-Security-Policy"]
