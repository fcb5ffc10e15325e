"""The quality view's open-defect ages (listed per group as text since cd93dc1) against a Python
oracle on random data, both stores: random creation instants to the millisecond, bugs with no
creation time (counted as unknown), done bugs and stories (no age), grouped by project and not;
as of a past date (the replayed state) and as of now (the task rows)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from service import store
from service.store import rollups
from service.views.formulas import PERCENTILES, sorted_percentile
from tests.views.conftest import get_view
from tests.views.test_quality_view import BUG, DONE, STORY, TODO, WIP, _moves, _task, build_quality


def _oracle(ages: list[float]) -> dict[str, float | None]:
    ordered = sorted(ages)
    return {f"p{p}": None if not ordered else round(sorted_percentile(ordered, p) + 0.0, 3)  # type: ignore[operator]
            for p in PERCENTILES}


def test_open_defect_ages_equal_a_python_oracle(client, db):
    org = build_quality(db, "qa")
    w = org.world
    rng = random.Random(23)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    cut = datetime(2026, 3, 20, 15, tzinfo=UTC)  # as_of 2026-03-20 in Tokyo
    # open bugs of the base data at the cut: B1, B3, B4 (ALP), TB2 (BETA)
    base = {"B1": (datetime(2026, 2, 11, 12, tzinfo=UTC), "100"), "B3": (datetime(2026, 3, 1, 20, tzinfo=UTC), "100"),
            "B4": (datetime(2026, 3, 12, 3, tzinfo=UTC), "100"), "TB2": (datetime(2026, 3, 10, 3, tzinfo=UTC), "b1")}
    open_created: dict[str, list[datetime]] = {"100": [c for c, p in base.values() if p == "100"],
                                               "b1": [c for c, p in base.values() if p == "b1"]}
    unknown = {"100": 0, "b1": 0}
    jira, trello = [], []
    for i in range(300):
        project = rng.choice(("100", "b1"))
        created = start + timedelta(milliseconds=rng.randrange(int((cut - start).total_seconds() * 1000)))
        kind = rng.random()
        if kind < 0.6:  # an open bug
            t = _task(f"R{i}", project, created, TODO, [], type=BUG)
            open_created[project].append(created)
        elif kind < 0.7:  # an open bug with no known creation time
            t = _task(f"R{i}", project, created, WIP, [], type=BUG)
            t.task.created_at = None
            unknown[project] += 1
        elif kind < 0.85:  # a bug done before the cut
            done = created + (cut - created) * rng.random()
            t = _task(f"R{i}", project, created, DONE, _moves(f"R{i}", (TODO, DONE, done)), type=BUG)
        else:  # an open story
            t = _task(f"R{i}", project, created, TODO, [], type=STORY)
        (jira if project == "100" else trello).append(t)
    with db.write() as c:
        store.upsert_tasks(c, w.org_id, w.jira, jira)
        store.upsert_tasks(c, w.org_id, w.trello, trello)
        rollups.rebuild(c, w.org_id)

    def check(r: dict, instant: datetime) -> None:
        def ages(project: str) -> list[float]:
            return [(instant - c).total_seconds() / 86400 for c in open_created[project]]
        name = {"100": "ALP", "b1": "BETA"}
        groups = {g["group"]["name"]: g for g in r["groups"]}
        for p in ("100", "b1"):
            got = groups[name[p]]["open_defect_age_days"]
            assert got == {"count": len(open_created[p]), **_oracle(ages(p)), "unknown": unknown[p]}, p
        t = r["total"]["open_defect_age_days"]
        assert t == {"count": sum(map(len, open_created.values())), **_oracle(ages("100") + ages("b1")),
                     "unknown": sum(unknown.values())}

    check(get_view(client, org, "quality", as_of="2026-03-20", group_by="project"), cut)
    now = get_view(client, org, "quality", group_by="project")
    check(now, datetime.fromisoformat(now["definitions"]["as_of"]))
