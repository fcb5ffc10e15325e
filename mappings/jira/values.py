"""Small, forgiving readers for Jira JSON values: datetimes, dates, numbers, people.

Jira REST API reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/
(Data Center: https://docs.atlassian.com/software/jira/docs/api/REST/latest/).

Everything here is pure. The ``parse_*`` functions are strict (they raise
``ValueError`` on garbage) so they can be tested on their own; the ``opt_*``
wrappers turn garbage into ``None`` because one odd field in a webhook must
never stop the rest of the issue from being mapped.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mappings.model import PersonRef

__all__ = [
    "parse_jira_datetime",
    "parse_jira_date",
    "parse_jira_duration",
    "opt_datetime",
    "opt_date",
    "opt_float",
    "opt_int",
    "opt_decimal",
    "opt_str",
    "person_ref",
    "epoch_ms_to_datetime",
]

# Jira writes offsets without a colon ("+0000", "-0330"); Python 3.11's
# fromisoformat accepts those, "Z", "+10:00", missing millis and up to 9
# fraction digits. Normalising a space separator keeps "2019-08-27 19:43:24.193"
# (a form some custom date-time fields use) readable too.
_SPACE_SEP = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})")


def epoch_ms_to_datetime(ms: int | float) -> datetime:
    """Epoch milliseconds (webhook ``timestamp``, agile fields) -> aware UTC datetime."""
    if isinstance(ms, bool) or not math.isfinite(float(ms)):
        raise ValueError(f"not an epoch-millisecond value: {ms!r}")
    try:
        return datetime.fromtimestamp(float(ms) / 1000.0, tz=UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"epoch milliseconds out of range: {ms!r}") from exc


def parse_jira_datetime(value: Any) -> datetime | None:
    """Parse a Jira date-time into a timezone-aware UTC ``datetime``.

    Accepts ``"2023-06-24T19:24:50.000+0000"``, ``"-0330"``-style offsets,
    ``"Z"``, ``"+10:00"``, with or without milliseconds, a bare date (midnight
    UTC), epoch milliseconds as an ``int``/``float`` and ``datetime`` objects.
    A value without an offset is taken as UTC. ``None`` and ``""`` give ``None``.
    Anything else raises ``ValueError``.
    """
    if value is None:
        return None
    if type(value) is str and len(value) > 10 and value[10] == "T":  # the REST form: no strip, no regex
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            pass  # the general path below says what is wrong
        else:
            if dt.tzinfo is UTC:  # "+0000" / "Z" parse to the UTC singleton: already normalised
                return dt
            return parse_jira_datetime(dt)
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_ms_to_datetime(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if len(text) > 10 and text[10] == " ":  # the regex only for the rare space form (hot path)
            text = _SPACE_SEP.sub(r"\1T\2", text)
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not a Jira date-time: {value!r}") from exc
    else:
        raise ValueError(f"not a Jira date-time: {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"Jira date-time out of range: {value!r}") from exc


def parse_jira_date(value: Any) -> date | None:
    """Parse a Jira date (``duedate``, version ``releaseDate``): ``"2019-05-11"``.

    A full date-time string is cut to its calendar date as written (Jira dates
    carry no zone). ``None``/``""`` give ``None``; garbage raises ``ValueError``.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError as exc:
            raise ValueError(f"not a Jira date: {value!r}") from exc
    raise ValueError(f"not a Jira date: {value!r}")


# Jira's display durations ("3w 4d 12h 30m"). Week and day lengths are a site
# setting; these are Jira's defaults (5-day week, 8-hour day).
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])", re.IGNORECASE)
_UNIT_SECONDS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60, "s": 1}


def parse_jira_duration(text: str) -> int:
    """``"18w 2d"`` / ``"3h 20m"`` -> seconds, with Jira's default 8h day and 5d week."""
    cleaned = text.strip()
    parts = _DURATION_PART.findall(cleaned)
    if not parts or _DURATION_PART.sub("", cleaned).strip():
        raise ValueError(f"not a Jira duration: {text!r}")
    return int(sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts))


def opt_datetime(value: Any) -> datetime | None:
    try:
        return parse_jira_datetime(value)
    except ValueError:
        return None


def opt_date(value: Any) -> date | None:
    try:
        return parse_jira_date(value)
    except ValueError:
        return None


def opt_float(value: Any) -> float | None:
    """A number from a number or numeric string; ``None`` for anything else."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


def opt_int(value: Any) -> int | None:
    number = opt_float(value)
    return None if number is None else int(number)


def opt_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, str)):
        try:
            out = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return out if out.is_finite() else None
    return None


def opt_str(value: Any) -> str | None:
    """Ids come as strings or ints depending on the endpoint; normalise to ``str``."""
    if type(value) is str:
        return value or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (str, int)):
        text = str(value)
        return text if text else None
    return None


def person_ref(user: Any) -> PersonRef | None:
    """A Jira user object -> ``PersonRef``.

    Cloud identifies people by ``accountId`` only (no ``name``/``key`` since
    the 2019 privacy change); Data Center by ``name`` (username) or ``key``.
    Payloads from the transition period carry both: ``accountId`` wins.
    """
    if not isinstance(user, dict):
        return None
    ident = opt_str(user.get("accountId")) or opt_str(user.get("name")) or opt_str(user.get("key"))
    if ident is None:
        return None
    key = (ident, opt_str(user.get("displayName")), opt_str(user.get("emailAddress")), opt_str(user.get("name")))
    found = _PEOPLE.get(key)
    if found is None:
        if len(_PEOPLE) >= 10_000:
            _PEOPLE.clear()
        found = _PEOPLE[key] = PersonRef(
            tool="jira", external_id=key[0], display_name=key[1], email=key[2], username=key[3]
        )
    return found


# (id, display name, email, username) -> the one immutable PersonRef for it (bounded: cleared
# when full).
_PEOPLE: dict[tuple[str, str | None, str | None, str | None], PersonRef] = {}
