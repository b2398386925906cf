"""The suite's communes and databases: the two communes onboarded once per session (see
conftest.py), the second commune database, the settings every test runs with, running ORM
code inside a commune, and a set-up built once for a module."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings

from opsn.communes import routing
from opsn.communes.models import Commune
from opsn.kernel import tenancy
from opsn.kernel.tenancy import inside

VENISSIEUX = "69259"
VAULX = "69256"
SESSION_COMMUNES = (VENISSIEUX, VAULX)
# The second commune database (tests/databases.py): the system PostgreSQL when it answers.
EAST = "east"
BOTH_DATABASES = pytest.mark.django_db(databases=["default", EAST])

# The settings every test runs with (conftest.py's autouse fixture, ``once_for_the_module``).
TEST_SETTINGS = {
    "OPSN_JOBS_MODE": "inline",
    "OPSN_SCHEMA_POOL_SIZE": 0,  # no background refill threads inside test transactions
    "OPSN_NEW_COMMUNE_DATABASE": "default",  # tests that want another database say so
    "OPSN_MOVE_SETTLE_SECONDS": 0,
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    # Password hashing is deliberately slow; the tests sign in often.
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
}


def database_url(alias: str = "default") -> str:
    """The URL of a test database, for the processes a test starts."""

    db = connections[alias].settings_dict
    return f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"


def host_of(commune: Commune) -> str:
    return commune.primary_domain


def in_schema(commune: Commune):
    """Context manager: run ORM code inside a commune's schema."""

    return inside(commune)


def once_for_the_module(django_db_blocker, build):
    """For a module-scoped fixture (``yield from once_for_the_module(...)``): ``build()``
    runs once, with the settings of every test, in a transaction of the module's own; each
    test's transaction (``db``) nests in it as a savepoint rolled back after the test, and
    it is rolled back after the module's last test (Django's ``setUpTestData`` does the
    same). Only for what every test of the module asks for: pytest ends a module's fixtures
    before it runs another module's test, so no other test sees it, in any order, on any
    worker. Not for tests that use ``committed``."""
    with django_db_blocker.unblock(), transaction.atomic():
        tenancy.enter(None)
        connection.set_schema_to_public()
        with override_settings(**TEST_SETTINGS):
            built = build()
        connection.set_schema_to_public()
        routing.forget_all()
        yield built
        transaction.set_rollback(True)
    routing.forget_all()
