"""Scope creep's project moves, more cases (review of issue 23's moves): a task moved twice after
the baseline, into a project without a planned start, estimate changes of a moved task, the
selection's project and source filters with moved tasks. Data: ``test_risk_view``'s ``creeping``
(ALP's baseline the end of 02-02: A1 A2 A3 A9 = 15 points then; A3 4 → 5 points on 03-05)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from tests.views.conftest import Org, by_name, get_view
from tests.views.portfolio_data import at
from tests.views.test_risk_view import (
    AS_OF,
    P,
    _creep,
    _keys,
    _ops_planned,
    _project_moves,
    add_creep_data,
    add_risk_data,
)


@pytest.fixture
def creeping(db, world) -> tuple[Org, dict[str, int]]:
    ids = add_risk_data(db, world)
    add_creep_data(db, world)
    return world, ids


def _zed(db: Any, org: Any, *, planned: date | None = None) -> int:
    """ZED, a third Jira project (external id 300)."""
    w = org.world
    with db.write() as c:
        return c.execute(sa.insert(P).values(org_id=w.org_id, source_id=w.jira, external_id="300", key="ZED",
                                             name="ZED", planned_start=planned, created_at=at(1, 1))
                         .returning(P.c.id)).scalar_one()


def test_moved_twice_after_the_baseline_last_into_a_project_without_a_planned_start(client, db, creeping):
    """A3 (4 points at ALP's baseline, raised to 5 on 03-05) moved ALP → OPS on 02-15 and OPS → ZED
    (no planned start: no scope) on 02-25. As of 03-11: ALP has it removed (baseline 4 tasks, 15
    points; its raise is not ALP's: raised 0); OPS never had it at an instant that counts (O1 alone
    added); ZED shows no scope creep. As of 02-20 (between the moves) OPS has it added at 4 points."""
    org, _ = creeping
    j = org.world.jira
    _ops_planned(db, org)
    zed = _zed(db, org)
    _project_moves(db, org, [(j, "A3", "h2:0", "100", "200", at(2, 15)), (j, "A3", "h3:0", "200", "300", at(2, 25))],
                   {"A3": {"project_id": zed}})
    g = _creep(client, org, AS_OF)
    alp = g["ALP"]
    assert (alp["baseline_tasks"], alp["removed_tasks"], alp["added_tasks"], alp["baseline_estimate"]) == (4, 2, 3, 15)
    assert alp["raised_estimate"] == 0
    assert (g["OPS"]["baseline_tasks"], g["OPS"]["added_tasks"], _keys(g["OPS"]["tasks"])) == (0, 1, ["OPS-1"])
    assert g["ZED"].get("baseline_tasks") in (None, 0) and g["ZED"].get("added_tasks") in (None, 0)
    mid = _creep(client, org, "2026-02-20")
    assert (mid["OPS"]["added_tasks"], mid["OPS"]["added_estimate"], _keys(mid["OPS"]["tasks"])) == (1, 4, ["ALP-A3"])
    assert mid["ALP"]["removed_tasks"] == 1  # A3 (A9 was deleted on 03-02)


def test_moved_into_a_project_whose_baseline_is_after_the_move(client, db, creeping):
    """A3 moved ALP → ZED on 02-15, ZED planned from 02-20: A3 is in ZED's baseline (not added) and
    its raise on 03-05 is ZED's (4 → 5: raised 1); ALP has it removed."""
    org, _ = creeping
    zed = _zed(db, org, planned=date(2026, 2, 20))
    _project_moves(db, org, [(org.world.jira, "A3", "h2:0", "100", "300", at(2, 15))], {"A3": {"project_id": zed}})
    g = _creep(client, org, AS_OF)
    z = g["ZED"]
    assert (z["baseline_tasks"], z["added_tasks"], z["removed_tasks"], z["baseline_estimate"]) == (1, 0, 0, 4)
    assert z["raised_estimate"] == 1
    assert (g["ALP"]["removed_tasks"], g["ALP"]["raised_estimate"]) == (2, 0)


def test_the_project_and_source_filters_with_a_moved_task(client, db, creeping):
    """A2 moved ALP → OPS on 02-20. Filtered to ALP, or to OPS, or to the Jira source, each project
    shows what it shows unfiltered; filtered to the Trello source, neither ALP nor OPS is there."""
    org, ids = creeping
    ops = _ops_planned(db, org)
    w = org.world
    _project_moves(db, org, [(w.jira, "A2", "h1:0", "100", "200", at(2, 20))], {"A2": {"project_id": ops}})
    whole = _creep(client, org, AS_OF)

    def figures(s: dict[str, Any]) -> tuple[Any, ...]:
        return (s["baseline_tasks"], s["added_tasks"], s["removed_tasks"], s["baseline_estimate"],
                s["added_estimate"], _keys(s["tasks"]))

    for name, pid in (("ALP", w.alp), ("OPS", ops)):
        groups = by_name(get_view(client, org, "risk", as_of=AS_OF, project=pid)["groups"])
        assert figures(groups[name]["signals"]["scope_creep"]) == figures(whole[name]), name
    jira = by_name(get_view(client, org, "risk", as_of=AS_OF, source=w.jira)["groups"])
    for name in ("ALP", "OPS"):
        assert figures(jira[name]["signals"]["scope_creep"]) == figures(whole[name]), name
    trello = by_name(get_view(client, org, "risk", as_of=AS_OF, source=w.trello)["groups"])
    assert "ALP" not in trello and "OPS" not in trello
