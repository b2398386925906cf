"""gunicorn settings for `opsn serve` (each from the environment, with a default)."""

import multiprocessing
import os
import sys

from django.db import connections
from prometheus_client import multiprocess

from opsn.operations.logs import log_format

bind = os.environ.get("OPSN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then: a process that served many communes caches their
# catalogue entries (see docs/operations.md).
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# The application is loaded once, in the master, and each worker is a fork of it. A worker
# recycled after max_requests then serves again in milliseconds; loading Django in the new
# worker took ~1.5 s, while the other workers carried its load (the counter page's p95
# went from 0.12 s to 0.83 s during such a restart, bench/pages.py).
preload_app = os.environ.get("WEB_PRELOAD", "1") != "0"
accesslog = "-"
# JSON for a log collector; a readable line on a terminal (LOG_FORMAT, opsn.operations.logs).
if log_format(os.environ.get("LOG_FORMAT", "auto"), sys.stdout) == "json":
    access_log_format = ('{"time":"%(t)s","remote":"%(h)s","request":"%(r)s","status":%(s)s,'
                         '"bytes":%(B)s,"duration_us":%(D)s,'
                         '"request_id":"%({x-request-id}o)s"}')
else:
    access_log_format = '%(t)s %(s)s "%(r)s" %(B)s octets, %(M)s ms (%({host}i)s)'


def child_exit(server, worker):
    """Multi-process metrics: forget the files of a worker that is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):

        multiprocess.mark_process_dead(worker.pid)


def pre_fork(server, worker):
    """Nothing the master opened while loading the application is shared with a worker:
    each opens its own database connections."""
    connections.close_all()
