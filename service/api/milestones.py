"""``/api/v1/milestones``: Jira versions and Trello milestone cards, with their due dates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from service.api.deps import DbDep, ReadCaller, SessionDep, WriteCaller
from service.api.responses import MilestonePublic
from service.ids import Id
from service.portfolio import commit
from service.portfolio.milestones import set_baseline
from service.portfolio.schemas import BaselinePublic, MilestoneBaseline
from service.state_events.transitions import evaluate_projects
from service.store.rollups import lock_sources
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


@router.post("/api/v1/milestones/{milestone_id}/baseline", response_model=BaselinePublic)
def set_milestone_baseline(milestone_id: Id, body: MilestoneBaseline, caller: WriteCaller,
                           session: SessionDep) -> BaselinePublic:
    """Set the baseline due date slip is measured against, or reset it (``{"due_date": null}``) to
    the current due date. Kept in the milestone's history: ``as_of`` before the change uses the
    baseline of that moment."""
    conn = session.connection()
    mine = conn.execute(sa.select(M.c.source_id, M.c.project_id)
                        .where(M.c.id == milestone_id, M.c.org_id == caller.org_id)).first()
    if mine is not None:  # the source's write lock before the row, the order every writer takes
        lock_sources(conn, [mine.source_id])
    out = set_baseline(session, caller.org_id, milestone_id, body, f"token {caller.token_id}")
    if mine is not None:  # the slip moves: milestone.slipped, in this transaction
        evaluate_projects(conn, caller.org_id, [mine.project_id])
    commit(session)
    return out
