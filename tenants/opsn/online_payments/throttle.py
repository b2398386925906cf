"""Guessing the code of « Payer une facture » (no account) is stopped, as linking by code
is (``citizens.services``): wrong answers are counted per address and per invoice number
(as typed: an unknown number counts as a known one does, so a pause says nothing of
whether it exists), a few then a pause; each refusal leaves a log line for the operator.

The thresholds are the link codes' (``OPSN_LINK_*``): per invoice number,
``OPSN_LINK_MAX_FAILURES`` wrong answers within ``OPSN_LINK_WINDOW_MINUTES``; per address,
four times as many within the window, and ``OPSN_LINK_LOCK_FAILURES`` × 4 within a day.

One function, ``attempt``, is the whole counter: it may be switched to a shared counter
without its callers knowing. It is atomic: the attempts of one address or one number
wait for each other (a transaction-scoped advisory lock on each key), so a burst of
parallel guesses gets no more tries than a sequence would."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.utils import timezone

from opsn.kernel.tenancy import atomic, commune_connection, current_commune
from opsn.online_payments.errors import TooManyTries
from opsn.online_payments.models import ReferenceAttempt

logger = logging.getLogger("opsn.online_payments")
T = TypeVar("T")
NUMBER_LENGTH = 30  # an invoice number's longest


def number_key(number: str) -> str:
    """The invoice number as counted: spaces dropped, upper case, an invoice number's
    length at most."""
    return "".join((number or "").split()).upper()[:NUMBER_LENGTH]


def _lock(keys: list[str]) -> None:
    schema = getattr(current_commune(), "schema_name", "public")
    with commune_connection().cursor() as cursor:
        for key in sorted(keys):  # always in the same order: no deadlock
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                           [f"opsn.pay-by-reference:{schema}:{key}"])


def _paused_until(ip: str, number: str, now: datetime.datetime) -> datetime.datetime | None:
    window = datetime.timedelta(minutes=settings.OPSN_LINK_WINDOW_MINUTES)
    day = datetime.timedelta(days=1)
    failures = ReferenceAttempt.objects.filter(succeeded=False)
    by_number = list(failures.filter(number=number, at__gte=now - window)
                     .order_by("at").values_list("at", flat=True))
    until = []
    if len(by_number) >= settings.OPSN_LINK_MAX_FAILURES:
        until.append(by_number[-settings.OPSN_LINK_MAX_FAILURES] + window)
    if ip:
        by_ip = list(failures.filter(ip=ip, at__gte=now - day)
                     .order_by("at").values_list("at", flat=True))
        recent = [at for at in by_ip if at >= now - window]
        if len(recent) >= settings.OPSN_LINK_MAX_FAILURES * 4:
            until.append(recent[-settings.OPSN_LINK_MAX_FAILURES * 4] + window)
        if len(by_ip) >= settings.OPSN_LINK_LOCK_FAILURES * 4:
            until.append(by_ip[-settings.OPSN_LINK_LOCK_FAILURES * 4] + day)
    return max(until) if until else None


def _when(moment: datetime.datetime, now: datetime.datetime) -> str:
    local, today = timezone.localtime(moment), timezone.localtime(now).date()
    return (f"à {local:%H:%M}" if local.date() == today
            else f"au {local:%d/%m/%Y} à {local:%H:%M}")


def attempt(*, ip: str, number: str, check: Callable[[], T | None]) -> T | None:
    """Run ``check`` (the comparison of the code typed for the invoice ``number``) unless
    the address or the number is paused (``TooManyTries``), and count what it found:
    ``None`` is a wrong answer."""

    key = number_key(number)
    now = timezone.now()
    with atomic():
        _lock([f"number:{key}", *([f"ip:{ip}"] if ip else [])])
        until = _paused_until(ip, key, now)
        if until is not None:
            logger.warning("pay by reference paused for invoice number %r (ip %s) until %s",
                           key, ip or "-", until.isoformat())
            raise TooManyTries(
                "Trop de codes erronés pour ce numéro de facture ou depuis votre connexion : "
                f"par sécurité, réessayez {_when(until, now)}. Vous pouvez aussi payer "
                "auprès de la régie (ses coordonnées sont sur la facture).")
        found = check()
        ReferenceAttempt.objects.create(ip=ip or None, number=key,
                                        succeeded=found is not None)
    if found is None:
        logger.warning("pay by reference: wrong invoice number or code %r (ip %s)", key,
                       ip or "-")
    return found
