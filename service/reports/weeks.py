"""ISO weeks in the organization's time zone: what a report's ``week`` means."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from service import errors
from service.timerange import TIME_MAX, TIME_MIN
from service.views.selection import org_today

__all__ = ["Week", "parse_week", "week_of", "current_week"]

_ISO_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class Week:
    """Monday to Sunday, local days of the organization's zone."""

    start: date

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    @property
    def label(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    def previous(self) -> Week:
        return Week(self.start - timedelta(days=7))


def week_of(day: date) -> Week:
    return Week(day - timedelta(days=day.weekday()))


def current_week(tz: ZoneInfo, now: datetime | None = None) -> Week:
    return week_of(org_today(tz, now))


def parse_week(raw: str, *, field: str = "week") -> Week:
    """``YYYY-Www`` (an ISO week) or ``YYYY-MM-DD`` (any day of it); anything else is Invalid."""
    value = raw.strip()
    m = _ISO_WEEK.match(value)
    try:
        if m:
            day = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        elif _DATE.match(value):
            day = date.fromisoformat(value)
        else:
            raise ValueError("expected YYYY-Www (an ISO week, e.g. 2026-W11) or YYYY-MM-DD (a day of the week)")
    except ValueError as exc:
        reason = str(exc) if not m and not _DATE.match(value) else f"{value!r} is no such week or day"
        raise errors.Invalid(f"{field}: {reason}", field=field, reason=reason) from None
    week = week_of(day)
    # The report compares with the end of the week before: that day must be in the range too.
    first = week_of(TIME_MIN + timedelta(days=7))
    if not (first.start <= week.start and day <= TIME_MAX):
        reason = f"must be from {first.label} ({first.start.isoformat()}) to {TIME_MAX.isoformat()}"
        raise errors.Invalid(f"{field}: {reason}", field=field, reason=reason)
    return week
