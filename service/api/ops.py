"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.problems import problem_response

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> Response:
    """The database answers and the schema is at the latest migration."""
    db = request.app.state.db
    try:
        with db.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        current, head = db.current_revision(), db.head_revision()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return problem_response(503, f"database unreachable: {exc.__class__.__name__}")
    if current != head:
        return problem_response(
            503, f"migrations pending: database at {current}, code at {head}; run 'taskhub migrate'")
    return Response(content=f'{{"status":"ready","database":"{db.dialect}","revision":"{current}"}}',
                    media_type="application/json")


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
