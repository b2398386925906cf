"""Issue 20: an OPSN of 2,000 communes in one database, with the real commune schema.

    ./dev bench --only scale [--communes 2000]

13. onboarding N communes as production does (the schema taken from the spare pool), each
    after the SQL replay that refills the pool: both times per commune by tenths (the last
    tenth against the first), the process's memory; taking a schema from the pool against
    building one by SQL replay (medians); the cost of one commune (relations, disk,
    catalogue);
14. the memory of a PostgreSQL backend that reads four régie tables in every commune,
    one "request" per commune: with the connection recycled after
    OPSN_DB_MAX_SCHEMAS_PER_CONNECTION schemas, against one connection kept open;
15. the daily régie warnings job (fanned out: one job per commune) on the in-process
    broker's 2 worker threads: each commune visited once, none missed, the workers'
    backends' memory; against the same with a new connection for every job (the
    workers' behaviour before issue 20);
16. releases over the N schemas (the platform benchmark's part 3, stock timed on a few);
17. three pages under load through gunicorn (bench/pages.py): a commune's home page, a
    signed-in régisseur's counter, a citizen's « Mes paiements » linked in 5 communes;
    over 200 communes against 10, without pauses and with people's pauses.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from pathlib import Path

from bench.run import codes, line, ms, rss_mb

TARGET_RATIO = 1.25
TARGET_BUILD = 0.050
TARGET_BACKEND_MB = 150
TARGET_DAILY = 60.0


def backend_memory(pid: int) -> tuple[float, float]:
    """(RssAnon, VmRSS) of a PostgreSQL backend in MB, from /proc (same machine): its
    private memory (caches included), and everything resident (shared buffers touched)."""
    fields = {}
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = row.partition(":")
        if key in ("RssAnon", "VmRSS"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("RssAnon", 0.0), fields.get("VmRSS", 0.0)


def contexts_mb(cursor) -> float:
    """What the backend itself says it holds (pg_backend_memory_contexts, PostgreSQL 14+)."""
    cursor.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
    return float(cursor.fetchone()[0] or 0) / 1e6


def bench_scale_onboarding(n: int) -> None:
    """Onboarding as production does it: the commune's schema is a spare taken from the
    pool (a rename inside the onboarding's transaction) and the pool is refilled by
    building a spare by SQL replay, off the critical path (a job). Here each onboarding is
    preceded by the build that refills the pool, timed on its own: both series by
    tenths, the claim's median against the target, the build's median as its baseline."""
    from django.db import connection

    from opsn.communes import schemas, services
    from opsn.communes.models import Commune, SpareSchema
    from opsn.kernel.postgresql.base import recycle_if_due

    print(f"\n13. {n} communes in one database, the real commune schema")
    for spare in SpareSchema.objects.all():  # start with an empty pool
        schemas.drop_schema(spare.schema_name)
        spare.delete()
    claims: list[float] = []
    claim = schemas.claim_schema

    def timed_claim(name: str, database: str = "default") -> bool:
        started = time.perf_counter()
        taken = claim(name, database)
        if taken:
            claims.append(time.perf_counter() - started)
        return taken

    used = set(Commune.objects.values_list("insee_code", flat=True))
    todo = codes(n - len(used), used) if n > len(used) else []
    if not todo:
        return
    schemas.full_schema_sql()  # written once per process, before the first build
    gc.collect()
    start_rss = rss_mb()
    onboardings: list[float] = []
    builds: list[float] = []
    tenth = max(1, len(todo) // 10)
    rss_at: list[float] = []
    total_started = time.perf_counter()
    schemas.claim_schema = timed_claim
    try:
        for i, code in enumerate(todo, 1):
            started = time.perf_counter()
            schemas.create_spare()  # the pool's refill (a background job in production)
            builds.append(time.perf_counter() - started)
            started = time.perf_counter()
            services.commune_onboard(insee_code=code)
            onboardings.append(time.perf_counter() - started)
            recycle_if_due()  # the boundary a request, or a batch between communes, has
            if i % tenth == 0:
                rss_at.append(rss_mb())
    finally:
        schemas.claim_schema = claim
    total = time.perf_counter() - total_started
    assert len(claims) == len(todo) and not SpareSchema.objects.exists(), "pool not used"

    def tenths(values: list[float]) -> list[list[float]]:
        return [values[k * tenth:(k + 1) * tenth] for k in range(10) if values[k * tenth:]]

    line("communes (per commune, mean)", "onboarding", "its schema built by SQL replay "
         "(the pool's refill), process RSS")
    for k, (chunk, built) in enumerate(zip(tenths(onboardings), tenths(builds), strict=True)):
        line(f"  {k * tenth + 1:>5}-{k * tenth + len(chunk):<5}", ms(statistics.mean(chunk)),
             f"{ms(statistics.mean(built))}" + (f"; RSS {rss_at[k]:.0f} MB"
                                                 if k < len(rss_at) else ""))
    ratio = statistics.mean(tenths(onboardings)[-1]) / statistics.mean(tenths(onboardings)[0])
    build_ratio = statistics.mean(tenths(builds)[-1]) / statistics.mean(tenths(builds)[0])
    line("onboarding, last tenth against the first", f"{ratio:.2f}x",
         f"target ≤ {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    line("schema build by SQL replay, last tenth against the first", f"{build_ratio:.2f}x",
         "PostgreSQL's cost of creating 309 relations as its catalogue grows")
    line("all", f"{total:.1f} s", f"{len(todo) / total:.1f} communes/s (build included); "
         f"onboarding process RSS {start_rss:.0f} -> {rss_mb():.0f} MB")
    taken = statistics.median(claims)
    first_build, last_build = (statistics.median(builds[:tenth]),
                               statistics.median(builds[-tenth:]))
    line("a commune's schema taken from the pool, median", ms(taken),
         f"target ≤ {ms(TARGET_BUILD)}: {'met' if taken <= TARGET_BUILD else 'NOT met'}; "
         f"{ms(statistics.median(claims[-tenth:]))} in the last tenth")
    line("building one schema by SQL replay, median", ms(last_build),
         f"baseline (last tenth; {ms(first_build)} in the first); the claim is "
         f"{last_build / taken:.0f}x faster")

    sample = Commune.objects.order_by("pk").first().schema_name
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FILTER (WHERE n.nspname = %s),
                   sum(pg_total_relation_size(c.oid)) FILTER (WHERE n.nspname = %s),
                   count(*)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace""", [sample] * 2)
        relations, size, catalogue = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_attribute")
        attributes = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        db_size = cursor.fetchone()[0]
    count = Commune.objects.count()
    line("one commune: relations (tables, indexes, sequences)", f"{relations}")
    line("one commune: disk, empty", f"{float(size or 0) / 1e6:.2f} MB")
    line(f"catalogue at {count} communes: pg_class / pg_attribute rows",
         f"{catalogue} / {attributes}")
    line(f"database size at {count} communes", f"{db_size / 1e6:.0f} MB",
         f"{db_size / count / 1e6:.2f} MB per commune")


