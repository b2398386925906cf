"""Benchmark of the operator platform (issue: operator platform, "Speed and scale").

    ./dev bench [--communes 1000] [--samples 30] [--stock-sample 30]

Runs on a database of its own (``opsn_bench``, dropped and recreated) on the embedded
PostgreSQL, or on the server of DATABASE_URL. Prints each figure and its ratio to stock
django-tenants 4 measured in the same run:

1. onboarding one commune, ready to serve (median, p95): spare pool, SQL replay, stock;
2. onboarding N communes into one database: ms per commune by hundreds, process memory;
   disk and catalogue cost per schema;
3. a release with nothing to migrate over the N schemas, and one ADD COLUMN migration,
   with 1, 2 and 4 workers; stock ``migrate_schemas`` timed on a sample and scaled;
4. requests per second under a commune's domain, against the same view without tenant
   routing, and against stock django-tenants' middleware.

``--only scale`` (issue 20, bench/scale.py): 2,000 communes in one database, a backend's
memory with connections recycled, the daily job over every commune, releases, pages under
load.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"


def reset_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"],
              "dbname": "postgres", "autocommit": True}
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def fresh_registry() -> None:
    """Start again from an empty database (shared tables and the official data)."""
    from django.core.management import call_command
    from django.db import connections

    from opsn.referentiel.loader import ensure_loaded

    connections.close_all()
    reset_database()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    call_command("createcachetable")
    ensure_loaded()


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(label: str, value: str, ratio: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {ratio}")


def codes(n: int, skip: set[str]) -> list[str]:
    from opsn.referentiel.models import OfficialCommune

    qs = OfficialCommune.objects.filter(is_current=True).order_by("insee_code")
    return [c for c in qs.values_list("insee_code", flat=True)[: n + len(skip) + 10]
            if c not in skip][:n]


def bench_onboarding_one(samples: int, stock_samples: int) -> dict[str, float]:
    from django.db import connection

    from opsn.communes import schemas, services
    from opsn.communes.models import Commune

    print("\n1. Onboarding one commune, ready to serve its first request")
    used: set[str] = set(Commune.objects.values_list("insee_code", flat=True))

    # Stock django-tenants: TenantMixin.create_schema() runs migrate_schemas in the schema.
    stock = []
    for i in range(stock_samples):
        tenant = Commune(schema_name=f"stock_{i}")
        started = time.perf_counter()
        tenant.create_schema(check_if_exists=False, verbosity=0)
        stock.append(time.perf_counter() - started)
        connection.set_schema_to_public()
        schemas.drop_schema(f"stock_{i}")

    schemas.fill_spare_pool(samples)
    pool = []
    for code in codes(samples, used):
        started = time.perf_counter()
        services.commune_onboard(insee_code=code)
        pool.append(time.perf_counter() - started)
        used.add(code)
    sql = []
    for code in codes(samples, used):
        started = time.perf_counter()
        services.commune_onboard(insee_code=code)
        sql.append(time.perf_counter() - started)
        used.add(code)

    spare = []
    for _ in range(min(samples, 10)):
        started = time.perf_counter()
        schemas.create_spare()
        spare.append(time.perf_counter() - started)

    s_med = statistics.median(stock)
    for label, values in (("with a spare schema (rename), median", pool),
                          ("with an empty pool (SQL replay), median", sql)):
        med = statistics.median(values)
        line(label, ms(med), f"{s_med / med:.1f}x faster than stock")
        line("  p95", ms(percentile(values, 95)))
    line("stock django-tenants (create_schema + migrate), median", ms(s_med), "baseline")
    line("building one spare schema off the critical path, median",
         ms(statistics.median(spare)))
    return {"onboard_pool_median": statistics.median(pool), "stock_median": s_med}


def bench_onboarding_many(n: int) -> None:
    from django.db import connection

    from opsn.communes import services
    from opsn.communes.models import Commune

    print(f"\n2. Onboarding {n} communes into one database (empty pool: SQL replay)")
    used = set(Commune.objects.values_list("insee_code", flat=True))
    todo = codes(n - len(used), used) if n > len(used) else []
    step = max(1, len(todo) // 10)
    gc.collect()
    start_rss = rss_mb()
    chunk_started = time.perf_counter()
    total_started = chunk_started
    for i, code in enumerate(todo, 1):
        services.commune_onboard(insee_code=code)
        if i % step == 0 or i == len(todo):
            elapsed = time.perf_counter() - chunk_started
            count = Commune.objects.count()
            line(f"communes {count - step + 1:>5}-{count:<5} per commune",
                 ms(elapsed / step), f"RSS {rss_mb():.0f} MB")
            chunk_started = time.perf_counter()
    total = time.perf_counter() - total_started
    if todo:
        line("all", f"{total:.1f} s", f"{len(todo) / total:.0f} communes/s; RSS "
             f"{start_rss:.0f} -> {rss_mb():.0f} MB")
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FILTER (WHERE n.nspname = 'c_' || lower(%s)),
                   sum(pg_total_relation_size(c.oid)) FILTER (WHERE n.nspname = 'c_' || lower(%s))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace""",
                       [todo[0] if todo else "69259"] * 2)
        relations, size = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_class")
        catalogue = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        db_size = cursor.fetchone()[0]
    line("one commune schema: relations (tables, indexes, sequences)", f"{relations}")
    line("one commune schema: disk", f"{(size or 0) / 1024:.0f} kB")
    line(f"catalogue rows (pg_class) with {Commune.objects.count()} schemas", f"{catalogue}")
    line("database size", f"{db_size / 1e6:.0f} MB")


