"""The production web server, gunicorn (threaded workers, multi-process metrics), for
``opsn serve`` (which becomes gunicorn) and ``opsn demo`` (which runs it as a child and
keeps the embedded database until it has stopped)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from urllib.parse import quote

from django.conf import settings
from django.db import connections

from opsn.jobs.broker import stop_embedded_worker


def gunicorn_argv() -> list[str]:
    return [sys.executable, "-m", "gunicorn", "opsn.wsgi:application",
            "-c", "python:opsn.gunicorn_conf"]


def gunicorn_environment(bind: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of gunicorn: ``bind`` as ``OPSN_BIND``, a fresh folder for the
    workers' metrics (files of a previous run would be counted again), and ``extra``."""
    env = {**os.environ, **extra}
    if bind:
        env["OPSN_BIND"] = bind
    metrics_dir = env.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        tempfile.gettempdir(), f"opsn-metrics-{os.getpid()}")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir)
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    env.setdefault("DJANGO_SETTINGS_MODULE", "opsn.settings")
    return env


def database_url(alias: str) -> str:
    db = connections[alias].settings_dict
    user = quote(str(db.get("USER") or ""), safe="")
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db.get("PASSWORD") else ""
    host = quote(str(db.get("HOST") or ""), safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(str(db['NAME']), safe='')}"


def database_environment() -> dict[str, str]:
    """The databases this process uses, as ``DATABASE_URL`` and ``OPSN_COMMUNE_DATABASES``:
    a child process reaches the same ones — the embedded server's included, which this
    process started and keeps (the child does not join it, so does not stop it)."""
    env = {"DATABASE_URL": database_url("default")}
    others = [alias for alias in settings.DATABASES if alias != "default"]
    if others:
        env["OPSN_COMMUNE_DATABASES"] = ",".join(f"{a}={database_url(a)}" for a in others)
    return env


def serve_until_stopped(bind: str, **extra: str) -> int:
    """Run gunicorn on ``bind`` as a child process until it stops (Ctrl-C, SIGTERM to
    this process, which is passed on); returns its exit status. This process's in-process
    jobs are finished first and its connections closed; the embedded database, which it
    holds, stops when it exits — after the server."""
    stop_embedded_worker()
    connections.close_all()
    child = subprocess.Popen(gunicorn_argv(),
                             env=gunicorn_environment(bind, **database_environment(), **extra))

    def pass_on(signum, frame):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    previous = {s: signal.signal(s, pass_on) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
