"""Times are stored in UTC and shown in the viewer's own time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_login import current_user

from ledger import as_utc


def viewer_zone() -> ZoneInfo:
    name = getattr(current_user, "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None, fmt: str = "%d %b %Y, %H:%M %Z") -> str:
    if moment is None:
        return ""
    return as_utc(moment).astimezone(viewer_zone()).strftime(fmt)


def known_timezone(name: str) -> bool:
    return name in available_timezones()
