from __future__ import annotations

import atexit
import datetime
import logging
import threading
from typing import cast

import dramatiq
from django.conf import settings
from django.db import connections, models, transaction
from django.utils import timezone
from django_tenants.utils import get_tenant_model
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import QueueJoinTimeout

from opsn.jobs.models import OutboxMessage
from opsn.kernel import tenancy
from opsn.kernel.errors import CommuneReadOnly
from opsn.kernel.metrics import JOBS
from opsn.kernel.tenancy import commune_connection, current_alias, inside

logger = logging.getLogger("opsn.jobs")

_embedded_worker: dramatiq.Worker | None = None
_lock = threading.Lock()


class CommuneSchema(dramatiq.Middleware):
    """Run a job inside the commune it carries — its schema, on the database the registry
    places it in now (not when the job was sent: a commune may have moved) — and back to
    public after. A job for a commune that is read-only (being moved between databases)
    is put off before it starts: sent again with a delay (``OPSN_READ_ONLY_JOB_DELAY``
    seconds; its retries are not used up) and skipped now, so nothing is lost or done
    twice."""

    @property
    def actor_options(self):
        return {"commune_schema"}

    def before_process_message(self, broker, message):
        schema = message.options.get("commune_schema")
        tenancy.enter(None)
        if schema:

            commune = get_tenant_model().objects.get(schema_name=schema)
            if commune.is_read_only:
                later = dramatiq.Message(queue_name=message.queue_name,
                                         actor_name=message.actor_name, args=message.args,
                                         kwargs=message.kwargs, options={
                                             k: v for k, v in message.options.items()
                                             if k in ("commune_schema", "retries")})
                broker.enqueue(later, delay=int(settings.OPSN_READ_ONLY_JOB_DELAY * 1000))
                logger.info("job %s for %s put off: %s", message.actor_name, schema,
                            CommuneReadOnly.for_commune(commune).message)
                raise dramatiq.middleware.SkipMessage()
            tenancy.enter(commune)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        tenancy.enter(None)

    after_skip_message = after_process_message


class DatabaseConnections(dramatiq.Middleware):
    """The worker thread's connections between jobs, as Django treats them between
    requests: health-checked before the job's first query; after the job, closed if
    unusable, older than ``CONN_MAX_AGE``, or once they have entered
    ``OPSN_DB_MAX_SCHEMAS_PER_CONNECTION`` schemas (opsn.kernel.postgresql), and always if
    the job left a transaction open. A daily job fanned out to 2,000 communes reuses one
    connection for many communes instead of opening 2,000, and no connection's cache grows
    with the number of communes."""

    def before_process_message(self, broker, message):
        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        for conn in connections.all(initialized_only=True):
            if conn.in_atomic_block:  # a leaked transaction: never carried to the next job
                conn.close()
            else:
                conn.close_if_unusable_or_obsolete()

    after_skip_message = after_process_message

    def before_worker_thread_shutdown(self, broker, thread):
        connections.close_all()  # in the worker thread, whose connections these are


