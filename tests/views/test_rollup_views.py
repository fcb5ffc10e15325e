"""The progress view read from the task rollups equals the view scanned from the task rows,
and the rollups step aside where they cannot answer exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.store import rollups as kept
from service.store.tasks import apply_effects
from service.tables import Organization, Source
from service.tables import Task as TaskRow
from service.views import ViewParams, compute_view, queries, resolve_selection, rollups
from tests.service.factories import make_org, make_source, random_task

T = TaskRow.__table__
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # after every generated creation and completion
FIELDS = ("scope", "done", "in_progress", "todo", "pts_n", "pts_total", "pts_done", "pts_open", "sec_n",
          "sec_total", "sec_done", "sec_open", "time_n", "spent", "remaining")


def _world(db, tz: str) -> tuple[int, list[int]]:
    rnd = random.Random(11)
    org = make_org(db, f"o-{tz}", timezone=tz)
    jira = make_source(db, org)
    trello = make_source(db, org, kind="trello", name="trello")
    plain = make_source(db, org, kind="trello", name="trello-2")
    with db.write() as c:
        c.execute(sa.update(Source.__table__).where(Source.__table__.c.id == trello)
                  .values(mapping_profile={"trello": {"archived_as_done": True}}))
        for src, n in ((jira, 150), (trello, 60), (plain, 40)):
            apply_effects(c, org, src, [random_task(rnd, str(i), 1) for i in range(n)])
            apply_effects(c, org, src, [random_task(rnd, str(i), 2) for i in range(0, n, 3)])
        # Done with no known completion time (a store older than the completed_at fill-in).
        c.execute(sa.update(T).where(T.c.status_category == "done", T.c.id % 7 == 0).values(completed_at=None))
        c.execute(sa.update(T).values(synced_at=NOW - timedelta(days=1)))
        # Direct costs (not in the rollups: the budget view reads them from the cost index).
        c.execute(sa.update(T).where(T.c.id % 4 == 1).values(cost=250))
        kept.rebuild(c, org)  # the updates above bypassed the store
    return org, [jira, trello, plain]


def _pick(row: dict, windowed: bool) -> dict:
    return {k: round(float(row[k]), 6) for k in FIELDS + (("done_known", "done_window") if windowed else ())}


def _compare(db, org: int, params: ViewParams, *, created: bool, windowed: bool) -> None:
    with db.read() as c:
        sel = resolve_selection(c, org, params, now=NOW)
        got = rollups.totals_and_days(c, sel, created=created, windowed=windowed)
        assert got is not None, params
        want = queries.totals_and_days(c, sel, created=created)
    assert _pick(got[0], windowed) == _pick(want[0], windowed)
    assert {k: _pick(v, windowed) for k, v in got[1].items()} == {k: _pick(v, windowed) for k, v in want[1].items()}
    assert got[2] == want[2] and got[3] == want[3]
    if created:  # every counted task has a creation day (or None)
        assert sum(got[2].values()) == got[0]["scope"]
    if windowed:
        assert 0 < got[0]["done_window"] < got[0]["done_known"] <= got[0]["done"]
        if params.source is None:
            assert got[0]["done_known"] < got[0]["done"]


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_rollups_answer_what_the_scans_answer(db, tz):
    org, sources = _world(db, tz)
    for group in (None, "project", "source"):
        for source in (None, sources[1]):
            _compare(db, org, ViewParams(group_by=group, source=source), created=True, windowed=False)
            _compare(db, org, ViewParams(group_by=group, source=source), created=False, windowed=True)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_milestone_counts_from_the_rollup_equal_the_scan(db, tz):
    org, sources = _world(db, tz)
    for params in (ViewParams(), ViewParams(source=sources[0]), ViewParams(group_by="milestone"),
                   ViewParams(group_by="project", source=sources[1])):
        with db.read() as c:
            sel = resolve_selection(c, org, params, now=NOW)
            got = rollups.milestone_counts(c, sel)
            assert got is not None, params
            want = queries.milestone_counts(c, sel)
        assert got == dict(want), params
    assert sum(v[0][3] for v in got.values()) > 0  # completions in the window were counted
    with db.read() as c:  # by person: scanned
        assert rollups.milestone_counts(c, resolve_selection(c, org, ViewParams(group_by="person"), now=NOW)) is None


@pytest.mark.parametrize("view", ["progress", "flow", "milestones", "budget"])
def test_the_view_is_the_same_either_way(db, monkeypatch, view):
    org, _ = _world(db, "Europe/Berlin")
    for group in (None, "project", "source", "milestone"):
        params = ViewParams(group_by=group)
        fast = compute_view(db, org, view, params, now=NOW)
        monkeypatch.setattr(rollups, "totals_and_days", lambda conn, sel, **kw: None)
        monkeypatch.setattr(rollups, "milestone_counts", lambda conn, sel: None)
        slow = compute_view(db, org, view, params, now=NOW)
        monkeypatch.undo()
        assert fast == slow


def _applies(db, org: int, params: ViewParams, now: datetime = NOW) -> bool:
    with db.read() as c:
        return rollups.totals_and_days(c, resolve_selection(c, org, params, now=now), created=True) is not None


def test_the_rollups_step_aside_where_they_cannot_answer_exactly(db):
    org, sources = _world(db, "Europe/Berlin")
    assert _applies(db, org, ViewParams())
    with db.read() as c:
        pid = c.execute(sa.select(T.c.project_id).where(T.c.project_id.is_not(None))).scalars().first()
    assert not _applies(db, org, ViewParams(project=pid))  # per-project days are not kept
    assert not _applies(db, org, ViewParams(group_by="milestone"))
    assert not _applies(db, org, ViewParams(group_by="person"))
    assert not _applies(db, org, ViewParams(as_of=NOW - timedelta(days=30)))  # synced since: history
    with db.write() as c:  # a task created after as_of (a remote clock ahead of ours)
        c.execute(sa.update(T).where(T.c.source_id == sources[0], T.c.external_id == "1")
                  .values(remote_created_at=NOW + timedelta(hours=2)))
        kept.rebuild(c, org)
    assert not _applies(db, org, ViewParams())
    assert _applies(db, org, ViewParams(), now=NOW + timedelta(hours=3))
    with db.write() as c:  # a zone with a half-hour offset
        c.execute(sa.update(Organization.__table__).where(Organization.__table__.c.id == org)
                  .values(timezone="Asia/Kolkata"))
    assert not _applies(db, org, ViewParams(), now=NOW + timedelta(hours=3))


def test_usable_zones():
    assert rollups.usable_zone("UTC") and rollups.usable_zone("Europe/Berlin")
    assert rollups.usable_zone("America/New_York") and rollups.usable_zone("Asia/Tokyo")
    assert not rollups.usable_zone("Asia/Kolkata") and not rollups.usable_zone("Australia/Lord_Howe")


def _assigned_world(db) -> tuple[int, int, int, list[int], list[int], int]:
    """``_world`` with three more people, a second assignee on some tasks and a portfolio of the
    first project: ``(org, jira, trello, people, projects, portfolio)``."""
    from service.tables import Person, Portfolio, PortfolioProject, Project, TaskAssignee

    org, (jira, trello, _) = _world(db, "Europe/Berlin")
    TA, P = TaskAssignee.__table__, Person.__table__
    with db.write() as c:  # more people, and a second assignee on some tasks
        people = [c.execute(sa.insert(P).values(org_id=org, display_name=f"p{i}").returning(P.c.id)).scalar_one()
                  for i in range(3)]
        ids = list(c.execute(sa.select(T.c.id).where(T.c.org_id == org).order_by(T.c.id)).scalars())
        taken = set(c.execute(sa.select(TA.c.task_id, TA.c.person_id)).all())
        c.execute(sa.insert(TA), [{"task_id": t, "person_id": people[t % 3]} for t in ids
                                  if t % 4 and (t, people[t % 3]) not in taken])
        projects = list(c.execute(sa.select(Project.__table__.c.id).where(Project.__table__.c.org_id == org)
                                  .order_by(Project.__table__.c.id)).scalars())
        folio = c.execute(sa.insert(Portfolio.__table__).values(org_id=org, name="f")
                          .returning(Portfolio.__table__.c.id)).scalar_one()
        c.execute(sa.insert(PortfolioProject.__table__), [{"portfolio_id": folio, "project_id": projects[0]}])
        kept.rebuild(c, org)
    return org, jira, trello, people, projects, folio


def _either_way(monkeypatch, db, org: int, view: str, reader: str, pick=lambda r: r):
    """``(both, read)``: ``both(now, **params)`` computes ``view`` with the rollup reader
    ``rollups.<reader>`` and with it stepping aside (the scan), asserts the two answers (``pick``
    of them) are equal and returns it; ``read`` records whether the reader answered."""
    read: list[bool] = []
    real = getattr(rollups, reader)

    def spy(conn, sel):
        out = real(conn, sel)
        read.append(out is not None)
        return out

    def both(now=NOW, **params):
        monkeypatch.setattr(rollups, reader, spy)
        fast = pick(compute_view(db, org, view, ViewParams(**params), now=now))
        monkeypatch.setattr(rollups, reader, lambda conn, sel: None)
        slow = pick(compute_view(db, org, view, ViewParams(**params), now=now))
        monkeypatch.undo()
        assert fast == slow, params
        return fast

    return both, read


def test_workload_from_the_rollup_equals_the_scan(db, monkeypatch):
    """The workload view's open tasks read from the workload rollup equal the scan of the task
    state and the assignee links, in every grouping and filter the rollup serves — tasks with
    none, one and several assignees, archived cards of a source that counts them — and the
    rollup steps aside where it cannot answer (grouped by milestone, a task created after
    ``as_of``, a state before the last sync)."""
    org, jira, trello, people, projects, folio = _assigned_world(db)
    both, read = _either_way(monkeypatch, db, org, "workload", "workload_open")

    shared = both()
    assert shared["total"]["open_tasks"] > 0 and shared["total"]["overdue_tasks"] > 0
    assert sum(r["open_tasks"] for r in shared["people"]) > shared["total"]["open_tasks"]  # tasks counted twice
    for group in ("project", "source", "person"):
        both(group_by=group)
    for filters in ({"source": trello}, {"source": jira, "group_by": "project"}, {"project": projects[1]},
                    {"portfolio": folio, "group_by": "source"}, {"assignee": people[1]},
                    {"assignee": people[2], "group_by": "project"}):
        both(**filters)
    assert all(read) and len(read) == 10
    read.clear()
    both(group_by="milestone")  # a task in two milestones: the scan
    both(now=NOW - timedelta(days=3))  # synced since then: the history
    with db.write() as c:  # an open task created after as_of (a remote clock ahead of ours)
        late = c.execute(sa.select(T.c.id).where(T.c.org_id == org, T.c.status_category != "done", T.c.type != "epic",
                                                 ~T.c.is_milestone, ~T.c.archived, T.c.deleted_at.is_(None))).scalar()
        c.execute(sa.update(T).where(T.c.id == late).values(remote_created_at=NOW + timedelta(hours=1)))
        kept.rebuild(c, org)
    assert both()["total"]["open_tasks"] == shared["total"]["open_tasks"] - 1
    assert read == [False, False, False]


def test_concentration_from_the_rollup_equals_the_scan(db, monkeypatch):
    """The risk view's concentration (open work per project and person, a task with k assignees
    split 1/k each) read from the workload rollup equals its scan of the task state, in every
    scope the rollup serves; the rollup steps aside for a state before the last sync."""
    from service.views import risk

    org, jira, trello, people, projects, folio = _assigned_world(db)
    both, read = _either_way(monkeypatch, db, org, "risk", "open_split",
                             lambda r: {g["group"]["id"]: g["signals"]["concentration"] for g in r["groups"]})

    whole = both()
    split = [k for k in whole.values() if k["level"] is not None]
    assert split and any(k["people"] for k in split) and any(k["unassigned_share"] for k in split)
    for filters in ({"source": trello}, {"source": jira}, {"project": projects[1]}, {"portfolio": folio}):
        both(**filters)
    assert read == [True] * 5
    read.clear()
    both(now=NOW - timedelta(days=3))  # synced since then: the history
    assert read == [False]
    assert risk.rollups is rollups
