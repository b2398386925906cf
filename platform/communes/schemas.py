"""Provisioning and removal of commune schemas.

Creating a schema by running every tenant migration takes about a second; onboarding must
be ready in milliseconds. So schemas are built ahead, off the critical path, as *spare*
schemas migrated to the current release (``fill_spare_pool``), and onboarding renames one
(``claim_schema``) inside its own transaction: if onboarding fails, the rename is rolled
back and the spare returns to the pool. Spares are ordinary schemas for the release
tooling: they are migrated with the communes.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading

from django.conf import settings
from django.core.management import call_command
from django.db import connection

from communes.models import SpareSchema

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
    if claim_schema(name):
        return
    # Pool empty: build a spare now (committed on its own), then claim it. If the
    # onboarding fails later, that spare simply stays in the pool.
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
    """After an onboarding commits: top the pool up again without making anyone wait."""
    if settings.OPSN_SCHEMA_POOL_SIZE <= 0:
        return

    def work() -> None:
        try:
            fill_spare_pool()
        except Exception:
            logger.exception("refilling the spare schema pool failed")
        finally:
            connection.close()

    threading.Thread(target=work, name="opsn-spare-refill", daemon=True).start()


def drop_schema(name: str) -> None:
    _check(name)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

