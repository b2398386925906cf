"""A command's in-process job worker stops before the database does.

``opsn onboard_batch`` on the embedded database hands the refill of the spare schemas to
the in-process worker; the embedded server stops at the process's exit. The command must
let that worker finish (or stop it) first: no ERROR, no traceback at the end of its run.

The seam: the embedded server's stop is an exit handler registered as Django starts (it
runs last). Here the same place holds a handler that cuts the process's own database
connections, as the server's stop does, and leaves time for a worker still at work to
complain — on the shared test server, which must keep running for the other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from opsn.communes.models import Commune, OnboardingBatch, SpareSchema
from tests.helpers.communes import database_url

APPLICATION = "opsn-shutdown-test"

COMMAND_THEN_DATABASE_STOPS = textwrap.dedent(f"""
    import atexit, sys, time
    import psycopg

    def database_stops():  # runs after every handler registered later (last in, first out)
        from django.db import connection
        db = connection.settings_dict
        with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"],
                             dbname=db["NAME"], autocommit=True,
                             application_name="opsn-shutdown-admin") as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = '{APPLICATION}'")
        time.sleep(1.5)  # the server takes a moment to stop: a busy worker complains now

    atexit.register(database_stops)
    from opsn.cli import main
    sys.argv = ["opsn", *sys.argv[1:]]
    main()
""")


def test_onboard_batch_ends_without_an_error_when_its_worker_had_jobs(committed):
    spares = SpareSchema.objects.filter(database="default").count()
    result = subprocess.run(
        [sys.executable, "-c", COMMAND_THEN_DATABASE_STOPS, "onboard_batch", "69003"],
        capture_output=True, text=True, timeout=180,
        env={**os.environ, "DATABASE_URL": database_url(), "PGAPPNAME": APPLICATION,
             "DJANGO_SETTINGS_MODULE": "opsn.settings", "LOG_FORMAT": "json",
             # one spare schema short once the commune takes one: a refill job to do
             "OPSN_SCHEMA_POOL_SIZE": str(spares)})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "1 created" in result.stdout
    assert '"level": "ERROR"' not in output and "Traceback" not in output, output[-3000:]
    # The worker did its job before stopping: the pool is full again.
    assert SpareSchema.objects.filter(database="default").count() == spares
    assert Commune.objects.filter(insee_code="69003").exists()
    OnboardingBatch.objects.filter(insee_codes=["69003"]).delete()
