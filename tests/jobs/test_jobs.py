"""Background jobs: the embedded broker, the real RabbitMQ and Redis brokers, and the
commune each job carries."""

import datetime
import socket
import uuid

import dramatiq
import pytest
from django.db import connection

from opsn.billing import services
from opsn.billing.models import BillingJob, BillingRun, Invoice
from opsn.billing.tasks import issue_year
from opsn.communes.models import Commune, CommuneModule, OnboardingBatch
from opsn.communes.services import batch_create
from opsn.communes.tasks import run_onboarding_batch
from opsn.jobs.broker import make_broker, send


def test_a_billing_job_that_fails_issues_nothing_and_says_why(db, venissieux):
    CommuneModule.objects.update(starts_on=datetime.date(2024, 1, 1))
    services.rule_set(module="regies", year=2024, kind="per_inhabitant", annual_cost="100",
                      population_year=1999)
    job = BillingJob.objects.create(year=2024)
    send(issue_year, job.pk)
    job.refresh_from_db()
    assert job.status == BillingJob.Status.FAILED
    assert "sans population municipale 1999" in job.error
    assert not Invoice.objects.exists() and not BillingRun.objects.exists()


def test_the_embedded_broker_runs_jobs_in_the_web_process(committed, settings):
    settings.OPSN_JOBS_MODE = "broker"
    broker = dramatiq.get_broker()
    batch = batch_create(label="SITIV", insee_codes=["69273", "69091"])
    send(run_onboarding_batch, str(batch.pk))  # outside a transaction: sent at once
    broker.join(run_onboarding_batch.queue_name, timeout=60_000)
    batch.refresh_from_db()
    assert batch.status == OnboardingBatch.Status.DONE
    assert set(Commune.objects.values_list("insee_code", flat=True)) >= {"69273", "69091"}
    OnboardingBatch.objects.filter(pk=batch.pk).delete()


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


SEEN: list[tuple[str, str]] = []


def record_schema(label: str) -> None:
    SEEN.append((label, connection.schema_name))


@pytest.mark.parametrize("url, port", [
    ("amqp://guest:guest@127.0.0.1:5672/", 5672),
    ("redis://127.0.0.1:6379/15", 6379),
])
def test_jobs_go_through_the_real_broker_inside_their_commune(committed, url, port):
    if not reachable(port):
        pytest.skip(f"no broker on 127.0.0.1:{port}")
    broker = make_broker(url)
    queue = f"opsn-test-{uuid.uuid4().hex[:8]}"
    actor = dramatiq.Actor(record_schema, broker=broker, actor_name=f"record_{queue}",
                           queue_name=queue, priority=0, options={})
    venissieux = Commune.objects.get(insee_code="69259")
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        SEEN.clear()
        actor.send_with_options(args=("commune",), commune_schema=venissieux.schema_name)
        actor.send_with_options(args=("operator",))
        broker.join(queue, timeout=30_000)
        worker.join()
    finally:
        worker.stop()
        if hasattr(broker, "channel"):
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                broker.channel.queue_delete(name)
        broker.close()
    assert sorted(SEEN) == [("commune", venissieux.schema_name), ("operator", "public")]
