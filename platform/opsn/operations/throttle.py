"""Limits on attempts that hold under concurrency: the one home of the platform's
brute-force limits (the local provider's passwords and second-factor codes, the citizens'
link codes).

An attempt is counted **before** it is checked, by one statement that PostgreSQL runs
atomically (``INSERT … ON CONFLICT DO UPDATE … RETURNING count``: the row is locked while
it is counted), so 30 attempts sent at once get the counts 1 to 30, and only those within
the limit are checked at all. Then:

- a wrong attempt stays counted;
- a right one is given back (``give_back``: a limit per address counts what failed), or the
  counter is cleared (``forgive``: the account's own counter, once its holder proved it);
- an attempt over a limit is refused without being checked, and given back on the limits
  counted before it (``take`` counts them in order and stops at the first one exceeded:
  give the tightest first, so that a flood it stops never reaches the others).

A counter lives for its rate's period from its first attempt; the attempt that reaches the
limit starts a full period again, so the lock lasts a period after the last attempt
checked. Each counter is keyed by a hash of its scope and subject, made with the
``SECRET_KEY``: the table names no e-mail or address in clear. The counters are in the
database (the public schema), shared by every process, with or without a cache server;
``forget_expired`` (a daily job) removes those past their period.

Call it outside a transaction (as the views and services do): a count must outlive a
refusal, and the row's lock is held only for the statement.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, router
from django.utils import timezone

from opsn.kernel.rates import Rate
from opsn.operations.models import Throttle

__all__ = ["Limit", "Rate", "Refused", "forget_expired", "forgive", "give_back", "take"]


@dataclass(frozen=True)
class Limit:
    """A counter: what is limited (``scope``), for whom (``subject``: an account, an
    address), at which rate."""

    scope: str
    subject: str
    rate: Rate

    @property
    def key(self) -> str:
        return hmac.new(settings.SECRET_KEY.encode(), f"{self.scope}\0{self.subject}".encode(),
                        hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Refused:
    """The limit an attempt is over, its count and until when it holds."""

    limit: Limit
    count: int
    until: datetime.datetime


def _connection():
    return connections[router.db_for_write(Throttle)]


TABLE = Throttle._meta.db_table
COUNT = f"""
    INSERT INTO {TABLE} AS t (key, scope, count, until)
    VALUES (%(key)s, %(scope)s, 1, %(now)s + %(period)s)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN t.until <= %(now)s THEN 1 ELSE t.count + 1 END,
        until = CASE WHEN t.until <= %(now)s OR t.count + 1 = %(number)s
                     THEN %(now)s + %(period)s ELSE t.until END
    RETURNING count, until"""


def _count(limit: Limit, now: datetime.datetime) -> tuple[int, datetime.datetime]:
    with _connection().cursor() as cursor:
        cursor.execute(COUNT, {"key": limit.key, "scope": limit.scope[:40], "now": now,
                               "period": limit.rate.period, "number": limit.rate.number})
        count, until = cursor.fetchone()
    return count, until


def take(*limits: Limit) -> Refused | None:
    """Count one attempt on each of ``limits``, in order, before it is checked. None: go
    on and check it. Otherwise the first limit it is over: refuse it unchecked (it is given
    back on the limits counted before). A limit without a subject (no address known) is not
    counted: it would be everybody's."""

    now = timezone.now()
    taken: list[Limit] = []
    for limit in limits:
        if not limit.subject:
            continue
        count, until = _count(limit, now)
        if count > limit.rate.number:
            give_back(*taken)
            return Refused(limit, count, until)
        taken.append(limit)
    return None


def give_back(*limits: Limit) -> None:
    """The attempt was right (or never checked): it does not count on ``limits``."""
    keys = [limit.key for limit in limits if limit.subject]
    if keys:
        with _connection().cursor() as cursor:
            cursor.execute(f"UPDATE {TABLE} SET count = greatest(count - 1, 0) "
                           "WHERE key = ANY(%s) AND until > %s", [keys, timezone.now()])


def forgive(*limits: Limit) -> None:
    """The account's holder proved it: its counters start again from nothing."""
    Throttle.objects.filter(key__in=[limit.key for limit in limits if limit.subject]).delete()


def forget_expired(now: datetime.datetime | None = None) -> int:
    """Remove the counters past their period (they count nothing any more)."""
    return Throttle.objects.filter(until__lte=now or timezone.now()).delete()[0]
