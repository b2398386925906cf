"""/metrics: only with its token, never under a commune's domain, never without a token in
production."""

import pytest
from django.test import Client

from opsn.communes import services

POD = "10.0.0.12:8000"  # how Prometheus reaches a pod


def metrics(host: str, token: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client(HTTP_HOST=host, **headers).get("/metrics")


def test_never_under_a_communes_domain_even_with_the_token(venissieux, settings):
    services.domain_add(commune=venissieux, domain="paiements.venissieux.fr")
    for token in (None, "s3cret"):
        settings.OPSN_METRICS_TOKEN = token or ""
        for host in ("venissieux.localhost", "vaulx-en-velin.localhost:8000",
                     "paiements.venissieux.fr", "VENISSIEUX.localhost."):
            response = metrics(host, token)
            assert response.status_code == 404, (host, token)
            assert b"opsn_" not in response.content


def test_only_with_its_token(db, settings):
    settings.OPSN_METRICS_TOKEN = "s3cret"
    for host in (POD, "console.localhost", "[fd00::12]:8000"):
        assert metrics(host).status_code == 401
        assert metrics(host, "wrong").status_code == 401
        answer = metrics(host, "s3cret")
        assert answer.status_code == 200, host
        assert b"opsn_http_requests_total" in answer.content
    basic = Client(HTTP_HOST=POD, HTTP_AUTHORIZATION="Basic s3cret").get("/metrics")
    assert basic.status_code == 401
    assert metrics(POD)["WWW-Authenticate"] == "Bearer"


def test_never_without_a_token_in_production(db, settings):
    settings.OPSN_ENVIRONMENT = "production"
    settings.OPSN_METRICS_TOKEN = ""
    assert metrics(POD).status_code == 404
    assert metrics(POD, "anything").status_code == 404


@pytest.mark.parametrize("host", [POD, "console.localhost", "opsn-web.opsn.svc:80"])
def test_open_in_development_without_a_token_off_commune_domains(db, settings, host):
    settings.OPSN_METRICS_TOKEN = ""
    assert metrics(host).status_code == 200
