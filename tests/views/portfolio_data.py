"""The small hand-computed portfolio of issue 5 §5, written through the real store.

Two projects, one per tool:
- ALP (Jira-like source ``jira-cloud``): story points, worklogs by Ann and Bob, versions.
  Budget 20,000 USD, planned 2026-02-02 (Mon) .. 2026-03-27 (Fri) = 40 working days,
  project rate 60/h (Bob has no rate of his own).
- BETA (Trello-like source ``trello``): estimates in hours, direct costs from a cost
  field, a milestone card. Budget 10,000 USD, planned 2026-02-16 (Mon) .. 2026-04-10 (Fri)
  = 40 working days, no project rate.
People: Ann (Jira acc-ann + Trello m-ann, linked by email) 100/h from 2026-01-01 and
120/h from 2026-03-01; Bob (Jira) no rate; Cy (Trello) no rate. Org default 40/h.

``phase1`` writes the world as the tools showed it on 2026-03-01; ``phase2`` the later
syncs up to 2026-03-12 (status changes, new tasks, worklogs, a deletion, a due-date
move). Every task's history is its changelog, as a Jira/Trello sync stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from mappings.model import (
    Change,
    Milestone,
    MilestoneRef,
    MilestoneUpsert,
    PersonRef,
    StatusCategory,
    Task,
    TaskDelete,
    TaskType,
    TaskUpsert,
    Worklog,
    WorklogUpsert,
)
from service import store
from service.db import Database
from service.store import rollups
from service.tables import (
    Organization,
    PersonIdentity,
    PersonRate,
    Portfolio,
    PortfolioProject,
    Project,
    Source,
)
from service.tables import Worklog as WorklogRow

TODO, WIP, DONE = StatusCategory.todo, StatusCategory.in_progress, StatusCategory.done
H = 3600


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


ANN_J = PersonRef(tool="jira", external_id="acc-ann", display_name="Ann", email="ann@acme.io")
ANN_T = PersonRef(tool="trello", external_id="m-ann", display_name="ann.t", email="ann@acme.io")
BOB = PersonRef(tool="jira", external_id="acc-bob", display_name="Bob")
CY = PersonRef(tool="trello", external_id="m-cy", display_name="Cy")


@dataclass
class World:
    org_id: int
    jira: int
    trello: int
    alp: int = 0
    beta: int = 0
    portfolio: int = 0
    ann: int = 0
    bob: int = 0
    cy: int = 0
    milestones: dict[str, int] | None = None


def _moves(ext: str, *steps: tuple[StatusCategory, StatusCategory, datetime]) -> list[Change]:
    return [
        Change(
            task_external_id=ext,
            external_id=f"{ext}-{i}",
            field="status",
            from_value=a.value,
            to_value=b.value,
            from_category=a,
            to_category=b,
            changed_at=when,
        )
        for i, (a, b, when) in enumerate(steps)
    ]


def _jira(
    ext: str,
    created: datetime,
    updated: datetime,
    cat: StatusCategory,
    *,
    points: float | None = None,
    who: PersonRef | None = None,
    ms: str | None = None,
    changes: list[Change] | None = None,
    **kw: Any,
) -> TaskUpsert:
    t = Task(
        external_id=ext,
        key=f"ALP-{ext}",
        title=f"Task {ext}",
        project_external_id="100",
        project_key="ALP",
        status=cat.value,
        status_category=cat,
        created_at=created,
        updated_at=updated,
        estimate_points=points,
        assignees=[who] if who else [],
        milestones=[MilestoneRef(external_id=ms)] if ms else [],
        **kw,
    )
    return TaskUpsert(task=t, changes=changes or [], raw={"id": ext})


def _card(
    ext: str,
    created: datetime,
    updated: datetime,
    cat: StatusCategory,
    *,
    hours: float | None = None,
    who: PersonRef | None = None,
    ms: str | None = None,
    changes: list[Change] | None = None,
    **kw: Any,
) -> TaskUpsert:
    t = Task(
        external_id=ext,
        key=ext,
        title=f"Card {ext}",
        project_external_id="b1",
        project_key="BETA",
        type=kw.pop("type", TaskType.card),
        status=cat.value,
        status_category=cat,
        created_at=created,
        updated_at=updated,
        estimate_seconds=int(hours * H) if hours is not None else None,
        assignees=[who] if who else [],
        milestones=[MilestoneRef(external_id=ms)] if ms else [],
        **kw,
    )
    return TaskUpsert(task=t, changes=changes or [], raw={"id": ext})


def _wl(ext: str, task: str, who: PersonRef, when: datetime, hours: float) -> WorklogUpsert:
    return WorklogUpsert(
        worklog=Worklog(
            external_id=ext,
            task_external_id=task,
            author=who,
            started_at=when,
            seconds=int(hours * H),
            updated_at=when,
        )
    )


def _version(
    ext: str,
    name: str,
    due: date,
    updated: datetime,
    *,
    released: bool = False,
    project: str = "100",
    completed_at: datetime | None = None,
) -> MilestoneUpsert:
    return MilestoneUpsert(
        milestone=Milestone(
            external_id=ext,
            project_external_id=project,
            name=name,
            due_date=due,
            released=released,
            completed_at=completed_at,
            updated_at=updated,
        )
    )


def make_world(db: Database, name: str = "acme", timezone: str = "UTC") -> World:
    with db.write() as c:
        org = c.execute(
            sa.insert(Organization.__table__)
            .values(
                name=name,
                timezone=timezone,
                currency="USD",
                default_hourly_rate=Decimal("40"),
                created_at=at(1, 1),
            )
            .returning(Organization.__table__.c.id)
        ).scalar_one()
        src = Source.__table__

        def source(kind: str, name: str) -> int:
            values = {"org_id": org, "kind": kind, "name": name, "poll_interval_seconds": 300, "enabled": True,
                      "status": "ok", "created_at": at(1, 1), "updated_at": at(1, 1)}
            return int(c.execute(sa.insert(src).values(**values).returning(src.c.id)).scalar_one())

        jira, trello = source("jira", "jira-cloud"), source("trello", "trello")
    return World(org_id=org, jira=jira, trello=trello)


def phase1(db: Database, w: World, *, pm: bool = True) -> World:
    """What the tools showed at the end of 2026-03-01 (``pm``: with the PM-side data)."""
    with db.write() as c:
        store.upsert_milestones(
            c,
            w.org_id,
            w.jira,
            [
                _version(
                    "v0",
                    "0.9",
                    date(2026, 2, 27),
                    at(2, 27),
                    released=True,
                    completed_at=at(2, 27, 0),
                ),
                _version("v1", "1.0", date(2026, 3, 8), at(2, 2)),
                _version("v2", "1.1", date(2026, 3, 20), at(2, 2)),  # baseline 03-20
            ],
        )
        store.upsert_tasks(
            c,
            w.org_id,
            w.jira,
            [
                _jira(
                    "A1",
                    at(2, 2),
                    at(2, 12),
                    DONE,
                    points=3,
                    who=ANN_J,
                    ms="v1",
                    spent_seconds=4 * H,
                    remaining_seconds=0,
                    changes=_moves("A1", (TODO, WIP, at(2, 9)), (WIP, DONE, at(2, 12))),
                ),
                _jira(
                    "A2",
                    at(2, 2),
                    at(2, 23),
                    WIP,
                    points=5,
                    who=ANN_J,
                    ms="v2",
                    spent_seconds=6 * H,
                    remaining_seconds=5 * H,
                    changes=_moves("A2", (TODO, WIP, at(2, 23))),
                ),
                _jira(
                    "A3",
                    at(2, 2),
                    at(2, 19),
                    WIP,
                    points=5,
                    who=BOB,
                    ms="v1",
                    spent_seconds=8 * H,
                    remaining_seconds=10 * H,
                    due_date=date(2026, 3, 11),
                    changes=_moves("A3", (TODO, WIP, at(2, 19))),
                ),
                _jira(
                    "A4",
                    at(2, 16),
                    at(2, 16),
                    TODO,
                    points=2,
                    who=ANN_J,
                    ms="v2",
                    spent_seconds=0,
                    remaining_seconds=10 * H,
                    due_date=date(2026, 3, 10),
                ),
                _jira("A5", at(2, 3), at(2, 3), TODO, cost=Decimal("80")),
                _jira("A6", at(2, 16), at(2, 16), TODO, points=5, who=BOB, ms="v2"),
                _jira(
                    "A7",
                    at(2, 2),
                    at(2, 9),
                    WIP,
                    points=13,
                    type=TaskType.epic,
                    changes=_moves("A7", (TODO, WIP, at(2, 9))),
                ),
                _jira("A9", at(2, 2), at(2, 2), TODO, points=1),
            ],
        )
        store.upsert_milestones(
            c,
            w.org_id,
            w.trello,
            [
                _version("mc1", "Beta launch", date(2026, 4, 1), at(2, 16), project="b1"),
            ],
        )
        store.upsert_tasks(
            c,
            w.org_id,
            w.trello,
            [
                _card("MC1", at(2, 16), at(2, 16), TODO, is_milestone=True, due_date=date(2026, 4, 1)),
                _card(
                    "C1",
                    at(2, 17),
                    at(2, 20),
                    DONE,
                    hours=10,
                    who=CY,
                    ms="mc1",
                    cost=Decimal("2000"),
                    changes=_moves("C1", (TODO, WIP, at(2, 18)), (WIP, DONE, at(2, 20))),
                ),
                _card("C4", at(2, 18), at(2, 18), TODO, ms="mc1"),
                _card(
                    "C5",
                    at(2, 20),
                    at(2, 21),
                    WIP,
                    hours=2,
                    archived=True,
                    changes=_moves("C5", (TODO, WIP, at(2, 21))),
                ),
            ],
        )
        store.upsert_worklogs(
            c,
            w.org_id,
            w.jira,
            [
                _wl("W1", "A1", ANN_J, at(2, 10), 4),
                _wl("W2", "A2", ANN_J, at(2, 24), 6),
                _wl("W4", "A3", BOB, at(2, 20), 8),
                _wl("W8", "A3", BOB, at(2, 25), 4),  # deleted on 03-05 (phase 2)
            ],
        )
    if pm:
        _pm_data(db, w)
    else:
        _ids(db, w)
    return w


def phase2(db: Database, w: World) -> World:
    """The syncs from 2026-03-02 to 2026-03-12."""
    with db.write() as c:
        store.upsert_milestones(
            c,
            w.org_id,
            w.jira,
            [
                _version("v2", "1.1", date(2026, 3, 25), at(3, 6)),  # moved by 5 days: slip 5
            ],
        )
        store.upsert_tasks(
            c,
            w.org_id,
            w.jira,
            [
                _jira(
                    "A2",
                    at(2, 2),
                    at(3, 4),
                    DONE,
                    points=5,
                    who=ANN_J,
                    ms="v2",
                    spent_seconds=11 * H,
                    remaining_seconds=0,
                    changes=_moves("A2", (TODO, WIP, at(2, 23)), (WIP, DONE, at(3, 4))),
                ),
                _jira(
                    "A3",
                    at(2, 2),
                    at(3, 9),
                    WIP,
                    points=5,
                    who=BOB,
                    ms="v1",
                    spent_seconds=18 * H,
                    remaining_seconds=6 * H,
                    due_date=date(2026, 3, 11),
                    changes=_moves("A3", (TODO, WIP, at(2, 19))),
                ),
                _jira(
                    "A4",
                    at(2, 16),
                    at(3, 10),
                    WIP,
                    points=2,
                    who=ANN_J,
                    ms="v2",
                    spent_seconds=2 * H,
                    remaining_seconds=8 * H,
                    due_date=date(2026, 3, 10),
                    changes=_moves("A4", (TODO, WIP, at(3, 10))),
                ),
                _jira(
                    "A6",
                    at(2, 16),
                    at(3, 12),
                    DONE,
                    points=5,
                    who=BOB,
                    ms="v2",
                    changes=_moves("A6", (TODO, WIP, at(3, 5)), (WIP, DONE, at(3, 12))),
                ),
                _jira("A8", at(3, 12), at(3, 12), TODO, points=3),
            ],
        )
        store.apply_task_deletes(c, w.org_id, w.jira, [TaskDelete(external_id="A9", at=at(3, 2))])
        store.upsert_tasks(
            c,
            w.org_id,
            w.trello,
            [
                _card(
                    "C2",
                    at(3, 3),
                    at(3, 4),
                    WIP,
                    hours=6,
                    who=ANN_T,
                    ms="mc1",
                    cost=Decimal("3000"),
                    due_date=date(2026, 3, 20),
                    changes=_moves("C2", (TODO, WIP, at(3, 4))),
                ),
                _card(
                    "C3",
                    at(3, 9),
                    at(3, 9),
                    TODO,
                    hours=4,
                    who=CY,
                    cost=Decimal("1000"),
                    due_date=date(2026, 3, 10),
                ),
                _card(
                    "C4",
                    at(2, 18),
                    at(3, 5),
                    DONE,
                    ms="mc1",
                    changes=_moves("C4", (TODO, DONE, at(3, 5))),
                ),
            ],
        )
        store.upsert_worklogs(
            c,
            w.org_id,
            w.jira,
            [
                _wl("W3", "A2", ANN_J, at(3, 2), 5),
                _wl("W5", "A3", BOB, at(3, 9), 10),
                _wl("W6", "A4", ANN_J, at(3, 10), 2),
                _wl("W7", "A6", ANN_J, at(3, 12), 3),
            ],
        )
        W = WorklogRow.__table__
        # The sync saw W8's deletion on 03-05 (the store stamps the time it learns of it).
        c.execute(sa.update(W).where(W.c.external_id == "W8").values(deleted_at=at(3, 5)))
        rollups.rebuild(c, w.org_id)  # the update above bypassed the store
    return w


def _ids(db: Database, w: World) -> None:
    P, PI = Project.__table__, PersonIdentity.__table__
    with db.read() as c:
        w.alp = c.execute(sa.select(P.c.id).where(P.c.source_id == w.jira, P.c.external_id == "100")).scalar_one()
        w.beta = c.execute(sa.select(P.c.id).where(P.c.source_id == w.trello, P.c.external_id == "b1")).scalar_one()
        ids = {
            (t, e): p
            for t, e, p in c.execute(
                sa.select(PI.c.tool, PI.c.external_id, PI.c.person_id).where(PI.c.org_id == w.org_id)
            )
        }
        w.ann, w.bob, w.cy = (
            ids[("jira", "acc-ann")],
            ids[("jira", "acc-bob")],
            ids[("trello", "m-cy")],
        )


def _pm_data(db: Database, w: World) -> None:
    """Budgets, planned dates, rates, a portfolio — the PM-side data the tools do not hold."""
    _ids(db, w)
    P = Project.__table__
    with db.write() as c:
        c.execute(
            sa.update(P)
            .where(P.c.id == w.alp)
            .values(
                budget_amount=Decimal("20000"),
                budget_currency="USD",
                planned_start=date(2026, 2, 2),
                planned_end=date(2026, 3, 27),
                hourly_rate=Decimal("60"),
            )
        )
        c.execute(
            sa.update(P)
            .where(P.c.id == w.beta)
            .values(
                budget_amount=Decimal("10000"),
                budget_currency="USD",
                planned_start=date(2026, 2, 16),
                planned_end=date(2026, 4, 10),
            )
        )
        with rollups.people_changing(c, w.org_id, [w.ann]):  # Ann's worklogs are priced at her rates
            c.execute(sa.insert(PersonRate.__table__), [
                {
                    "org_id": w.org_id,
                    "person_id": w.ann,
                    "effective_from": date(2026, 1, 1),
                    "hourly_rate": Decimal("100"),
                },
                {
                    "org_id": w.org_id,
                    "person_id": w.ann,
                    "effective_from": date(2026, 3, 1),
                    "hourly_rate": Decimal("120"),
                },
            ])
        w.portfolio = c.execute(
            sa.insert(Portfolio.__table__).values(org_id=w.org_id, name="Main").returning(Portfolio.__table__.c.id)
        ).scalar_one()
        c.execute(
            sa.insert(PortfolioProject.__table__),
            [
                {"portfolio_id": w.portfolio, "project_id": w.alp},
                {"portfolio_id": w.portfolio, "project_id": w.beta},
            ],
        )
        from service.tables import Milestone as MilestoneRow

        M = MilestoneRow.__table__
        w.milestones = {e: i for e, i in c.execute(sa.select(M.c.external_id, M.c.id).where(M.c.org_id == w.org_id))}


def build(db: Database, name: str = "acme", timezone: str = "UTC", *, pm: bool = True) -> World:
    w = make_world(db, name, timezone)
    phase1(db, w, pm=pm)
    phase2(db, w)
    return w
