"""Each worklog carries its local start day and its author's rate (``service.store.worklog_day``):
after every kind of write to worklogs, person rates and the organization's time zone, the
columns equal a computation in Python (zoneinfo's local date, the last rate effective on or
before it) and a rebuild, on both stores — and on PostgreSQL also when a rate and a worklog
are written by two transactions at once."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from service.store import worklog_day
from service.store.tasks import apply_effects
from service.tables import Organization, Person, PersonIdentity, PersonRate
from service.tables import Worklog as WorklogRow
from tests.views.portfolio_data import ANN_J, BOB, _wl

from .factories import T0, make_org, make_source
from .test_worklog_rollup import assert_rollup_right
from .test_worklog_task import _racing

W, R, ORG = WorklogRow.__table__, PersonRate.__table__, Organization.__table__


def _oracle(c: sa.Connection, org: int) -> dict[str, tuple]:
    """worklog external id → (local day, author rate) computed in Python."""
    zone = ZoneInfo(c.execute(sa.select(ORG.c.timezone).where(ORG.c.id == org)).scalar_one())
    rates: dict[int, list[tuple[date, float]]] = {}
    for pid, frm, rate in c.execute(sa.select(R.c.person_id, R.c.effective_from, R.c.hourly_rate)
                                    .where(R.c.org_id == org).order_by(R.c.effective_from)):
        rates.setdefault(pid, []).append((frm, float(rate)))
    out = {}
    for ext, pid, started in c.execute(sa.select(W.c.external_id, W.c.person_id, W.c.started_at)
                                       .where(W.c.org_id == org)):
        day = started.astimezone(zone).date()
        out[ext] = (day, next((r for frm, r in reversed(rates.get(pid, [])) if frm <= day), None))
    return out


def _stored(c: sa.Connection, org: int) -> dict[str, tuple]:
    return {
        ext: (d if isinstance(d, date) or d is None else date.fromisoformat(d), r)
        for ext, d, r in c.execute(sa.select(W.c.external_id, W.c.started_day, W.c.author_rate)
                                   .where(W.c.org_id == org))
    }


def _assert_right(db, org: int) -> dict[str, set]:
    with db.write() as c:
        assert _stored(c, org) == _oracle(c, org)
        kept = worklog_day.snapshot(c, org)
        worklog_day.rebuild(c, org)
        assert worklog_day.snapshot(c, org) == kept
        assert_rollup_right(c, org)  # the worklog rollup follows the days and rates
    return kept


def _person(c: sa.Connection, org: int, external_id: str) -> int:
    ident = PersonIdentity.__table__
    return c.execute(sa.select(ident.c.person_id).where(ident.c.org_id == org,
                                                        ident.c.external_id == external_id)).scalar_one()


def test_days_and_rates_follow_every_kind_of_write(db):
    org, other = make_org(db, "acme", timezone="Europe/Berlin"), make_org(db, "other", timezone="Asia/Tokyo")
    src, osrc = make_source(db, org), make_source(db, other)
    # Starts around local midnights (Berlin is UTC+1 in winter, +2 in summer) and a DST change.
    starts = [T0 + timedelta(days=d, hours=h, minutes=30) for d in (0, 1, 45, 46, 90) for h in (-2, 21, 22, 23)]
    with db.write() as c:  # no rates yet: every worklog is unpriced
        apply_effects(c, org, src, [_wl(f"a{i}", "1", ANN_J, s, 1) for i, s in enumerate(starts)]
                      + [_wl(f"b{i}", "1", BOB, s, 1) for i, s in enumerate(starts[:6])])
        apply_effects(c, other, osrc, [_wl(f"o{i}", "1", ANN_J, s, 1) for i, s in enumerate(starts[:4])])
        assert {r for _, r in _stored(c, org).values()} == {None}
    other_before = _assert_right(db, other)
    ann_day = T0.astimezone(ZoneInfo("Europe/Berlin")).date() + timedelta(days=1)
    with db.write() as c:  # rates arrive: the worklogs are re-priced, from the rate's local day on
        ann, bob = _person(c, org, ANN_J.external_id), _person(c, org, BOB.external_id)
        c.execute(sa.insert(R), [
            {"org_id": org, "person_id": ann, "effective_from": ann_day, "hourly_rate": 100},
            {"org_id": org, "person_id": ann, "effective_from": ann_day + timedelta(days=44), "hourly_rate": 120},
            {"org_id": org, "person_id": bob, "effective_from": date(2000, 1, 1), "hourly_rate": 60},
        ])
        assert {r for _, r in _stored(c, org).values()} == {None, 100, 120, 60}
    _assert_right(db, org)
    with db.write() as c:  # a rate changed, moved in time, moved to another person, removed
        c.execute(sa.update(R).where(R.c.person_id == ann, R.c.hourly_rate == 120).values(hourly_rate=125))
        c.execute(sa.update(R).where(R.c.person_id == ann, R.c.hourly_rate == 100)
                  .values(effective_from=ann_day + timedelta(days=1)))
    _assert_right(db, org)
    with db.write() as c:
        c.execute(sa.update(R).where(R.c.person_id == bob).values(person_id=ann, effective_from=date(2001, 1, 1)))
        assert {r for ext, (_, r) in _stored(c, org).items() if ext.startswith("b")} == {None}
    _assert_right(db, org)
    with db.write() as c:
        c.execute(sa.delete(R).where(R.c.person_id == ann, R.c.hourly_rate == 125))
    _assert_right(db, org)
    with db.write() as c:  # worklogs moved in time, to another author; the others written again
        c.execute(sa.update(W).where(W.c.external_id.in_(["a1", "a5"])).values(started_at=T0 + timedelta(days=60)))
        c.execute(sa.update(W).where(W.c.external_id.in_(["b0", "b1"])).values(person_id=ann))
        before = worklog_day.snapshot(c, org)
        apply_effects(c, org, src, [_wl(f"a{i}", "1", ANN_J, s, 2) for i, s in enumerate(starts) if i not in (1, 5)])
        assert worklog_day.snapshot(c, org) == before
    _assert_right(db, org)
    with db.write() as c:  # the organization moves to another zone: days and rates follow
        c.execute(sa.insert(R).values(org_id=org, person_id=bob, effective_from=ann_day, hourly_rate=70))
        c.execute(sa.update(ORG).where(ORG.c.id == org).values(timezone="America/Los_Angeles"))
        c.execute(sa.update(ORG).where(ORG.c.id == org).values(name="acme2"))  # not a zone change
    _assert_right(db, org)
    with db.write() as c:  # the author deleted: the worklogs keep no author and no rate
        c.execute(sa.delete(Person.__table__).where(Person.__table__.c.id == bob))
        assert {r for ext, (_, r) in _stored(c, org).items() if ext in ("b2", "b3")} == {None}
    _assert_right(db, org)
    assert _assert_right(db, other) == other_before  # the other organization untouched


def test_rebuild_mends_columns_written_behind_the_triggers(db):
    org = make_org(db, timezone="America/New_York")
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [_wl("w1", "1", ANN_J, T0, 1), _wl("w2", "1", ANN_J, T0 + timedelta(days=3), 1)])
        c.execute(sa.insert(R).values(org_id=org, person_id=_person(c, org, ANN_J.external_id),
                                      effective_from=date(2020, 1, 1), hourly_rate=90))
        kept = worklog_day.snapshot(c, org)
        c.execute(sa.update(W).values(started_day=None, author_rate=1))
        assert worklog_day.snapshot(c, org) != kept
        worklog_day.rebuild(c, org)
        assert worklog_day.snapshot(c, org) == kept


def test_local_day_of_a_stored_timestamp():
    assert worklog_day.local_day("2026-03-29 00:30:00.000000", "Europe/Berlin") == "2026-03-29"
    assert worklog_day.local_day("2026-03-28 23:30:00", "Europe/Berlin") == "2026-03-29"
    assert worklog_day.local_day("2026-03-29 03:59:59.999999", "America/New_York") == "2026-03-28"
    assert worklog_day.local_day(None, "UTC") is None


def test_a_rate_and_a_worklog_written_at_once_still_agree(pg_db):
    """Each of the two transactions could miss the other's uncommitted row: a worklog's trigger
    holds its organization's lock shared until commit, a rate's takes it exclusively first."""
    db = pg_db
    org = make_org(db, timezone="Europe/Berlin")
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [_wl("w0", "1", ANN_J, T0, 1)])
        ann = _person(c, org, ANN_J.external_id)

    def rate(value: int, frm: date):
        return lambda c: c.execute(sa.insert(R).values(org_id=org, person_id=ann, effective_from=frm,
                                                       hourly_rate=value))

    def log(ext: str, at: datetime):
        return lambda c: apply_effects(c, org, src, [_wl(ext, "1", ANN_J, at, 1)])

    t0 = time.perf_counter()
    _racing(db, log("w1", T0 + timedelta(days=5)), rate(100, date(2020, 1, 1)))  # worklog first
    _racing(db, rate(110, (T0 + timedelta(days=8)).date()), log("w2", T0 + timedelta(days=10)))  # rate first
    assert time.perf_counter() - t0 < 15
    with db.write() as c:
        stored = _stored(c, org)
    assert stored["w1"][1] == 100 and stored["w2"][1] == 110 and stored["w0"][1] == 100
    _assert_right(db, org)


def test_the_migration_fills_the_columns_of_stored_worklogs(db):
    from alembic import command

    org = make_org(db, "migrated", timezone="Pacific/Auckland")
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [_wl(f"w{i}", "1", ANN_J, T0 + timedelta(hours=7 * i), 1) for i in range(12)])
        c.execute(sa.insert(R).values(org_id=org, person_id=_person(c, org, ANN_J.external_id),
                                      effective_from=(T0 + timedelta(days=1)).date(), hourly_rate=95))
    command.downgrade(db.alembic_config(), "0007")
    try:
        with db.write() as c:
            assert "started_day" not in {col["name"] for col in sa.inspect(c).get_columns("worklog")}
    finally:
        db.migrate()  # the store is shared by the session's other tests
    kept = _assert_right(db, org)
    assert {r for _, _, r in kept["worklog_day"]} == {None, 95}
