"""Milestone history (METRICS.md, Milestones): every due-date change kept, slip as a series,
a baseline a PM sets or resets, and ``as_of`` judged by the due date of that moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from mappings.model import Milestone, MilestoneUpsert
from service.store.records import record_milestone_history, set_milestone_baseline, upsert_milestones
from service.tables import MilestoneChange, table
from service.views import ViewParams, compute_view
from tests.views.portfolio_data import make_world

MC = table(MilestoneChange)


def _v(due: date | None, updated: datetime | None, *, released: bool = False) -> MilestoneUpsert:
    return MilestoneUpsert(milestone=Milestone(external_id="v1", project_external_id="100", name="1.0",
                                               due_date=due, released=released, updated_at=updated))


def _history(db) -> list[tuple[str, str | None, str | None, str]]:
    with db.read() as c:
        return [tuple(r) for r in c.execute(
            sa.select(MC.c.field, MC.c.old_value, MC.c.new_value, MC.c.origin).order_by(MC.c.id))]


def _milestone(db, org_id: int, as_of: date) -> dict:
    view = compute_view(db, org_id, "milestones", ViewParams(as_of=as_of))
    (m,) = view["milestones"]
    return m


def test_every_change_is_recorded_once_with_its_origin(db):
    w = make_world(db)
    now = datetime.now(UTC)
    with db.write() as c:
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 5, 1), None)])
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 5, 1), None)])  # nothing changed
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 6, 1), now)])  # moved later
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 5, 20), now + timedelta(seconds=1))])  # earlier
        upsert_milestones(c, w.org_id, w.jira, [_v(None, now + timedelta(seconds=2), released=True)])
    assert _history(db) == [
        ("due_date", None, "2026-05-01", "first_seen"),
        ("released", None, "false", "first_seen"),
        ("completed_at", None, None, "first_seen"),  # known to be empty: recorded too
        ("due_date", "2026-05-01", "2026-06-01", "sync"),
        ("due_date", "2026-06-01", "2026-05-20", "sync"),
        ("due_date", "2026-05-20", None, "sync"),
        ("released", "false", "true", "sync"),
    ]


def test_a_change_is_dated_between_the_last_sighting_and_now(db):
    """Dated by the vendor's update time when it falls after the last recorded change and by now;
    a time before the last change, or in the future, cannot be when the value changed: now is."""
    w = make_world(db)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    later = datetime.now(UTC) + timedelta(days=400)
    with db.write() as c:
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 5, 1), long_ago)])
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 6, 1), long_ago + timedelta(days=1))])
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 7, 1), long_ago + timedelta(days=2))])
        c.execute(sa.update(MC).where(MC.c.new_value == "2026-07-01").values(at=datetime.now(UTC)))
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 8, 1), long_ago + timedelta(days=3))])
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 9, 1), later)])
    with db.read() as c:
        ats = [a.replace(tzinfo=UTC) for a in
               c.execute(sa.select(MC.c.at).where(MC.c.field == "due_date").order_by(MC.c.id)).scalars()]
    assert ats[:2] == [long_ago, long_ago + timedelta(days=1)]
    assert ats[3] > ats[2] > long_ago + timedelta(days=300)  # behind the last change: now
    assert ats[4] < later


def test_milestones_synced_before_history_get_their_first_row_on_the_next_sync(db):
    w = make_world(db)
    with db.write() as c:
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 5, 1), None)])
        c.execute(sa.delete(MC))  # as a database migrated to 0016 holds it
    assert _milestone(db, w.org_id, date.today())["due_date_rule"] == "current"
    with db.write() as c:
        assert record_milestone_history(c, w.org_id, w.jira, ["v1"], datetime.now(UTC)) == 3
    assert [h[3] for h in _history(db)] == ["first_seen"] * 3


def test_as_of_uses_the_due_date_of_that_moment_and_slip_has_a_series(db):
    w = make_world(db)
    with db.write() as c:
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 5, 1), None)])
    with db.write() as c:  # the move is dated: the first sighting was a week ago
        c.execute(sa.update(MC).values(at=datetime.now(UTC) - timedelta(days=7)))
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 6, 1), None)])
    today = date.today()
    before_move = _milestone(db, w.org_id, today - timedelta(days=3))
    assert (before_move["due_date"], before_move["due_date_rule"]) == ("2026-05-01", "history")
    assert before_move["slip_days"] == 0
    assert [s["due_date"] for s in before_move["slip_series"]] == ["2026-05-01"]
    after = _milestone(db, w.org_id, today)
    assert (after["due_date"], after["baseline_due_date"], after["slip_days"]) == ("2026-06-01", "2026-05-01", 31)
    assert [(s["due_date"], s["slip_days"], s["origin"]) for s in after["slip_series"]] == [
        ("2026-05-01", 0, "first_seen"), ("2026-06-01", 31, "sync")]
    earliest = _milestone(db, w.org_id, today - timedelta(days=30))
    assert (earliest["due_date"], earliest["due_date_rule"]) == ("2026-05-01", "earliest_known")
    assert "earliest known" in earliest["reasons"]["due_date"]
    assert earliest["slip_series"] == []


def test_a_pm_baseline_is_kept_by_syncs_and_a_reset_takes_the_current_due_date(db):
    w = make_world(db)
    with db.write() as c:
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 5, 1), None)])
        mid = c.execute(sa.select(sa.func.min(MC.c.milestone_id))).scalar_one()
        c.execute(sa.update(MC).values(at=datetime.now(UTC) - timedelta(days=7)))
    with db.write() as c:
        out = set_milestone_baseline(c, w.org_id, mid, date(2026, 4, 15), "alice")
        assert out is not None and out["previous"] == date(2026, 5, 1)
        c.execute(sa.update(MC).where(MC.c.field == "baseline").values(at=datetime.now(UTC) - timedelta(days=5)))
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 6, 1), None)])
    today = date.today()
    m = _milestone(db, w.org_id, today)
    assert (m["baseline_due_date"], m["slip_days"]) == ("2026-04-15", 47)
    before_pm = _milestone(db, w.org_id, today - timedelta(days=6))
    assert (before_pm["baseline_due_date"], before_pm["slip_days"]) == ("2026-05-01", 0)
    with db.write() as c:
        reset = set_milestone_baseline(c, w.org_id, mid, None, "alice")
        assert reset is not None and reset["reset"] is True
        assert set_milestone_baseline(c, w.org_id + 1000, mid, None, "mallory") is None
    m = _milestone(db, w.org_id, today)
    assert (m["baseline_due_date"], m["slip_days"]) == ("2026-06-01", 0)
    assert [h for h in _history(db) if h[0] == "baseline"] == [
        ("baseline", "2026-05-01", "2026-04-15", "pm"), ("baseline", "2026-04-15", "2026-06-01", "pm")]


def test_the_baseline_api_sets_resets_and_answers_bad_input_clearly(client, make_org):
    a, b = make_org("a"), make_org("b")
    ms = {m["external_id"]: m for m in client.get("/api/v1/milestones", headers=a.h()).json()}
    v2 = ms["v2"]
    url = f"/api/v1/milestones/{v2['id']}/baseline"
    r = client.post(url, json={"due_date": "2026-03-01"}, headers=a.h("write"))
    assert r.status_code == 200, r.text
    assert r.json() == {"milestone_id": v2["id"], "baseline_due_date": "2026-03-01",
                        "previous": v2["baseline_due_date"], "reset": False, "changed": True}
    view = client.get("/api/v1/views/milestones", headers=a.h()).json()
    item = next(m for m in view["milestones"] if m["id"] == v2["id"])
    assert item["baseline_due_date"] == "2026-03-01"
    assert item["slip_days"] == (date.fromisoformat(item["due_date"]) - date(2026, 3, 1)).days
    r = client.post(url, json={"due_date": None}, headers=a.h("write"))
    assert r.json()["baseline_due_date"] == v2["due_date"] and r.json()["reset"] is True
    assert client.post(url, json={"due_date": None}, headers=a.h("write")).json()["changed"] is False
    # Read tokens cannot, another organization's milestone is not found, bad bodies name the field.
    assert client.post(url, json={"due_date": None}, headers=a.h("read")).status_code == 403
    other = client.post(url, json={"due_date": None}, headers=b.h("write"))
    assert other.status_code == 404 and other.headers["content-type"].startswith("application/problem+json")
    for body in ({}, {"due_date": "03/01/2026"}, {"due_date": "0001-01-01"}, {"due_date": None, "x": 1}):
        bad = client.post(url, json=body, headers=a.h("write"))
        assert bad.status_code == 422, (body, bad.text)
        assert bad.headers["content-type"].startswith("application/problem+json")


def test_a_due_date_known_to_be_empty_is_not_taken_for_the_earliest_known(db):
    """Seen without a due date ten days ago, given one (a week ago) today: as of five days ago
    it had none, so it was not overdue."""
    w = make_world(db)
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    with db.write() as c:
        upsert_milestones(c, w.org_id, w.jira, [_v(None, ten_days_ago)])
        upsert_milestones(c, w.org_id, w.jira, [_v(date.today() - timedelta(days=7), datetime.now(UTC))])
    m = _milestone(db, w.org_id, date.today() - timedelta(days=5))
    assert (m["due_date"], m["due_date_rule"], m["overdue"]) == (None, "history", False)
    assert _milestone(db, w.org_id, date.today())["overdue"] is True


def test_as_of_uses_the_completion_time_of_that_moment(db):
    """A Trello milestone card's completion time moves with later activity (a comment): as of a
    day between, it was already complete."""
    w = make_world(db)
    done = datetime.now(UTC) - timedelta(days=10)
    due = date.today() - timedelta(days=12)

    def card(completed: datetime, updated: datetime) -> MilestoneUpsert:
        return MilestoneUpsert(milestone=Milestone(external_id="mc", project_external_id="b1", name="Beta",
                                                   due_date=due, completed_at=completed, updated_at=updated))

    with db.write() as c:
        upsert_milestones(c, w.org_id, w.trello, [card(done, done)])
        later = datetime.now(UTC) - timedelta(days=2)
        upsert_milestones(c, w.org_id, w.trello, [card(later, later)])
    m = _milestone(db, w.org_id, date.today() - timedelta(days=5))
    assert (m["completed"], m["overdue"]) == (True, False)


def test_a_baseline_cannot_be_reset_without_a_due_date(client, make_org, db):
    a = make_org("a")
    with db.write() as c:
        upsert_milestones(c, a.world.org_id, a.world.jira, [_v(None, None)])
    mid = next(m["id"] for m in client.get("/api/v1/milestones", headers=a.h()).json() if m["external_id"] == "v1")
    url = f"/api/v1/milestones/{mid}/baseline"
    r = client.post(url, json={"due_date": None}, headers=a.h("write"))
    assert r.status_code == 422 and "no due date to reset the baseline to" in r.text
    assert client.post(url, json={"due_date": "2026-05-01"}, headers=a.h("write")).status_code == 200
    for number in (0, 1767225600, 1.5, True):
        assert client.post(url, json={"due_date": number}, headers=a.h("write")).status_code == 422


def test_the_figures_without_the_slip_series_are_the_views(db):
    """``milestone_items(slip_series=False)`` (the risk view's read) replays only the milestones
    changed after ``as_of``: its figures equal the milestones view's at every as_of — before the
    first record, between a move and a PM's baseline, now — but the series and the due-date rule."""
    from service.views import resolve_selection
    from service.views.milestones import milestone_items

    w = make_world(db)
    with db.write() as c:
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 5, 1), None)])
        mid = c.execute(sa.select(sa.func.min(MC.c.milestone_id))).scalar_one()
        c.execute(sa.update(MC).values(at=datetime.now(UTC) - timedelta(days=9)))
        upsert_milestones(c, w.org_id, w.jira, [_v(date(2026, 6, 1), None, released=False)])
        c.execute(sa.update(MC).where(MC.c.new_value == "2026-06-01").values(at=datetime.now(UTC) - timedelta(days=7)))
        set_milestone_baseline(c, w.org_id, mid, date(2026, 4, 15), "alice")
        c.execute(sa.update(MC).where(MC.c.field == "baseline").values(at=datetime.now(UTC) - timedelta(days=5)))
    today = date.today()
    drop = ("slip_series", "due_date_rule", "reasons")
    seen = set()
    for as_of in (today - timedelta(days=12), today - timedelta(days=8), today - timedelta(days=6), today):
        view = compute_view(db, w.org_id, "milestones", ViewParams(as_of=as_of))["milestones"]
        with db.read() as c:
            items = milestone_items(c, resolve_selection(c, w.org_id, ViewParams(as_of=as_of)), slip_series=False)
        assert [{k: v for k, v in m.items() if k not in drop} for m in items] == \
            [{k: v for k, v in m.items() if k not in drop} for m in view], as_of
        assert all(m["slip_series"] == [] for m in items)
        seen.add((view[0]["due_date"], view[0]["baseline_due_date"]))
    assert seen == {("2026-05-01", "2026-05-01"), ("2026-06-01", "2026-05-01"), ("2026-06-01", "2026-04-15")}
