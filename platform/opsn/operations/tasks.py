"""The operations' periodic jobs (named in ``opsn.jobs.periodic.SCHEDULE``)."""

from __future__ import annotations

import logging

import dramatiq

from opsn.operations.throttle import forget_expired

logger = logging.getLogger("opsn.operations")


@dramatiq.actor(max_retries=3)
def forget_expired_attempts() -> None:
    """Daily: the counters of attempts past their period count nothing; remove them."""
    removed = forget_expired()
    if removed:
        logger.info("forgot %d expired attempt counters", removed)
