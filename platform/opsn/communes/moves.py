"""Moving a commune from one database to another (``opsn commune_move``).

1. The commune becomes read-only (``Commune.moving_to``): its pages are still served, every
   write is refused with a clear message (the routing middleware for unsafe requests,
   ``tenancy.atomic`` for any write transaction, the job middleware puts its jobs off).
   The move waits ``OPSN_MOVE_SETTLE_SECONDS`` for every process's routing cache to see it.
2. On the source database, one transaction takes a SHARE lock on every table of the
   commune's schema: it waits for the writes already under way and keeps any other out
   until the end; reads go on.
3. The schema is exported with the archive export (``pg_dump`` sees the locked state; the
   archive stays in ``OPSN_EXPORT_DIR``), restored into the target database, and checked:
   the same rows in every table, and every régie's ledger chain intact there.
4. The map is switched (``Commune.database``) and the routing caches forget it.
5. After the settle delay again (a process that still routes to the old database reads the
   old, identical schema meanwhile), the old schema is dropped, and the commune is
   read-write again.

A failure before the switch (4) drops what was restored in the target database and makes
the commune read-write again, served from its old database: nothing is lost. After the
switch the commune lives in the new database; failing to drop the old schema leaves it
behind (logged), which is harmless: the registry no longer names it.
"""

from __future__ import annotations

import logging
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import transaction
from psycopg import sql

from opsn.communes import routing, schemas
from opsn.communes.archive import commune_export, restore_dump
from opsn.communes.errors import InvalidState, RegistryError
from opsn.communes.models import Commune
from opsn.communes.services import check_database
from opsn.kernel.tenancy import connection_for, inside
from opsn.regies.chain import verify_chain
from opsn.regies.models import Regie

logger = logging.getLogger("opsn.moves")


class MoveFailed(RegistryError):
    code = "move_failed"
    http_status = 500


def connection_params(database: str) -> dict:
    """psycopg parameters of a Django database (for a connection of our own)."""
    params = connection_for(database).get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(key, None)
    return params


def table_counts(cursor, schema: str) -> dict[str, int]:
    """Rows of every table of ``schema``, in one query."""
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1",
                   [schema])
    tables = [row[0] for row in cursor.fetchall()]
    if not tables:
        return {}
    cursor.execute(sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}::text, count(*) FROM {}").format(sql.Literal(t),
                                                           sql.Identifier(schema, t))
        for t in tables))
    return dict(cursor.fetchall())


def verify_copy(commune: Commune, database: str, expected: dict[str, int]) -> None:
    """The restored schema in ``database`` holds the same rows as the source, and every
    régie's ledger chain is intact there (recomputed by the database)."""
    with connection_for(database).cursor() as cursor:
        found = table_counts(cursor, commune.schema_name)
    if found != expected:
        differ = sorted(t for t in set(found) | set(expected)
                        if found.get(t) != expected.get(t))
        raise MoveFailed(f"La copie de {commune.name} dans la base {database} ne compte pas "
                         f"les mêmes lignes : {', '.join(differ[:5])}.")

    copy = Commune.objects.get(pk=commune.pk)
    copy.database = database
    with inside(copy):
        for regie in Regie.objects.order_by("pk"):
            broken = verify_chain(regie)
            if broken is not None:
                raise MoveFailed(f"La copie du journal de la régie {regie.number} est rompue "
                                 f"à l'écriture {broken.pk} : déplacement annulé.")


def _set_moving(commune: Commune, target: str) -> None:
    with transaction.atomic():
        Commune.objects.filter(pk=commune.pk).update(moving_to=target)
        routing.forget_soon()


def commune_move(*, commune: Commune, database: str,
                 progress: Callable[[str], None] | None = None) -> Commune:
    """Move ``commune``'s schema to ``database`` (see the module's steps)."""
    step = progress or (lambda name: None)
    check_database(database)
    with transaction.atomic():
        commune = Commune.objects.select_for_update().get(pk=commune.pk)
        if commune.database == database:
            raise InvalidState(f"{commune.name} est déjà dans la base {database}.",
                               field="database")
        if commune.is_read_only:
            raise InvalidState(f"{commune.name} est déjà en cours de déplacement vers la "
                               f"base {commune.moving_to}.")
        if schemas.schema_exists(commune.schema_name, database):
            raise InvalidState(f"Le schéma {commune.schema_name} existe déjà dans la base "
                               f"{database} : retirez-le avant de déplacer la commune.",
                               field="database")
        commune.moving_to = database
        commune.save(update_fields=["moving_to"])
        routing.forget_soon()
    source = commune.database
    step("read-only")
    frozen: psycopg.Connection | None = None
    try:
        time.sleep(settings.OPSN_MOVE_SETTLE_SECONDS)
        frozen = psycopg.connect(**connection_params(source))
        with frozen.cursor() as cursor:
            cursor.execute("SET lock_timeout = '60s'")
            cursor.execute("SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables "
                           "WHERE schemaname = %s", [commune.schema_name])
            tables = [row[0] for row in cursor.fetchall()]
            if tables:
                cursor.execute(f"LOCK TABLE {', '.join(tables)} IN SHARE MODE")
            expected = table_counts(cursor, commune.schema_name)
        step("locked")
        archive = commune_export(commune=commune)
        step("exported")
        restored = False
        try:
            with tempfile.TemporaryDirectory(prefix="opsn-move-") as tmp:
                with tarfile.open(archive.path, "r") as tar:
                    tar.extract("schema.dump", tmp, filter="data")
                restore_dump(Path(tmp) / "schema.dump", database)
            restored = True
            step("restored")
            verify_copy(commune, database, expected)
            step("verified")
            with transaction.atomic():
                Commune.objects.filter(pk=commune.pk).update(database=database)
                routing.forget_soon()
        except BaseException:
            if restored or schemas.schema_exists(commune.schema_name, database):
                schemas.drop_schema(commune.schema_name, database)
            raise
    except BaseException:
        if frozen is not None:
            frozen.close()  # rolls back: the old schema was never changed
        _set_moving(commune, "")
        logger.exception("moving %s to %s failed; it stays in %s", commune.insee_code,
                         database, source)
        raise
    step("switched")
    logger.info("%s (%s) now served from database %s (archive %s)", commune.name,
                commune.insee_code, database, archive.path)
    try:
        time.sleep(settings.OPSN_MOVE_SETTLE_SECONDS)
        with frozen.cursor() as cursor:
            cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(
                sql.Identifier(commune.schema_name)))
        frozen.commit()
        step("old schema dropped")
    except Exception:
        logger.exception("the old schema %s of %s was left in database %s: drop it by hand",
                         commune.schema_name, commune.insee_code, source)
    finally:
        frozen.close()
        _set_moving(commune, "")
    commune.refresh_from_db()
    return commune