def visit(commune) -> None:
    """What a request or a job for one commune reads: four régie tables."""
    from opsn.regies.models import Invoice, LedgerEntry, Payer, Regie

    Regie.objects.filter(number="R1").first()
    Payer.objects.filter(pk=1).first()
    Invoice.objects.filter(pk=1).first()
    LedgerEntry.objects.filter(regie_id=1).order_by("-id").first()


def bench_backend_memory(limit: int) -> None:
    from django.conf import settings
    from django.db import connection

    from opsn.communes.models import Commune
    from opsn.kernel import tenancy

    communes = list(Commune.objects.filter(database="default").order_by("pk"))
    n = len(communes)
    print(f"\n14. Memory of a PostgreSQL backend that reads four régie tables in each of {n} "
          "communes, one request per commune")
    previous_age = connection.settings_dict["CONN_MAX_AGE"]
    previous_limit = settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION
    connection.settings_dict["CONN_MAX_AGE"] = None  # only the recycling closes
    results = {}
    try:
        for label, schemas_limit in (("kept open", 0), ("recycled", limit)):
            settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = schemas_limit
            tenancy.enter(None)
            connection.close()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                fresh = backend_memory(cursor.fetchone()[0])[0]
            peak = (0.0, 0.0, 0.0)
            connections_opened = set()
            started = time.perf_counter()
            for commune in communes:
                connection.close_if_unusable_or_obsolete()  # a request starts
                tenancy.enter(commune)
                visit(commune)
                tenancy.leave()
                if connection.recycle_due or commune is communes[-1]:
                    with connection.cursor() as cursor:  # the connection at its largest
                        pid = connection.connection.info.backend_pid
                        connections_opened.add(pid)
                        anon, rss = backend_memory(pid)
                        peak = max(peak, (anon, rss, contexts_mb(cursor)))
                connection.close_if_unusable_or_obsolete()  # the request ends
            elapsed = time.perf_counter() - started
            results[label] = (peak, elapsed, len(connections_opened), fresh)
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = previous_age
        settings.OPSN_DB_MAX_SCHEMAS_PER_CONNECTION = previous_limit
        tenancy.enter(None)
        connection.close()
    (base_anon, base_rss, base_ctx), base_time, _, fresh = results["kept open"]
    (anon, rss, ctx), elapsed, opened, _ = results["recycled"]
    line(f"recycled after {limit} schemas: largest backend, private (RssAnon)",
         f"{anon:.0f} MB", f"target ≤ {TARGET_BACKEND_MB} MB: "
         f"{'met' if anon <= TARGET_BACKEND_MB else 'NOT met'}; {base_anon / anon:.1f}x less "
         "than kept open")
    line("  its memory contexts / resident (VmRSS)", f"{ctx:.0f} / {rss:.0f} MB",
         f"{opened} connections in all")
    line("kept open throughout: backend, private (RssAnon)", f"{base_anon:.0f} MB",
         f"baseline; {(base_anon - fresh) / n * 1000:.0f} kB per commune visited")
    line("  its memory contexts / resident (VmRSS)", f"{base_ctx:.0f} / {base_rss:.0f} MB")
    line("a fresh backend, private (RssAnon)", f"{fresh:.0f} MB")
    line("time per commune: recycled / kept open",
         f"{ms(elapsed / n)} / {ms(base_time / n)}",
         f"{elapsed / base_time:.2f}x (the cost of reconnecting)")


