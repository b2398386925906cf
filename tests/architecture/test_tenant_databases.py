"""What lets a commune's schema live in any database (another server, a Citus node): tenant
code never names a database or a transaction of its own, no foreign key leaves a commune's
schema, every key is a BIGINT."""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps
from django.db import connection, models

from opsn.kernel.routers import tenant_labels

ROOT = Path(__file__).resolve().parents[2]
# Being rewritten by another engineer; converted at merge (docs/decisions/0007 lists how).
# Remove it from here once it uses communes.tenancy.atomic / commune_connection.
PENDING: set[str] = set()
FORBIDDEN = {"django.db": {"connection", "connections", "transaction"},
             "opsn.kernel.tenancy": {"connection"}}


def offences(path: Path) -> list[str]:
    found: list[str] = []
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module in FORBIDDEN:
            for alias in node.names:
                if alias.name in FORBIDDEN[node.module]:
                    found.append(f"{where}:{node.lineno}: from "
                                 f"{node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno}: import {a.name}"
                      for a in node.names if a.name == "django.db"]
        elif (isinstance(node, ast.Attribute) and node.attr in FORBIDDEN["django.db"]
              and isinstance(node.value, ast.Attribute) and node.value.attr == "db"):
            found.append(f"{where}:{node.lineno}: django.db.{node.attr}")
    return found


def test_tenant_code_writes_through_the_communes_own_database():
    """``transaction.atomic`` or ``django.db.connection`` in a tenant app would run on the
    registry's database, not the commune's: use communes.tenancy.atomic / on_commit /
    commune_connection."""
    found = []
    for path in sorted((ROOT / "tenants").rglob("*.py")):
        if "migrations" in path.parts or str(path.relative_to(ROOT)) in PENDING:
            continue
        found += offences(path)
    assert found == []


def test_the_guard_sees_a_bare_transaction(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from django.db import transaction, connection\nimport django.db\n"
                      "x = django.db.connection\n")
    assert len(offences(sample)) == 4


def test_no_foreign_key_leaves_a_communes_schema_and_every_key_is_a_bigint(venissieux):
    tenant_models = [m for m in apps.get_models() if m._meta.app_label in tenant_labels()]
    assert tenant_models
    for model in tenant_models:
        assert isinstance(model._meta.pk, (models.BigAutoField, models.BigIntegerField)), model
        for field in model._meta.fields:
            if field.remote_field is not None:
                assert field.related_model._meta.app_label in tenant_labels(), (model, field)
    with connection.cursor() as cursor:  # and in the database itself
        cursor.execute("""
            SELECT conname, confrelid::regclass::text FROM pg_constraint c
            JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE c.contype = 'f' AND n.nspname = %s AND
                  (SELECT relnamespace FROM pg_class WHERE oid = c.confrelid) <> n.oid""",
                       [venissieux.schema_name])
        assert cursor.fetchall() == []
        cursor.execute("""
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = %s AND data_type <> 'bigint'
                  AND (is_identity = 'YES' OR column_default LIKE 'nextval%%')""",
                       [venissieux.schema_name])
        assert cursor.fetchall() == []
