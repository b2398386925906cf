"""Provisioning and removal of commune schemas.

Creating a schema by running every tenant migration through Django costs ~0.3 s and more
as tenant apps grow. Onboarding must be ready in milliseconds, so:

- *spare* schemas are built ahead, off the critical path (``fill_spare_pool``), and
  onboarding renames one (``claim_schema``) inside its own transaction: if onboarding
  fails, the rename is rolled back and the spare returns to the pool;
- a schema is built by replaying SQL (``migration_sql``): Django writes the SQL of the
  pending migrations once per process, as ``sqlmigrate`` does, and each new schema runs
  it in one round trip. Only when a tenant migration runs Python code does it fall back to
  Django's migrate command.

Spares are ordinary schemas for the release tooling (communes.release): they are
migrated with the communes.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.special import RunPython
from django.db.migrations.recorder import MigrationRecorder

from communes.models import SpareSchema
from communes.tenancy import connection

logger = logging.getLogger("opsn.schemas")

SPARE_PREFIX = "spare_"
SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def schema_name_for(insee_code: str) -> str:
    return f"c_{insee_code.lower()}"


def _check(name: str) -> str:
    if not SCHEMA_NAME.match(name) or name == "public" or name.startswith("pg_"):
        raise ValueError(f"invalid schema name {name!r}")
    return name


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


@dataclass(frozen=True)
class MigrationSQL:
    """What brings a schema from one migration state to the current release."""

    statements: tuple[str, ...]
    nodes: tuple[tuple[str, str], ...]  # (app, migration) to record as applied

    @property
    def script(self) -> str:
        return "\n".join(s for s in self.statements if not s.lstrip().startswith("--"))


def _tenant_labels() -> set[str]:
    return {cfg.label for cfg in apps.get_app_configs() if cfg.name in settings.TENANT_APPS}


def migration_sql(schema: str) -> MigrationSQL | None:
    """SQL that brings a schema in ``schema``'s migration state to the current release, or
    None when a pending tenant migration runs Python code (or goes backwards)."""
    connection.set_schema(schema, include_public=False)
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        tenant = _tenant_labels()
        if any(backwards for _, backwards in plan) or any(
                isinstance(op, RunPython) for m, _ in plan if m.app_label in tenant
                for op in m.operations):
            return None
        # MigrationLoader.collect_sql (what sqlmigrate uses) is missing from django-stubs.
        statements = executor.loader.collect_sql(plan)  # type: ignore[attr-defined]
        return MigrationSQL(tuple(statements), tuple((m.app_label, m.name) for m, _ in plan))
    finally:
        connection.set_schema_to_public()


# A schema name that never exists: the migration state "nothing applied".
_BLANK = "opsn_blank_schema"
_full_sql: dict[str, MigrationSQL | None] = {}


def full_schema_sql() -> MigrationSQL | None:
    """The SQL of a whole new schema at the current release. Computed once per process
    (and per MIGRATION_MODULES, which tests and the benchmark change)."""
    key = repr(sorted(getattr(settings, "MIGRATION_MODULES", {}).items()))
    if key not in _full_sql:
        plan = migration_sql(_BLANK)
        if plan is not None:
            with connection.schema_editor(collect_sql=True, atomic=False) as editor:
                editor.create_model(MigrationRecorder.Migration)
            plan = MigrationSQL(tuple(editor.collected_sql) + plan.statements, plan.nodes)
        _full_sql[key] = plan
    return _full_sql[key]


def apply_migration_sql(cursor, schema: str, plan: MigrationSQL) -> None:
    """Run ``plan`` inside ``schema`` on ``cursor`` (a Django or psycopg cursor, inside a
    transaction) and record its migrations as applied."""
    cursor.execute(f'SET LOCAL search_path TO "{_check(schema)}"')
    if plan.script.strip():
        cursor.execute(plan.script)
    cursor.executemany("INSERT INTO django_migrations (app, name, applied) "
                       "VALUES (%s, %s, now())", list(plan.nodes))


def create_schema_by_sql(name: str) -> bool:
    """CREATE SCHEMA and replay the whole release's SQL in it. False when the release
    cannot be written as SQL (then use create_schema_by_migrations)."""
    plan = full_schema_sql()
    if plan is None:
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{_check(name)}"')
            apply_migration_sql(cursor, name, plan)
    finally:
        # SET LOCAL may outlive the savepoint until the outer transaction ends: make the
        # next cursor set the search_path again.
        connection.set_schema_to_public()
    return True


def create_schema_by_migrations(name: str) -> None:
    """The slow path: CREATE SCHEMA and run every tenant migration in it."""
    _check(name)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{name}"')
    try:
        call_command("migrate_schemas", schema_name=name, interactive=False, verbosity=0)
    except Exception:
        drop_schema(name)
        raise
    finally:
        connection.set_schema_to_public()


def create_spare() -> str:
    name = _check(f"{SPARE_PREFIX}{secrets.token_hex(6)}")
    with transaction.atomic():
        if create_schema_by_sql(name):
            SpareSchema.objects.create(schema_name=name)
            return name
    create_schema_by_migrations(name)
    SpareSchema.objects.create(schema_name=name)
    return name


def spare_count() -> int:
    return SpareSchema.objects.count()


def fill_spare_pool(target: int | None = None) -> int:
    """Create spare schemas until the pool holds ``target`` (default: the setting)."""
    target = settings.OPSN_SCHEMA_POOL_SIZE if target is None else target
    created = 0
    while spare_count() < target:
        create_spare()
        created += 1
    return created


def claim_schema(name: str) -> bool:
    """Turn a spare into schema ``name``. Must run inside the onboarding transaction.

    Returns False when the pool is empty (the caller then builds one the slow way).
    """
    _check(name)
    assert connection.in_atomic_block, "claim_schema must run inside a transaction"
    spare = SpareSchema.objects.select_for_update(skip_locked=True).order_by("pk").first()
    if spare is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{_check(spare.schema_name)}" RENAME TO "{name}"')
    spare.delete()
    return True


def provision_schema(name: str) -> None:
    """Make schema ``name`` exist, migrated, inside the current transaction."""
    if claim_schema(name) or create_schema_by_sql(name):
        return
    # A tenant migration needs Python: build a spare with Django's migrate (committed on
    # its own connection), then claim it. If onboarding fails, the spare stays in the pool.
    _build_spare_outside_transaction()
    if not claim_schema(name):
        raise RuntimeError("could not provision a schema")


def _build_spare_outside_transaction() -> None:
    """Schema creation commits on its own connection so it survives a failed onboarding."""
    error: list[BaseException] = []

    def work() -> None:
        try:
            create_spare()
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=work, name="opsn-spare-schema")
    thread.start()
    thread.join()
    if error:
        raise error[0]


def refill_in_background() -> None:
    """After an onboarding: top the pool up again, as a job, without making anyone wait."""
    if settings.OPSN_SCHEMA_POOL_SIZE <= 0:
        return
    from communes.tasks import refill_spare_pool
    from jobs.broker import send

    send(refill_spare_pool)


def drop_schema(name: str) -> None:
    _check(name)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

