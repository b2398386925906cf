"""The database router: commune-schema models go to the database of the commune entered
(``communes.tenancy``), shared models to ``default``, where the registry lives.

Migrations: the shared apps exist only in default's public schema; a commune's schema, in
whichever database, holds the tenant apps. The other databases' public schemas hold none
of our tables.
"""

from __future__ import annotations

from functools import cache

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django_tenants.routers import TenantSyncRouter

from opsn.kernel.tenancy import current_alias


@cache
def tenant_labels() -> frozenset[str]:
    return frozenset(cfg.label for cfg in apps.get_app_configs()
                     if cfg.name in settings.TENANT_APPS and cfg.name not in settings.SHARED_APPS)


def is_tenant_model(model) -> bool:
    return model._meta.app_label in tenant_labels()


class CommuneRouter(TenantSyncRouter):
    def db_for_read(self, model, **hints):
        return current_alias() if is_tenant_model(model) else DEFAULT_DB_ALIAS

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == DEFAULT_DB_ALIAS:
            return super().allow_migrate(db, app_label, model_name, **hints)
        if connections[db].schema_name == "public":
            return False  # the registry and the shared apps live in default only
        # True, not None: the next router (django-tenants', which it requires in the list)
        # would refuse any database but default.
        return self.app_in_list(app_label, settings.TENANT_APPS)
