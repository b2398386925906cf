"""Dates that follow the texts: working days and deadlines in *jours francs*.

A deadline in jours francs (délai franc) counts neither the day of the event nor the day
the period ends: « 8 jours francs après réception » of a titre received on the 1st runs
from the 2nd to the 9th, and the commune may still act on the 10th. A last day falling on
a Saturday, a Sunday or a French public holiday moves to the next working day.

Public holidays come from the ``holidays`` library (maintained, Easter-based dates
included: Easter Monday, Ascension, Whit Monday); the metropolitan list, without the
extra days of Alsace-Moselle.
"""

from __future__ import annotations

import datetime
import functools

import holidays

SATURDAY = 5


@functools.cache
def _french_holidays(year: int) -> frozenset[datetime.date]:
    return frozenset(holidays.country_holidays("FR", years=year))


def is_public_holiday(day: datetime.date) -> bool:
    return day in _french_holidays(day.year)


def is_working_day(day: datetime.date) -> bool:
    """Monday to Friday, and not a French public holiday."""
    return day.weekday() < SATURDAY and not is_public_holiday(day)


def next_working_day(day: datetime.date) -> datetime.date:
    """``day`` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += datetime.timedelta(days=1)
    return day


def jours_francs_deadline(start: datetime.date, days: int) -> datetime.date:
    """The last day to act within ``days`` jours francs of ``start`` (the event: receipt,
    notification): neither ``start`` nor the day the period ends count, and a last day on
    a weekend or a public holiday moves to the next working day."""
    return next_working_day(start + datetime.timedelta(days=days + 1))
