"""Each SQL function of ours has one source file, ``<app>/sql/<function>.sql``, and the
function a migrated schema runs is the one its source file defines: a migration that
changes a function carries a frozen copy of its source file (docs/architecture.md, « SQL
functions »), so the newest copy and the source file agree.

Commune apps' functions (``tenants/opsn/<app>/sql/``) live in every commune's schema;
the public apps' (``platform/opsn/<app>/sql/``) in the public schema."""

import difflib
from pathlib import Path

import pytest
from django.db import connection

from opsn.communes import schemas

ROOT = Path(__file__).resolve().parents[2]
COMMUNE_SCHEMA = "c_sql_sources"


def sources(half: str) -> dict[str, Path]:
    """The source files of the apps in ``half`` (``tenants`` or ``platform``), by name."""
    return {path.stem: path for path in sorted((ROOT / half / "opsn").glob("*/sql/*.sql"))}


def functions(cursor, schema: str) -> dict[str, str]:
    """Every function of ``schema`` that no extension brought, as PostgreSQL writes it."""
    cursor.execute("""
        SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END
        FROM pg_proc p
        WHERE p.pronamespace = %s::regnamespace
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
        ORDER BY 1""", [schema])
    return dict(cursor.fetchall())


@pytest.fixture(params=["tenants", "platform"])
def half(request, db) -> tuple[str, str]:
    """The apps of one half and the schema they live in: for commune apps, a commune schema
    just built from the migrations' SQL (rolled back with the test)."""
    if request.param == "tenants":
        assert schemas.create_schema_by_sql(COMMUNE_SCHEMA)
        return "tenants", COMMUNE_SCHEMA
    return "platform", "public"


def _in(schema: str):
    connection.set_schema(schema, include_public=False)
    return connection.cursor()


def test_every_function_has_a_source_file_and_every_source_file_a_function(half):
    half, schema = half
    try:
        with _in(schema) as cursor:
            names = sorted({signature.split("(")[0] for signature in functions(cursor, schema)})
    finally:
        connection.set_schema_to_public()
    files = sorted(sources(half))
    assert "regies_post_payments" in names or half == "platform"  # not two empty lists
    assert (sorted(set(names) - set(files)), sorted(set(files) - set(names))) == ([], []), (
        "(functions without a source file, source files without a function)")


def test_the_functions_a_migrated_schema_runs_are_their_source_files(half):
    """Running each source file in a migrated schema changes nothing: the migrations'
    newest copy of each function is its source file, word for word (the body is compared
    as stored, comments and spaces included)."""
    half, schema = half
    found = sources(half)
    assert found
    try:
        with _in(schema) as cursor:
            for name, path in found.items():
                text = path.read_text()
                assert f"CREATE OR REPLACE FUNCTION {name}(" in text, (
                    f"{path} does not define {name} with CREATE OR REPLACE FUNCTION")
                before = functions(cursor, schema)
                cursor.execute("SAVEPOINT sql_source")
                try:
                    cursor.execute(text)
                    after = functions(cursor, schema)
                finally:
                    cursor.execute("ROLLBACK TO SAVEPOINT sql_source")
                changed = sorted(k for k in before.keys() | after.keys()
                                 if before.get(k) != after.get(k))
                assert not changed, (
                    f"{path.relative_to(ROOT)} differs from what the migrations installed: "
                    f"{changed}; write a migration that installs it (docs/architecture.md)\n"
                    + "\n".join("\n".join(difflib.unified_diff(
                        (before.get(k) or "").splitlines(), (after.get(k) or "").splitlines(),
                        "migrated", "source file", lineterm="")) for k in changed))
    finally:
        connection.set_schema_to_public()
