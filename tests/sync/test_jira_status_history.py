"""Jira status history through the sync, against the sandbox on both stores and both
deployments: the status catalogue is loaded once and cached, every transition is categorized by
status id, truncated changelogs are completed in bulk, a changed catalogue re-categorizes what
is stored, and a source synced before ids were kept is read again once, resumably."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sandbox.jira import JiraConfig, JiraState, generate, start
from sandbox.jira.limits import FaultRule
from sandbox.jira.mutations import transition_issue
from sandbox.jira.records import ISSUE_TYPE_BY_NAME, STATUSES
from service.db import Database
from service.store import rollups
from service.sync import jira_history
from service.sync.runner import run_sync
from service.tables import Change, Source, SyncState, Task
from service.views import ViewParams, compute_view
from tests.sync.conftest import FakeSleep, register_jira, sync_settings

C = Change.__table__
T = Task.__table__
S = Source.__table__
SS = SyncState.__table__
EPIC = ISSUE_TYPE_BY_NAME["epic"].id
CLOUD_STATUS = "GET /rest/api/3/status"
DC_STATUS = "GET /rest/api/2/status"
BULK = "POST /rest/api/3/changelog/bulkfetch"


@dataclass
class Site:
    url: str
    state: JiraState
    settings: Any
    db: Database
    org_id: int
    source_id: int
    dc: bool

    def sync(self, mode: str = "incremental") -> Any:
        return run_sync(self.db, self.settings, self.source_id, mode=mode, sleep=FakeSleep())

    def requests(self) -> dict[str, int]:
        return dict(self.state.stats.snapshot()["by_path"])

    def count(self, prefix: str) -> int:
        return sum(n for path, n in self.requests().items() if path.startswith(prefix))


def _site(db: Database, tmp_path: Path, *, dc: bool, issues: int = 40) -> Iterator[Site]:
    state = JiraState(JiraConfig(deployment="DataCenter" if dc else "Cloud", worklog_feed_delay_ms=0))
    generate(state, projects=3, issues_per_project=issues, seed=11)
    url, stop = start(state)
    settings = sync_settings(tmp_path)
    org_id, source_id, _ = register_jira(db, settings, url, dc=dc)
    try:
        yield Site(url, state, settings, db, org_id, source_id, dc)
    finally:
        stop()
        state.close()


@pytest.fixture(params=["cloud", "dc"])
def site(request: pytest.FixtureRequest, db: Database, tmp_path: Path) -> Iterator[Site]:
    yield from _site(db, tmp_path, dc=request.param == "dc")


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Site]:
    yield from _site(db, tmp_path, dc=False)


def _through_progress(state: JiraState) -> set[str]:
    """The done issues (epics aside: the flow view does not count them) whose history, as the
    sandbox holds it, passed through an in-progress status."""
    return {
        str(i.id) for i in state.issues.values()
        if STATUSES[i.status_id].category == "done" and i.type_id != EPIC
        and any(it.field == "status" and it.to in STATUSES and STATUSES[it.to].category == "indeterminate"
                for h in i.histories or [] for it in h.items)
    }


def _known_cycle_time(db: Database, source_id: int) -> set[str]:
    """Done tasks with a known cycle time: a recorded entry into in_progress no later than done."""
    first = (sa.select(C.c.task_external_id, sa.func.min(C.c.changed_at).label("at"))
             .where(C.c.source_id == source_id, C.c.field == "status", C.c.to_category == "in_progress")
             .group_by(C.c.task_external_id).subquery())
    with db.read() as c:
        return set(c.execute(sa.select(T.c.external_id).join(first, first.c.task_external_id == T.c.external_id)
                             .where(T.c.source_id == source_id, T.c.status_category == "done",
                                    first.c.at <= T.c.completed_at)).scalars())


def _coverage(site: Site) -> tuple[float, int, int]:
    truth = _through_progress(site.state)
    known = _known_cycle_time(site.db, site.source_id) & truth
    flow = compute_view(site.db, site.org_id, "flow", ViewParams())["total"]["cycle_time_days"]
    return len(known) / len(truth), len(truth), flow["count"]


def _cursor(db: Database, source_id: int, stream: str) -> dict[str, Any]:
    with db.read() as c:
        raw = c.execute(sa.select(SS.c.cursor).where(SS.c.source_id == source_id, SS.c.stream == stream)).scalar()
    return json.loads(raw) if raw else {}


def _site_info(db: Database, source_id: int) -> dict[str, Any]:
    with db.read() as c:
        return dict(c.execute(sa.select(S.c.site_info).where(S.c.id == source_id)).scalar() or {})


def _set_site_info(db: Database, source_id: int, info: dict[str, Any]) -> None:
    with db.write() as c:
        c.execute(sa.update(S).where(S.c.id == source_id).values(site_info=info))


def _status_rows(db: Database, source_id: int) -> dict[tuple[str, str], Any]:
    with db.read() as c:
        return {(r.task_external_id, r.external_id): r for r in c.execute(
            sa.select(C.c.task_external_id, C.c.external_id, C.c.from_id, C.c.to_id, C.c.from_category,
                      C.c.to_category).where(C.c.source_id == source_id, C.c.field == "status",
                                              C.c.origin == "changelog")).all()}


def _truth_rows(state: JiraState) -> dict[tuple[str, str], str]:
    """Every status item of the sandbox's histories: (issue id, history:index) -> to id."""
    return {(str(i.id), f"{h.id}:{n}"): it.to for i in state.issues.values() for h in i.histories or []
            for n, it in enumerate(h.items) if it.field == "status"}


