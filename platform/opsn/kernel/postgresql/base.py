"""django-tenants' PostgreSQL backend, whose connections are recycled once they have
entered ``OPSN_DB_MAX_SCHEMAS_PER_CONNECTION`` distinct commune schemas.

A PostgreSQL backend keeps, for its whole life, a cache entry (relcache, catcache, plans)
for every relation it has opened, in every schema: a connection that reads a few tables
in each of 2,000 communes ends near 400 MB (issue 20, docs/benchmarks.md). Schemas are
entered in one place, django-tenants' ``set_tenant`` (``opsn.kernel.tenancy.enter`` and
``inside`` call it, the routing middleware and the job middleware through them): each
connection counts the distinct schemas it has been set to. Past the limit the connection
is due, and it is closed at the next boundary Django already has — the end (or start) of
a request, ``close_if_unusable_or_obsolete`` — or at the end of a job (the job
middleware calls the same), never inside a transaction, a request or a job. The next
query opens a new connection, with an empty cache, set to the schema of the moment.
0 turns recycling off (only ``CONN_MAX_AGE`` then bounds a connection's life).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import connections
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

from opsn.kernel.metrics import DB_RECYCLED

PUBLIC = "public"


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:
        self.visited_schemas: set[str] = set()
        super().__init__(*args, **kwargs)

    def set_tenant(self, tenant, include_public=True):
        super().set_tenant(tenant, include_public)
        if tenant.schema_name != PUBLIC:
            self.visited_schemas.add(tenant.schema_name)

    def note_schemas(self, names: Iterable[str]) -> None:
        """Schemas read by name in raw SQL (``"c_69259".regies_payer``), without entering
        them: their relations are cached by the backend all the same."""
        self.visited_schemas.update(n for n in names if n != PUBLIC)

    @property
    def recycle_due(self) -> bool:
        limit = getattr(settings, "OPSN_DB_MAX_SCHEMAS_PER_CONNECTION", 0)
        return bool(limit) and len(self.visited_schemas) >= limit

    def close(self):
        super().close()
        if self.connection is None:  # not kept for the end of a transaction
            # The schema of the moment is entered again by the next connection.
            self.visited_schemas = ({self.schema_name} if self.schema_name
                                    and self.schema_name != PUBLIC else set())

    def close_if_unusable_or_obsolete(self):
        """Django's check at the start and end of every request (and ours at the end of
        every job), plus: a connection that has entered too many schemas is closed."""
        super().close_if_unusable_or_obsolete()
        self.close_if_recycle_due()

    def close_if_recycle_due(self) -> None:
        """Closed once it has entered its share of schemas, never inside a transaction."""
        if self.connection is not None and self.recycle_due and not self.in_atomic_block:
            DB_RECYCLED.inc()
            self.close()


def recycle_if_due() -> None:
    """A boundary inside work that goes from one commune to the next in one request or
    job (an onboarding batch of a whole EPCI): each connection that has entered its
    share of schemas, and holds no transaction, is closed here rather than at the end of
    the work, which may be thousands of communes later."""
    for conn in connections.all(initialized_only=True):
        if isinstance(conn, DatabaseWrapper):
            conn.close_if_recycle_due()
