"""Milestone and budget state events (issue 22): each fires once per transition, in the transaction
that makes the figure change; none on a recomputation without one; date-driven ones from the
worker's pass, in the organization's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from mappings.model import Milestone, MilestoneRef, MilestoneUpsert, PersonRef, StatusCategory, Worklog, WorklogUpsert
from service import store
from service.db import Database
from service.state_events.transitions import date_pass, evaluate_effects, evaluate_projects
from service.tables import Event, EventState, Organization, Project, table
from tests.service.factories import make_org, make_source, task
from tests.service.test_events_tasks import events, subscribe

PR, ORG, ES, EV = table(Project), table(Organization), table(EventState), table(Event)
ALICE = PersonRef(tool="jira", external_id="alice", display_name="Alice")
TODAY = datetime.now(UTC).date()
DUE = TODAY + timedelta(days=3)  # ahead of every zone's today


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _milestone(ext: str = "v1", *, due: date | None = DUE, released: bool = False, minutes: int = 0
               ) -> MilestoneUpsert:
    return MilestoneUpsert(milestone=Milestone(
        external_id=ext, project_external_id="100", name=f"Release {ext}", due_date=due, released=released,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)))


def _write(db: Database, org: int, src: int, effects: list) -> None:
    """One inbox-like commit: the effects, then the evaluation of what they touched."""
    with db.write() as c:
        store.apply_effects(c, org, src, effects)
        evaluate_effects(c, org, src, effects)


def _project(db: Database, org: int) -> int:
    with db.read() as c:
        return c.execute(sa.select(PR.c.id).where(PR.c.org_id == org)).scalar_one()


def _kinds(db: Database, prefix: str) -> list[str]:
    return [k for k, _ in events(db, prefix)]


@pytest.fixture
def world(db: Database) -> tuple[Database, int, int]:
    org = make_org(db)
    src = make_source(db, org)
    subscribe(db, org, ["milestone.*", "budget.*"])
    return db, org, src


def test_completed_fires_once_and_the_first_sight_of_a_milestone_is_silent(world):
    db, org, src = world
    linked = task("1", milestones=[MilestoneRef(external_id="v1")])
    _write(db, org, src, [_milestone(), linked])  # first seen: its state is recorded, nothing sent
    assert events(db) == []
    _write(db, org, src, [_milestone(released=True, minutes=1)])
    _write(db, org, src, [_milestone(released=True, minutes=2)])  # recomputed, no transition
    [(kind, data)] = events(db)
    assert kind == "milestone.completed"
    assert (data["name"], data["due_date"], data["open_tasks"], data["done_tasks"]) == ("Release v1",
                                                                                       DUE.isoformat(), 1, 0)


def test_slipped_fires_when_the_due_date_moves_later_not_earlier(world):
    db, org, src = world
    _write(db, org, src, [_milestone(due=DUE)])
    _write(db, org, src, [_milestone(due=DUE + timedelta(days=5), minutes=1)])
    _write(db, org, src, [_milestone(due=DUE + timedelta(days=2), minutes=2)])  # back: slip shrinks
    _write(db, org, src, [_milestone(due=DUE + timedelta(days=4), minutes=3)])  # 2 → 4: it grows again
    got = [(d["slip_days"], d["previous_slip_days"]) for k, d in events(db, "milestone.slipped")]
    assert got == [(5, 0), (4, 2)]


def test_at_risk_fires_when_the_forecast_passes_the_due_date(world):
    db, org, src = world
    # One of two tasks done in the trailing 4 weeks: throughput 1/4 a week, one open task left →
    # forecast finish 28 days from today, after a due date 3 days ahead.
    done = task("1", minutes=1, status="Done", category=StatusCategory.done,
                milestones=[MilestoneRef(external_id="v1")], completed_at=datetime.now(UTC) - timedelta(days=1))
    _write(db, org, src, [_milestone(due=TODAY + timedelta(days=60)), done])
    assert events(db) == []
    _write(db, org, src, [task("2", milestones=[MilestoneRef(external_id="v1")])])
    assert _kinds(db, "milestone.") == []  # forecast today+28 before due today+60: on track
    _write(db, org, src, [_milestone(due=DUE, minutes=1)])  # pulled in: forecast after due
    _write(db, org, src, [_milestone(due=DUE, minutes=2)])
    [(kind, data)] = events(db, "milestone.at_risk")
    today = datetime.now(UTC).date()  # the event's today: the suite may have started before midnight UTC
    assert (data["forecast_finish"], data["due_date"]) == ((today + timedelta(days=28)).isoformat(), DUE.isoformat())


def _worklog(ext: str, hours: float, when: datetime) -> WorklogUpsert:
    return WorklogUpsert(worklog=Worklog(external_id=ext, task_external_id="1", author=ALICE, started_at=when,
                                         seconds=int(hours * 3600), updated_at=when))


def test_budget_thresholds_fire_once_each_the_highest_crossed_named(world):
    db, org, src = world
    _write(db, org, src, [task("1")])
    pid = _project(db, org)
    with db.write() as c:  # BAC 1,000 at 100/h: 5 h is 50 %, 8 h 80 %
        c.execute(sa.update(ORG).where(ORG.c.id == org).values(default_hourly_rate=Decimal(100), currency="USD"))
        c.execute(sa.update(PR).where(PR.c.id == pid).values(budget_amount=Decimal(1000), budget_currency="USD"))
    day = datetime.now(UTC) - timedelta(days=1)
    _write(db, org, src, [_worklog("w1", 4, day)])  # 40 %: first evaluation, silent
    _write(db, org, src, [_worklog("w2", 1, day)])  # 50 %
    _write(db, org, src, [_worklog("w3", 0.5, day)])  # 55 %: none
    _write(db, org, src, [_worklog("w4", 5, day)])  # 105 %: 80 and 100 at once, one event
    got = [(d["threshold"], d["crossed"], d["consumed_share"], d["ac"]) for _, d in events(db, "budget.threshold")]
    assert got == [(50, [50], 0.5, 500.0), (100, [80, 100], 1.05, 1050.0)]


def test_a_custom_threshold_is_reached_at_exactly_its_share(world):
    """Found in review: 0.57 * 100 < 57 in floats, so a 57 % threshold did not fire at 57 %."""
    db, org, src = world
    _write(db, org, src, [task("1")])
    pid = _project(db, org)
    with db.write() as c:
        c.execute(sa.update(ORG).where(ORG.c.id == org).values(default_hourly_rate=Decimal(100), currency="USD"))
        c.execute(sa.update(PR).where(PR.c.id == pid).values(budget_amount=Decimal(1000), budget_currency="USD",
                                                              budget_thresholds=[57]))
    day = datetime.now(UTC) - timedelta(days=1)
    _write(db, org, src, [_worklog("w1", 4, day)])
    _write(db, org, src, [_worklog("w2", 1.7, day)])  # 570 of 1,000: 57 %
    assert [(d["threshold"], d["consumed_share"]) for _, d in events(db, "budget.threshold")] == [(57, 0.57)]


def test_a_milestone_made_after_its_source_was_deleted_is_seen_for_the_first_time(world):
    """Found in review: deleting a source left its milestones' and projects' states; SQLite reuses
    the highest ids, so the milestone of a source added again inherited them and its first sight
    fired milestone.completed."""
    from service.store.rollups import delete_source
    from tests.service.factories import make_source

    db, org, src = world
    _write(db, org, src, [_milestone(), task("1", milestones=[MilestoneRef(external_id="v1")])])
    with db.write() as c:
        delete_source(c, src)
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(ES)).scalar() == 0
    again = make_source(db, org, name="again")
    _write(db, org, again, [_milestone(released=True), task("1", milestones=[MilestoneRef(external_id="v1")])])
    assert events(db, "milestone.") == []


def test_budget_thresholds_per_project_and_exhaustion_before_end(world):
    db, org, src = world
    _write(db, org, src, [task("1")])
    pid = _project(db, org)
    with db.write() as c:
        c.execute(sa.update(ORG).where(ORG.c.id == org).values(default_hourly_rate=Decimal(100), currency="USD"))
        c.execute(sa.update(PR).where(PR.c.id == pid).values(
            budget_amount=Decimal(10000), budget_currency="USD", budget_thresholds=[10],
            planned_start=TODAY - timedelta(days=60), planned_end=TODAY + timedelta(days=365)))
    day = datetime.now(UTC) - timedelta(days=1)
    _write(db, org, src, [_worklog("w1", 4, day)])  # 4 %, burn 100/week: runway far past the end
    assert events(db) == []
    # 12 % (crosses 10); burn 1,200 / 4 weeks = 300 a week: 8,800 left lasts 29.3 weeks, before the end
    _write(db, org, src, [_worklog("w2", 8, day)])
    assert [(k, d.get("threshold")) for k, d in events(db)] == [
        ("budget.threshold_crossed", 10), ("budget.exhaustion_before_end", None)]
    _, data = events(db)[1]
    today = datetime.now(UTC).date()  # the event's today: the suite may have started before midnight UTC
    assert data["exhaustion_date"] == (today + timedelta(days=205)).isoformat()


def test_a_rolled_back_change_emits_and_records_nothing(world):
    db, org, src = world
    _write(db, org, src, [_milestone()])
    with pytest.raises(RuntimeError), db.write() as c:
        store.apply_effects(c, org, src, [_milestone(released=True, minutes=1)])
        evaluate_effects(c, org, src, [_milestone(released=True, minutes=1)])
        raise RuntimeError("the batch fails")
    assert events(db) == []
    _write(db, org, src, [_milestone(released=True, minutes=1)])  # the state was not kept either
    assert _kinds(db, "milestone.") == ["milestone.completed"]


def test_no_subscriber_keeps_no_state(db):
    org = make_org(db)
    src = make_source(db, org)
    subscribe(db, org, ["task.*"])
    _write(db, org, src, [_milestone()])
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(ES)).scalar() == 0


def test_overdue_fires_from_the_worker_pass_in_each_organizations_zone(db):
    """Due on DUE in Kiritimati (UTC+14) and in Honolulu (UTC−10): at DUE+1 00:30 local in
    Kiritimati (10:30 UTC on DUE) only Kiritimati's is overdue; Honolulu's a day later."""
    orgs = {}
    for name, zone in (("east", "Pacific/Kiritimati"), ("west", "Pacific/Honolulu")):
        org = make_org(db, name, timezone=zone)
        src = make_source(db, org, name=f"jira-{name}")
        subscribe(db, org, ["milestone.overdue"])
        _write(db, org, src, [_milestone()])
        orgs[org] = name
    with db.read() as c:  # seen, not overdue yet
        assert c.execute(sa.select(sa.func.count()).select_from(ES).where(
            ES.c.kind == "overdue", ES.c.state == "false")).scalar() == 2

    def fired() -> list[str]:
        with db.read() as c:
            return [orgs[o] for o in c.execute(sa.select(EV.c.org_id).order_by(EV.c.id)).scalars()]

    assert date_pass(db, now=_at(DUE, 9, 59)) == 2  # 23:59 on DUE in Kiritimati; each org's first pass today
    assert fired() == []
    assert date_pass(db, now=_at(DUE, 10, 30)) == 2  # a new day in both: DUE+1 in Kiritimati, DUE in Honolulu
    assert fired() == ["east"]
    assert date_pass(db, now=_at(DUE, 10, 31)) == 0  # known overdue: not a candidate any more
    assert date_pass(db, now=_at(DUE + timedelta(days=1), 9, 59)) == 0  # 23:59 on DUE in Honolulu
    date_pass(db, now=_at(DUE + timedelta(days=1), 10, 0))
    assert fired() == ["east", "west"]
    _, data = events(db, "milestone.overdue")[-1]
    assert data["days_overdue"] == 1 and data["due_date"] == DUE.isoformat()


def test_one_organizations_failing_date_pass_does_not_hold_back_the_others(db, monkeypatch):
    """Found in review: an error evaluating one organization ended the whole pass, every minute,
    so the organizations after it never got their date-driven events."""
    import service.state_events.transitions as tr

    orgs = []
    for name in ("a", "b"):
        org = make_org(db, name)
        src = make_source(db, org, name=f"jira-{name}")
        subscribe(db, org, ["milestone.*"])
        _write(db, org, src, [_milestone()])
        orgs.append(org)
    real, seen = tr.evaluate_projects, []

    def flaky(conn, org_id, ids, **kw):
        if org_id == orgs[0]:
            raise RuntimeError("a bad row of organization a")
        seen.append(org_id)
        return real(conn, org_id, ids, **kw)

    monkeypatch.setattr(tr, "evaluate_projects", flaky)
    assert tr.date_pass(db) == 1
    assert seen == [orgs[1]]


def test_the_first_pass_of_a_day_fires_what_the_date_alone_moved(world):
    """At risk with no change: one open task, throughput 1/4 a week → forecast 28 days ahead;
    due in 30 days, on track today, at risk three days later."""
    db, org, src = world
    done = task("1", minutes=1, status="Done", category=StatusCategory.done,
                milestones=[MilestoneRef(external_id="v1")], completed_at=datetime.now(UTC) - timedelta(days=1))
    _write(db, org, src, [_milestone(due=TODAY + timedelta(days=30)), done,
                          task("2", milestones=[MilestoneRef(external_id="v1")])])
    date_pass(db, now=_at(TODAY, 23, 0))
    date_pass(db, now=_at(TODAY + timedelta(days=1), 23, 0))  # forecast +29: still on track
    assert events(db) == []
    date_pass(db, now=_at(TODAY + timedelta(days=3), 1, 0))
    date_pass(db, now=_at(TODAY + timedelta(days=3), 2, 0))  # same day: candidates only
    [(kind, data)] = events(db)
    assert (kind, data["forecast_finish"]) == ("milestone.at_risk", (TODAY + timedelta(days=31)).isoformat())


def test_a_sync_run_evaluates_its_sources_projects(world):
    db, org, src = world
    _write(db, org, src, [_milestone()])
    pid = _project(db, org)
    with db.write() as c:  # a sync page writes without evaluating
        store.upsert_milestones(c, org, src, [_milestone(released=True, minutes=1)])
    assert events(db) == []
    with db.write() as c:
        evaluate_projects(c, org, [pid])
    assert _kinds(db, "milestone.") == ["milestone.completed"]


# --- the thresholds through the API; a budget change is a transition too ------------------------


def _api_world(db: Database, client, acme) -> int:
    src = make_source(db, acme.org_id)
    subscribe(db, acme.org_id, ["budget.*"])
    with db.write() as c:
        c.execute(sa.update(ORG).where(ORG.c.id == acme.org_id).values(default_hourly_rate=Decimal(100),
                                                                       currency="USD"))
    _write(db, acme.org_id, src, [task("1")])
    _write(db, acme.org_id, src, [_worklog("w1", 6, datetime.now(UTC) - timedelta(days=1))])  # AC 600
    return _project(db, acme.org_id)


def test_thresholds_are_set_per_project_and_a_lowered_budget_crosses_them(db, client, acme):
    pid = _api_world(db, client, acme)
    assert client.get(f"/api/v1/projects/{pid}", headers=acme.h()).json()["budget_thresholds"] == [50, 80, 100]
    r = client.patch(f"/api/v1/projects/{pid}", json={"budget": {"amount": 2000, "currency": "USD"},
                                                      "budget_thresholds": [90, 25, 25]}, headers=acme.h("write"))
    assert r.status_code == 200, r.text
    assert r.json()["budget_thresholds"] == [25, 90]
    # AC 600 of 2,000 is 30 %: 25 % crossed — in the PATCH's transaction
    assert [(d["threshold"], d["bac"]) for _, d in events(db, "budget.threshold")] == [(25, 2000.0)]
    client.patch(f"/api/v1/projects/{pid}", json={"budget": {"amount": 650, "currency": "USD"}},
                 headers=acme.h("write"))  # 92 %
    client.patch(f"/api/v1/projects/{pid}", json={"planned_start": None}, headers=acme.h("write"))  # no change
    assert [d["threshold"] for _, d in events(db, "budget.threshold")] == [25, 90]
    r = client.patch(f"/api/v1/projects/{pid}", json={"budget_thresholds": None}, headers=acme.h("write"))
    assert r.json()["budget_thresholds"] == [50, 80, 100]


@pytest.mark.parametrize("bad", [[0], [1001], [], ["high"], [50.5], list(range(1, 12))])
def test_bad_thresholds_are_a_422_naming_the_field(db, client, acme, bad):
    pid = _api_world(db, client, acme)
    r = client.patch(f"/api/v1/projects/{pid}", json={"budget_thresholds": bad}, headers=acme.h("write"))
    assert r.status_code == 422, r.text
    assert "budget_thresholds" in r.text


# --- the hooks: the inbox's commit and a sync run evaluate what they touched ------------------


def test_an_inbox_batch_fires_in_its_commit(world, tmp_path):
    from service.ingest.inbox import Outcome, claim, process_batch
    from service.tables import InboxEvent
    from tests.service.conftest import make_settings

    db, org, src = world
    _write(db, org, src, [_milestone()])
    now = datetime.now(UTC)
    with db.write() as c:
        c.execute(sa.insert(table(InboxEvent)).values(
            org_id=org, source_id=src, kind="jira", dedupe_key="k1", received_at=now, headers={}, body=b"{}",
            status="pending", attempts=0, next_attempt_at=now))
    batch = claim(db, "w1", batch=10, lease_seconds=30)
    process_batch(db, make_settings(tmp_path), "w1", batch,
                  {"jira": lambda ctx, evs: [Outcome("done", effects=[_milestone(released=True, minutes=1)])]},
                  max_attempts=3)
    assert _kinds(db, "milestone.") == ["milestone.completed"]


def _synced_before(db: Database, org: int, src: int) -> None:
    """A successful sync run of the source in the past: the next one is not its first."""
    from service.tables import SyncRun

    with db.write() as c:
        c.execute(sa.insert(table(SyncRun)).values(org_id=org, source_id=src, mode="backfill", status="ok",
                                                   started_at=datetime.now(UTC) - timedelta(days=1),
                                                   finished_at=datetime.now(UTC) - timedelta(days=1)))


def test_a_sync_run_fires_at_its_end(world, monkeypatch):
    import service.sync.runner as runner
    from service.sources import SourceSecrets

    db, org, src = world
    _write(db, org, src, [_milestone()])
    _synced_before(db, org, src)  # not its first sync: that one is silent

    class Syncer:
        client = type("Client", (), {"api_calls": 0})()

        def __init__(self, ctx):
            self.ctx = ctx

        def run(self, mode):
            with self.ctx.db.write() as c:  # a page: written, not evaluated
                store.upsert_milestones(c, org, src, [_milestone(released=True, minutes=1)])

    monkeypatch.setitem(runner.SYNCERS, "jira", Syncer)
    monkeypatch.setattr(runner, "source_secrets", lambda settings, source: SourceSecrets({}, None))
    runner.run_sync(db, None, src, mode="backfill")  # quiet for tasks, not for milestone states
    assert _kinds(db, "milestone.") == ["milestone.completed"]


def test_a_failed_sync_run_fires_what_its_committed_pages_moved(world, monkeypatch):
    """Found in review: the evaluation ran only after a successful run, so a page committed before
    a failure fired its transitions a run, a batch or a day later."""
    import service.sync.runner as runner
    from connectors.errors import Transient
    from service.sources import SourceSecrets

    db, org, src = world
    _write(db, org, src, [_milestone()])
    _synced_before(db, org, src)

    class Syncer:
        client = type("Client", (), {"api_calls": 0})()

        def __init__(self, ctx):
            self.ctx = ctx

        def run(self, mode):
            with self.ctx.db.write() as c:  # a page committed, then the tool fails
                store.upsert_milestones(c, org, src, [_milestone(released=True, minutes=1)])
            raise Transient("boom")

    monkeypatch.setitem(runner.SYNCERS, "jira", Syncer)
    monkeypatch.setattr(runner, "source_secrets", lambda settings, source: SourceSecrets({}, None))
    with pytest.raises(Transient):
        runner.run_sync(db, None, src, mode="incremental")
    assert _kinds(db, "milestone.") == ["milestone.completed"]


def test_a_first_sync_announces_no_history_even_when_evaluated_midway(world, monkeypatch):
    """Found in review: a webhook batch (or the worker's day pass) evaluating the project while the
    source's first sync was still writing recorded a partial figure, and the end of the run then
    announced a year of worklogs as a budget threshold crossed now. A first sync's projects are
    left out until it completes, and its end records their states silently."""
    import service.sync.runner as runner
    from service.sources import SourceSecrets

    db, org, src = world
    day = datetime.now(UTC) - timedelta(days=1)

    class Syncer:
        client = type("Client", (), {"api_calls": 0})()

        def __init__(self, ctx):
            self.ctx = ctx

        def run(self, mode):
            with db.write() as c:  # page 1: the task, and the project's budget
                store.apply_effects(c, org, src, [task("1"), _milestone()])
                pid = c.execute(sa.select(PR.c.id).where(PR.c.org_id == org)).scalar_one()
                c.execute(sa.update(ORG).where(ORG.c.id == org).values(default_hourly_rate=Decimal(100),
                                                                       currency="USD"))
                c.execute(sa.update(PR).where(PR.c.id == pid).values(budget_amount=Decimal(1000),
                                                                     budget_currency="USD"))
            _write(db, org, src, [task("1", minutes=5, status="In Progress")])  # a webhook meanwhile
            with db.write() as c:  # page 2: the worklogs (90 %), the milestone released long ago
                store.apply_effects(c, org, src, [_worklog("w1", 9, day), _milestone(released=True, minutes=1)])
            _write(db, org, src, [task("1", minutes=6, status="Done")])  # another webhook

    monkeypatch.setitem(runner.SYNCERS, "jira", Syncer)
    monkeypatch.setattr(runner, "source_secrets", lambda settings, source: SourceSecrets({}, None))
    runner.run_sync(db, None, src, mode="incremental")  # the source's first sync
    assert _kinds(db, "budget.") == [] and _kinds(db, "milestone.") == []
    _write(db, org, src, [_worklog("w2", 1, day)])  # after it: 100 % is news
    assert [d["threshold"] for _, d in events(db, "budget.threshold")] == [100]


def test_taskhub_apply_fires_what_its_budgets_cross(world):
    from service.portfolio.apply import apply_document, parse_document

    db, org, src = world
    _write(db, org, src, [task("1")])
    with db.write() as c:
        c.execute(sa.update(ORG).where(ORG.c.id == org).values(default_hourly_rate=Decimal(100), currency="USD"))
    _write(db, org, src, [_worklog("w1", 9, datetime.now(UTC) - timedelta(days=1))])  # AC 900
    doc = parse_document({"projects": [{"source": "jira-cloud", "key": "PRJ",
                                        "budget": {"amount": 1000, "currency": "USD"},
                                        "budget_thresholds": [75]}]})
    with db.session() as s:
        apply_document(s, org, doc)
        s.commit()
    assert [(d["threshold"], d["consumed_share"]) for _, d in events(db, "budget.")] == [(75, 0.9)]
