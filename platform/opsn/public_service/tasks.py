"""The open statistics' daily refresh (``jobs.periodic``)."""

from __future__ import annotations

import logging

import dramatiq

from opsn.public_service.statistics import refresh

logger = logging.getLogger("opsn.public_service")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def refresh_public_statistics() -> None:
    """Daily: the day's figures, computed again (idempotent: one row per day)."""
    row = refresh()
    logger.info("public statistics of %s refreshed", row.computed_on)
