import signal
import threading

from opsn.jobs.broker import deliver_pending
from opsn.jobs.periodic import tick
from opsn.kernel.commands import DomainCommand
from opsn.kernel.production import refuse_demo_values


class Command(DomainCommand):
    help = ("Enqueue the periodic jobs (billing deadlines and régie warnings daily, INSEE "
            "release reminder monthly) and deliver the jobs that waited in the outbox while "
            "the broker was down. Safe on several replicas: each job runs once per period.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one tick, then exit")
        parser.add_argument("--interval", type=int, default=60)

    def handle(self, *args, once, interval, **options):
        refuse_demo_values(self)
        stop = threading.Event()
        if not once:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        while True:
            for name in tick():
                self.stdout.write(f"enqueued {name}")
            delivered, left = deliver_pending()
            if delivered or left:
                self.stdout.write(f"outbox: {delivered} delivered, {left} waiting")
            if once or stop.wait(interval):
                return
