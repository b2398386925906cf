"""Communes across several databases: the registry in default, commune schemas in default
or ``east`` (the system PostgreSQL 15 when it answers, else a second database on the
embedded server: tests/databases.py). Onboarding, pages, the régies' writes, jobs, the
citizen's statement, billing's reads, releases and moves follow the registry's map."""

from __future__ import annotations

import dramatiq
import pytest
from django.db import connections
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import SkipMessage

from opsn.agents.models import AgentRole, Role
from opsn.billing.issuing import _administrators
from opsn.branding.models import CommuneProfile
from opsn.citizens.models import LinkMethod, PayerLink
from opsn.citizens.statement import statement
from opsn.communes import moves, routing, schemas, services
from opsn.communes.archive import commune_offboard, commune_restore
from opsn.communes.errors import UnknownDatabase
from opsn.communes.models import Commune, SpareSchema
from opsn.communes.release import migrate_communes
from opsn.jobs.broker import CommuneSchema
from opsn.kernel import tenancy
from opsn.kernel.errors import CommuneReadOnly
from opsn.kernel.signals import commune_schema_ready
from opsn.regies.chain import verify_chain
from opsn.regies.models import LedgerEntry, Regie
from opsn.regies.services import founding
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import BOTH_DATABASES, EAST, VENISSIEUX, in_schema
from tests.helpers.factories import InvoiceFactory
from tests.helpers.regies import ADMIN, TITULAIRE, wipe_regies

CORBAS = "69273"
GIVORS = "69091"


