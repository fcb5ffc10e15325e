"""Issue 20, milestones (METRICS.md, Milestones): a milestone with no linked tasks has no
forecast and no percent complete (null, reason "no linked tasks") yet is still overdue when
its date passed; a milestone released/completed with linked tasks still open is flagged
``completed_with_open_tasks`` with their count. Both stores (the ``db`` fixture)."""

from __future__ import annotations

from datetime import date

from service import store
from service.views import ViewParams, compute_view
from tests.views.portfolio_data import BOB, DONE, TODO, _jira, _version, at, make_world


def _setup(db):
    w = make_world(db)
    with db.write() as c:
        store.upsert_milestones(
            c,
            w.org_id,
            w.jira,
            [
                _version("empty-past", "empty past", date(2026, 3, 1), at(2, 1)),
                _version("empty-future", "empty future", date(2026, 4, 30), at(2, 1)),
                _version("empty-released", "empty released", date(2026, 3, 1), at(2, 1), released=True),
                _version("rel-open", "released with open", date(2026, 3, 5), at(2, 1), released=True),
                _version("rel-clean", "released clean", date(2026, 3, 5), at(2, 1), released=True),
            ],
        )
        store.upsert_tasks(
            c,
            w.org_id,
            w.jira,
            [
                _jira("1", at(2, 2), at(2, 2), TODO, who=BOB, ms="rel-open"),
                _jira("2", at(2, 2), at(2, 2), TODO, who=BOB, ms="rel-open"),
                _jira("3", at(2, 2), at(2, 3), DONE, who=BOB, ms="rel-open"),
                _jira("4", at(2, 2), at(2, 3), DONE, who=BOB, ms="rel-clean"),
            ],
        )
    return w


def test_milestone_with_no_linked_tasks_has_no_forecast_but_is_still_overdue(db):
    w = _setup(db)
    v = compute_view(db, w.org_id, "milestones", ViewParams(as_of=date(2026, 3, 10)))
    ms = {m["name"]: m for m in v["milestones"]}
    past, future, released = ms["empty past"], ms["empty future"], ms["empty released"]
    for m in (past, future):
        assert (m["tasks"], m["open"], m["done"]) == (0, 0, 0)
        # Was: forecast_finish == as_of_date ("today") for a 0/0 milestone.
        assert m["forecast_finish"] is None and m["reasons"]["forecast_finish"] == "no linked tasks"
        assert m["percent_complete"] is None and m["reasons"]["percent_complete"] == "no linked tasks"
        assert m["completed_with_open_tasks"] is False and m["completed_open_tasks"] is None
    # Due 03-01, not released, as of 03-10: overdue by 9 days (hand-computed), shown as such.
    assert (past["overdue"], past["days_overdue"], past["status"]) == (True, 9, "overdue")
    assert "no linked tasks" in v["definitions"]["no_linked_tasks"]
    # Not overdue yet: no forecast, so at risk cannot be said (null, with the reason).
    assert (future["overdue"], future["at_risk"], future["status"]) == (False, None, "unknown")
    assert future["reasons"]["at_risk"] == "no linked tasks"
    # Released (completed): not overdue, nothing open, not flagged.
    assert (released["completed"], released["overdue"], released["completed_with_open_tasks"]) == (True, False, False)
    assert v["total"]["overdue"] == 1


def test_released_milestone_with_open_tasks_is_flagged_with_their_count(db):
    w = _setup(db)
    v = compute_view(db, w.org_id, "milestones", ViewParams(as_of=date(2026, 3, 10)))
    ms = {m["name"]: m for m in v["milestones"]}
    m = ms["released with open"]
    # Tasks 1 and 2 open, task 3 done: 2 open / 1 done, 1/3 complete.
    assert (m["completed"], m["status"], m["open"], m["done"]) == (True, "done", 2, 1)
    assert (m["completed_with_open_tasks"], m["completed_open_tasks"]) == (True, 2)
    assert m["reasons"]["completed_with_open_tasks"] == "marked released/completed while 2 linked tasks are still open"
    clean = ms["released clean"]
    assert (clean["completed_with_open_tasks"], clean["completed_open_tasks"]) == (False, None)
    assert "completed_with_open_tasks" not in clean["reasons"]
    assert "completed_with_open_tasks" in v["definitions"]["completed_with_open_tasks"]
    # The total counts the flagged ones (the dashboard's "Completed" card names them).
    assert v["total"]["completed_with_open_tasks"] == 1
