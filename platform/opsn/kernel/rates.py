"""A rate of attempts, as settings write it: ``"5/15m"`` (5 per 15 minutes), ``"100/15m"``,
``"20/1d"``; units s, m, h, d. Counted by ``opsn.operations.throttle``; read here so that
the settings refuse a wrong one at start (``setting``), naming its variable."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    """How many attempts within how long."""

    number: int
    period: datetime.timedelta

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = RATE.match(text or "")
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"« {text} » n'est pas une limite (par exemple 5/15m : 5 essais "
                             "par 15 minutes ; unités s, m, h, d).")
        seconds = int(match.group(2) or 1) * UNITS[match.group(3)]
        return cls(int(match.group(1)), datetime.timedelta(seconds=max(seconds, 1)))


def setting(name: str, text: str) -> str:
    """``text`` when it is a rate; otherwise the start stops, naming the variable."""
    try:
        Rate.parse(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} : {exc}") from exc
    return text
