"""``as_of`` in the past reproduces what the views said then (history from changes and worklogs).

The views are computed as of 2026-03-01 right after the phase-1 sync (what a PM saw that
evening), then the later syncs land (status changes, a deletion, new tasks and worklogs,
a deleted worklog), and the same views as of 2026-03-01 must say the same again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from service.views import ViewParams, compute_view
from tests.views.portfolio_data import make_world, phase1, phase2

THEN = date(2026, 3, 1)
VIEWS = [
    ("progress", None),
    ("progress", "project"),
    ("budget", "project"),
    ("budget", "person"),
    ("milestones", None),
    ("flow", "project"),
    ("workload", None),
    ("workload", "project"),
]
# The tools keep no history of time-tracking fields: those are their current values.
NO_HISTORY = {"spent_seconds", "remaining_seconds", "percent_complete_time", "time_tracked"}


def _strip(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if k not in NO_HISTORY}
    if isinstance(v, list):
        return [_strip(x) for x in v]
    return v


def _all(db, org_id: int) -> dict[tuple[str, str | None], Any]:
    return {(n, g): _strip(compute_view(db, org_id, n, ViewParams(as_of=THEN, group_by=g))) for n, g in VIEWS}


def test_views_as_of_the_past_say_what_they_said_then(db):
    w = phase1(db, make_world(db))
    before = _all(db, w.org_id)
    phase2(db, w)
    after = _all(db, w.org_id)
    # Milestone due dates have no history (the tools give the current one): version 1.1 was moved
    # from 03-20 to 03-25 after 03-01, so its due date and slip are today's. Everything else agrees.
    for snap in (before, after):
        for m in snap[("milestones", None)]["milestones"]:
            if m["name"] == "1.1":
                m.pop("due_date"), m.pop("slip_days")
    assert after == before


def test_figures_as_of_the_past_are_the_hand_computed_ones(db):
    w = phase2(db, phase1(db, make_world(db)))
    p = compute_view(db, w.org_id, "progress", ViewParams(as_of=THEN))["total"]
    # On 03-01: ALP A1 done, A2 A3 in progress, A4 A5 A6 A9 todo (A9 deleted only on 03-02);
    # BETA C1 done, C4 todo (moved to done on 03-05); C2, C3, A8 did not exist yet.
    assert (p["scope"], p["done"], p["in_progress"], p["todo"]) == (9, 2, 2, 5)
    assert (p["estimate_total"], p["estimate_done"]) == (21, 3)  # 3+5+5+2+5+1 points; A1
    assert p["percent_complete_estimate"] == 0.1429  # 3 / 21
    b = compute_view(db, w.org_id, "budget", ViewParams(as_of=THEN, group_by="project"))
    alp = next(g for g in b["groups"] if g["group"]["name"] == "ALP")
    # W1 4h×100 + W2 6h×100 + W4 8h×60 + W8 4h×60 (deleted only on 03-05) = 1720, + A5 80.
    assert (alp["ac"], alp["ac_labour"], alp["hours"]) == (1800, 1720, 22)
    assert alp["pv"] == 10000  # 20 of 40 working days (02-02..02-27) — 03-01 is a Sunday
    flow = compute_view(db, w.org_id, "flow", ViewParams(as_of=THEN))["total"]
    assert flow["wip"] == 2 and flow["lead_time_days"]["count"] == 2  # A1 (10 d), C1 (3 d)
    wl = compute_view(db, w.org_id, "workload", ViewParams(as_of=THEN))
    ann = next(x for x in wl["people"] if x["person"]["name"] == "Ann")
    # A2, A4 open (A4 due 03-10); this ISO week is Mon 02-23..Sun 03-01: W2 6 h on 02-24.
    assert (ann["open_tasks"], ann["overdue_tasks"], ann["hours_this_week"]) == (2, 0, 6)


def test_a_due_date_moved_later_is_judged_by_the_date_it_had_then(db):
    from service import store
    from tests.views.portfolio_data import BOB, TODO, _jira, at

    w = phase1(db, make_world(db))
    with db.write() as c:  # A6 gets a due date of 02-27 on 02-20, moved to 04-30 on 03-04
        store.upsert_tasks(
            c,
            w.org_id,
            w.jira,
            [_jira("A6", at(2, 16), at(2, 20), TODO, points=5, who=BOB, due_date=date(2026, 2, 27))],
        )
        store.upsert_tasks(
            c,
            w.org_id,
            w.jira,
            [_jira("A6", at(2, 16), at(3, 4), TODO, points=5, who=BOB, due_date=date(2026, 4, 30))],
        )
    then = compute_view(db, w.org_id, "workload", ViewParams(as_of=THEN))
    bob = next(x for x in then["people"] if x["person"]["name"] == "Bob")
    assert bob["overdue_tasks"] == 1  # on 03-01 A6 was due 02-27
    now = compute_view(db, w.org_id, "workload", ViewParams(as_of=date(2026, 3, 11)))
    assert next(x for x in now["people"] if x["person"]["name"] == "Bob")["overdue_tasks"] == 0


def test_as_of_now_reads_the_current_state_and_agrees_with_the_history(db):
    """Nothing was synced after "now": the views read the plain columns (the fast path), and
    replaying the history instead gives exactly the same answer."""
    from dataclasses import replace

    from service.views import VIEWS as FNS
    from service.views import resolve_selection

    w = phase2(db, phase1(db, make_world(db)))
    with db.read() as c:
        for name, group in VIEWS:
            sel = resolve_selection(c, w.org_id, ViewParams(group_by=group))
            assert sel.history is False
            assert FNS[name](c, sel) == FNS[name](c, replace(sel, history=True)), (name, group)
        past = resolve_selection(c, w.org_id, ViewParams(as_of=THEN))
        assert past.history is True
