"""Small builders for test data (organizations, sources, model objects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mappings.model import PersonRef, StatusCategory, Task, TaskUpsert
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