def tables_with_rows(alias: str, schema: str, table: str) -> int | None:
    """Rows of ``schema.table`` in database ``alias`` (None: no such table there)."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{schema}.{table}"])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
        return cursor.fetchone()[0]


@BOTH_DATABASES
def test_onboarding_into_the_second_database_serves_its_pages_from_there(client):
    commune = services.commune_onboard(insee_code=CORBAS, database=EAST)
    assert commune.database == EAST
    assert schemas.schema_exists(commune.schema_name, EAST)
    assert not schemas.schema_exists(commune.schema_name, "default")
    assert tables_with_rows(EAST, commune.schema_name, "branding_communeprofile") == 1

    page = client.get("/", HTTP_HOST=commune.primary_domain)
    assert page.status_code == 200
    assert "Corbas" in page.content.decode()


@BOTH_DATABASES
def test_an_unknown_database_is_refused_clearly():
    with pytest.raises(UnknownDatabase, match="La base « west » n'est pas déclarée"):
        services.commune_onboard(insee_code=CORBAS, database="west")
    assert not Commune.objects.filter(insee_code=CORBAS).exists()


@BOTH_DATABASES
def test_the_operator_setting_or_the_least_filled_database_takes_new_communes(settings):
    settings.OPSN_NEW_COMMUNE_DATABASE = ""
    assert services.database_for_new_commune() == EAST  # default holds the session's two
    settings.OPSN_NEW_COMMUNE_DATABASE = "default"
    assert services.database_for_new_commune() == "default"


@BOTH_DATABASES
def test_the_regies_write_into_the_communes_own_database():
    commune = services.commune_onboard(insee_code=CORBAS, database=EAST)
    with in_schema(commune):
        InvoiceFactory(amounts=["12.50"])
        assert tenancy.commune_connection().alias == EAST
    assert tables_with_rows(EAST, commune.schema_name, "regies_invoice") == 1
    assert tables_with_rows("default", commune.schema_name, "regies_invoice") is None


@BOTH_DATABASES
def test_a_payment_recorded_there_lands_in_the_second_database():
    commune = services.commune_onboard(insee_code=CORBAS, database=EAST)
    with in_schema(commune):
        invoice = InvoiceFactory(amounts=["12.50"])
        payment_record(regie=invoice.regie, actor=TITULAIRE, amount="12,50", mode="cash",
                       invoices=[invoice])
    assert tables_with_rows(EAST, commune.schema_name, "regies_ledgerentry") == 1
    assert tables_with_rows("default", commune.schema_name, "regies_ledgerentry") is None


@BOTH_DATABASES
def test_a_schema_name_in_both_databases_does_not_mix():
    """Corbas lives in east; a schema of the same name in default (left by a move, say)
    is never read for it."""
    commune = services.commune_onboard(insee_code=CORBAS, database=EAST)
    schemas.create_schema_by_sql(commune.schema_name, "default")

    default = connections["default"]
    default.set_schema(commune.schema_name)
    try:
        CommuneProfile.objects.using("default").create(pk=1, official_name="Intrus")
    finally:
        default.set_schema_to_public()
    with in_schema(commune):
        assert CommuneProfile.objects.get().official_name == "Mairie de Corbas"

    with in_schema(Commune.objects.get(insee_code=VENISSIEUX)):
        assert tenancy.commune_connection().alias == "default"
        assert CommuneProfile.objects.get().official_name == "Mairie de Vénissieux"


@BOTH_DATABASES
def test_a_job_for_a_commune_of_the_second_database_runs_there_or_waits_while_it_moves():
    commune = services.commune_onboard(insee_code=CORBAS, database=EAST)
    broker = StubBroker()
    message = dramatiq.Message(queue_name="default", actor_name="some_job", args=(),
                               kwargs={}, options={"commune_schema": commune.schema_name})
    middleware = CommuneSchema()
    middleware.before_process_message(broker, message)
    try:
        assert tenancy.current_alias() == EAST
        assert CommuneProfile.objects.get().official_name == "Mairie de Corbas"
    finally:
        middleware.after_process_message(broker, message)
    assert tenancy.current_commune() is None

    Commune.objects.filter(pk=commune.pk).update(moving_to="default")
    broker.declare_queue("default")
    with pytest.raises(SkipMessage):
        middleware.before_process_message(broker, message)
    assert tenancy.current_commune() is None
    later = broker.queues["default.DQ"].get_nowait()  # put off, with a delay
    assert dramatiq.Message.decode(later).options["commune_schema"] == commune.schema_name


@BOTH_DATABASES
def test_the_citizens_statement_gathers_communes_of_both_databases(venissieux):
    corbas = services.commune_onboard(insee_code=CORBAS, database=EAST)
    for commune, amount in ((venissieux, "45.00"), (corbas, "12.50")):
        with in_schema(commune):
            payer = InvoiceFactory(amounts=[amount]).payer
        PayerLink.objects.create(subject="citoyen-1", commune=commune, payer_id=payer.pk,
                                 payer_name=payer.name, method=LinkMethod.CODE)
    found = statement("citoyen-1")
    assert sorted((item.commune.name, str(item.amount)) for item in found.items) == [
        ("Corbas", "12.50"), ("Vénissieux", "45.00")]
    assert str(found.due) == "57.50"


@BOTH_DATABASES
def test_billing_reads_the_administrators_where_the_commune_lives():
    commune = services.commune_onboard(insee_code=CORBAS, database=EAST)
    with in_schema(commune):
        AgentRole.objects.create(account="finances@corbas.fr", role=Role.FINANCE)
    assert _administrators(commune) == ["finances@corbas.fr"]


@BOTH_DATABASES
def test_a_release_migrates_the_schemas_of_every_database():
    services.commune_onboard(insee_code=CORBAS, database=EAST)
    report = migrate_communes(database=EAST)
    assert report.schemas == (Commune.objects.filter(database=EAST).count()
                              + SpareSchema.objects.filter(database=EAST).count()) >= 2
    assert (report.behind, report.failed, report.missing) == (0, {}, [])


def _ledger(commune: Commune) -> tuple[int, list[tuple[int, str]]]:
    with in_schema(commune):
        for regie in Regie.objects.all():
            assert verify_chain(regie) is None
        return (Regie.objects.count(),
                list(LedgerEntry.objects.order_by("id").values_list("id", "hash")))


def _commune_with_payments() -> Commune:
    commune = services.commune_onboard(insee_code=GIVORS, database="default")
    with in_schema(commune):
        invoice = InvoiceFactory(amounts=["30.00"])
        payment_record(regie=invoice.regie, actor=TITULAIRE, amount="10,00", mode="cash",
                       invoices=[invoice])
        payment_record(regie=invoice.regie, actor=TITULAIRE, amount="20,00", mode="cheque",
                       invoices=[invoice], details={"cheque_number": "0012345",
                                                    "bank": "La Banque Postale"})
    return commune


def test_moving_a_commune_there_and_back_keeps_its_data_and_ledger(committed, client):
    commune = _commune_with_payments()
    before = _ledger(commune)
    assert len(before[1]) == 2
    host = commune.primary_domain
    seen: dict[str, object] = {}

    def during(step: str) -> None:
        if step != "exported":
            return
        moving = Commune.objects.get(pk=commune.pk)
        seen["read_only"] = moving.is_read_only
        seen["page"] = client.get("/", HTTP_HOST=host).status_code
        seen["post"] = client.post("/espace/", HTTP_HOST=host).status_code
        with in_schema(moving), pytest.raises(CommuneReadOnly) as refused:
            founding.regie_create(actor=ADMIN, number="R-002", name="Piscine",
                                  accepted_modes=["cash"], cash_limit="100", cash_float="0",
                                  accountant="SGC", starts_on=moving.onboarded_at.date())
        seen["refused"] = refused.value.message

    moved = moves.commune_move(commune=commune, database=EAST, progress=during)
    assert seen["read_only"] is True and seen["page"] == 200 and seen["post"] == 503
    assert "lecture seule" in str(seen["refused"])
    assert moved.database == EAST and not moved.is_read_only
    assert not schemas.schema_exists(commune.schema_name, "default")
    assert _ledger(moved) == before
    routing.forget_all()
    assert client.get("/", HTTP_HOST=host).status_code == 200

    back = moves.commune_move(commune=moved, database="default")
    assert back.database == "default" and not back.is_read_only
    assert not schemas.schema_exists(commune.schema_name, EAST)
    assert _ledger(back) == before
    with in_schema(back):  # read-write again
        founding.regie_create(actor=ADMIN, number="R-002", name="Piscine",
                              accepted_modes=["cash"], cash_limit="100", cash_float="0",
                              accountant="SGC", starts_on=back.onboarded_at.date())

    with in_schema(back):
        wipe_regies()


def test_a_move_that_fails_half_way_leaves_the_commune_as_it_was(committed, monkeypatch):
    commune = _commune_with_payments()
    before = _ledger(commune)

    def broken(*args, **kwargs):
        raise moves.MoveFailed("copie incomplète (simulée)")

    monkeypatch.setattr(moves, "verify_copy", broken)
    with pytest.raises(moves.MoveFailed, match="simulée"):
        moves.commune_move(commune=commune, database=EAST)
    after = Commune.objects.get(pk=commune.pk)
    assert after.database == "default" and not after.is_read_only
    assert not schemas.schema_exists(commune.schema_name, EAST)
    assert _ledger(after) == before

    with in_schema(after):
        wipe_regies()


@BOTH_DATABASES
def test_a_failed_onboarding_into_the_second_database_leaves_nothing(monkeypatch):
    spares = schemas.spare_count(EAST)

    def fails(**kwargs):
        raise RuntimeError("branding refused")

    commune_schema_ready.connect(fails, dispatch_uid="test-fails")
    try:
        with pytest.raises(RuntimeError, match="branding refused"):
            services.commune_onboard(insee_code=CORBAS, database=EAST)
    finally:
        commune_schema_ready.disconnect(dispatch_uid="test-fails")
    assert not Commune.objects.filter(insee_code=CORBAS).exists()
    assert not schemas.schema_exists("c_69273", EAST)
    assert schemas.spare_count(EAST) == spares  # the spare went back to the pool


@BOTH_DATABASES
def test_a_schema_left_by_an_interrupted_onboarding_is_set_aside_not_reused():
    """The schema committed, the process died before the registry's commit: no row names
    it. The next onboarding renames it aside (kept for inspection) and starts clean."""
    schemas.create_schema_by_sql("c_69273", EAST)
    commune = services.commune_onboard(insee_code=CORBAS, database=EAST)
    assert commune.database == EAST
    with connections[EAST].cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'orphan_%%_c_69273'")
        assert len(cursor.fetchall()) == 1
    assert tables_with_rows(EAST, "c_69273", "branding_communeprofile") == 1


def test_a_commune_of_the_second_database_is_offboarded_then_restored_into_default(committed):
    commune = services.commune_onboard(insee_code=CORBAS, database=EAST)
    archive = commune_offboard(commune=commune)
    assert not Commune.objects.filter(insee_code=CORBAS).exists()
    assert not schemas.schema_exists(commune.schema_name, EAST)
    back = commune_restore(path=archive.path, database="default")
    assert back.database == "default"
    assert tables_with_rows("default", back.schema_name, "branding_communeprofile") == 1
