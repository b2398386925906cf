"""Jobs of the commune registry (the spare pool's refill is in ``schemas``, beside the pool)."""

import dramatiq

from opsn.communes.models import OnboardingBatch
from opsn.communes.services import batch_run


@dramatiq.actor(max_retries=3, min_backoff=1_000)
def run_onboarding_batch(batch_id: str) -> None:
    """Resumable and idempotent: a retry finishes what the failed attempt left."""

    batch_run(OnboardingBatch.objects.get(pk=batch_id))
