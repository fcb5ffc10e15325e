"""The stale signal as of now reads each task's latest activity as the store keeps it
(``task.last_activity_at``, ``service.store.rollups.keep_activity``) instead of looking up its
change rows and worklogs: the same answer as the lookups (the rule for any other ``as_of``),
through every write that moves it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from mappings.model import Change, StatusCategory, Task, TaskUpsert, Worklog, WorklogDelete, WorklogUpsert
from service.store import rollups
from service.store.history import rewrite_changes
from service.store.tasks import apply_effects, change_rows, insert_changes
from service.tables import Task as TaskRow
from service.views import ViewParams, resolve_selection, risk
from tests.service.factories import make_org, make_source

T = TaskRow.__table__
NOW = datetime.now(UTC).replace(microsecond=0)


def _ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _task(ext: str) -> TaskUpsert:
    return TaskUpsert(task=Task(external_id=ext, key=f"P-{ext}", title=f"task {ext}", project_external_id="100",
                                project_key="P", status_category=StatusCategory.in_progress,
                                created_at=_ago(60), updated_at=_ago(0.5)))


def _change(ext: str, n: int, at: datetime) -> Change:
    return Change(task_external_id=ext, external_id=f"{ext}:{n}", field="priority", from_value="low",
                  to_value="high", changed_at=at)


def _worklog(ext: str, task: str, started: datetime, updated: datetime) -> WorklogUpsert:
    return WorklogUpsert(worklog=Worklog(external_id=ext, task_external_id=task, started_at=started, seconds=3600,
                                         updated_at=updated))


def _kept(db, org: int) -> dict[str, datetime | None]:
    with db.read() as c:
        return {e: (v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v) for e, v in c.execute(
            sa.select(T.c.external_id, T.c.last_activity_at).where(T.c.org_id == org))}


def test_the_kept_activity_follows_every_write_and_stale_reads_it_as_the_lookups_would(db):
    org = make_org(db, "activity", timezone="Europe/Berlin")
    src = make_source(db, org)
    with db.write() as c:
        # g: its worklog and a change arrive before the task itself
        apply_effects(c, org, src, [_worklog("wg", "g", _ago(9), _ago(9))])
        insert_changes(c, change_rows(org, src, [_change("g", 1, _ago(12))]))
        apply_effects(c, org, src, [_task(e) for e in "abcdefgh"])
        insert_changes(c, change_rows(org, src, [
            _change("b", 1, _ago(1)),  # b: changed yesterday
            _change("c", 1, _ago(30)),
            _change("d", 1, _ago(20)),
            _change("e", 1, _ago(30)), _change("e", 2, NOW + timedelta(hours=2)),  # e: a remote clock ahead
            _change("h", 1, _ago(40)),
        ]))
        apply_effects(c, org, src, [
            _worklog("wc", "c", _ago(40), _ago(2)),  # c: logged long ago, updated two days ago
            _worklog("wd", "d", _ago(1), _ago(1)),  # d: logged yesterday, then deleted (below)
            _worklog("wf", "f", _ago(3), _ago(3)),  # f: its worklog moves to h (below)
        ])
    kept = _kept(db, org)
    assert kept["a"] is None and kept["b"] == _ago(1) and kept["c"] == _ago(2) and kept["d"] == _ago(1)
    assert kept["e"] == NOW + timedelta(hours=2) and kept["f"] == _ago(3) and kept["g"] == _ago(9)
    with db.write() as c:
        apply_effects(c, org, src, [WorklogDelete(external_id="wd")])
        apply_effects(c, org, src, [_worklog("wf", "h", _ago(3), _ago(2.5))])
        rewrite_changes(c, change_rows(org, src, [_change("a", 1, _ago(8))]))  # a Jira history re-read
    kept = _kept(db, org)
    assert (kept["a"], kept["d"], kept["f"], kept["h"]) == (_ago(8), _ago(20), None, _ago(2.5))
    with db.write() as c:  # what the store kept is what a rebuild computes
        assert rollups.check(c, org)["task_activity"] == 0

    with db.read() as c:
        sel = resolve_selection(c, org, ViewParams())
        assert sel.current and not sel.history
        limits = {p: dict(risk.DEFAULT_THRESHOLDS) for p in c.execute(
            sa.select(T.c.project_id).where(T.c.org_id == org).distinct()).scalars()}
        fast = risk._stale(c, sel, limits)
        looked_up = risk._stale(c, replace(sel, current=False), limits)  # the lookups, as for a past as_of
    assert fast == looked_up
    ((pid, (in_progress, stale)),) = fast[0].items()
    # Stale (5 working days idle): a (8 days), d (20: its worklog deleted), e (30: the change ahead of
    # as_of does not count), f (no activity left: since its creation), g (9); not b, c, h.
    assert (in_progress, stale) == (8, 5)
    listed = {ref["key"]: last for _, last, ref in fast[1][pid]}
    assert listed == {"P-f": _ago(60), "P-e": _ago(30), "P-d": _ago(20), "P-g": _ago(9), "P-a": _ago(8)}
