"""Errors no handler expects still answer problem+json: a PostgreSQL deadlock or serialization
failure (rolled back, nothing changed) or an unreachable store as 503 with Retry-After, anything
else as 500 with the request id."""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from fastapi import FastAPI

from service.api.problems import RequestIdMiddleware, install_problem_handlers

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/deadlock")
    def deadlock() -> None:
        raise sa.exc.OperationalError("UPDATE task_assignee ...", {}, _Orig("40P01"))

    @app.get("/broken")
    def broken() -> None:
        raise sa.exc.ProgrammingError("SELECT ...", {}, _Orig("42P01"))  # undefined table: a bug, not retryable

    @app.get("/down")
    def down() -> None:
        raise sa.exc.OperationalError("SELECT ...", {}, _Orig("08006"))  # connection failure: the store is down

    return app


def test_a_deadlock_or_an_outage_is_a_503_to_retry_and_anything_else_a_500_problem():
    client = TestClient(_app(), raise_server_exceptions=False)
    r = client.get("/deadlock", headers={"X-Request-ID": "rid-1"})
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 503 and "retry" in body["detail"] and body["request_id"] == "rid-1"
    r = client.get("/broken")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert "request id" in r.json()["detail"]
    r = client.get("/down")
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "database is unavailable (connection lost)" in r.json()["detail"]
