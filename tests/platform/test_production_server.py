"""The production server (gunicorn, several workers) serves communes and adds up the
metrics of all its workers."""

from tests.helpers.servers import get, production_server


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
