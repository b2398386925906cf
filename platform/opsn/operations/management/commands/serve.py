import os

from opsn.kernel.commands import DomainCommand
from opsn.kernel.production import refuse_demo_values
from opsn.operations.server import gunicorn_argv, gunicorn_environment


class Command(DomainCommand):
    # The checks would import the middlewares, hence the metrics, before the metrics folder
    # below exists; gunicorn's workers load the application anyway. Only the production
    # check runs (in handle).
    requires_system_checks = []
    help = ("Run the production web server (gunicorn, threaded workers, multi-process "
            "metrics). Settings: OPSN_BIND, WEB_WORKERS, WEB_THREADS, WEB_TIMEOUT.")

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=None, help="address:port (default OPSN_BIND or "
                                                         "0.0.0.0:8000)")

    def handle(self, *args, bind, **options):
        # Production refuses the demo's values before gunicorn starts (the check reads
        # settings only: it imports no middleware).
        refuse_demo_values(self)
        argv = gunicorn_argv()
        # Every worker writes its metrics in a folder of its own; /metrics adds them up.
        os.execve(argv[0], argv, gunicorn_environment(bind))  # noqa: S606
