import signal
import threading

import dramatiq
from django.core.management.base import CommandError

from opsn.jobs.broker import is_embedded
from opsn.kernel.commands import DomainCommand
from opsn.kernel.production import refuse_demo_values


class Command(DomainCommand):
    help = "Run a job worker on the broker of OPSN_BROKER_URL until stopped (SIGTERM)."

    def add_arguments(self, parser):
        parser.add_argument("--threads", type=int, default=4)

    def handle(self, *args, threads, **options):
        refuse_demo_values(self)
        if is_embedded():
            raise CommandError("OPSN_BROKER_URL is not set: jobs run inside the web process; "
                               "set it to amqp://… or redis://… to run separate workers.")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=threads)
        worker.start()
        self.stdout.write(f"worker started ({threads} threads)")
        stop.wait()
        worker.stop()
