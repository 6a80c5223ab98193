"""Working days on the official Chinese holiday calendar (rules §7).

chinese-calendar knows each year once the State Council has announced it (1.11 stops at 2026
and raises for 2027). An operator-editable table of holidays and adjusted working days
overrides and extends it. A year covered by neither is counted on weekends plus the statutory
holidays known in advance (全国年节及纪念日放假办法, as revised by State Council Order No. 798,
in force 2025): New Year's Day (1 January), Labour Day (1–2 May), National Day (1–3 October)
and Qingming (the 清明 solar term's day, computed by chinese-calendar's solar-term formula).
The lunar holidays (Spring Festival, Dragon Boat, Mid-Autumn), the in-lieu days and the
adjusted working weekends are not computed here: they need the operator table. Any deadline
counted through such a year is therefore marked provisional. Nothing here raises for a year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from licensing.models import HolidayCalendarYear, HolidayOverride

# (month, day) of the fixed-date statutory holidays (Order No. 798, from 2025).
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


def statutory_holiday(day: date) -> bool:
    """A statutory holiday known before the year's calendar is announced: a fixed-date one,
    or Qingming (a solar term, not a lunar date)."""
    if (day.month, day.day) in FIXED_HOLIDAYS:
        return True
    if day.month == 4 and 3 <= day.day <= 6:
        try:
            terms = chinese_calendar.get_solar_terms(day, day)
        except NotImplementedError:  # outside 1900–2100
            return False
        return any(when == day and name == "清明" for when, name in terms)
    return False


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
            return day.weekday() < 5 and not statutory_holiday(day)


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