def bench_migrations(stock_sample: int, targets: bool = False) -> None:
    """``targets``: issue 20's, at 2,000 communes (nothing to do ≤ 2 s, one ADD COLUMN
    with 4 workers ≤ 10 s)."""
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    from opsn.communes import release
    from opsn.communes.models import Commune

    names = release.tenant_schemas()
    n = len(names)
    print(f"\n{16 if targets else 3}. Releases over {n} commune schemas")

    sample = names[:stock_sample]
    started = time.perf_counter()
    for name in sample:
        call_command("migrate_schemas", schema_name=name, interactive=False, verbosity=0)
    stock_per_schema = (time.perf_counter() - started) / len(sample)
    connection.set_schema_to_public()
    stock_all = stock_per_schema * n

    report = release.migrate_communes(workers=4)
    assert report.behind == 0, report
    line("nothing to migrate: opsn migrate_communes", f"{report.seconds:.2f} s",
         f"{stock_all / report.seconds:.0f}x faster than stock"
         + (f"; target ≤ 2 s: {'met' if report.seconds <= 2 else 'NOT met'}" if targets
            else ""))
    line(f"nothing to migrate: stock migrate_schemas ({len(sample)} timed, scaled)",
         f"{stock_all:.1f} s", f"baseline ({ms(stock_per_schema)} per schema)")

    v2 = {"MIGRATION_MODULES": {"benchapp": "bench.benchapp.migrations_v2"}}

    def unapply_0002() -> None:
        script = ";".join(
            f'ALTER TABLE "{s}".benchapp_note DROP COLUMN IF EXISTS priority; '
            f"DELETE FROM \"{s}\".django_migrations WHERE app = 'benchapp' "
            f"AND name = '0002_note_priority'" for s in names)
        with connection.cursor() as cursor:
            cursor.execute(script)

    with override_settings(**v2):
        started = time.perf_counter()
        for name in sample:
            call_command("migrate_schemas", schema_name=name, interactive=False, verbosity=0)
        stock_add = (time.perf_counter() - started) / len(sample) * n
        connection.set_schema_to_public()
        for workers in (1, 2, 4):
            unapply_0002()
            report = release.migrate_communes(workers=workers)
            assert not report.failed and report.behind == n, report
            met = "met" if report.seconds <= 10 else "NOT met"
            line(f"one ADD COLUMN migration, {workers} worker(s)", f"{report.seconds:.2f} s",
                 f"{stock_add / report.seconds:.0f}x faster than stock"
                 + (f"; target ≤ 10 s: {met}" if targets and workers == 4 else ""))
        line(f"one ADD COLUMN migration: stock ({len(sample)} timed, scaled)",
             f"{stock_add:.1f} s", "baseline")
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{Commune.objects.first().schema_name}"'
                           ".django_migrations WHERE app = 'benchapp'")
            assert cursor.fetchone()[0] == 2


