"""Work the console hands off so that nobody waits on it.

Runs on a thread of the web process for now; the operations issue moves it to dramatiq
(the batch is resumable, so a job that dies half-way is simply run again).
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection

logger = logging.getLogger("opsn.jobs")


def run_batch_in_background(batch_id) -> None:
    if settings.OPSN_JOBS_MODE == "inline":
        from communes.models import OnboardingBatch
        from communes.services import batch_run

        batch_run(OnboardingBatch.objects.get(pk=batch_id))
        return

    def work() -> None:
        from communes.models import OnboardingBatch
        from communes.services import batch_run

        try:
            batch_run(OnboardingBatch.objects.get(pk=batch_id))
        except Exception:
            logger.exception("onboarding batch %s failed", batch_id)
        finally:
            connection.close()

    threading.Thread(target=work, name=f"opsn-batch-{batch_id}", daemon=True).start()
