"""``/metrics``: the platform's metrics (``opsn.kernel.metrics``), correct under a
multi-process server, and the registry's gauges read at scrape time."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from opsn.communes.models import Commune
from opsn.jobs.models import OutboxMessage


class RegistryCollector:
    """Communes by status, read from the registry at scrape time (a few rows), and the
    jobs waiting in the outbox (more than zero for long: the broker is down)."""

    def collect(self):
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

        registry = REGISTRY
    data = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(RegistryCollector())
    return data + generate_latest(extra), CONTENT_TYPE_LATEST
