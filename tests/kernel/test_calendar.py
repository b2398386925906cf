"""Deadlines in jours francs: neither the day of the event nor the day the period ends
count, and a last day on a weekend or a French public holiday moves to the next working
day (docs/billing.md, « Contestation »)."""

import datetime

import pytest

from opsn.kernel.calendar import is_working_day, jours_francs_deadline, next_working_day

D = datetime.date


@pytest.mark.parametrize(("start", "deadline"), [
    # Received Wednesday 2 September 2026: days 3 to 10 count, the 11th (Friday) is the
    # last day.
    (D(2026, 9, 2), D(2026, 9, 11)),
    # Received Friday 27 March 2026: the last day would be Sunday 5 April, Easter Monday
    # (6 April) is a holiday too: Tuesday 7 April.
    (D(2026, 3, 27), D(2026, 4, 7)),
    # Received Wednesday 29 April 2026: the last day would be Friday 8 May (Victoire 1945,
    # a public holiday), then the weekend: Monday 11 May.
    (D(2026, 4, 29), D(2026, 5, 11)),
    # Received Friday 15 May 2026 (the day after Ascension): the last day would be Sunday
    # 24 May, then Whit Monday (25 May): Tuesday 26 May.
    (D(2026, 5, 15), D(2026, 5, 26)),
    # Received Wednesday 16 December 2026: Friday 25 December (Christmas), the weekend:
    # Monday 28 December.
    (D(2026, 12, 16), D(2026, 12, 28)),
    # Across the year: received Wednesday 23 December 2026: the last day would be Friday
    # 1 January 2027: Monday 4 January.
    (D(2026, 12, 23), D(2027, 1, 4)),
])
def test_eight_jours_francs_on_real_dates(start, deadline):
    assert jours_francs_deadline(start, 8) == deadline


def test_not_eight_calendar_days():
    # The old count (8 days from the event) would have ended on Thursday 10 September.
    assert jours_francs_deadline(D(2026, 9, 2), 8) != D(2026, 9, 10)


def test_working_days_are_weekdays_that_are_not_public_holidays():
    assert is_working_day(D(2026, 7, 13))  # Monday
    assert not is_working_day(D(2026, 7, 14))  # Fête nationale, a Tuesday
    assert not is_working_day(D(2026, 7, 18))  # Saturday
    assert not is_working_day(D(2027, 3, 29))  # Easter Monday 2027 (Easter on 28 March)
    assert next_working_day(D(2026, 11, 11)) == D(2026, 11, 12)  # Armistice, a Wednesday
    assert next_working_day(D(2026, 11, 12)) == D(2026, 11, 12)
