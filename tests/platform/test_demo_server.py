"""The demo serves with the production server (gunicorn), not Django's development
server (which reset connections with 50 clients at once, and held a database connection
per thread until PostgreSQL had none left), and stops its embedded database when it is
stopped.

The demo's own serving function runs in a process of its own, on an embedded database of
its own (a fresh data folder: the server is started as ``./dev demo`` starts it)."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time

from tests.helpers.servers import free_port, get

DEMO_SERVES = """
import sys
import django
django.setup()
from opsn.operations.server import serve_until_stopped
sys.exit(serve_until_stopped(sys.argv[1]))
"""


def postmaster_pid(data_dir) -> int | None:
    pid_file = data_dir / "pg" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_fifty_clients_at_once_then_sigterm_stops_the_server_and_its_database(tmp_path):
    port = free_port()
    env = {**os.environ, "OPSN_DATA_DIR": str(tmp_path), "OPSN_COMMUNE_DATABASES": "",
           "DJANGO_SETTINGS_MODULE": "opsn.settings", "WEB_WORKERS": "2", "WEB_THREADS": "4",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    env.pop("DATABASE_URL", None)  # the embedded database, as in the demo
    demo = subprocess.Popen([sys.executable, "-c", DEMO_SERVES, f"127.0.0.1:{port}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90  # a fresh embedded server: initdb first
        while True:
            assert demo.poll() is None, demo.communicate()[0].decode()[-3000:]
            try:
                if get(port, "/healthz", "127.0.0.1")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the demo's server did not answer"
            time.sleep(0.3)
        database = postmaster_pid(tmp_path)
        assert database is not None and running(database)

        # Fifty clients at once; each asks the database (the readiness probe).
        with concurrent.futures.ThreadPoolExecutor(50) as clients:
            answers = list(clients.map(lambda _: get(port, "/readyz", "127.0.0.1"), range(50)))
        assert [status for status, _ in answers] == [200] * 50
        assert all('"database": "ok"' in body for _, body in answers)

        demo.send_signal(signal.SIGTERM)
        output = demo.communicate(timeout=60)[0].decode()
        assert demo.returncode == 0, output[-3000:]
        assert "Traceback" not in output, output[-3000:]
        deadline = time.monotonic() + 10
        while running(database):  # pg_ctl stop -w has returned: gone, or going
            assert time.monotonic() < deadline, "the embedded database is still running"
            time.sleep(0.2)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=30)
