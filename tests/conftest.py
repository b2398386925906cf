"""The fixtures every test may use (plain functions and constants: tests/helpers/).

The test database is created once per worker; on it, once per session: the official data
is loaded, a pool of spare schemas is built, and two communes (Vénissieux, Vaulx-en-Velin)
are onboarded and committed. Tests run inside a transaction that is rolled back (DDL too:
PostgreSQL's DDL is transactional), so onboarding in a test costs a schema rename, and
the shared communes are never rebuilt.
"""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client, override_settings
from django.test.utils import setup_databases, teardown_databases
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis

from opsn.accounts.models import OperatorApiToken
from opsn.communes import routing, schemas, services
from opsn.communes.models import Commune, CommuneArchive, SpareSchema
from opsn.jobs.broker import stop_embedded_worker
from opsn.kernel import tenancy
from opsn.operations.models import Throttle
from opsn.referentiel.loader import ensure_loaded
from tests.helpers.communes import (
    EAST,
    SESSION_COMMUNES,
    TEST_SETTINGS,
    VAULX,
    VENISSIEUX,
    database_url,
)
from tests.helpers.identity import make_account, sign_in

# Property tests check what is computed, not how fast: no deadline per example, and no
# "too slow" verdict when other work shares the machine's two cores (speed is measured in
# ./dev bench, never in a test).
hypothesis.register_profile("opsn", deadline=None,
                            suppress_health_check=[HealthCheck.too_slow])
hypothesis.load_profile("opsn")


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """Always create the test database, even for a run whose tests only use ``committed``
    (pytest-django would otherwise leave the connection on the real database)."""

    # No background refill of the spare pool: threads outliving a test see half-torn state.
    with django_db_blocker.unblock(), override_settings(OPSN_SCHEMA_POOL_SIZE=0,
                                                       OPSN_NEW_COMMUNE_DATABASE="default"):
        config = setup_databases(verbosity=0, interactive=False, aliases={"default", EAST})
        assert connection.settings_dict["NAME"].startswith("test_"), "not a test database"
        assert connections[EAST].settings_dict["NAME"].startswith("test_"), "not a test database"
        # Processes the tests start (opsn serve, a killed job) find the same two databases.
        os.environ["OPSN_COMMUNE_DATABASES"] = f"{EAST}={database_url(EAST)}"
        os.environ["OPSN_NEW_COMMUNE_DATABASE"] = "default"
        ensure_loaded()
        schemas.fill_spare_pool(4)
        schemas.fill_spare_pool(2, database=EAST)
        for code in SESSION_COMMUNES:
            services.commune_onboard(insee_code=code)
        connection.set_schema_to_public()
    yield
    with django_db_blocker.unblock():
        # An in-process job worker's threads keep their connections between jobs.
        stop_embedded_worker(timeout=5)
        connection.close()
        teardown_databases(config, verbosity=0)


@pytest.fixture(autouse=True)
def _public_schema_and_settings(settings):
    for name, value in TEST_SETTINGS.items():
        setattr(settings, name, value)
    tenancy.enter(None)
    connection.set_schema_to_public()

    routing.forget_all()
    # The cache (nonces already seen) and the attempt counters are tables: a test's rows
    # roll back with it; ``committed`` clears them.
    yield
    connection.set_schema_to_public()


@pytest.fixture
def committed(django_db_setup, django_db_blocker, settings, tmp_path):
    """For tests whose work is seen by other connections or processes (pg_dump, parallel
    migrations): no wrapping transaction. Cleans up what the test added."""

    settings.OPSN_EXPORT_DIR = tmp_path / "exports"
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"].startswith("test_")

        cache.clear()
        Throttle.objects.all().delete()  # the attempt counters, seen by every connection
        spares = set(SpareSchema.objects.values_list("schema_name", flat=True))
        yield
        cache.clear()
        Throttle.objects.all().delete()
        connection.set_schema_to_public()
        tenancy.enter(None)
        for commune in Commune.objects.exclude(insee_code__in=SESSION_COMMUNES):
            for alias in connections:  # a move may have left it in either
                schemas.drop_schema(commune.schema_name, alias)
            commune.delete()
        for spare in SpareSchema.objects.exclude(schema_name__in=spares):
            schemas.drop_schema(spare.schema_name, spare.database)
            spare.delete()
        CommuneArchive.objects.all().delete()


@pytest.fixture
def venissieux(db) -> Commune:
    return Commune.objects.get(insee_code=VENISSIEUX)


@pytest.fixture
def vaulx(db) -> Commune:
    return Commune.objects.get(insee_code=VAULX)


@pytest.fixture
def operator(db):
    return make_account("operateur@opsn.test", operator=True)


@pytest.fixture
def console(operator) -> Client:
    """A browser signed in on the operator's console (through the real login form)."""
    return sign_in("console.localhost", operator.username)


@pytest.fixture
def api_token(db) -> str:
    _, raw = OperatorApiToken.issue("tests")
    return raw


@pytest.fixture
def api(api_token) -> Client:
    return Client(HTTP_HOST="console.localhost", HTTP_AUTHORIZATION=f"Bearer {api_token}")


def pytest_sessionfinish(session, exitstatus):
    """Stop an in-process job worker a test started while pytest still captures output:
    at interpreter exit (its usual stop) the captured streams are closed and its last
    log line would be a « Logging error »."""
    stop_embedded_worker(timeout=5)
