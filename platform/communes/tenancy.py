"""The database connection as django-tenants makes it: typed, for the modules that move
it between schemas (``set_tenant``, ``set_schema_to_public``, ``schema_name``)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from django.db import connection as _connection
from django_tenants.postgresql_backend.base import DatabaseWrapper

# The same thread-local proxy as django.db.connection, seen with its real type.
connection = cast(DatabaseWrapper, _connection)


@contextmanager
def inside(commune) -> Iterator[None]:
    """Run a block inside ``commune``'s schema (or unchanged when ``commune`` is None),
    then give the connection back the schema it had: the caller's, whatever it was."""
    previous = connection.tenant
    if commune is not None:
        connection.set_tenant(commune)
    try:
        yield
    finally:
        connection.set_tenant(previous)
