"""The suite's communes and databases: the two communes onboarded once per session (see
conftest.py), the second commune database, and running ORM code inside a commune."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.db import connections

from opsn.communes.models import Commune
from opsn.kernel.tenancy import inside

VENISSIEUX = "69259"
VAULX = "69256"
SESSION_COMMUNES = (VENISSIEUX, VAULX)
# The second commune database (tests/databases.py): the system PostgreSQL when it answers.
EAST = "east"
BOTH_DATABASES = pytest.mark.django_db(databases=["default", EAST])


def database_url(alias: str = "default") -> str:
    """The URL of a test database, for the processes a test starts."""

    db = connections[alias].settings_dict
    return f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"


def host_of(commune: Commune) -> str:
    return commune.primary_domain


def in_schema(commune: Commune):
    """Context manager: run ORM code inside a commune's schema."""

    return inside(commune)
