"""A database connection is recycled once it has entered OPSN_DB_MAX_SCHEMAS_PER_CONNECTION
commune schemas (opsn.kernel.postgresql, issue 20): closed at the end of the request or job
that reached the limit, never inside it; the next one starts with an empty cache."""

import io
import sys

import dramatiq
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, connections

from opsn.communes import services
from opsn.communes.models import Commune
from opsn.jobs.broker import make_broker
from tests.helpers.communes import VAULX, VENISSIEUX


def fresh_connection():
    conn = connections.create_connection("default")
    conn.ensure_connection()
    return conn


def backend_pid(conn) -> int:
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def committed_schemas() -> list[str]:
    return list(Commune.objects.filter(database="default").order_by("pk")
                .values_list("schema_name", flat=True))


def test_the_connection_is_renewed_after_the_threshold_between_requests(db, settings):
    settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = 2
    names = committed_schemas()
    assert len(names) >= 2
    conn = fresh_connection()
    try:
        pids = []
        for name in [names[0], names[0], names[1], names[0]]:
            conn.close_if_unusable_or_obsolete()  # a request starts
            conn.set_schema(name)
            pids.append(backend_pid(conn))
            with conn.cursor() as cursor:  # the commune's own tables, by search_path
                cursor.execute("SELECT current_schema(), count(*) FROM regies_regie")
                assert cursor.fetchone()[0] == name
            conn.close_if_unusable_or_obsolete()  # the request ends
        # Two requests in one schema, then a second schema: the limit is reached during the
        # third request, which keeps its connection; the fourth has a new one.
        assert pids[0] == pids[1] == pids[2] != pids[3]
        assert conn.visited_schemas == {names[0]}
    finally:
        conn.close()


def test_zero_turns_recycling_off(db, settings):
    settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = 0
    conn = fresh_connection()
    try:
        pids = set()
        for name in committed_schemas():
            conn.close_if_unusable_or_obsolete()
            conn.set_schema(name)
            pids.add(backend_pid(conn))
            conn.close_if_unusable_or_obsolete()
        assert len(pids) == 1
    finally:
        conn.close()


def test_schemas_read_by_name_count_too(db, settings):
    settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = 3
    conn = fresh_connection()
    try:
        conn.note_schemas(["public", "c_a", "c_b"])
        assert not conn.recycle_due
        conn.note_schemas(["c_c"])
        assert conn.recycle_due
    finally:
        conn.close()


def get_page(handler, host: str) -> tuple[str, str]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "",
               "SERVER_NAME": host, "SERVER_PORT": "80", "HTTP_HOST": host,
               "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http",
               "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1"}
    statuses = []
    response = handler(environ, lambda status, headers: statuses.append(status))
    body = b"".join(response)
    response.close()  # as a WSGI server does: Django's request_finished
    return statuses[0], body.decode()


def test_a_request_that_crosses_the_threshold_is_served_whole(committed, settings):
    """Three communes' home pages through Django's own request cycle (the signals that
    close connections between requests); the limit is two schemas."""
    settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = 2
    third = services.commune_onboard(insee_code="69273")  # Corbas
    communes = [Commune.objects.get(insee_code=VENISSIEUX),
                Commune.objects.get(insee_code=VAULX), third]
    handler = WSGIHandler()
    connection.set_schema_to_public()
    connection.close()  # a connection that has entered no commune yet
    seen: list[set[int]] = []

    def record(execute, sql, params, many, context):
        seen[-1].add(context["connection"].connection.info.backend_pid)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        for commune in communes:
            seen.append(set())
            status, body = get_page(handler, commune.primary_domain)
            assert status == "200 OK"
            assert commune.name in body  # the right commune's page, whole
            if commune is communes[1]:  # the request that reached the limit
                assert connection.connection is None  # closed once it had finished
    assert len(seen[0]) == len(seen[1]) == len(seen[2]) == 1  # one connection per request
    assert seen[0] == seen[1] != seen[2]


PIDS: list[tuple[str, int]] = []


def record_pid() -> None:
    PIDS.append((connection.schema_name, backend_pid(connection)))


def test_a_job_worker_keeps_its_connection_until_the_threshold(committed, settings):
    settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = 2
    third = services.commune_onboard(insee_code="69273")
    schemas = [Commune.objects.get(insee_code=VENISSIEUX).schema_name,
               Commune.objects.get(insee_code=VAULX).schema_name, third.schema_name]
    broker = make_broker("")
    actor = dramatiq.Actor(record_pid, broker=broker, actor_name="record_pid",
                           queue_name="recycling", priority=0, options={})
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    PIDS.clear()
    try:
        for schema in schemas:
            actor.send_with_options(commune_schema=schema)
            broker.join("recycling", timeout=30_000)
            worker.join()
    finally:
        worker.stop()
        broker.close()
    assert [s for s, _ in PIDS] == schemas  # each job in its commune, none missed
    pids = [p for _, p in PIDS]
    assert pids[0] == pids[1] != pids[2]


def test_on_by_default():
    assert django_settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION > 0
    assert django_settings.DATABASES["default"]["ENGINE"] == "opsn.kernel.postgresql"


def test_an_onboarding_batch_renews_its_connection_between_communes(committed, settings):
    """A batch goes from one new commune to the next in one job: it does not wait for the
    job's end to renew a connection that has entered its share of schemas."""
    settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = 2
    seen = []

    def progress(batch, code):
        seen.append((backend_pid(connection), set(connection.visited_schemas)))

    codes = ["69273", "69091", "69096", "69149"]
    batch = services.batch_run(services.batch_create(label="Quatre communes",
                                                     insee_codes=codes), progress=progress)

    assert [batch.outcomes[c] for c in codes] == ["created"] * 4
    assert Commune.objects.filter(insee_code__in=codes).count() == 4
    assert len({pid for pid, _ in seen}) >= 2  # renewed during the batch
    assert all(len(schemas) <= 2 for _, schemas in seen)  # never more than its share
