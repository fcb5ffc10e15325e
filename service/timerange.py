"""The range of dates and instants a client may ask about, and the one parser of ``as_of``.

Python's ``date`` ends at 0001-01-01 and 9999-12-31: a value at either end overflows as soon as
it is moved to UTC or by a day (the end of an ``as_of`` day, a view's trailing window, the
SQL driver's conversion to UTC), which answered 500. Bounding what a client may send, where it
is parsed, leaves a margin of centuries on both sides, so no computation downstream can reach
Python's limits: nothing taskhub stores predates the Unix epoch, and no plan runs past 9000.

``as_of`` (the views, API and dashboard alike) goes through ``parse_as_of``; a datetime query
parameter (``updated_since``) is the ``BoundedDatetime`` type; an opaque cursor decoded to a
datetime is checked with ``check_range``; a date in a request body is ``BoundedDate``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

__all__ = [
    "TIME_MIN",
    "TIME_MAX",
    "RANGE_TEXT",
    "AS_OF_DESCRIPTION",
    "OutOfRange",
    "AFTER_TODAY_RULE",
    "AsOfAfterToday",
    "check_range",
    "parse_as_of",
    "BoundedDatetime",
    "BoundedDate",
]

TIME_MIN = date(1970, 1, 1)
TIME_MAX = date(9000, 12, 31)
RANGE_TEXT = f"from {TIME_MIN.isoformat()} to {TIME_MAX.isoformat()}"

AS_OF_DESCRIPTION = (
    "A date (the end of that day in the organization's time zone) or an ISO 8601 datetime "
    f"(without a zone: the organization's); default now. Dates {RANGE_TEXT}, and not after today "
    "in the organization's time zone (422)."
)

AFTER_TODAY_RULE = (
    "as_of after today (in the organization's time zone) is refused: views describe what happened, "
    "forecasts are named as such"
)

_T = TypeVar("_T", date, datetime)

_FORMAT = "must be a date (YYYY-MM-DD) or an ISO 8601 datetime (YYYY-MM-DDTHH:MM[:SS][±HH:MM|Z])"


class OutOfRange(ValueError):
    """A date or datetime a client sent is malformed or outside ``TIME_MIN``..``TIME_MAX``.
    ``message`` reads after the field's name ("as_of must be ..."); ``kind`` is ``"format"`` or
    ``"range"`` (the error type a 422 reports)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message, self.kind = message, kind


class AsOfAfterToday(OutOfRange):
    """``as_of`` falls on a day after today in the organization's time zone (METRICS.md: refused,
    422). Raised where the organization's zone is known (``service.views.selection``); the API
    and the dashboard answer it as they answer a malformed ``as_of``, type ``as_of_after_today``."""

    def __init__(self, as_of_date: date, today: date, tz_name: str) -> None:
        super().__init__(
            f"must not be after today ({today.isoformat()} in {tz_name}), not {as_of_date.isoformat()}: "
            f"{AFTER_TODAY_RULE}",
            "after_today",
        )
        self.as_of_date, self.today, self.tz_name = as_of_date, today, tz_name


def check_range(value: _T) -> _T:
    """``value`` itself when its calendar date (as written, in its own zone) is in range.

    The written date, not the UTC one: a zone offset is less than a day, and the margin to
    Python's limits is centuries, so the instant is in reach whatever the offset."""
    day = value.date() if isinstance(value, datetime) else value
    if not TIME_MIN <= day <= TIME_MAX:
        raise OutOfRange(f"must be a date {RANGE_TEXT}, not {day.isoformat()}", "range")
    return value


def parse_as_of(raw: str | None) -> date | datetime | None:
    """A date (``2026-03-11``) or an ISO 8601 datetime (``2026-03-11T17:00:00Z``) in range;
    ``None`` for a missing or empty value. Raises ``OutOfRange`` naming what was wrong."""
    if raw is None or raw == "":
        return None
    try:
        value: date | datetime = (
            date.fromisoformat(raw) if len(raw) == 10 else datetime.fromisoformat(raw.replace("z", "Z"))
        )
    except ValueError:
        raise OutOfRange(f"{_FORMAT}, not {raw[:40]!r}", "format") from None
    return check_range(value)


def _in_range(value: _T) -> _T:
    try:
        return check_range(value)
    except OutOfRange as exc:  # a 422 whose errors[] names the field, with this type and message
        raise PydanticCustomError("date_range", "{message}", {"message": exc.message}) from None


def _bounded(value: datetime) -> datetime:
    if value.tzinfo is None:  # an instant: "stored at or after 09:00" means nothing without a zone
        raise PydanticCustomError("timezone_aware", "needs a time zone (e.g. 2026-01-05T09:00:00Z)")
    return _in_range(value)


BoundedDatetime = Annotated[datetime, AfterValidator(_bounded)]
"""An ISO 8601 datetime with a zone, its date in range (a 422 naming the field otherwise)."""
BoundedDate = Annotated[date, AfterValidator(_in_range)]
"""A date a client sets (a project's planned start and end, a rate's first day), in range: the
budget view counts working days and steps through days from it, which overflowed at 0001/9999."""


def _text(value: object) -> object:
    """Dates and times are ISO 8601 text: pydantic would read a number as seconds since 1970,
    and so a number written as text ("20260301" was 1970-08-23)."""
    if value is not None and (not isinstance(value, (str, date)) or (isinstance(value, str) and _is_number(value))):
        raise PydanticCustomError("date_text", "a date or time is ISO 8601 text, e.g. 2026-05-01")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)  # digits, a sign, a fraction, an exponent, inf, nan: none is an ISO date
    except ValueError:
        return False
    return True


ISO_TEXT = BeforeValidator(_text)
"""Put in an ``Annotated`` date or datetime a client sends: refuses numbers and other types."""
