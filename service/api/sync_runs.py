"""``/api/v1/sync-runs`` and a source's sync: ask for a poll, read its health."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import DbDep, ReadCaller, WriteCaller
from service.api.problems import Problem
from service.api.responses import SourceStatus, SyncRequested, SyncRunPublic
from service.ids import Id
from service.sync.state import request_run
from service.tables import InboxEvent, Source, SyncRun, SyncState, table, utcnow

router = APIRouter(tags=["tasks"])
S, SR, SS, IE = table(Source), table(SyncRun), table(SyncState), table(InboxEvent)


@router.get("/api/v1/sync-runs", response_model=list[SyncRunPublic])
def list_sync_runs(caller: ReadCaller, db: DbDep, source_id: Id | None = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    q = sa.select(SR).where(SR.c.org_id == caller.org_id)
    if source_id is not None:
        q = q.where(SR.c.source_id == source_id)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q.order_by(SR.c.id.desc()).limit(limit))]


def _own_source(db: Any, org_id: int, source_id: int) -> Any:
    with db.read() as conn:
        row = conn.execute(sa.select(S).where(S.c.id == source_id, S.c.org_id == org_id)).first()
    if row is None:
        raise Problem(404, f"source {source_id} not found")
    return row


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["incremental", "census", "full"] = Field(
        default="incremental",
        description="incremental: poll now (a backfill if the source never synced). census: poll, then check "
        "every stored item against the tool, tombstoning deletions and lost access no webhook announced "
        "(its findings are on the sync run). full: read everything again from scratch.")


@router.post("/api/v1/sources/{source_id}/sync", status_code=202, tags=["sources"], response_model=None,
             responses={202: {"model": SyncRequested, "description": "The run is queued."}})
def request_sync(source_id: Id, caller: WriteCaller, db: DbDep, body: SyncRequest | None = None) -> Response:
    """Ask the worker to run this source now (under the source's lease), as a poll, a census or a full
    re-read. The worker takes the request within seconds; follow it on ``/sync-runs``. A pending
    request yields only to a stronger one (full > census > incremental): ``mode`` in the answer is
    the run now pending."""
    _own_source(db, caller.org_id, source_id)
    with db.write() as conn:
        mode = request_run(conn, source_id, (body or SyncRequest()).mode)
    return Response(orjson.dumps({"source_id": source_id, "requested": True, "mode": mode}), status_code=202,
                    media_type="application/json")


@router.get("/api/v1/sources/{source_id}/status", tags=["sources"], response_model=SourceStatus)
def source_status(source_id: Id, caller: ReadCaller, db: DbDep) -> dict[str, Any]:
    """Health of one source: last run, lag, errors, webhook traffic."""
    src = _own_source(db, caller.org_id, source_id)
    with db.read() as conn:
        last = conn.execute(sa.select(SR).where(SR.c.source_id == source_id).order_by(SR.c.id.desc()).limit(1)).first()
        last_ok = conn.execute(sa.select(sa.func.max(SR.c.finished_at)).where(
            SR.c.source_id == source_id, SR.c.status == "ok")).scalar()
        inbox: dict[str, int] = dict(conn.execute(
            sa.select(IE.c.status, sa.func.count()).where(IE.c.source_id == source_id).group_by(IE.c.status)).all())
        last_event = conn.execute(sa.select(sa.func.max(IE.c.received_at)).where(IE.c.source_id == source_id)).scalar()
        lease = conn.execute(sa.select(SS.c.lease_owner, SS.c.lease_expires_at).where(
            SS.c.source_id == source_id, SS.c.stream == "lease")).first()
    now = utcnow()
    return {
        "source_id": source_id, "status": src.status, "status_reason": src.status_reason,
        "last_run": dict(last._mapping) if last else None,
        "last_success_at": last_ok, "lag_seconds": (now - last_ok).total_seconds() if last_ok else None,
        "syncing": bool(lease and lease.lease_owner and lease.lease_expires_at and lease.lease_expires_at > now),
        "webhooks": {"last_received_at": last_event, "by_status": inbox},
    }
