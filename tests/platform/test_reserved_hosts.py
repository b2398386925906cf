"""The hosts the platform serves itself — the operator's console and portal, the identity
provider's, the reserved names under the base domain — are never a commune's domain: the
registry refuses them (hence the operator API, the console and the command line), with a
French message."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from opsn.communes import errors, services
from opsn.communes.models import Commune, Domain


def post(client, url, payload):
    return client.post(url, json.dumps(payload), content_type="application/json")


@pytest.mark.parametrize("host, what", [
    ("connexion.localhost", "fournisseur d'identité"),
    ("Connexion.Localhost.", "fournisseur d'identité"),
    ("console.localhost", "l'opérateur (console)"),
    ("localhost", "au moins deux parties"),  # not even a domain name
    ("metrics.localhost", "la plateforme"),
    ("www.localhost", "la plateforme"),
])
def test_the_operator_api_refuses_the_platforms_own_hosts(api, host, what):
    response = post(api, "/api/v1/communes/69259/domains", {"domain": host})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == "domain"
    assert what in body["message"]
    if "parties" not in what:
        assert body["code"] == "reserved_domain"
        assert body["message"].endswith("ne peut pas être le domaine d'une commune.")
    assert not Domain.objects.filter(domain=host.lower().rstrip(".")).exists()


def test_the_identity_providers_host_is_reserved_wherever_it_is(api, settings):
    settings.OPSN_IDP = "keycloak"
    settings.OPSN_OIDC_ISSUER = "https://sso.opsn.example.fr/realms/opsn"
    settings.OPSN_KEYCLOAK_SERVER_URL = "https://keycloak.opsn.example.fr"
    settings.OPSN_OPERATOR_HOSTS = frozenset({"console.localhost", "localhost",
                                              "portail.opsn.example.fr"})
    for host in ("sso.opsn.example.fr", "keycloak.opsn.example.fr", "portail.opsn.example.fr"):
        response = post(api, "/api/v1/communes/69259/domains", {"domain": host})
        assert (response.status_code, response.json()["code"]) == (400, "reserved_domain")
    assert post(api, "/api/v1/communes/69259/domains",
                {"domain": "paiements.venissieux.fr"}).status_code == 201


def test_onboarding_with_a_reserved_custom_domain_creates_nothing(api):
    response = post(api, "/api/v1/communes", {"insee_code": "69273",
                                              "custom_domains": ["connexion.localhost"]})
    assert (response.status_code, response.json()["code"]) == (400, "reserved_domain")
    assert not Commune.objects.filter(insee_code="69273").exists()


def test_an_ip_address_is_not_a_domain(db, venissieux):
    with pytest.raises(errors.InvalidDomain, match="adresse IP"):
        services.domain_add(commune=venissieux, domain="10.0.0.12")


def test_the_command_line_refuses_too(venissieux):
    with pytest.raises(CommandError, match="réservé à la plateforme") as refused:
        call_command("commune_domain", "add", "69259", "connexion.localhost")
    assert refused.value.returncode == 2
    assert not Domain.objects.filter(domain="connexion.localhost").exists()


def test_the_console_refuses_too(console, venissieux):
    response = console.post("/communes/69259/domaines/ajouter/",
                            {"domain": "connexion.localhost"}, follow=True)
    page = response.content.decode()
    assert "« connexion.localhost » est réservé à la plateforme (fournisseur d&#x27;identité)" \
        in page
    assert not Domain.objects.filter(domain="connexion.localhost").exists()


def test_a_reserved_error_is_an_invalid_domain_of_the_registry():
    assert issubclass(errors.ReservedDomain, errors.InvalidDomain)
    assert issubclass(errors.ReservedDomain, errors.RegistryError)
