"""The budget view's labour costs against an independent computation in Python: every
worklog priced at its author's rate on its local day, else its project's, else the
organization's, else unrated — ungrouped and in every grouping, in zones with DST, with
and without an organization default rate."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from service import store
from service.portfolio.projects import update_organization
from service.portfolio.schemas import OrganizationUpdate
from service.store import rollups as kept
from service.store.tasks import apply_effects
from service.tables import Organization, PersonIdentity, PersonRate, Project, Task, TaskMilestone, Worklog
from service.views import ViewParams, compute_view, costs
from tests.service.factories import T0, make_org, make_source, random_task
from tests.views.portfolio_data import PersonRef, _wl

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PEOPLE = [PersonRef(tool="jira", external_id=f"acc-{i}", display_name=f"P{i}") for i in range(4)]
T, W, P, TM = (t.__table__ for t in (Task, Worklog, Project, TaskMilestone))


def _world(db, tz: str, default: Decimal | None) -> int:
    rnd = random.Random(5)
    org = make_org(db, f"c-{tz}-{default}", timezone=tz)
    sources = [make_source(db, org), make_source(db, org, name="jira-2")]
    with db.write() as c:
        c.execute(sa.update(Organization.__table__).where(Organization.__table__.c.id == org)
                  .values(default_hourly_rate=default, currency="USD"))
        for n, src in enumerate(sources):
            apply_effects(c, org, src, [random_task(rnd, str(i), 1) for i in range(60)])
            logs = [
                # Tasks 60..64 are never synced; some worklogs start after NOW; local midnights
                # and DST changes are crossed on the half hour.
                _wl(f"w{n}-{i}", str(rnd.randrange(65)), rnd.choice(PEOPLE),
                    T0 + timedelta(hours=rnd.randrange(24 * 70), minutes=rnd.choice([0, 30])),
                    rnd.choice([0.5, 1, 2, 3]))
                for i in range(300)
            ]
            store.upsert_worklogs(c, org, src, logs)
        c.execute(sa.update(T).where(T.c.org_id == org, T.c.id % 9 == 0).values(deleted_at=NOW - timedelta(days=1)))
        c.execute(sa.update(W).where(W.c.org_id == org, W.c.id % 11 == 0).values(deleted_at=NOW - timedelta(days=2)))
        c.execute(sa.update(T).where(T.c.org_id == org).values(synced_at=NOW - timedelta(days=1)))
        c.execute(sa.update(W).where(W.c.org_id == org).values(synced_at=NOW - timedelta(days=1)))
        c.execute(sa.update(P).where(P.c.org_id == org, P.c.external_id == "100").values(hourly_rate=70))
        ident = PersonIdentity.__table__
        pid = dict(c.execute(sa.select(ident.c.external_id, ident.c.person_id).where(ident.c.org_id == org)).all())
        c.execute(sa.insert(PersonRate.__table__), [
            {"org_id": org, "person_id": pid["acc-0"], "effective_from": date(2026, 1, 1), "hourly_rate": 100},
            {"org_id": org, "person_id": pid["acc-0"], "effective_from": date(2026, 2, 15), "hourly_rate": 120},
            {"org_id": org, "person_id": pid["acc-0"], "effective_from": date(2026, 3, 29), "hourly_rate": 130},
            {"org_id": org, "person_id": pid["acc-1"], "effective_from": date(2026, 2, 1), "hourly_rate": 80},
        ])
        kept.rebuild(c, org)  # the tombstones and rates above bypassed the store
    return org


def _expected(db, org: int, tz: str, default: Decimal | None, now: datetime = NOW) -> dict:
    """Per group kind → key → [hours, cost, unrated hours, burn rate]; and cost per local day."""
    zone = ZoneInfo(tz)
    window = now.astimezone(zone).date() - timedelta(days=27)  # the 28 days ending on as_of's date
    with db.read() as c:
        tasks = {(r.source_id, r.external_id): r for r in c.execute(
            sa.select(T.c.id, T.c.source_id, T.c.external_id, T.c.project_id, T.c.deleted_at)
            .where(T.c.org_id == org))}
        project_rate = dict(c.execute(sa.select(P.c.id, P.c.hourly_rate).where(P.c.org_id == org)).all())
        project_source = dict(c.execute(sa.select(P.c.id, P.c.source_id).where(P.c.org_id == org)).all())
        rates: dict[int, list] = defaultdict(list)
        for r in c.execute(sa.select(PersonRate.__table__).where(PersonRate.__table__.c.org_id == org)
                           .order_by(PersonRate.__table__.c.effective_from)):
            rates[r.person_id].append((r.effective_from, float(r.hourly_rate)))
        milestones: dict[int, list] = defaultdict(list)
        for tid, mid in c.execute(sa.select(TM.c.task_id, TM.c.milestone_id)):
            milestones[tid].append(mid)
        logs = c.execute(sa.select(W).where(W.c.org_id == org)).all()
    kinds = ("total", "project", "source", "person", "milestone")
    out: dict = {k: defaultdict(lambda: [0.0, 0.0, 0.0, 0.0]) for k in kinds}
    days: dict[date, float] = defaultdict(float)
    for w in logs:
        t = tasks.get((w.source_id, w.task_external_id))
        if w.started_at > now or w.deleted_at is not None or t is None or t.deleted_at is not None:
            continue
        local = w.started_at.astimezone(zone).date()
        rate = next((r for frm, r in reversed(rates.get(w.person_id, [])) if frm <= local), None)
        if rate is None:
            rate = project_rate.get(t.project_id)
        if rate is None and default is not None:
            rate = float(default)
        hours = w.seconds / 3600
        cost, unrated = (0.0, hours) if rate is None else (hours * float(rate), 0.0)
        days[local] += cost
        keys = {"total": [None], "project": [t.project_id], "source": [project_source.get(t.project_id)],
                "person": [w.person_id], "milestone": milestones.get(t.id) or [None]}
        for kind, ks in keys.items():
            for k in ks:
                acc = out[kind][k]
                acc[0] += hours
                acc[1] += cost
                acc[2] += unrated
                acc[3] += cost / 4 if local >= window else 0.0
    out["days"] = days
    return out


def _figures(row: dict) -> list[float]:
    return [row["hours"], row["ac_labour"], row["unrated_hours"], row["burn_rate_per_week"]]


def _close(got: list[float], want: list[float]) -> bool:
    return all(abs(a - b) <= 0.011 for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize(("tz", "default", "built_in"), [
    ("Europe/Berlin", None, None),
    ("America/New_York", Decimal("40"), None),
    # Written in one zone, then the organization moves: every worklog's day and rate follow.
    ("Asia/Kolkata", None, "America/Los_Angeles"),
])
@pytest.mark.parametrize("late", [False, True])
def test_labour_costs_equal_a_worklog_by_worklog_computation(db, monkeypatch, tz, default, built_in, late):
    """As of NOW some worklogs start later: the worklog rollup steps aside and the worklogs are
    scanned. As of a later instant, after every start, the rollup answers (per project and per
    day; by person and milestone the worklogs are scanned either way)."""
    org = _world(db, built_in or tz, default)
    if built_in:
        with db.session() as s:  # as the API does it: the worklogs' days and rates move with the zone
            update_organization(s, org, OrganizationUpdate(timezone=tz))
            s.commit()
    now = NOW + timedelta(days=40) if late else NOW
    answered: list[bool] = []
    rollup_rows = costs._rollup_rows

    def spy(*args, **kwargs):
        rows = rollup_rows(*args, **kwargs)
        answered.append(rows is not None)
        return rows

    monkeypatch.setattr(costs, "_rollup_rows", spy)
    want = _expected(db, org, tz, default, now)
    assert want["total"][None][1] > 0 and (default is not None or want["total"][None][2] > 0)
    total = compute_view(db, org, "budget", ViewParams(), now=now)
    assert answered == [late]
    assert _close(_figures(total["total"]), want["total"][None])
    # The daily cumulative cost: the series' steps are the local days' costs.
    series = {date.fromisoformat(p["date"]): p["ac"] for p in total["series"]["cost"]}
    running = 0.0
    for d in sorted(series):
        running += want["days"].get(d, 0.0)
        assert abs(series[d] - running) <= 0.011, d
    assert abs(running - sum(want["days"].values())) <= 0.011  # no cost before the series starts
    for by in ("project", "source", "person", "milestone"):
        view = compute_view(db, org, "budget", ViewParams(group_by=by), now=now)
        assert view["series"] == total["series"] and view["total"] == total["total"], by
        got = {g["group"]["id"]: _figures(g) for g in view["groups"]}
        expected = {k: v for k, v in want[by].items() if by not in ("project", "source") or k is not None}
        assert expected, by
        if by in ("project", "source"):  # budgets are per project: tasks without one are in no group
            got = {k: v for k, v in got.items() if k in expected}
        assert set(got) == set(expected), by
        for k, v in expected.items():
            assert _close(got[k], v), (by, k, got[k], v)


def test_parallel_plans_last_only_for_the_worklog_pass(db):
    """PostgreSQL: the worklog pass's planner settings are set around it and restored after, so
    the view's other queries plan as usual (SQLite: nothing to set)."""
    from service.views import resolve_selection
    from service.views.sqlkit import parallel_plans

    org = make_org(db, "plans")
    with db.read() as c:
        sel = resolve_selection(c, org, ViewParams(), now=NOW)
        if db.dialect != "postgresql":
            with parallel_plans(c, sel):
                assert c.exec_driver_sql("SELECT 1").scalar() == 1
            return
        before = c.exec_driver_sql("SHOW parallel_setup_cost").scalar()
        with parallel_plans(c, sel):
            assert c.exec_driver_sql("SHOW parallel_setup_cost").scalar() == "0"
            assert c.exec_driver_sql("SHOW parallel_tuple_cost").scalar() == "0"
        assert c.exec_driver_sql("SHOW parallel_setup_cost").scalar() == before != "0"


