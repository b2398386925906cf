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
migrated with the communes. Each commune database has its own pool (``SpareSchema.database``):
a commune's schema is made in the database the registry places it in.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from dataclasses import dataclass

import dramatiq
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.special import RunPython
from django.db.migrations.recorder import MigrationRecorder

from opsn.communes.models import SpareSchema
from opsn.jobs.broker import send
from opsn.kernel.tenancy import connection_for

logger = logging.getLogger("opsn.schemas")

SPARE_PREFIX = "spare_"
SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def schema_name_for(insee_code: str) -> str:
    return f"c_{insee_code.lower()}"


def _check(name: str) -> str:
    if not SCHEMA_NAME.match(name) or name == "public" or name.startswith("pg_"):
        raise ValueError(f"invalid schema name {name!r}")
    return name


def schema_exists(name: str, database: str = DEFAULT_DB_ALIAS) -> bool:
    with connection_for(database).cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


@dataclass(frozen=True)
class MigrationSQL:
    """What brings a schema from one migration state to the current release."""

    statements: tuple[str, ...]
    nodes: tuple[tuple[str, str], ...]  # (app, migration) to record as applied

    @property
    def script(self) -> str:
        return "\n".join(filter(None, map(_without_leading_comments, self.statements)))


def _without_leading_comments(statement: str) -> str:
    """Django writes a comment line before each operation (``-- Create model …``) as a
    statement of its own: those go. A statement that only begins with comments (a
    ``RunSQL`` whose file starts with one) keeps what follows them."""
    lines = statement.strip().splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines)


def _tenant_labels() -> set[str]:
    return {cfg.label for cfg in apps.get_app_configs() if cfg.name in settings.TENANT_APPS}


def migration_sql(schema: str, database: str = DEFAULT_DB_ALIAS) -> MigrationSQL | None:
    """SQL that brings a schema in ``schema``'s migration state to the current release, or
    None when a pending tenant migration runs Python code (or goes backwards). Written by
    that database's connection (its server version may differ from default's)."""
    connection = connection_for(database)
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


def full_schema_sql(database: str = DEFAULT_DB_ALIAS) -> MigrationSQL | None:
    """The SQL of a whole new schema at the current release. Computed once per process
    and database (and per MIGRATION_MODULES, which tests and the benchmark change)."""
    key = database + repr(sorted(getattr(settings, "MIGRATION_MODULES", {}).items()))
    if key not in _full_sql:
        connection = connection_for(database)
        plan = migration_sql(_BLANK, database)
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


def create_schema_by_sql(name: str, database: str = DEFAULT_DB_ALIAS) -> bool:
    """CREATE SCHEMA and replay the whole release's SQL in it. False when the release
    cannot be written as SQL (then use create_schema_by_migrations)."""
    plan = full_schema_sql(database)
    if plan is None:
        return False
    connection = connection_for(database)
    try:
        with transaction.atomic(using=database), connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{_check(name)}"')
            apply_migration_sql(cursor, name, plan)
    finally:
        # SET LOCAL may outlive the savepoint until the outer transaction ends: make the
        # next cursor set the search_path again.
        connection.set_schema_to_public()
    return True


def create_schema_by_migrations(name: str, database: str = DEFAULT_DB_ALIAS) -> None:
    """The slow path: CREATE SCHEMA and run every tenant migration in it."""
    _check(name)
    connection = connection_for(database)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{name}"')
    try:
        call_command("migrate_schemas", schema_name=name, database=database,
                     interactive=False, verbosity=0)
    except Exception:
        drop_schema(name, database)
        raise
    finally:
        connection.set_schema_to_public()


def create_spare(database: str = DEFAULT_DB_ALIAS) -> str:
    """A spare schema in ``database``, its row in the registry. In another database than
    the registry's, the schema commits first: a failure after it leaves a schema without a
    row (harmless), never a row without its schema."""
    name = _check(f"{SPARE_PREFIX}{secrets.token_hex(6)}")
    if database == DEFAULT_DB_ALIAS:
        with transaction.atomic():
            if create_schema_by_sql(name, database):
                SpareSchema.objects.create(schema_name=name, database=database)
                return name
    elif create_schema_by_sql(name, database):
        SpareSchema.objects.create(schema_name=name, database=database)
        return name
    create_schema_by_migrations(name, database)
    SpareSchema.objects.create(schema_name=name, database=database)
    return name


def spare_count(database: str = DEFAULT_DB_ALIAS) -> int:
    return SpareSchema.objects.filter(database=database).count()


def fill_spare_pool(target: int | None = None, database: str = DEFAULT_DB_ALIAS) -> int:
    """Create spare schemas in ``database`` until its pool holds ``target`` (default: the
    setting)."""
    target = settings.OPSN_SCHEMA_POOL_SIZE if target is None else target
    created = 0
    while spare_count(database) < target:
        create_spare(database)
        created += 1
    return created


def claim_schema(name: str, database: str = DEFAULT_DB_ALIAS) -> bool:
    """Turn a spare of ``database`` into schema ``name``. Must run inside the onboarding's
    transactions: the registry's (the spare's row) and the database's (the rename).

    Returns False when the pool is empty (the caller then builds one the slow way).
    """
    _check(name)
    connection = connection_for(database)
    assert connection.in_atomic_block, "claim_schema must run inside a transaction"
    spare = (SpareSchema.objects.select_for_update(skip_locked=True)
             .filter(database=database).order_by("pk").first())
    if spare is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{_check(spare.schema_name)}" RENAME TO "{name}"')
    spare.delete()
    return True


def provision_schema(name: str, database: str = DEFAULT_DB_ALIAS) -> None:
    """Make schema ``name`` exist in ``database``, migrated, inside the current
    transactions."""
    if claim_schema(name, database) or create_schema_by_sql(name, database):
        return
    # A tenant migration needs Python: build a spare with Django's migrate (committed on
    # its own connection), then claim it. If onboarding fails, the spare stays in the pool.
    _build_spare_outside_transaction(database)
    if not claim_schema(name, database):
        raise RuntimeError("could not provision a schema")


def _build_spare_outside_transaction(database: str) -> None:
    """Schema creation commits on its own connection so it survives a failed onboarding."""

    error: list[BaseException] = []

    def work() -> None:
        try:
            create_spare(database)
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="opsn-spare-schema")
    thread.start()
    thread.join()
    if error:
        raise error[0]


@dramatiq.actor(max_retries=3, min_backoff=1_000)
def refill_spare_pool(database: str = "default") -> None:
    """Idempotent: builds only what is missing to reach OPSN_SCHEMA_POOL_SIZE in that
    database's pool."""
    fill_spare_pool(database=database)


def refill_in_background(database: str = DEFAULT_DB_ALIAS) -> None:
    """After an onboarding: top the pool up again, as a job, without making anyone wait."""
    if settings.OPSN_SCHEMA_POOL_SIZE <= 0:
        return

    send(refill_spare_pool, database)


def drop_schema(name: str, database: str = DEFAULT_DB_ALIAS) -> None:
    _check(name)
    with connection_for(database).cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def set_aside(name: str, database: str) -> str:
    """Rename a schema that no registry row claims (what an interrupted onboarding can
    leave in another database) out of the way, for inspection: never dropped blindly."""
    aside = _check(f"orphan_{secrets.token_hex(3)}_{name}"[:63])
    with connection_for(database).cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{_check(name)}" RENAME TO "{aside}"')
    logger.warning("schema %s of database %s set aside as %s (no registry row)", name,
                   database, aside)
    return aside

