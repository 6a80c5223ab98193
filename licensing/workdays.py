"""Working days on the official Chinese holiday calendar (rules §7).

chinese-calendar knows each year once the State Council has announced it (1.11 stops at 2026
and raises for 2027). An operator-editable table of holidays and adjusted working days
overrides and extends it; a year covered by neither is counted on weekends only, and any
deadline counted through such a year is marked provisional. Nothing here raises for a year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from licensing.models import HolidayCalendarYear, HolidayOverride


@dataclass(frozen=True)
class Deadline:
    date: date
    provisional: bool


class Calendar:
    """Answers "is this a working day?" for a stretch of dates with few queries."""

    def __init__(self, start: date, end: date) -> None:
        self.overrides = dict(
            HolidayOverride.objects.filter(date__range=(start, end)).values_list(
                "date", "is_workday"
            )
        )
        self.announced_years = set(
            HolidayCalendarYear.objects.filter(year__range=(start.year, end.year)).values_list(
                "year", flat=True
            )
        )
        self.provisional = False

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if day.year in self.announced_years:
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            self.provisional = True
            return day.weekday() < 5


def add_workdays(start: date, count: int) -> Deadline:
    """The date `count` working days after `start` (start itself not counted)."""
    calendar = Calendar(start, start + timedelta(days=count * 3 + 30))
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if calendar.is_workday(day):
            remaining -= 1
    return Deadline(day, calendar.provisional)


def add_days(start: date, count: int) -> Deadline:
    """Calendar days (the respondent's 15 days); never provisional."""
    return Deadline(start + timedelta(days=count), False)


def is_workday(day: date) -> bool:
    return Calendar(day, day).is_workday(day)
