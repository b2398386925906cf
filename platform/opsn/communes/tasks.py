"""Jobs of the commune registry."""

import dramatiq


@dramatiq.actor(max_retries=3, min_backoff=1_000)
def run_onboarding_batch(batch_id: str) -> None:
    """Resumable and idempotent: a retry finishes what the failed attempt left."""
    from opsn.communes.models import OnboardingBatch
    from opsn.communes.services import batch_run

    batch_run(OnboardingBatch.objects.get(pk=batch_id))


@dramatiq.actor(max_retries=3, min_backoff=1_000)
def refill_spare_pool(database: str = "default") -> None:
    """Idempotent: builds only what is missing to reach OPSN_SCHEMA_POOL_SIZE in that
    database's pool."""
    from opsn.communes.schemas import fill_spare_pool

    fill_spare_pool(database=database)
