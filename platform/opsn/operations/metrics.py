"""Prometheus metrics, correct under a multi-process server.

No label takes a commune or a user: with thousands of communes every series would be
multiplied by thousands (see docs/operations.md). The commune goes in logs and error
reports instead. Labels are bounded: view names, status classes, job names, outcomes.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("opsn_http_requests_total", "HTTP requests", ["view", "method", "status"])
LATENCY = Histogram("opsn_http_request_duration_seconds", "Time to answer a request",
                    ["view"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
JOBS = Counter("opsn_jobs_total", "Background jobs", ["actor", "outcome"])
ONBOARDING = Histogram("opsn_onboarding_seconds", "Time to onboard one commune",
                       buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5))
# Bounded labels: 7 modes x 5 sources.
PAYMENTS = Counter("opsn_payments_total", "Payments and reversals posted to régie journals",
                   ["mode", "source"])
BILLING_RUN = Histogram("opsn_billing_run_seconds", "Time to issue a year",
                        buckets=(.1, .5, 1, 5, 10, 30, 60, 120, 300, 600))


class RegistryCollector:
    """Communes by status, read from the registry at scrape time (a few rows), and the
    jobs waiting in the outbox (more than zero for long: the broker is down)."""

    def collect(self):
        from opsn.communes.models import Commune
        from opsn.jobs.models import OutboxMessage

        gauge = GaugeMetricFamily("opsn_communes", "Communes on the platform", labels=["status"])
        counts = dict.fromkeys(Commune.Status.values, 0)
        for status in Commune.objects.values_list("status", flat=True):
            counts[status] += 1
        for status, n in counts.items():
            gauge.add_metric([status], n)
        yield gauge
        yield GaugeMetricFamily("opsn_jobs_outbox", "Jobs waiting for the broker",
                                value=OutboxMessage.objects.count())


def exposition() -> tuple[bytes, str]:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    data = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(RegistryCollector())
    return data + generate_latest(extra), CONTENT_TYPE_LATEST
