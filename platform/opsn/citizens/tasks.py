"""The retention of payers' personal data (docs/public-service.md): daily, one job per
commune that subscribes to the régies, given the ids of its payers linked to a citizen's
account (the links live here, in the platform's schema; the commune's job may not read
them), which it leaves alone."""

from __future__ import annotations

import dramatiq

from opsn.citizens.models import PayerLink
from opsn.jobs.broker import send
from opsn.kernel import tenancy
from opsn.regies.tasks import pseudonymise_commune_payers


def linked_payer_ids(commune) -> list[int]:
    """The commune's payers linked to a citizen's account now."""
    return sorted(set(PayerLink.objects.filter(commune=commune, unlinked_at__isnull=True)
                      .values_list("payer_id", flat=True)))


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def pseudonymise_payers() -> None:
    for commune in tenancy.communes().active_with("regies"):
        send(pseudonymise_commune_payers, linked_payer_ids(commune), commune=commune)
