"""Operations endpoints and the OpenAPI document."""

from __future__ import annotations


def test_healthz_readyz_docs_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/sources" in paths and "/webhooks/{kind}/{source_id}" in paths
    assert client.get("/metrics").status_code == 200


def test_unknown_route_is_problem_json_with_request_id(client):
    r = client.get("/nope", headers={"X-Request-ID": "req-123"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["request_id"] == "req-123" and r.headers["x-request-id"] == "req-123"


def test_readyz_reports_pending_migrations(db, settings):
    import warnings

    import sqlalchemy as sa

    from service.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    with db.engine.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        with TestClient(create_app(settings, db, run_worker=False, migrate=False)) as client:
            r = client.get("/readyz")
        assert r.status_code == 503 and "migrations pending" in r.json()["detail"]
    finally:
        with db.engine.begin() as c:
            c.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": db.head_revision()})