def test_the_worklog_rollup_answers_what_the_scan_answers(db, monkeypatch):
    """Whole views, read through the worklog rollup and scanned, under every selection the
    rollup serves; and where it cannot answer exactly it is not asked."""
    from service.views import resolve_selection

    org = _world(db, "America/New_York", None)
    late = NOW + timedelta(days=40)
    with db.read() as c:
        pid, src = c.execute(sa.select(W.c.task_project_id, W.c.source_id).where(
            W.c.org_id == org, W.c.task_project_id.is_not(None)).limit(1)).one()
    selections = [ViewParams(), ViewParams(group_by="project"), ViewParams(group_by="source"), ViewParams(source=src),
                  ViewParams(project=pid), ViewParams(project=pid, group_by="project"),
                  ViewParams(as_of=late.date(), group_by="project")]  # the end of today: as of now
    for params in selections:
        fast = compute_view(db, org, "budget", params, now=late)
        monkeypatch.setattr(costs, "rollup_applies", lambda sel, by: False)
        slow = compute_view(db, org, "budget", params, now=late)
        monkeypatch.undo()
        assert fast == slow, params
    assert fast["total"]["ac_labour"] > 0
    with db.read() as c:
        def applies(params: ViewParams, by: str | None) -> bool:
            return costs.rollup_applies(resolve_selection(c, org, params, now=late), by)

        assert applies(ViewParams(), None) and applies(ViewParams(group_by="project"), "project")
        assert applies(ViewParams(as_of=late.date()), None)  # the end of today
        sel = resolve_selection(c, org, ViewParams(), now=late)
        assert costs._rollup_rows(c, sel, "project", days=True) is not None  # it answered above
        sel = resolve_selection(c, org, ViewParams(), now=NOW)  # a worklog starts after NOW
        assert costs.rollup_applies(sel, None) and costs._rollup_rows(c, sel, None, days=True) is None
        assert not applies(ViewParams(group_by="person"), "person")  # worklog authors are not kept
        assert not applies(ViewParams(group_by="milestone"), "milestone")
        person = c.execute(sa.select(W.c.person_id).where(W.c.org_id == org).limit(1)).scalar()
        assert not applies(ViewParams(assignee=person), None)
        # A past instant: a worklog deleted since would be missing (history, or tombstoned after).
        assert not applies(ViewParams(as_of=late - timedelta(hours=1)), None)
        assert not applies(ViewParams(as_of=NOW - timedelta(days=5)), None)