def bench_daily_job() -> None:
    """The daily régie warnings, fanned out by ``warn_regies`` to one job per commune, on the
    in-process broker's worker (2 threads, as ``./dev demo`` and ``opsn serve`` run it)."""
    import threading

    import dramatiq
    from django.db import connection, connections

    from opsn.jobs.broker import ensure_embedded_worker
    from opsn.kernel import tenancy
    from opsn.regies.tasks import warn_commune_regies, warn_regies

    expected = [c.schema_name for c in tenancy.communes().active_with("regies")]
    print(f"\n15. Daily régie warnings: one job per commune, {len(expected)} communes, 2 "
          "worker threads")
    seen: list[str] = []
    failed: list[str] = []
    lock = threading.Lock()

    class Recorder(dramatiq.Middleware):
        def after_process_message(self, broker, message, *, result=None, exception=None):
            if message.actor_name == warn_commune_regies.actor_name:
                with lock:
                    seen.append(message.options.get("commune_schema", ""))
                    if exception is not None:
                        failed.append(message.options.get("commune_schema", ""))

    broker = dramatiq.get_broker()
    broker.add_middleware(Recorder())
    ensure_embedded_worker()

    def run() -> tuple[float, float]:
        seen.clear()
        failed.clear()
        started = time.perf_counter()
        warn_regies.fn()
        broker.join(warn_commune_regies.queue_name, timeout=600_000)
        elapsed = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid() "
                           "AND backend_type = 'client backend'")
            pids = [row[0] for row in cursor.fetchall()]
        worst = max((backend_memory(p)[0] for p in pids), default=0.0)
        return elapsed, worst

    settings_dict = connections.settings["default"]
    age = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = 0  # before issue 20: a new connection for every job
    try:
        base, _ = run()
    finally:
        settings_dict["CONN_MAX_AGE"] = age
    base_ok = sorted(seen) == sorted(expected) and not failed
    start_rss = rss_mb()
    elapsed, worst = run()
    ok = sorted(seen) == sorted(expected) and not failed
    missed = len(set(expected) - set(seen))
    twice = len(seen) - len(set(seen))
    line("warn_regies over every commune, connections recycled", f"{elapsed:.1f} s",
         f"target ≤ {TARGET_DAILY:.0f} s: {'met' if elapsed <= TARGET_DAILY else 'NOT met'}; "
         f"{base / elapsed:.2f}x faster than a connection per job")
    line("  communes visited once / missed / twice / failed",
         f"{len(set(seen))} / {missed} / {twice} / {len(failed)}",
         "none missed" if ok else "WRONG")
    line("  workers' backends, largest private memory (RssAnon)", f"{worst:.0f} MB",
         f"process RSS {start_rss:.0f} -> {rss_mb():.0f} MB")
    line("a new connection for every job (before)", f"{base:.1f} s",
         "baseline" + ("" if base_ok else "; WRONG: communes missed"))


