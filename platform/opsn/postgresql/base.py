"""django-tenants' PostgreSQL backend, whose persistent connections are health-checked
only when they have been idle.

Django's health check (``CONN_HEALTH_CHECKS``) sends ``SELECT 1`` before the first query
of every request: a whole round trip, about a tenth of a payment posted over the API. A
connection that finished a request less than ``RECENTLY`` ago is taken as alive; one that
has idled longer (where a firewall, an idle timeout or a restart can have cut it) is
checked as Django does. Should the server go away within that second, the next request on
the connection fails and Django drops the connection as it ends, as it would without
health checks."""

from __future__ import annotations

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
                and time.monotonic() - self._request_ended_at < RECENTLY):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