def bench_requests(requests: int) -> None:
    from io import BytesIO

    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test import override_settings

    from opsn.communes import routing
    from opsn.communes.models import Commune

    commune = Commune.objects.order_by("pk").first()
    host = commune.primary_domain
    print(f"\n4. Requests under a commune's domain ({host}), in-process WSGI")

    from django.conf import settings

    ours_mw = list(settings.MIDDLEWARE)
    plain_mw = [m if m != "opsn.communes.routing.CommuneRoutingMiddleware"
                else "bench.middleware.FixedCommuneMiddleware" for m in ours_mw]
    i = ours_mw.index("opsn.communes.routing.CommuneRoutingMiddleware")
    stock_mw = [*ours_mw[:i], "django_tenants.middleware.main.TenantMainMiddleware",
                "bench.middleware.CommuneFromTenant", *ours_mw[i + 1:]]
    from bench.middleware import FixedCommuneMiddleware

    FixedCommuneMiddleware.commune = commune

    handlers = {}
    for name, mw in (("ours", ours_mw), ("no routing", plain_mw), ("stock", stock_mw)):
        with override_settings(MIDDLEWARE=mw):
            handlers[name] = WSGIHandler()

    def environ(path: str) -> dict:
        return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
                "SERVER_NAME": host, "SERVER_PORT": "80", "HTTP_HOST": host,
                "wsgi.input": BytesIO(b""), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
                "SERVER_PROTOCOL": "HTTP/1.1"}

    def run(name: str, path: str, count: int) -> float:
        handler = handlers[name]
        limit = name != "stock"  # stock django-tenants' default: SET search_path per cursor
        with override_settings(TENANT_LIMIT_SET_CALLS=limit):
            statuses = set()

            def start_response(status, headers):
                statuses.add(status)

            started = time.perf_counter()
            for _ in range(count):
                body = b"".join(handler(environ(path), start_response))
            elapsed = time.perf_counter() - started
        assert statuses == {"200 OK"}, (name, statuses, body[:2000])
        connection.set_schema_to_public()
        return count / elapsed

    for path, label, count in (("/_bench/profile", "one query (the commune's profile)", requests),
                               ("/", "the commune's home page", max(50, requests // 4))):
        for name in handlers:
            run(name, path, count // 5)  # warm up
        routing.forget_all()
        rates: dict[str, list[float]] = {k: [] for k in handlers}
        names = list(handlers)
        for i in range(ROUNDS):
            # Interleaved rounds, in a rotating order: drift and whatever one configuration
            # leaves behind hit every configuration alike.
            for name in names[i % len(names):] + names[:i % len(names)]:
                rates[name].append(run(name, path, count))
        median = {k: statistics.median(v) for k, v in rates.items()}

        def ratio(name: str, rates=rates) -> float:
            return statistics.median(a / b for a, b in zip(rates[name], rates["no routing"],
                                                           strict=True))

        print(f"  {label} ({ROUNDS} rounds of {count}; ratio = median of per-round ratios):")
        line("  with our routing", f"{median['ours']:.0f} req/s",
             f"{ratio('ours'):.2f}x the same view without routing")
        line("  same view, no tenant routing", f"{median['no routing']:.0f} req/s", "baseline")
        line("  stock django-tenants middleware", f"{median['stock']:.0f} req/s",
             f"{ratio('stock'):.2f}x")


ROUNDS = 10


def bench_ledger(entries: int = 1_000_000) -> None:
    """Issue 3: verifying the chain of a régie with a million entries (target ≤ 10 s)."""
    import datetime
    from decimal import Decimal

    from django.utils import timezone

    from opsn.communes.models import Commune
    from opsn.kernel.tenancy import connection
    from opsn.regies.chain import FINGERPRINT, verify_chain
    from opsn.regies.models import Regie

    commune = Commune.objects.order_by("pk").first()
    connection.set_tenant(commune)
    print(f"\n7. Régie ledger: verifying the hash chain of {entries:,} entries")
    regie = Regie.objects.create(number="BENCH", name="Régie de mesure",
                                 accepted_modes=["cash", "card"], cash_limit=Decimal("5000"),
                                 starts_on=datetime.date(2020, 1, 1))
    started = time.perf_counter()
    now = timezone.now()
    with connection.cursor() as cursor, cursor.cursor.copy(
            "COPY regies_ledgerentry (regie_id, year, receipt_number, amount, mode, payer_name,"
            " details, agent, posted_at, reason, previous_hash, hash) FROM STDIN") as copy:
        for n in range(1, entries + 1):  # the insert trigger chains each row
            posted = now + datetime.timedelta(seconds=n)
            copy.write_row((regie.pk, posted.year, n, Decimal(n % 9000 + 100) / 100,
                            "card" if n % 3 else "cash", f"Famille {n % 5000}", "{}",
                            "regisseur@bench", posted, "", "", f"pending-{n}"))
    line(f"writing {entries:,} entries, chained by the database",
         f"{time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    assert verify_chain(regie) is None
    ours = time.perf_counter() - started
    # Again: the first read of freshly written rows also marks each as committed (hint
    # bits, written back to the pages); a journal verified later is read only.
    started = time.perf_counter()
    assert verify_chain(regie) is None
    again = time.perf_counter() - started
    # Baseline: the same check entry by entry, one query each.
    sample = 20_000
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM regies_ledgerentry WHERE regie_id = %s ORDER BY id "
                       "LIMIT %s", [regie.pk, sample])
        ids = [row[0] for row in cursor.fetchall()]
        for pk in ids:
            cursor.execute(f"SELECT hash = {FINGERPRINT} FROM regies_ledgerentry "
                           "WHERE id = %s", [pk])
            assert cursor.fetchone()[0]
    naive = (time.perf_counter() - started) / sample * entries
    line("verify_chain (parallel fingerprint scan, then the links)", f"{ours:.1f} s",
         f"target ≤ 10 s; {naive / ours:.0f}x faster than entry by entry")
    line("verify_chain again, the journal read once already", f"{again:.1f} s",
         f"{naive / again:.0f}x faster than entry by entry")
    line(f"entry by entry ({sample:,} timed, scaled)", f"{naive:.1f} s", "baseline")
    connection.set_schema_to_public()


def start_gunicorn(environment: dict[str, str]):
    """The production server's configuration (opsn.gunicorn_conf) on a free loopback port,
    with ``environment`` added; returns (process, port) once /healthz answers."""
    import http.client
    import socket
    import subprocess

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           **environment}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "opsn.wsgi:application", "-c",
                             "python:opsn.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
                             "--access-logfile", "/dev/null"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            client.request("GET", "/healthz")
            if client.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"gunicorn did not start ({environment.get('DJANGO_SETTINGS_MODULE')})")


def bench_server_load(seconds: float = 10.0, clients: int = 16) -> None:
    """Issue 6: the production server (gunicorn) under load on localhost, against the same
    server without tenant routing."""
    import http.client
    import signal
    import threading

    from django.db import connection

    from opsn.communes.models import Commune

    commune = Commune.objects.order_by("pk").first()
    host = commune.primary_domain
    db = connection.settings_dict
    from urllib.parse import quote

    url = f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"
    print(f"\n6. Production server under load: gunicorn, 2 workers x 4 threads, {clients} "
          f"clients on localhost, {seconds:.0f} s each, GET /_bench/profile on {host}")

    def serve(settings_module: str):
        return start_gunicorn({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": settings_module,
                               "WEB_WORKERS": "2", "WEB_THREADS": "4",
                               "OPSN_BENCH_FIXED_SCHEMA": commune.schema_name})

    def load(port: int) -> tuple[float, float]:
        latencies: list[float] = []
        errors = []
        stop = time.perf_counter() + seconds
        lock = threading.Lock()

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            mine = []
            while time.perf_counter() < stop:  # bounded in time, on loopback only
                started = time.perf_counter()
                conn.request("GET", "/_bench/profile", headers={"Host": host})
                response = conn.getresponse()
                response.read()
                mine.append(time.perf_counter() - started)
                if response.status != 200:
                    errors.append(response.status)
            conn.close()
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        assert not errors, errors[:5]
        return len(latencies) / elapsed, percentile(latencies, 95)

    results = {}
    for label, module in (("no routing", "bench.settings_plain"), ("ours", "bench.settings")):
        proc, port = serve(module)
        try:
            load(port)  # warm up every worker and connection
            results[label] = load(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    base_rps, base_p95 = results["no routing"]
    rps, p95 = results["ours"]
    line("with tenant routing", f"{rps:.0f} req/s", f"p95 {ms(p95)}; "
         f"{rps / base_rps:.2f}x the throughput without routing")
    line("same server, no tenant routing", f"{base_rps:.0f} req/s", f"p95 {ms(base_p95)}; "
         "baseline")


def bench_billing(repeat: int = 3) -> None:
    """Issue 5: the yearly preview for every commune of France, six applications."""
    import datetime

    from opsn.billing import services
    from opsn.billing.computation import compute_year
    from opsn.communes.models import Commune, CommuneModule, Module
    from opsn.referentiel.models import OfficialCommune

    modules = list(Module.objects.values_list("code", flat=True))
    print(f"\n5. Billing: yearly preview for every current commune, {len(modules)} applications")
    started = time.perf_counter()
    # Six current "communes" have no population (Kerguelen, Clipperton…): billing would
    # rightly refuse them.
    official = list(OfficialCommune.objects.filter(is_current=True, populations__year=2023)
                    .values_list("insee_code", "name", "siren", "departement_code",
                                 "region_code"))
    # Registry rows only: billing reads the registry, not the communes' schemas.
    Commune.objects.bulk_create([
        Commune(schema_name=f"c_{code.lower()}", insee_code=code, name=name,
                slug=f"c{code.lower()}", siren=siren, departement_code=dep, region_code=reg)
        for code, name, siren, dep, reg in official], batch_size=5000)
    ids = list(Commune.objects.values_list("pk", flat=True))
    CommuneModule.objects.bulk_create([
        CommuneModule(commune_id=pk, module_id=m, starts_on=datetime.date(2025, 1, 1))
        for pk in ids for m in modules], batch_size=20_000)
    line(f"registering {len(ids)} communes and {len(ids) * len(modules)} subscriptions",
         f"{time.perf_counter() - started:.1f} s")
    rules = {"e-administration": 2_000_000, "services-en-ligne": 1_500_000,
             "marches-publics": 900_000}
    for module, cost in rules.items():
        services.rule_set(module=module, year=2025, kind="per_inhabitant", annual_cost=cost,
                          operator_share_fraction="0.5", population_year=2023)
    services.rule_set(module="espace-citoyen", year=2025, kind="tiers", population_year=2023,
                      brackets=[(0, 2000, "150"), (2000, 20000, "900"), (20000, None, "4500")])
    services.rule_set(module="regies", year=2025, kind="flat", flat_amount="350")
    services.rule_set(module="open-data", year=2025, kind="free")

    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        preview = compute_year(2025)
        timings.append(time.perf_counter() - started)
    ours = statistics.median(timings)
    for module, cost in rules.items():
        assert preview.by_module()[module] == cost * 100 // 2, module
    line(f"preview: {len(preview.lines)} lines", f"{ours:.2f} s", "target ≤ 5 s")

    # Baseline: the obvious implementation, one query per commune and application, each
    # share rounded on its own (it also loses cents: the shares no longer add up).
    from decimal import ROUND_HALF_UP, Decimal

    from opsn.referentiel.models import Population

    sample = ids[:300]
    started = time.perf_counter()
    totals = {m: Decimal(0) for m in rules}
    population_total = Decimal(sum(Population.objects.filter(year=2023)
                                   .values_list("municipale", flat=True)))
    for pk in sample:
        commune = Commune.objects.get(pk=pk)
        for sub in CommuneModule.objects.filter(commune=commune):
            if sub.module_id in rules:
                pop = Population.objects.get(commune_id=commune.insee_code, year=2023)
                share = (Decimal(pop.municipale) / population_total
                         * Decimal(rules[sub.module_id]) / 2).quantize(Decimal("0.01"),
                                                                       ROUND_HALF_UP)
                totals[sub.module_id] += share
    naive = (time.perf_counter() - started) / len(sample) * len(ids)
    line(f"naive ORM preview ({len(sample)} communes timed, scaled)", f"{naive:.1f} s",
         f"baseline; ours {naive / ours:.0f}x faster")

    import tempfile

    from django.conf import settings

    from opsn.billing import documents, issuing
    from opsn.billing.models import Invoice

    started = time.perf_counter()
    run = issuing.billing_issue(year=2025)
    issued = time.perf_counter() - started
    line(f"issuing: {run.invoices} numbered invoices with their lines, one transaction",
         f"{issued:.1f} s", f"{run.invoices / issued:.0f} communes/s")
    settings.MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="opsn-bench-media-"))
    invoices = list(Invoice.objects.filter(year=2025).order_by("number")[:400])
    rates = {}
    for workers in (1, 2):
        batch = invoices[:200] if workers == 1 else invoices[200:400]
        started = time.perf_counter()
        documents.generate_documents(batch, workers=workers)
        rates[workers] = len(batch) / (time.perf_counter() - started)
        line(f"Factur-X PDF documents, {workers} process(es)", f"{rates[workers]:.0f} communes/s",
             f"{rates[workers] / rates[1]:.2f}x one process")
    line("all invoices with their PDF at that rate, 2 processes",
         f"{run.invoices / rates[2] / 60:.0f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--communes", type=int, default=None,
                        help="communes onboarded (default 1000; 2000 with --only scale)")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--stock-sample", type=int, default=None,
                        help="schemas stock migrate_schemas is timed on (default 30; 3 with "
                             "--only scale)")
    parser.add_argument("--max-schemas", type=int, default=None,
                        help="--only scale: OPSN_DB_MAX_SCHEMAS_PER_CONNECTION measured "
                             "(default: the setting's)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--ledger-entries", type=int, default=1_000_000)
    parser.add_argument("--bank-entries", type=int, default=100_000)
    parser.add_argument("--citizen-stages", default="10,100,1000",
                        help="numbers of communes at which « Mes paiements » is timed")
    parser.add_argument("--invoices", type=int, default=5_000,
                        help="invoices issued with their PDF documents (11)")
    parser.add_argument("--debits", type=int, default=20_000)
    parser.add_argument("--handover-invoices", type=int, default=5_000,
                        help="unpaid invoices handed over to the public accountant (13)")
    parser.add_argument("--only", choices=["platform", "server", "billing", "ledger", "regies",
                                           "citizens", "invoices", "direct_debit", "scale",
                                           "handover"],
                        default=None,
                        help="run one part: the operator platform (1-4, 6), the production "
                             "server under load (6), billing (5), the régie ledger (7) or "
                             "the régies: ledger, bank import and API payments (7-9), or "
                             "the citizen's statement across communes (10), or the invoice "
                             "documents (11), the hand-over of unpaid invoices to the public "
                             "accountant (13), or 2,000 communes in one database (13-16)")
    args = parser.parse_args()
    scale = args.only == "scale"
    if args.communes is None:
        args.communes = 2000 if scale else 1000
    if args.stock_sample is None:
        args.stock_sample = 3 if scale else 30

    reset_database()
    import django

    django.setup()
    from django.core.management import call_command

    from opsn.referentiel.loader import ensure_loaded

    started = time.perf_counter()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    call_command("createcachetable")
    ensure_loaded()
    from importlib.metadata import version

    server = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "the embedded server"
    print(f"opsn platform benchmark — PostgreSQL on {server}, django-tenants "
          f"{version('django-tenants')}, {os.cpu_count()} cores; set-up "
          f"{time.perf_counter() - started:.1f} s")
    if args.only in (None, "platform"):
        bench_onboarding_one(args.samples, args.stock_sample)
        bench_onboarding_many(args.communes)
        bench_migrations(args.stock_sample)
        bench_requests(args.requests)
        bench_server_load()
    if scale:
        from django.conf import settings

        from bench.scale import (
            bench_backend_memory,
            bench_daily_job,
            bench_pages_under_load,
            bench_scale_onboarding,
        )

        bench_scale_onboarding(args.communes)
        bench_backend_memory(args.max_schemas or settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION)
        bench_daily_job()
        bench_migrations(args.stock_sample, targets=True)
        bench_pages_under_load()
    if args.only == "ledger":
        bench_onboarding_many(3)
        bench_ledger(args.ledger_entries)
    if args.only == "regies":
        from bench.regies_api import bench_api_payments
        from bench.regies_imports import bench_bank_import

        bench_onboarding_many(3)
        bench_ledger(args.ledger_entries)
        bench_bank_import(args.bank_entries)
        bench_api_payments()
    if args.only in ("regies", "direct_debit"):
        from bench.direct_debit import bench_booking, bench_collection

        if args.only == "direct_debit":
            bench_onboarding_many(3)
        bench_collection(args.debits)
        bench_booking(args.debits)
    if args.only in ("regies", "handover"):
        from bench.handover import bench_handover

        if args.only == "handover":
            bench_onboarding_many(3)
        bench_handover(args.handover_invoices)
    if args.only in (None, "citizens"):
        from bench.citizens import bench_citizen_statement

        if args.only is None:  # the stages count communes from an empty registry
            fresh_registry()
        bench_citizen_statement(tuple(int(n) for n in args.citizen_stages.split(",")))
    if args.only == "server":
        bench_onboarding_many(5)
        bench_server_load()
    if args.only in (None, "billing"):
        if args.only is None:  # start again from an empty registry
            fresh_registry()
        bench_billing()
    if args.only in (None, "invoices"):
        from bench.invoice_documents import bench_invoice_documents

        if args.only is None:  # billing's communes have no schema: start again
            fresh_registry()
        bench_invoice_documents(args.invoices)


if __name__ == "__main__":
    main()
