"""Small builders for test data (organizations, sources, model objects)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from mappings.model import MilestoneRef, PersonRef, StatusCategory, Task, TaskType, TaskUpsert
from service.db import Database
from service.tables import Organization, Source

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_org(db: Database, name: str = "acme", timezone: str = "UTC") -> int:
    with db.session() as s:
        org = Organization(name=name, timezone=timezone)
        s.add(org)
        s.commit()
        s.refresh(org)
        return org.id  # type: ignore[return-value]


def make_source(db: Database, org_id: int, kind: str = "jira", name: str = "jira-cloud") -> int:
    with db.session() as s:
        src = Source(org_id=org_id, kind=kind, name=name, base_url="https://acme.atlassian.net")
        s.add(src)
        s.commit()
        s.refresh(src)
        return src.id  # type: ignore[return-value]


def task(ext: str = "10001", *, minutes: int = 0, status: str = "To Do",
         category: StatusCategory = StatusCategory.todo, assignee: str | None = None,
         **kw: object) -> TaskUpsert:
    t = Task(
        external_id=ext, key=f"PRJ-{ext}", title=f"Task {ext}", status=status, status_category=category,
        project_external_id="100", project_key="PRJ",
        assignees=[PersonRef(tool="jira", external_id=assignee, display_name=assignee)] if assignee else [],
        updated_at=T0 + timedelta(minutes=minutes), created_at=T0, **kw,  # type: ignore[arg-type]
    )
    return TaskUpsert(task=t, raw={"id": ext, "v": minutes})


def random_task(rnd: random.Random, ext: str, version: int) -> TaskUpsert:
    """A task with random status, class, project, estimates, times and milestone links (the
    rollup tests' data)."""
    cat = rnd.choice(list(StatusCategory))
    created = T0 + timedelta(hours=rnd.randrange(0, 24 * 40), minutes=rnd.randrange(60))
    t = Task(
        external_id=ext,
        title=f"t{ext}",
        project_external_id=rnd.choice(["100", "200", "300", None]),
        project_key="P",
        type=rnd.choice([TaskType.story, TaskType.story, TaskType.bug, TaskType.epic]),
        status_category=cat,
        is_milestone=rnd.random() < 0.05,
        archived=rnd.random() < 0.1,
        created_at=created if rnd.random() < 0.9 else None,
        updated_at=T0 + timedelta(days=100, minutes=version),
        completed_at=created + timedelta(hours=rnd.randrange(1, 500)) if cat == "done" and rnd.random() < 0.9 else None,
        estimate_points=rnd.choice([None, 1.0, 2.5, 3.0, 8.0]),
        estimate_seconds=rnd.choice([None, 3600, 7200]),
        spent_seconds=rnd.choice([None, 0, 1800]),
        remaining_seconds=rnd.choice([None, 600]),
        milestones=rnd.choice([[], [], [MilestoneRef(external_id="v1")], [MilestoneRef(external_id="v2")],
                               [MilestoneRef(external_id="v1"), MilestoneRef(external_id="v3")]]),
        # none, one (most often) or several of four people; half the tasks have a due date
        assignees=[PEOPLE[i] for i in rnd.sample(range(len(PEOPLE)), rnd.choice([0, 1, 1, 1, 2, 3]))],
        due_date=(T0 + timedelta(days=rnd.randrange(-5, 60))).date() if rnd.random() < 0.5 else None,
    )
    return TaskUpsert(task=t, raw={"id": ext})


PEOPLE = [PersonRef(tool="jira", external_id=f"u{i}", display_name=f"User {i}") for i in range(4)]

