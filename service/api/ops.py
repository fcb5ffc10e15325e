"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.problems import outage_monitor, problem_response
from service.api.responses import ReadyStatus
from service.outage import BUSY_REASONS, RETRY_AFTER_SECONDS, unavailable_reason

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses={200: {"model": ReadyStatus}})
def readyz(request: Request) -> Response:
    """The database answers and the schema is at the latest migration.

    Not ready: 503 problem+json with ``Retry-After``; in an outage ``database`` says why
    (``"unreachable: connection refused"``, ``"busy: database is locked"``) and ``since`` when it
    began."""
    db = request.app.state.db
    monitor = outage_monitor(request.app.state)
    try:
        with db.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        current, head = db.current_revision(), db.head_revision()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        reason = unavailable_reason(exc)
        if reason is None:  # not an outage we know: name the class, never the message (it may hold the URL)
            return problem_response(503, f"database unreachable: {exc.__class__.__name__}",
                                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                                    database=f"unreachable: {exc.__class__.__name__}")
        monitor.failed(exc, request=False)
        outage = monitor.status() or {}
        state = "busy" if reason in BUSY_REASONS else "unreachable"  # a locked SQLite file is there
        return problem_response(503, f"database {state}: {reason}",
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                                database=f"{state}: {reason}", since=outage.get("since"),
                                answered_503=outage.get("answered_503", 0))
    monitor.recovered()
    if current != head:
        return problem_response(
            503, f"migrations pending: database at {current}, code at {head}; run 'taskhub migrate'")
    return Response(content=f'{{"status":"ready","database":"{db.dialect}","revision":"{current}"}}',
                    media_type="application/json")


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