# --- the figure: cycle time known -----------------------------------------------------------


def test_cycle_time_is_known_for_95_percent_of_done_tasks_that_went_through_progress(site: Site):
    site.sync("backfill")
    share, through, flow_count = _coverage(site)
    assert through >= 15, through  # the sandbox's done issues that were worked on
    assert share >= 0.95, f"cycle time known for {share:.0%} of {through} done tasks that passed through progress"
    assert flow_count >= 0.95 * through  # the flow view says so too
    # every transition was categorized by status id, as the served catalogue says
    rows = _status_rows(site.db, site.source_id)
    category = {"new": "todo", "indeterminate": "in_progress", "done": "done"}
    assert rows and all(r.to_category == category[STATUSES[r.to_id].category] for r in rows.values())
    # one catalogue request, v3 on Cloud, v2 on Data Center; a no-change poll adds none
    assert site.count(DC_STATUS if site.dc else CLOUD_STATUS) == 1
    assert site.count(CLOUD_STATUS) == (0 if site.dc else 1)
    site.state.stats.reset()
    assert site.sync().api_calls <= 2
    catalogue = _site_info(site.db, site.source_id)["statuses"]
    assert catalogue["3"] == ["In Progress", "in_progress", None]


# --- truncated changelogs --------------------------------------------------------------------


def test_truncated_changelogs_are_completed_with_one_bulk_read_per_page(cloud: Site):
    site = cloud
    site.state.configure(search_changelog_cap=1, search_page_max=25)  # Jira embeds 20; here 1
    truth = _truth_rows(site.state)
    run = site.sync("backfill")
    rows = _status_rows(site.db, site.source_id)
    assert set(rows) >= set(truth) and all(rows[k].to_id == v for k, v in truth.items())
    pages = site.count("GET /rest/api/3/search/jql")
    assert 1 <= site.count(BULK) <= pages  # at most one bulk read per page (each under 10,000 histories)
    assert site.count("GET /rest/api/3/issue/") == 0  # no request per issue
    assert run.api_calls == sum(site.requests().values())
    assert _coverage(site)[0] >= 0.95


def test_without_bulk_changelog_or_status_catalogue_the_sync_reads_per_issue_and_by_name(cloud: Site):
    site = cloud
    site.state.configure(search_changelog_cap=1)
    site.state.faults.rules.append(FaultRule(status=404, count=1, path="/changelog/bulkfetch"))
    site.state.faults.rules.append(FaultRule(status=404, count=1, path="/rest/api/3/status"))
    truth = _truth_rows(site.state)
    site.sync("backfill")
    rows = _status_rows(site.db, site.source_id)
    assert set(rows) >= set(truth)  # every history, read issue by issue after the 404
    truncated = sum(1 for i in site.state.issues.values() if len(i.histories or []) > 1)
    assert site.count("GET /rest/api/3/issue/") == truncated and site.count(BULK) == 1
    assert _site_info(site.db, site.source_id)["statuses"] == {}


# --- the catalogue changes --------------------------------------------------------------------


def test_a_catalogue_that_changed_a_category_recategorizes_stored_rows_and_task_times(site: Site):
    site.sync("backfill")
    info = _site_info(site.db, site.source_id)
    work = [k for k, (_, category, _) in info["statuses"].items() if category == "in_progress"]
    wrong = {k: [name, "todo" if k in work else category, project]
             for k, (name, category, project) in info["statuses"].items()}
    # as if work were to do, a day ago
    _set_site_info(site.db, site.source_id, {**info, "statuses": wrong, "refreshed_at": "2020-01-01T00:00:00+00:00"})
    with site.db.write() as c:  # ... and the history stored then said so
        c.execute(sa.update(C).where(C.c.to_id.in_(work)).values(to_category="todo"))
        c.execute(sa.update(C).where(C.c.from_id.in_(work)).values(from_category="todo"))
        c.execute(sa.update(T).values(started_at=None))
    assert _coverage(site)[0] == 0
    site.state.stats.reset()
    site.sync()  # the daily site refresh reloads the catalogue: categories changed
    assert site.count(DC_STATUS if site.dc else CLOUD_STATUS) == 1
    assert _coverage(site)[0] >= 0.95
    assert _cursor(site.db, site.source_id, "statuses")["after"] is None  # finished
    with site.db.read() as c:  # the tasks' start times were recomputed from the stored history
        started = c.execute(sa.select(sa.func.count()).where(T.c.started_at.is_not(None))).scalar()
    assert started >= len(_through_progress(site.state))
    with site.db.write() as c:
        assert set(rollups.check(c, site.org_id).values()) == {0}


