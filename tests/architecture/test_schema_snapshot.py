"""The database as the migrations build it, kept as text in tests/schema/.

A change of a table, column, constraint, index, trigger or SQL function shows in review as
a change of these files; a change that must leave the database alone (moving code between
modules, renaming packages) proves it did. After a migration that changes the schema on
purpose, write the files again and commit them with it:

    OPSN_SCHEMA_SNAPSHOT=write .venv/bin/pytest -p no:randomly \
        tests/architecture/test_schema_snapshot.py
"""

import os
from pathlib import Path

import pytest
from django.db import connection

from opsn.communes import schemas

SNAPSHOTS = Path(__file__).resolve().parents[1] / "schema"
COMMUNE_SCHEMA = "c_snapshot"


def describe(schema: str) -> str:
    """One line per column, constraint, index, trigger, SQL function and applied migration."""
    lines: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT table_name, column_name, data_type, is_nullable,
                   regexp_replace(coalesce(column_default, ''), '"[^"]+"\\.', '', 'g')
            FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2""", [schema])
        lines += ["column " + " | ".join(row) for row in cursor.fetchall()]
        cursor.execute("""
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = %s::regnamespace ORDER BY 1, 2""", [schema])
        lines += [f"constraint {table.split('.')[-1]} | {name} | "
                  + definition.replace(f"{schema}.", "")
                  for table, name, definition in cursor.fetchall()]
        cursor.execute("""SELECT indexname, replace(indexdef, %s, '') FROM pg_indexes
            WHERE schemaname = %s ORDER BY 1""", [f"{schema}.", schema])
        lines += ["index " + " | ".join(row) for row in cursor.fetchall()]
        cursor.execute("""SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = %s::regnamespace AND NOT t.tgisinternal
            ORDER BY 1, 2""", [schema])
        lines += [f"trigger {table} | {name} | " + definition.replace(f"{schema}.", "")
                  for table, name, definition in cursor.fetchall()]
        cursor.execute("""SELECT p.proname, pg_get_function_identity_arguments(p.oid),
                                 md5(p.prosrc)
            FROM pg_proc p WHERE p.pronamespace = %s::regnamespace ORDER BY 1, 2""", [schema])
        lines += ["function " + " | ".join(row) for row in cursor.fetchall()]
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations ORDER BY 1, 2')
        lines += ["migration " + " | ".join(row) for row in cursor.fetchall()]
    return "\n".join(lines) + "\n"


def compare(name: str, actual: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("OPSN_SCHEMA_SNAPSHOT") == "write":
        path.write_text(actual)
        pytest.skip(f"{path} written")
    expected = path.read_text()
    missing = sorted(set(expected.splitlines()) - set(actual.splitlines()))
    added = sorted(set(actual.splitlines()) - set(expected.splitlines()))
    assert (missing, added) == ([], []), f"the {name} schema differs from {path}"
    assert actual == expected


def test_a_commune_schema_is_the_one_kept_in_tests_schema(committed):
    schemas.create_schema_by_migrations(COMMUNE_SCHEMA)
    try:
        described = describe(COMMUNE_SCHEMA)
    finally:
        schemas.drop_schema(COMMUNE_SCHEMA)
    assert "regies_ledger_append_only" in described  # not comparing two empty schemas
    compare("commune", described)


def test_the_public_schema_is_the_one_kept_in_tests_schema(db):
    described = describe("public")
    assert "communes_commune" in described
    compare("public", described)
