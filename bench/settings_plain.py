"""The same application without tenant routing: one fixed commune (benchmark baseline)."""

import os

from bench.settings import *  # noqa: F403
from bench.settings import MIDDLEWARE

MIDDLEWARE = [m if m != "opsn.communes.routing.CommuneRoutingMiddleware"
              else "bench.middleware.FixedCommuneFromEnvMiddleware" for m in MIDDLEWARE]
OPSN_BENCH_FIXED_SCHEMA = os.environ.get("OPSN_BENCH_FIXED_SCHEMA", "")