def bench_pages_under_load(spread: int = 200, seconds: float = 10.0,
                           only: tuple[str, ...] = ("home", "counter", "payments")) -> None:
    """The commune home page, the counter of a signed-in agent and a citizen's « Mes
    paiements » (bench/pages.py) through gunicorn (``opsn serve``'s configuration, 2
    workers x 4 threads), over ``spread`` communes; the baseline is the same pages over 10
    communes."""
    import signal
    from urllib.parse import quote

    from django.db import connection

    from bench import pages
    from bench.run import start_gunicorn
    from opsn.communes.models import Commune

    communes = list(Commune.objects.order_by("pk")[:spread])
    total = Commune.objects.count()
    started = time.perf_counter()
    targets = {str(len(communes)): pages.prepare(communes, "wide"),
               "10": pages.prepare(communes[:10], "ten")}
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"
    print(f"\n17. Pages under load: gunicorn 2 workers x 4 threads, {pages.CLIENTS} clients, "
          f"{seconds:.0f} s each, {total} communes in the database (set-up "
          f"{time.perf_counter() - started:.0f} s)")
    names = {"home": "commune home page, anonymous",
             "counter": "counter page, signed-in régisseur",
             "payments": f"« Mes paiements », citizen linked in {pages.LINKED} communes"}
    proc, port = start_gunicorn({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings",
                                 "WEB_WORKERS": "2", "WEB_THREADS": "4"})
    try:
        for page, name in names.items():
            if page not in only:
                continue
            print(f"  {name}")
            people = f"{pages.CLIENTS} people, {pages.THINK:.0f} s pauses"
            for think, load_name in ((0.0, "no pause"), (pages.THINK, people)):
                measured = {}
                for label in (str(len(communes)), "10"):
                    pages.load(port, targets[label][page], 2.0, think)  # warm up
                    measured[label] = pages.load(port, targets[label][page], seconds, think)
                (rps, p95, err), (base_rps, base_p95, base_err) = (
                    measured[str(len(communes))], measured["10"])
                verdict = (f"target p95 ≤ 100 ms: {'met' if p95 <= 0.1 else 'NOT met'}; "
                           if not think else "")
                line(f"  {load_name}, over {len(communes)} communes", f"p95 {ms(p95)}",
                     f"{rps:.0f} req/s; {verdict}{p95 / base_p95:.2f}x over 10; errors "
                     f"{len(err)}{' ' + str(sorted(set(err))) if err else ''}")
                line(f"  {load_name}, over 10 communes", f"p95 {ms(base_p95)}",
                     f"{base_rps:.0f} req/s; baseline; errors {len(base_err)}")
                if not think and p95 > 0.1:
                    # Little's law: 50 clients answered in 100 ms on average is 500 req/s;
                    # the machine's cores serve rps, so about cores x 500 / rps are needed.
                    needed = pages.CLIENTS / 0.1
                    line("    cores for the target (Little's law, at least)",
                         f"{os.cpu_count() * needed / rps:.0f}",
                         f"{needed:.0f} req/s needed; {os.cpu_count()} cores serve {rps:.0f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
