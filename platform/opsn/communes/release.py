"""Bring every commune schema to the current release, fast.

Stock ``migrate_schemas`` costs ~0.3 s per schema even when there is nothing to do (Django
rebuilds its migration graph, checks tables through a catalogue scan and syncs permissions
for each schema). Here:

1. One query tells which schemas are behind (``find_behind``): the applied migrations of
   every commune and spare schema are counted against the migration graph in a single
   ``UNION ALL``; a release with nothing to migrate stops there.
2. Schemas behind by the same set of migrations form a group. For a group whose pending
   migrations are all expressible as SQL, Django writes that SQL once (``collect_sql``, as
   ``sqlmigrate`` does), then each schema replays it in its own transaction, several
   schemas at a time on separate connections (``workers``).
3. A group whose pending migrations include Python code (``RunPython`` in a tenant app)
   is migrated schema by schema with Django's own executor.

Each schema is migrated atomically: one that fails is rolled back and reported, the others
go on. Running it again resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from opsn.communes import schemas
from opsn.communes.models import Commune, SpareSchema
from opsn.kernel.tenancy import connection_for

logger = logging.getLogger("opsn.release")


@dataclass
class ReleaseReport:
    schemas: int = 0
    behind: int = 0
    migrated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0


def tenant_schemas(database: str = "default") -> list[str]:
    communes = Commune.objects.filter(database=database).values_list("schema_name", flat=True)
    spares = SpareSchema.objects.filter(database=database).values_list("schema_name", flat=True)
    return sorted({*communes, *spares})


def graph_nodes() -> set[tuple[str, str]]:
    return set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def find_behind(schema_names: Iterable[str], expected: set[tuple[str, str]],
                database: str = "default") -> tuple[dict[str, frozenset], list[str]]:
    """One query: which schemas lack which migrations. Returns ({schema: applied set}
    for the schemas behind, [schemas without a migration table])."""
    names = list(schema_names)
    if not names:
        return {}, []
    with connection_for(database).cursor() as cursor:
        cursor.execute(
            "SELECT s FROM unnest(%s::text[]) s "
            "WHERE to_regclass(quote_ident(s) || '.django_migrations') IS NULL", [names])
        missing = [row[0] for row in cursor.fetchall()]
        present = [n for n in names if n not in set(missing)]
        if not present:
            return {}, missing
        values = sql.SQL(", ").join(sql.SQL("({}, {})").format(sql.Literal(a), sql.Literal(n))
                                    for a, n in sorted(expected))
        counts = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {lit}::text, count(*) FROM {tbl} d JOIN expected e "
                    "ON (d.app, d.name) = (e.app, e.name)").format(
                lit=sql.Literal(n), tbl=sql.Identifier(n, "django_migrations"))
            for n in present)
        query = sql.SQL("WITH expected(app, name) AS (VALUES {values}) {counts}").format(
            values=values, counts=counts)
        raw = cursor.cursor
        raw.execute(query)
        behind_names = [name for name, count in raw.fetchall() if count < len(expected)]
        applied: dict[str, frozenset] = {}
        if behind_names:
            lists = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {lit}::text, app, name FROM {tbl}").format(
                    lit=sql.Literal(n), tbl=sql.Identifier(n, "django_migrations"))
                for n in behind_names)
            raw.execute(lists)
            rows: dict[str, set] = defaultdict(set)
            for name, app, migration in raw.fetchall():
                rows[name].add((app, migration))
            applied = {n: frozenset(rows[n]) for n in behind_names}
    return applied, missing


class _Connections:
    """One connection per worker thread, reused from schema to schema."""

    def __init__(self, params: dict):
        self.params = params
        self.local = threading.local()
        self.opened: list[psycopg.Connection] = []
        self.lock = threading.Lock()

    def get(self) -> psycopg.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(**self.params, autocommit=True)  # one transaction each
            self.local.conn = conn
            with self.lock:
                self.opened.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.opened:
            conn.close()


def _replay(conn: psycopg.Connection, schema: str, plan: schemas.MigrationSQL) -> None:
    with conn.transaction(), conn.cursor() as cur:
        # Two runs at once must not both apply: the second waits, then sees it applied.
        cur.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
            sql.Identifier(schema, "django_migrations")))
        cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE (app, name) IN "
                            "(SELECT * FROM unnest(%s::text[], %s::text[]))").format(
                        sql.Identifier(schema, "django_migrations")),
                    [[a for a, _ in plan.nodes], [n for _, n in plan.nodes]])
        row = cur.fetchone()
        if row is None or row[0]:
            raise RuntimeError("applied concurrently by another run")
        schemas.apply_migration_sql(cur, schema, plan)


def _django_migrate(schema: str, database: str) -> None:
    call_command("migrate_schemas", schema_name=schema, database=database, interactive=False,
                 verbosity=0)
    connection_for(database).set_schema_to_public()


def migrate_communes(*, workers: int = 4, database: str = "default",
                     start: Callable[[int], None] | None = None,
                     progress: Callable[[str, str | None], None] | None = None) -> ReleaseReport:
    started = time.perf_counter()
    report = ReleaseReport()
    names = tenant_schemas(database)
    report.schemas = len(names)
    expected = graph_nodes()
    behind, report.missing = find_behind(names, expected, database)
    report.behind = len(behind)
    if start:
        start(report.behind)

    groups: dict[frozenset, list[str]] = defaultdict(list)
    for schema, applied in behind.items():
        groups[applied].append(schema)

    params = connection_for(database).get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)

    def done(schema: str, error: BaseException | None) -> None:
        if error is None:
            report.migrated.append(schema)
        else:
            report.failed[schema] = f"{type(error).__name__}: {error}"
            logger.error("migrating %s failed: %s", schema, error)
        if progress:
            progress(schema, None if error is None else str(error))

    for _, members in groups.items():
        plan = schemas.migration_sql(members[0], database)
        if plan is None:
            for schema in members:
                try:
                    _django_migrate(schema, database)
                    done(schema, None)
                except Exception as exc:
                    done(schema, exc)
            continue

        pool_connections = _Connections(params)

        def one(schema: str, plan=plan, conns=pool_connections) -> tuple[str, Exception | None]:
            try:
                _replay(conns.get(), schema, plan)
                return schema, None
            except Exception as exc:
                return schema, exc

        try:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                for schema, error in pool.map(one, members):
                    done(schema, error)
        finally:
            pool_connections.close()
    report.seconds = time.perf_counter() - started
    return report
