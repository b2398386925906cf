"""The platform's settings, on a database of its own, plus the benchmark's tenant app."""

import os

from opsn.settings import *  # noqa: F403
from opsn.settings import DATABASES, INSTALLED_APPS, TENANT_APPS

DATABASES["default"]["NAME"] = os.environ.get("OPSN_BENCH_DATABASE", "opsn_bench")
TENANT_APPS = [*TENANT_APPS, "bench.benchapp"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]
MIGRATION_MODULES = {"benchapp": "bench.benchapp.migrations_v1"}
OPSN_SCHEMA_POOL_SIZE = 0  # the benchmark fills the pool itself when it wants one
LOGGING = {"version": 1, "disable_existing_loggers": True}
DEBUG_PROPAGATE_EXCEPTIONS = True
ROOT_URLCONF = "bench.urls"
