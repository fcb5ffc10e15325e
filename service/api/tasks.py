"""``/api/v1/tasks``: what automations follow.

Automations page through ``GET /api/v1/tasks?updated_since=…`` (ordered by the
time taskhub stored the change, then id) with the opaque ``next_cursor``.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from service.api.deps import DbDep, ReadCaller
from service.api.problems import Problem
from service.api.responses import TaskPublic
from service.ids import Id, is_id
from service.tables import (
    InboxEvent,
    Milestone,
    Organization,
    Source,
    SyncRun,
    SyncState,
    Task,
    TaskAssignee,
    TaskMilestone,
    table,
)
from service.timerange import RANGE_TEXT, BoundedDatetime, check_range
from service.views.selection import org_today

router = APIRouter(tags=["tasks"])
T, M, S, SR, SS = (table(Task), table(Milestone), table(Source), table(SyncRun), table(SyncState))
TA, TM, IE = table(TaskAssignee), table(TaskMilestone), table(InboxEvent)

_TASK_COLS = [c for c in T.c if c.name not in ("raw", "org_id")]


class TaskPage(BaseModel):
    items: list[TaskPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")


# An opaque cursor is URL-safe base64 (``_encode``); anything else is answered 400.
_CURSOR = Query(description="next_cursor of the previous page.",
                json_schema_extra={"pattern": r"^[A-Za-z0-9_-]*={0,2}$"})


def _encode(synced_at: datetime, id_: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([synced_at.isoformat(), id_])).decode()


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        at, id_ = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not is_id(int(id_)):  # a forged id out of the column's range would fail in the database
            raise ValueError(id_)
        # In range too: a forged 0001-01-01T00:00:00+14:00 would overflow on its way to UTC.
        return check_range(datetime.fromisoformat(at)), int(id_)
    except Exception:  # noqa: BLE001 - any garbage is the caller's error
        raise Problem(400, "cursor is not one this API issued; start again without it") from None


def _row(r: Any, include_raw: bool) -> dict[str, Any]:
    d = dict(r._mapping)
    if not include_raw:
        d.pop("raw", None)
    return d


@router.get("/api/v1/tasks", response_model=TaskPage, response_model_exclude_unset=True)
def list_tasks(
    caller: ReadCaller, db: DbDep,
    source_id: Id | None = None, project_id: Id | None = None, milestone_id: Id | None = None,
    assignee: Annotated[Id | None, Query(description="Person id")] = None,
    status_category: Literal["todo", "in_progress", "done"] | None = None,
    overdue: Annotated[bool | None, Query(
        description="Open tasks whose due date is before today in the organization's time zone")] = None,
    updated_since: Annotated[BoundedDatetime | None, Query(
        description=f"Stored at or after (ISO 8601, with zone; dates {RANGE_TEXT})")] = None,
    include_deleted: bool = False,
    include: Annotated[Literal["raw"] | None, Query(description="'raw' adds the vendor JSON")] = None,
    cursor: Annotated[str | None, _CURSOR] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TaskPage:
    cols = [*_TASK_COLS, T.c.raw] if include == "raw" else _TASK_COLS
    q = sa.select(*cols).where(T.c.org_id == caller.org_id)
    if not include_deleted:
        q = q.where(T.c.deleted_at.is_(None))
    if source_id is not None:
        q = q.where(T.c.source_id == source_id)
    if project_id is not None:
        q = q.where(T.c.project_id == project_id)
    if status_category:
        q = q.where(T.c.status_category == status_category)
    if assignee is not None:
        q = q.where(T.c.id.in_(sa.select(TA.c.task_id).where(TA.c.person_id == assignee)))
    if milestone_id is not None:
        q = q.where(T.c.id.in_(sa.select(TM.c.task_id).where(TM.c.milestone_id == milestone_id)))
    if updated_since is not None:
        q = q.where(T.c.synced_at >= updated_since)
    if cursor:
        at, id_ = _decode(cursor)
        q = q.where(sa.or_(T.c.synced_at > at, sa.and_(T.c.synced_at == at, T.c.id > id_)))
    with db.read() as conn:
        if overdue is not None:
            # Today in the organization's time zone (as the views' overdue), not the server's date.
            org_t = table(Organization)
            tz = conn.execute(sa.select(org_t.c.timezone).where(org_t.c.id == caller.org_id)).scalar_one()
            # due_date IS NOT NULL: so that overdue=false (NOT cond) keeps the tasks without a due
            # date (never overdue) instead of dropping them by SQL's NULL comparison.
            cond = sa.and_(T.c.due_date.is_not(None), T.c.due_date < org_today(ZoneInfo(tz)),
                           T.c.status_category != "done")
            q = q.where(cond if overdue else sa.not_(cond))
        rows = conn.execute(q.order_by(T.c.synced_at, T.c.id).limit(limit + 1)).all()
    items = [_row(r, include == "raw") for r in rows[:limit]]
    nxt = _encode(rows[limit - 1].synced_at, rows[limit - 1].id) if len(rows) > limit else None
    return TaskPage.model_validate({"items": items, "next_cursor": nxt})


@router.get("/api/v1/tasks/{task_id}", response_model=TaskPublic, response_model_exclude_unset=True)
def get_task(task_id: Id, caller: ReadCaller, db: DbDep, include: Literal["raw"] | None = None) -> dict[str, Any]:
    cols = [*_TASK_COLS, T.c.raw] if include == "raw" else _TASK_COLS
    with db.read() as conn:
        row = conn.execute(sa.select(*cols).where(T.c.id == task_id, T.c.org_id == caller.org_id)).first()
    if row is None:
        raise Problem(404, f"task {task_id} not found")
    return _row(row, include == "raw")
