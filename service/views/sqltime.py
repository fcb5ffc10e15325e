"""Time in SQL on both stores: local dates in the organization's time zone, durations.

PostgreSQL converts with ``timezone(zone, ts)``. SQLite has no time zone data,
so the UTC offset is a ``CASE`` over the zone's transitions (computed here from
``zoneinfo``), newest first so recent rows match in the first branches.
Timestamps are stored as UTC (``UTCDateTime``): timestamptz on PostgreSQL,
``YYYY-MM-DD HH:MM:SS.ffffff`` text on SQLite.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel.sql.sqltypes import UTCDateTime

__all__ = ["local_date", "seconds_between", "offset_segments", "local_midnight", "ts_literal"]

_FIRST_YEAR = 2000


def ts_literal(value: datetime) -> Any:
    """A bound timestamp that compares correctly with the stored columns on both stores."""
    return sa.literal(value, UTCDateTime())


@lru_cache(maxsize=64)
def offset_segments(tz_name: str, until_year: int) -> tuple[tuple[datetime | None, int], ...]:
    """``((start_utc, offset_seconds), ...)`` newest first; the last segment starts at ``None``."""
    tz = ZoneInfo(tz_name)

    def off(at: datetime) -> int:
        return int(at.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    day = datetime(_FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(until_year + 1, 1, 1, tzinfo=UTC)
    segs: list[tuple[datetime | None, int]] = [(None, off(day))]
    cur = segs[0][1]
    while day < end:
        nxt = day + timedelta(days=1)
        o = off(nxt)
        if o != cur:
            lo, hi = day, nxt  # the change happens in (lo, hi]: bisect to the minute
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if off(mid) == cur:
                    lo = mid
                else:
                    hi = mid
            hi = hi.replace(second=0, microsecond=0)
            segs.append((hi, o))
            cur = o
        day = nxt
    return tuple(reversed(segs))


def local_date(col: Any, tz_name: str, dialect: str) -> Any:
    """The calendar date of the UTC timestamp ``col`` in ``tz_name``, as a SQL date."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone(tz_name, col), sa.Date)
    segs = offset_segments(tz_name, datetime.now(UTC).year + 2)
    if len(segs) == 1 and segs[0][1] == 0:
        expr: Any = sa.func.date(col)
    elif len(segs) == 1:
        expr = sa.func.date(col, f"{segs[0][1]:+d} seconds")
    else:
        whens = [(col >= ts_literal(start), sa.func.date(col, f"{o:+d} seconds")) for start, o in segs if start]
        expr = sa.case(*whens, else_=sa.func.date(col, f"{segs[-1][1]:+d} seconds"))
    return sa.type_coerce(expr, sa.Date)


def seconds_between(later: Any, earlier: Any, dialect: str) -> Any:
    """``later − earlier`` in seconds (a float)."""
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", later - earlier), sa.Float)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def local_midnight(d: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the local day ``d`` starts."""
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)
