"""``/api/v1/inbox``: webhook events with their status and reason; retry."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from service.api.deps import DbDep, ReadCaller, WriteCaller
from service.api.problems import Problem
from service.ids import ID_MAX, Id
from service.ingest.inbox import retry_events
from service.schemas import InboxEventPublic
from service.tables import InboxEvent, table

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])
IE = table(InboxEvent)
Status = Literal["pending", "processing", "done", "ignored", "failed", "parked"]


class InboxPage(BaseModel):
    items: list[InboxEventPublic]
    next_cursor: int | None = Field(description="Pass as ?after= for the next page.")


@router.get("", response_model=InboxPage)
def list_events(caller: ReadCaller, db: DbDep, status: Status | None = None, source_id: Id | None = None,
                after: Annotated[int | None, Query(ge=0, le=ID_MAX)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> InboxPage:
    q = sa.select(IE).where(IE.c.org_id == caller.org_id)
    if status:
        q = q.where(IE.c.status == status)
    if source_id is not None:
        q = q.where(IE.c.source_id == source_id)
    if after is not None:
        q = q.where(IE.c.id > after)
    with db.read() as conn:
        rows = conn.execute(q.order_by(IE.c.id).limit(limit + 1)).all()
    items = [InboxEventPublic.model_validate(r._mapping) for r in rows[:limit]]
    return InboxPage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)


# Ids per retry request: a bound the client sees as a 422, well below PostgreSQL's 65,535 bound
# parameters per statement (beyond which the driver refuses the query outright).
RETRY_MAX_IDS = 1000


class RetryRequest(BaseModel):
    ids: list[Id] | None = Field(default=None, max_length=RETRY_MAX_IDS,
                                 description=f"Event ids (at most {RETRY_MAX_IDS}); omit to retry every parked event.")


@router.post("/retry")
def retry(body: RetryRequest, caller: WriteCaller, db: DbDep) -> dict[str, int]:
    n = retry_events(db, caller.org_id, body.ids, statuses=("parked", "failed") if body.ids else ("parked",))
    if body.ids and n == 0:
        raise Problem(404, "none of those events exist in a retryable state (parked or failed)")
    return {"requeued": n}