class JobMetrics(dramatiq.Middleware):
    """Jobs by actor and outcome (bounded labels: actor names, three outcomes)."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        JOBS.labels(message.actor_name, "failed" if exception else "done").inc()

    def after_skip_message(self, broker, message):
        JOBS.labels(message.actor_name, "skipped").inc()


def make_broker(url: str) -> dramatiq.Broker:
    broker: dramatiq.Broker
    if url.startswith(("amqp://", "amqps://")):
        broker = RabbitmqBroker(url=url)
    elif url.startswith(("redis://", "rediss://")):
        broker = RedisBroker(url=url)
    elif not url:
        broker = StubBroker()
        broker.emit_after("process_boot")
    else:
        raise ValueError(f"OPSN_BROKER_URL: unknown scheme in {url!r} (amqp://, redis://)")
    # First: its checks run before the commune is looked up, its recycling after the job
    # has left the commune (dramatiq runs the "after" hooks in reverse order).
    broker.add_middleware(DatabaseConnections())
    broker.add_middleware(CommuneSchema())
    broker.add_middleware(JobMetrics())
    return broker


def configure() -> dramatiq.Broker:
    broker = make_broker(settings.OPSN_BROKER_URL)
    dramatiq.set_broker(broker)
    return broker


def is_embedded() -> bool:
    return isinstance(dramatiq.get_broker(), StubBroker)


def ensure_embedded_worker() -> None:
    """With the in-process broker, the web process is its own worker."""
    global _embedded_worker
    if not is_embedded():
        return
    with _lock:
        if _embedded_worker is None:
            _embedded_worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=2)
            _embedded_worker.start()
            # Registered after the embedded database's own exit handler, so run before it
            # (atexit is last in, first out): the jobs finish while the database is up.
            atexit.register(stop_embedded_worker)
            logger.info("tâches de fond : travailleur intégré démarré")


def stop_embedded_worker(timeout: float | None = None) -> None:
    """Let the in-process worker finish the jobs it has (at most ``timeout`` seconds,
    ``OPSN_JOBS_DRAIN_SECONDS`` by default), then stop it. Called at exit, before the
    embedded database stops, and before a server forks its workers (each starts its own)."""
    global _embedded_worker
    with _lock:
        worker, _embedded_worker = _embedded_worker, None
    if worker is None:
        return
    atexit.unregister(stop_embedded_worker)
    broker = cast(StubBroker, worker.broker)  # the in-process broker
    deadline = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(
        seconds=settings.OPSN_JOBS_DRAIN_SECONDS if timeout is None else timeout)
    for queue in sorted(broker.get_declared_queues()):
        left = (deadline - datetime.datetime.now(tz=datetime.UTC)).total_seconds()
        try:
            broker.join(queue, timeout=max(1, int(left * 1000)), fail_fast=False)
        except QueueJoinTimeout:
            logger.warning("tâches de fond : la file %s n'est pas vide à l'arrêt ; ses tâches "
                           "restantes ne sont pas faites", queue)
            break
    worker.stop(timeout=10_000)
    connections.close_all()
    logger.info("tâches de fond : travailleur intégré arrêté")


def send(actor, *args, commune=None, **kwargs) -> None:
    """Enqueue ``actor``. The message is written to the outbox in the caller's transaction
    and handed to the broker after it commits: a job never looks for rows that are not
    there yet (or were rolled back), and a broker that is down loses nothing — the
    message waits in the outbox until ``deliver_pending`` hands it over."""

    options = {"commune_schema": commune.schema_name} if commune is not None else {}
    if settings.OPSN_JOBS_MODE == "inline":  # tests: run now, in this thread

        with inside(commune):
            actor.fn(*args, **kwargs)
        return

    message = actor.message_with_options(args=args, kwargs=kwargs, **options)

    def enqueue() -> None:
        ensure_embedded_worker()
        _deliver(actor.broker, message)

    def write() -> None:
        OutboxMessage.objects.create(message_id=message.message_id,
                                     actor_name=actor.actor_name,
                                     queue_name=message.queue_name,
                                     message=message.encode().decode())
        transaction.on_commit(enqueue)


    if current_alias() != "default" and commune_connection().in_atomic_block:
        # Sent from a transaction on a commune database other than the registry's: the
        # outbox row is written once that transaction has committed (a job never looks
        # for rows that were rolled back). A process that dies between the two commits
        # loses that job: the commune's work is done, its follow-up job is not sent.
        transaction.on_commit(write, using=current_alias())
    else:
        write()


def _deliver(broker: dramatiq.Broker, message: dramatiq.Message) -> bool:
    """Hand one message to the broker; forget it from the outbox once the broker has it.
    A broker that cannot be reached leaves it in the outbox (and says so in the logs)."""

    try:
        broker.enqueue(message)
    except Exception as exc:  # any broker failure: the outbox keeps the message
        logger.warning("broker unreachable, job %s %s kept in the outbox: %s",
                       message.actor_name, message.message_id, exc)
        OutboxMessage.objects.filter(message_id=message.message_id).update(
            attempts=models.F("attempts") + 1, last_error=str(exc)[:500])
        return False
    OutboxMessage.objects.filter(message_id=message.message_id).delete()
    return True


def deliver_pending(*, older_than: float = 30.0, limit: int = 1000,
                    broker: dramatiq.Broker | None = None) -> tuple[int, int]:
    """Deliver the outbox's messages that are older than ``older_than`` seconds (younger
    ones are still being delivered by their own commit). Returns (delivered, left). Stops
    at the first failure: the broker is still down. Safe on several replicas at once."""

    broker = broker or dramatiq.get_broker()
    ensure_embedded_worker()
    delivered = 0
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than)
    with transaction.atomic():
        pending = list(OutboxMessage.objects.select_for_update(skip_locked=True)
                       .filter(created_at__lte=cutoff).order_by("id")[:limit])
        for row in pending:
            if not _deliver(broker, dramatiq.Message.decode(row.message.encode())):
                break
            delivered += 1
    return delivered, OutboxMessage.objects.count()
