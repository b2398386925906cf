"""The host name picks the commune; nothing of another commune is ever read."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from opsn.branding.models import CommuneProfile
from opsn.communes import services
from opsn.communes.errors import InvalidState
from tests.helpers.communes import in_schema


def set_profile(commune, **fields):
    with in_schema(commune):
        CommuneProfile.objects.filter(pk=1).update(**fields)


def test_each_commune_is_served_under_its_own_domain_with_its_own_branding(venissieux, vaulx):
    set_profile(venissieux, official_name="Ville de Vénissieux", primary_color="#7A1F3D")
    set_profile(vaulx, official_name="Ville de Vaulx-en-Velin", primary_color="#2E5E2E")

    page = Client(HTTP_HOST="venissieux.localhost").get("/").content.decode()
    assert "Ville de Vénissieux" in page
    assert "--primary: #7A1F3D" in page
    assert "Vaulx" not in page

    page = Client(HTTP_HOST="vaulx-en-velin.localhost").get("/").content.decode()
    assert "Ville de Vaulx-en-Velin" in page
    assert "--primary: #2E5E2E" in page


def test_a_request_for_one_commune_never_touches_another_schema(venissieux, vaulx):
    with CaptureQueriesContext(connection) as queries:
        response = Client(HTTP_HOST="venissieux.localhost").get("/")
    assert response.status_code == 200
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    assert vaulx.schema_name not in sql
    paths = re.findall(r"SET search_path = ([^\n]+)", sql)
    assert paths and all(venissieux.schema_name in p for p in paths), paths


def test_alternating_requests_switch_schemas_every_time(venissieux, vaulx):
    set_profile(venissieux, official_name="Ville de Vénissieux")
    set_profile(vaulx, official_name="Ville de Vaulx-en-Velin")
    a, b = Client(HTTP_HOST="venissieux.localhost"), Client(HTTP_HOST="vaulx-en-velin.localhost")
    for _ in range(3):
        assert "Ville de Vénissieux" in a.get("/").content.decode()
        assert "Ville de Vaulx-en-Velin" in b.get("/").content.decode()


def test_host_names_are_matched_whatever_their_case_and_port(venissieux):
    response = Client(HTTP_HOST="VENISSIEUX.localhost:8000").get("/")
    assert response.status_code == 200
    assert "Vénissieux" in response.content.decode()


def test_a_custom_domain_reaches_the_commune(venissieux):
    services.domain_add(commune=venissieux, domain="paiements.venissieux.fr")
    response = Client(HTTP_HOST="paiements.venissieux.fr").get("/")
    assert response.status_code == 200
    assert "Vénissieux" in response.content.decode()


def test_a_host_that_names_no_commune_gets_a_clear_404(db):
    response = Client(HTTP_HOST="atlantis.localhost").get("/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Aucune commune à cette adresse" in page
    assert "atlantis.localhost" in page


def test_forwarded_host_headers_are_not_trusted(venissieux, vaulx):
    response = Client(HTTP_HOST="venissieux.localhost",
                      HTTP_X_FORWARDED_HOST="vaulx-en-velin.localhost").get("/")
    assert "Vénissieux" in response.content.decode()
    assert "Vaulx" not in response.content.decode()


def test_a_suspended_commune_answers_service_suspended_and_keeps_its_data(venissieux):
    set_profile(venissieux, official_name="Ville de Vénissieux")
    services.commune_suspend(commune=venissieux, reason="convention non renouvelée")

    response = Client(HTTP_HOST="venissieux.localhost").get("/espace/identite/")
    assert response.status_code == 503
    page = response.content.decode()
    assert "Service suspendu" in page
    assert "support@opsn.example.fr" in page
    assert "convention non renouvelée" not in page  # the reason is for the operator only

    services.commune_resume(commune=venissieux)
    response = Client(HTTP_HOST="venissieux.localhost").get("/")
    assert response.status_code == 200
    assert "Ville de Vénissieux" in response.content.decode()


def test_suspending_twice_or_resuming_an_active_commune_is_refused(venissieux):
    with pytest.raises(InvalidState, match="n'est pas suspendue"):
        services.commune_resume(commune=venissieux)
    services.commune_suspend(commune=venissieux, reason="impayés")
    with pytest.raises(InvalidState, match="déjà suspendue"):
        services.commune_suspend(commune=venissieux, reason="impayés")


def test_operator_hosts_are_served_by_the_public_schema(db):
    response = Client(HTTP_HOST="localhost").get("/")
    assert response.status_code == 200
    assert "Vénissieux" in response.content.decode()  # the portal lists the communes
    response = Client(HTTP_HOST="console.localhost").get("/")
    assert response.status_code == 302