def test_an_unknown_status_id_reloads_the_catalogue_once_per_run(cloud: Site, monkeypatch):
    site = cloud
    site.sync("backfill")
    info = _site_info(site.db, site.source_id)
    _set_site_info(site.db, site.source_id, {**info, "statuses": {
        k: v for k, v in info["statuses"].items() if k not in ("3", "10021")}})  # the In Progress statuses
    todo = [i for i in site.state.issues.values() if STATUSES[i.status_id].name == "To Do"][:2]
    transition_issue(site.state, todo[0].key, "In Progress")
    site.state.stats.reset()
    site.sync()
    assert site.count(CLOUD_STATUS) == 1
    assert {"3", "10021"} <= set(_site_info(site.db, site.source_id)["statuses"])
    moved = [r for k, r in _status_rows(site.db, site.source_id).items() if k[0] == str(todo[0].id)]
    assert moved and moved[-1].to_category == "in_progress"
    # An id Jira no longer lists (a deleted status) is remembered: no reload on every poll.
    real = jira_history.StatusHistory.fetch

    def without_in_progress(self: Any) -> Any:
        found = real(self)
        self._catalogue.pop("3", None)
        found.pop("3", None)
        return found

    monkeypatch.setattr(jira_history.StatusHistory, "fetch", without_in_progress)
    info = _site_info(site.db, site.source_id)
    _set_site_info(site.db, site.source_id, {**info, "statuses": {
        k: v for k, v in info["statuses"].items() if k != "3"}})
    transition_issue(site.state, todo[1].key, "In Progress")
    site.state.stats.reset()
    site.sync()
    assert site.count(CLOUD_STATUS) == 1
    assert _site_info(site.db, site.source_id)["statuses_unknown"] == ["3"]
    transition_issue(site.state, todo[1].key, "To Do")
    site.state.stats.reset()
    site.sync()
    assert site.count(CLOUD_STATUS) == 0


# --- sources synced before ids were kept ----------------------------------------------------


def _as_synced_before(site: Site) -> None:
    """What the code before status ids left behind: no catalogue, change rows without ids or
    in-progress categories, the history of truncated changelogs missing, no history stream."""
    info = _site_info(site.db, site.source_id)
    info.pop("statuses")
    _set_site_info(site.db, site.source_id, info)
    with site.db.write() as c:
        c.execute(sa.update(C).values(from_id=None, to_id=None))
        c.execute(sa.update(C).where(C.c.to_category == "in_progress").values(to_category=None))
        c.execute(sa.update(C).where(C.c.from_category == "in_progress").values(from_category=None))
        c.execute(sa.delete(C).where(C.c.external_id.like("%:1")))  # a part of some histories
        c.execute(sa.delete(SS).where(SS.c.source_id == site.source_id, SS.c.stream == "history"))


@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_a_source_synced_before_ids_were_kept_is_read_again_once_by_the_next_sync(site: Site, mode: str):
    site.sync("backfill")
    assert _cursor(site.db, site.source_id, "history")["finished"] is True  # read whole already
    _as_synced_before(site)
    assert _coverage(site)[0] < 0.5
    site.state.stats.reset()
    site.sync(mode)  # a full sync too: it re-reads the issues, but stored rows are only inserted once
    tasks = len(site.state.issues)
    if site.dc:
        assert site.count("GET /rest/api/2/issue/") == tasks  # one changelog page per issue
    else:
        assert site.count(BULK) == 1  # 120 issues: one request
        assert site.count("GET /rest/api/3/issue/") == 0
    truth = _truth_rows(site.state)
    rows = _status_rows(site.db, site.source_id)
    assert set(rows) >= set(truth) and all(rows[k].to_id == v for k, v in truth.items())
    assert _coverage(site)[0] >= 0.95
    state = _cursor(site.db, site.source_id, "history")
    assert state["finished"] is True and state["done"] == state["total"] == tasks
    site.state.stats.reset()
    assert site.sync().api_calls <= 2  # once


def test_the_history_reread_resumes_where_an_interrupted_sync_stopped(cloud: Site, monkeypatch):
    site = cloud
    site.sync("backfill")
    _as_synced_before(site)
    monkeypatch.setitem(jira_history.REREAD_BATCH, True, 50)
    asked: list[list[str]] = []
    real = jira_history.StatusHistory.read

    def read_then_fail(self: Any, ids: Any) -> Any:
        asked.append(list(ids))
        if len(asked) == 2:
            raise RuntimeError("the worker died")
        return real(self, ids)

    monkeypatch.setattr(jira_history.StatusHistory, "read", read_then_fail)
    with pytest.raises(RuntimeError, match="the worker died"):
        site.sync()
    half = _cursor(site.db, site.source_id, "history")
    assert half["done"] == 50 and half["total"] == 120 and not half.get("finished")
    monkeypatch.setattr(jira_history.StatusHistory, "read", real)
    site.state.stats.reset()
    site.sync()
    done = _cursor(site.db, site.source_id, "history")
    assert done["finished"] is True and done["done"] == 120
    assert site.count(BULK) == 2  # the 70 left, 50 at a time: the first 50 were not read again
    assert _coverage(site)[0] >= 0.95
