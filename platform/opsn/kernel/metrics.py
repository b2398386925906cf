"""The platform's Prometheus metrics, defined once for every part that counts something.

No label takes a commune or a user: with thousands of communes every series would be
multiplied by thousands (see docs/operations.md). The commune goes in logs and error
reports instead. Labels are bounded: view names, status classes, job names, outcomes.
Exposed by ``opsn.operations.metrics`` (``/metrics``), correct under a multi-process server.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Histogram

# Under a multi-process server each process writes its values in this folder from the
# first metric on, here at import (start-up): make sure it is there. `opsn serve` empties
# it before the server's workers start.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

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
