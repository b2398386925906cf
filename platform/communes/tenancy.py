"""The database connection as django-tenants makes it: typed, for the modules that move
it between schemas (``set_tenant``, ``set_schema_to_public``, ``schema_name``)."""

from typing import cast

from django.db import connection as _connection
from django_tenants.postgresql_backend.base import DatabaseWrapper

# The same thread-local proxy as django.db.connection, seen with its real type.
connection = cast(DatabaseWrapper, _connection)
