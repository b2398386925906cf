"""Faults: the broker stops, the database drops its connections, a job is killed half-way.

The broker here is a Redis server of the test's own (started and stopped by it), so that
stopping it touches nothing else on the machine; the outbox does not depend on the kind
of broker. A database restart is what PostgreSQL's clients see as their connections being
terminated: the test terminates the production server's connections, since restarting the
shared test server would cut the other test workers too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from urllib.parse import quote

import dramatiq
import psycopg
import pytest
from django.db import connection, transaction

from opsn.communes.models import Commune, OnboardingBatch
from opsn.communes.services import batch_create
from opsn.communes.tasks import run_onboarding_batch
from opsn.jobs.broker import deliver_pending, make_broker, send
from opsn.jobs.models import OutboxMessage
from tests.helpers.servers import free_port, get, production_server

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed")


class RedisServer:
    """A Redis server of our own on a free port, that the test stops and starts. It keeps
    its queues on disk (append-only file), as a production broker keeps durable queues."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


RAN: list[str] = []


def remember(label: str) -> None:
    RAN.append(label)


def test_a_job_sent_while_the_broker_is_down_runs_once_when_it_returns(committed, settings,
                                                                       redis_server):
    settings.OPSN_JOBS_MODE = "broker"
    broker = make_broker(redis_server.url)
    queue = f"opsn-fault-{uuid.uuid4().hex[:8]}"
    actor = dramatiq.Actor(remember, broker=broker, actor_name=f"remember_{queue}",
                           queue_name=queue, priority=0, options={})
    RAN.clear()
    try:
        with transaction.atomic():
            send(actor, "before")
        assert not OutboxMessage.objects.exists()  # delivered at commit

        redis_server.stop()
        with transaction.atomic():
            send(actor, "while down")  # no error for the caller: the outbox keeps it
        kept = OutboxMessage.objects.get()
        assert kept.attempts == 1 and "Connection" in kept.last_error
        assert deliver_pending(older_than=0, broker=broker) == (0, 1)  # still down

        redis_server.start()
        assert deliver_pending(older_than=0, broker=broker) == (1, 0)
        assert deliver_pending(older_than=0, broker=broker) == (0, 0)  # nothing twice
        worker = dramatiq.Worker(broker, worker_threads=1)
        worker.start()
        try:
            broker.join(queue, timeout=30_000)
            worker.join()
        finally:
            worker.stop()
        assert RAN == ["before", "while down"]
    finally:
        OutboxMessage.objects.all().delete()


def test_pages_are_served_while_the_broker_is_down_and_after_the_database_cut_connections(
        committed, tmp_path, redis_server):
    db = connection.settings_dict
    with production_server(tmp_path, workers=1, OPSN_BROKER_URL=redis_server.url) as port:
        assert get(port, "/", "venissieux.localhost")[0] == 200
        assert '"broker": "ok"' in get(port, "/readyz", "127.0.0.1")[1]

        redis_server.stop()
        assert [get(port, "/", "venissieux.localhost")[0] for _ in range(5)] == [200] * 5
        status, body = get(port, "/readyz", "127.0.0.1")
        assert status == 200 and "outbox" in body  # degraded, still serving

        with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"],
                             dbname=db["NAME"], autocommit=True) as admin:
            own = connection.cursor().connection.info.backend_pid
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)",
                [own]).fetchone()[0]
        assert cut >= 1  # the server's connections were there, and are gone
        assert [get(port, "/", "venissieux.localhost")[0] for _ in range(5)] == [200] * 5

        redis_server.start()
        deadline = time.monotonic() + 10  # the broker's client reconnects on next use
        while '"broker": "ok"' not in get(port, "/readyz", "127.0.0.1")[1]:
            assert time.monotonic() < deadline, "the broker client did not reconnect"
            time.sleep(0.2)


KILLED_AFTER_TWO = textwrap.dedent("""
    import os, sys
    import django
    django.setup()
    from opsn.communes.models import OnboardingBatch
    from opsn.communes.services import batch_run

    def die_after_two(batch, code):
        if len(batch.outcomes) == 2:
            os._exit(137)  # the worker is killed: no clean-up, no status written

    batch_run(OnboardingBatch.objects.get(pk=sys.argv[1]), progress=die_after_two)
""")


def test_a_job_killed_half_way_completes_on_rerun_without_doubles(committed):
    codes = ["69273", "69091", "69096", "69149"]  # four SITIV communes
    batch = batch_create(label="SITIV", insee_codes=codes)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_TWO, str(batch.pk)], capture_output=True,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "opsn.settings",
             "OPSN_SCHEMA_POOL_SIZE": "0"}, timeout=120)
    assert killed.returncode == 137, killed.stderr.decode()[-2000:]
    batch.refresh_from_db()
    assert batch.status == OnboardingBatch.Status.RUNNING and len(batch.outcomes) == 2
    assert Commune.objects.filter(insee_code__in=codes).count() == 2

    send(run_onboarding_batch, str(batch.pk))  # the retry (inline in tests)
    batch.refresh_from_db()
    assert batch.status == OnboardingBatch.Status.DONE
    assert batch.outcomes == dict.fromkeys(codes, "created")
    assert sorted(Commune.objects.filter(insee_code__in=codes)
                  .values_list("insee_code", flat=True)) == sorted(codes)
    OnboardingBatch.objects.filter(pk=batch.pk).delete()


def test_twenty_failovers_in_a_row_never_answer_500(committed, tmp_path):
    """The database cuts the server's connections (a failover, a restart) twenty times in a
    row; each first request after a cut, and the ones after it, still answer 200 (a
    connection used within the last second must not be reused unchecked after a cut)."""
    db = connection.settings_dict
    own = connection.cursor().connection.info.backend_pid
    statuses = []
    with production_server(tmp_path, workers=1) as port, psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"],
            autocommit=True) as admin:
        for _ in range(20):
            statuses.append(get(port, "/", "venissieux.localhost")[0])  # a warm connection
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s)",
                [own])
            statuses += [get(port, "/", "venissieux.localhost")[0] for _ in range(2)]
    assert statuses == [200] * 60
