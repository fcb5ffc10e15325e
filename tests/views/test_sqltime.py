"""Local dates in SQL agree with Python's zoneinfo on both stores, across DST changes."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel.sql.sqltypes import UTCDateTime

from service.views.sqltime import day_bucket, local_date, offset_segments

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
]


@pytest.fixture
def probe(db):
    meta = sa.MetaData()
    table = sa.Table(
        "tz_probe",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ts", UTCDateTime()),
    )
    meta.create_all(db.engine)
    rnd = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    # Random instants plus every hour around the 2026 DST changes of the zones above.
    stamps = [start + timedelta(minutes=rnd.randint(0, 2 * 366 * 24 * 60)) for _ in range(1500)]
    for day in (
        "2026-03-08",
        "2026-03-29",
        "2026-04-05",
        "2026-09-27",
        "2026-10-04",
        "2026-10-25",
        "2026-11-01",
    ):
        base = datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(hours=14)
        stamps += [base + timedelta(minutes=30 * i) for i in range(56)]
    with db.engine.begin() as c:
        c.execute(sa.insert(table), [{"ts": s} for s in stamps])
    yield table, stamps
    meta.drop_all(db.engine)


@pytest.mark.parametrize("zone", ZONES)
def test_day_buckets_and_local_dates_match_zoneinfo(db, probe, zone):
    table, stamps = probe
    tz = ZoneInfo(zone)
    expected = Counter(s.astimezone(tz).date() for s in stamps)
    expr, to_date = day_bucket(table.c.ts, zone, db.dialect)
    got: Counter = Counter()
    with db.read() as c:
        for key, n in c.execute(sa.select(expr, sa.func.count()).group_by(expr)):
            got[to_date(key)] += n
        direct: Counter = Counter()
        day = local_date(table.c.ts, zone, db.dialect)
        for d, n in c.execute(sa.select(day, sa.func.count()).group_by(day)):
            direct[d if not isinstance(d, str) else datetime.fromisoformat(d).date()] += n
    assert got == expected
    assert direct == expected


def test_offset_segments_find_the_transitions():
    segs = offset_segments("Europe/Berlin", 2026)
    starts = {s for s, _ in segs if s is not None}
    assert datetime(2026, 3, 29, 1, tzinfo=UTC) in starts  # CET → CEST at 01:00 UTC
    assert datetime(2026, 10, 25, 1, tzinfo=UTC) in starts
    assert offset_segments("UTC", 2026) == ((None, 0),)
