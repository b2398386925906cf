import os
import shutil
import sys
import tempfile

from django.core.management.base import BaseCommand

from opsn.kernel.production import refuse_demo_values


class Command(BaseCommand):
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
        env = dict(os.environ)
        if bind:
            env["OPSN_BIND"] = bind
        # Every worker writes its metrics in this folder; /metrics adds them up. It must be
        # empty at start: files of a previous run would be counted again.
        metrics_dir = env.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
            tempfile.gettempdir(), f"opsn-metrics-{os.getpid()}")
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.makedirs(metrics_dir)
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        env.setdefault("DJANGO_SETTINGS_MODULE", "opsn.settings")
        os.execve(sys.executable, [sys.executable, "-m", "gunicorn", "opsn.wsgi:application",  # noqa: S606
                                   "-c", "python:opsn.gunicorn_conf"], env)
