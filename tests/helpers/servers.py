"""The production server (``opsn serve``: gunicorn, several workers) on a free loopback
port, on the test database, and plain HTTP requests to it."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from urllib.parse import quote

from django.db import connection


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, host: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextmanager
def production_server(tmp_path, *, workers: int = 2, threads: int = 2, **environment):
    """``opsn serve`` (gunicorn) on a free loopback port, on the test database; yields the
    port once it answers its liveness probe. Its error output is shown if the test fails."""
    with production_server_process(tmp_path, workers=workers, threads=threads,
                                   **environment) as (port, _):
        yield port


@contextmanager
def production_server_process(tmp_path, *, workers: int = 2, threads: int = 2,
                              **environment):
    """The same, yielding (port, the gunicorn master's process: ``opsn serve`` becomes
    it)."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WEB_WORKERS": str(workers),
           "WEB_THREADS": str(threads), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
           "OPSN_JOBS_MODE": "broker", **environment}
    server = subprocess.Popen([sys.executable, "-m", "opsn.cli", "serve", "--bind",
                               f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if get(port, "/healthz", "127.0.0.1")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield port, server
    except BaseException:
        server.terminate()
        print(server.communicate(timeout=30)[1].decode()[-3000:])
        raise
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)
