"""``/api/v1/milestones``: Jira versions and Trello milestone cards, with their due dates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from service.api.deps import DbDep, ReadCaller
from service.api.responses import MilestonePublic
from service.ids import Id
from service.tables import Milestone, table

router = APIRouter(tags=["tasks"])
M = table(Milestone)


@router.get("/api/v1/milestones", response_model=list[MilestonePublic])
def list_milestones(caller: ReadCaller, db: DbDep, project_id: Id | None = None,
                    source_id: Id | None = None, include_deleted: bool = False) -> list[dict[str, Any]]:
    q = sa.select(*[c for c in M.c if c.name not in ("raw", "org_id")]).where(M.c.org_id == caller.org_id)
    if not include_deleted:
        q = q.where(M.c.deleted_at.is_(None))
    if project_id is not None:
        q = q.where(M.c.project_id == project_id)
    if source_id is not None:
        q = q.where(M.c.source_id == source_id)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q.order_by(M.c.due_date, M.c.id))]
