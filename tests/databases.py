"""The suite's second commune database, chosen before Django reads its settings (loaded
with ``-p tests.databases``, see pyproject.toml).

Two PostgreSQL servers when we can: the embedded one (default: the registry and the
session's communes) and the system PostgreSQL on 127.0.0.1:5432 (user postgres, no
password) as the database ``east``. When that server does not answer, ``east`` is a second
database on the embedded server, so that ``./dev test`` never needs a system service.
``OPSN_COMMUNE_DATABASES`` set in the environment wins (``east`` must be one of its names).

The system server is shared with other runs: the database's name carries this worktree's
name and the run's process id (Django adds ``test_`` and the xdist worker's suffix), and
the test databases are dropped at the end of the run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psycopg

SYSTEM = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def system_postgres_reachable() -> bool:
    if os.environ.get("OPSN_TEST_SYSTEM_POSTGRES", "1") == "0":
        return False
    try:

        with psycopg.connect(**SYSTEM, connect_timeout=2):
            return True
    except Exception:  # not installed, not running, refused: the embedded fallback
        return False


if "OPSN_COMMUNE_DATABASES" not in os.environ:
    if system_postgres_reachable():
        tag = re.sub(r"[^a-z0-9]+", "_", Path(__file__).resolve().parents[1].name.lower())
        os.environ["OPSN_COMMUNE_DATABASES"] = (
            f"east=postgres://postgres@127.0.0.1:5432/opsn_{tag}_{os.getpid()}")
    else:
        os.environ["OPSN_COMMUNE_DATABASES"] = "east=embedded"
