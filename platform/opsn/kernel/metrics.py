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
# Money that arrived and did not go straight into a journal: an online payment paid but not
# recorded (``online_unrecorded``), a PayFiP result that does not match what was asked
# (``online_mismatch``), a notification for an unknown operation (``notification_unknown``),
# an imported payment no invoice matched (``import_unmatched``). Bounded: 4 kinds.
MONEY_ANOMALIES = Counter("opsn_money_anomalies_total",
                          "Money that arrived and could not be recorded, or does not match",
                          ["kind"])
# The same, recorded afterwards (by the reconciliation, a notification, the return page, or
# an agent): ``online_unrecorded``, ``online_mismatch``.
MONEY_RECOVERED = Counter("opsn_money_recovered_total",
                          "Money recorded after a first anomaly", ["kind"])
# PayFiP's notifications: applied, replayed (a payment already settled), unknown operation.
PAYFIP_NOTIFICATIONS = Counter("opsn_payfip_notifications_total", "PayFiP notifications",
                               ["outcome"])
# Database connections closed because they had entered OPSN_DB_MAX_SCHEMAS_PER_CONNECTION
# schemas (opsn.kernel.postgresql): their rate against requests says whether the limit fits.
DB_RECYCLED = Counter("opsn_db_connections_recycled_total",
                      "Database connections closed after entering many commune schemas")
