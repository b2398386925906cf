"""Migrating commune schemas on a release: only those behind, SQL replayed, atomic each."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from opsn.agents.models import AgentRole, Role
from opsn.branding.models import CommuneProfile
from opsn.communes import release, schemas, services
from opsn.communes.models import Commune, SpareSchema
from tests.helpers.communes import in_schema


def unapply_agents(schema: str) -> None:
    """Put a schema one migration behind: as if it was built before the agents app."""
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{schema}".agents_agentrole')
        cursor.execute(f'DROP TABLE "{schema}".agents_servicecredential')
        cursor.execute(f'DROP TABLE "{schema}".agents_invitation')
        cursor.execute(f"DELETE FROM \"{schema}\".django_migrations WHERE app = 'agents'")


def test_a_release_with_nothing_to_migrate_touches_no_schema(committed, capsys):
    report = release.migrate_communes()
    assert report.schemas == (Commune.objects.filter(database="default").count()
                              + SpareSchema.objects.filter(database="default").count())
    assert (report.behind, report.migrated, report.failed) == (0, [], {})

    call_command("migrate_communes", "--skip-public", verbosity=1)
    assert "0 behind, 0 migrated, 0 failed" in capsys.readouterr().out


def test_schemas_behind_are_found_in_one_query_and_brought_up_to_date(committed):
    behind = [schemas.create_spare() for _ in range(3)]
    for name in behind:
        unapply_agents(name)

    found, missing = release.find_behind(release.tenant_schemas(), release.graph_nodes())
    assert set(found) == set(behind)
    assert missing == []

    report = release.migrate_communes(workers=2)
    assert sorted(report.migrated) == sorted(behind)
    assert report.failed == {}
    for name in behind:
        connection.set_schema(name)
        AgentRole.objects.create(account="agent@test.fr", role=Role.MANDATAIRE)
        assert AgentRole.objects.count() == 1
        connection.set_schema_to_public()
    assert release.find_behind(behind, release.graph_nodes())[0] == {}


def test_a_schema_that_fails_is_rolled_back_and_reported_the_others_go_on(committed, capsys):
    good, bad = schemas.create_spare(), schemas.create_spare()
    unapply_agents(good)
    unapply_agents(bad)
    with connection.cursor() as cursor:  # something in the way of CREATE TABLE
        cursor.execute(f'CREATE TABLE "{bad}".agents_agentrole (id int)')

    with pytest.raises(CommandError, match="some schemas were not migrated"):
        call_command("migrate_communes", "--skip-public", verbosity=0)
    assert f"{bad}: " in capsys.readouterr().err
    assert release.find_behind([good, bad], release.graph_nodes())[0].keys() == {bad}

    with connection.cursor() as cursor:  # the operator fixes it and runs again
        cursor.execute(f'DROP TABLE "{bad}".agents_agentrole')
    assert release.migrate_communes().migrated == [bad]


def test_commune_data_survives_a_migration(committed):
    commune = services.commune_onboard(insee_code="69273")
    with in_schema(commune):

        CommuneProfile.objects.update(official_name="Ville de Corbas")
    unapply_agents(commune.schema_name)
    assert release.migrate_communes().migrated == [commune.schema_name]
    with in_schema(commune):
        assert CommuneProfile.objects.get().official_name == "Ville de Corbas"
        assert AgentRole.objects.count() == 0


def catalogue(schema: str) -> dict:
    """Tables, columns (type, nullability, default), constraints and indexes of a schema."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT table_name, column_name, data_type, is_nullable,
                   regexp_replace(coalesce(column_default, ''), '"[^"]+"\\.', '', 'g'),
                   is_identity
            FROM information_schema.columns WHERE table_schema = %s ORDER BY 1, 2""", [schema])
        columns = cursor.fetchall()
        cursor.execute("""
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = %s::regnamespace ORDER BY 2""", [schema])
        constraints = [(t.split(".")[-1], n, d.replace(f"{schema}.", ""))
                       for t, n, d in cursor.fetchall()]
        cursor.execute("""SELECT indexname, replace(indexdef, %s, '') FROM pg_indexes
            WHERE schemaname = %s ORDER BY 1""", [f"{schema}.", schema])
        indexes = cursor.fetchall()
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations ORDER BY 1, 2')
        applied = cursor.fetchall()
        cursor.execute("""SELECT c.relname, t.tgname FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = %s::regnamespace
            AND NOT t.tgisinternal ORDER BY 1, 2""", [schema])
        triggers = cursor.fetchall()
    return {"columns": columns, "constraints": constraints, "indexes": indexes,
            "applied": applied, "triggers": triggers}


def test_a_schema_built_from_sql_is_the_one_migrations_build(committed):
    schemas.create_schema_by_migrations("c_cmp_migrations")
    assert schemas.create_schema_by_sql("c_cmp_sql")
    try:
        by_migrations, by_sql = catalogue("c_cmp_migrations"), catalogue("c_cmp_sql")
        assert by_migrations["columns"]  # not comparing two empty schemas
        assert ("regies_ledgerentry", "regies_ledger_append_only") in by_migrations["triggers"]
        assert by_sql == by_migrations
    finally:
        schemas.drop_schema("c_cmp_migrations")
        schemas.drop_schema("c_cmp_sql")


def test_a_statement_that_begins_with_a_comment_is_replayed_not_dropped():
    """Django's own comment lines go; a RunSQL whose text starts with a comment keeps its
    statement (the replay once dropped it silently)."""
    script = schemas.MigrationSQL(
        ("-- Create model Thing", "-- the counter, once\nCREATE FUNCTION f() RETURNS int "
         "LANGUAGE sql AS $$ SELECT 1 $$;", "CREATE TABLE t (id int);"), ()).script
    assert script == ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"
                      "CREATE TABLE t (id int);")
