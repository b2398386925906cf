"""django-tenants' PostgreSQL backend, whose persistent connections are health-checked
only when they have been idle.

Django's health check (``CONN_HEALTH_CHECKS``) sends ``SELECT 1`` before the first query
of every request: a whole round trip, about a tenth of a payment posted over the API. A
connection that finished a request less than ``RECENTLY`` ago, and on which the server has
sent nothing since, is taken as alive without asking: a server that ends a connection (a
restart, a failover, ``pg_terminate_backend``) says so on its socket, which then reads
ready. Any other connection (idle longer, where a firewall can have cut it silently, or
with something to read) is checked as Django does."""

from __future__ import annotations

import select
import time

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

RECENTLY = 1.0  # seconds


class DatabaseWrapper(TenantDatabaseWrapper):
    _request_ended_at = float("-inf")

    def close_if_unusable_or_obsolete(self):
        super().close_if_unusable_or_obsolete()  # at the end of every request
        if self.connection is not None and not self.errors_occurred:
            self._request_ended_at = time.monotonic()

    def close_if_health_check_failed(self):
        if (self.connection is not None and self.health_check_enabled
                and not self.health_check_done
                and time.monotonic() - self._request_ended_at < RECENTLY
                and not self._server_has_spoken()):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _server_has_spoken(self) -> bool:
        """Whether the idle connection's socket has something to read (between requests
        the server sends nothing, unless it is ending the connection)."""
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):  # already closed
            return True
        return bool(readable)
