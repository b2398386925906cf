"""The count of wrong codes on « Payer une facture » (``online_payments.throttle.attempt``)
holds when guesses come in parallel: eight at the same moment for one invoice number get no
more tries than a sequence would (the attempts of one number wait for each other)."""

from __future__ import annotations

import threading

from django.db import connection

from opsn.communes.models import Commune
from opsn.online_payments.errors import TooManyTries
from opsn.online_payments.models import ReferenceAttempt
from opsn.online_payments.throttle import attempt
from tests.helpers.communes import VENISSIEUX, in_schema


def test_parallel_guesses_get_no_more_tries_than_sequential_ones(committed, settings):
    settings.OPSN_LINK_MAX_FAILURES = 3
    commune = Commune.objects.get(insee_code=VENISSIEUX)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def guess(n: int) -> None:
        try:
            barrier.wait(10)
            with in_schema(commune):
                attempt(ip=f"198.51.100.{n}", number="CANT-2026-11", check=lambda: None)
            outcomes.append("counted")
        except TooManyTries:
            outcomes.append("paused")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert sorted(outcomes) == ["counted"] * 3 + ["paused"] * 5
        with in_schema(commune):
            assert ReferenceAttempt.objects.filter(number="CANT-2026-11").count() == 3
    finally:
        with in_schema(commune):
            ReferenceAttempt.objects.all().delete()
