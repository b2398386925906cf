"""The production server (gunicorn, several workers) serves communes and adds up the
metrics of all its workers."""

import psutil

from tests.helpers.servers import get, production_server, production_server_process


def test_gunicorn_serves_communes_and_aggregates_metrics(committed, tmp_path):
    with production_server(tmp_path) as port:
        statuses = [get(port, "/", "venissieux.localhost")[0] for _ in range(20)]
        assert statuses == [200] * 20
        assert get(port, "/", "atlantis.localhost")[0] == 404
        status, metrics = get(port, "/metrics", "127.0.0.1")
        assert status == 200
        line = next(x for x in metrics.splitlines() if x.startswith(
            'opsn_http_requests_total{method="GET",status="2xx",view="commune_site:home"}'))
        assert float(line.rsplit(" ", 1)[1]) == 20.0  # both workers' requests, added up


def test_workers_recycled_after_their_requests_serve_on_without_a_failed_request(
        committed, tmp_path):
    """Each worker is a fork of the master, which loaded the application (WEB_PRELOAD):
    a worker replaced after WEB_MAX_REQUESTS opens its own database connections (none is
    shared with the master or another worker) and serves the next request."""
    with production_server_process(tmp_path, workers=2, threads=2,
                                   WEB_MAX_REQUESTS="10") as (port, server):
        master = psutil.Process(server.pid)
        first = {p.pid for p in master.children()}
        pages = [get(port, "/", host) for _ in range(30)
                 for host in ("venissieux.localhost", "vaulx-en-velin.localhost")]
        assert [status for status, _ in pages] == [200] * 60
        assert all("Vénissieux" in html for _, html in pages[0::2])
        assert all("Vaulx-en-Velin" in html and "Vénissieux" not in html
                   for _, html in pages[1::2])
        assert not first & {p.pid for p in master.children()}  # every worker was replaced
