"""The value share's term in calendar dates: from the award's day for the stated months."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day where it is shorter)."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term(awarded_on: date, months: int) -> tuple[date, date]:
    """First and last day (inclusive) in which realised value is shared."""
    return awarded_on, add_months(awarded_on, months) - timedelta(days=1)


def overlaps(a: tuple[date, date], b: tuple[date, date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]
