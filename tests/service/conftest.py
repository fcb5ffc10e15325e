"""API fixtures: an app on each store with an organization and tokens."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from service.app import create_app
from service.db import Database
from service.security.auth import create_org, create_token
from service.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@dataclass
class Tenant:
    org_id: int
    admin: str
    write: str
    read: str

    def h(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, scope)}"}


def make_tenant(db: Database, name: str) -> Tenant:
    with db.session() as s:
        org = create_org(s, name)
        tokens = {sc: create_token(s, org.id, sc)[0] for sc in ("admin", "write", "read")}  # type: ignore[arg-type]
    return Tenant(org.id, tokens["admin"], tokens["write"], tokens["read"])  # type: ignore[arg-type]


def make_settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", secret_key=Fernet.generate_key().decode(),
                    public_base_url="http://testserver", _env_file=None, **kw)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def unverified(request: httpx.Request) -> None:
    """Register and change sources with ``?verify=false`` unless the test chose: their sites
    (acme.atlassian.net) do not exist. Verification has its own tests against the sandboxes
    (test_source_verification.py); the outbound guard still applies. Likewise no webhooks are
    registered there (``register_webhooks=false``; test_source_webhooks.py has the sandboxes)."""
    if (request.method in ("POST", "PATCH") and re.fullmatch(r"/api/v1/sources(/\d+)?", request.url.path)
            and "verify" not in request.url.params):
        request.url = request.url.copy_add_param("verify", "false")
    if (request.method == "POST" and request.url.path == "/api/v1/sources"
            and "register_webhooks" not in request.url.params):
        request.url = request.url.copy_add_param("register_webhooks", "false")


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, db, run_worker=False, migrate=False)
    with TestClient(app) as c:
        c.event_hooks = {"request": [unverified], "response": []}
        yield c


@pytest.fixture
def sqlite_client(sqlite_db: Database, settings: Settings) -> Iterator[TestClient]:
    """``client`` on SQLite only, for what does not depend on the store (the OpenAPI document,
    built from the routes alone; the router's 405s; the route table)."""
    app = create_app(settings, sqlite_db, run_worker=False, migrate=False)
    with TestClient(app) as c:
        c.event_hooks = {"request": [unverified], "response": []}
        yield c


@pytest.fixture(scope="module")
def shared_client(shared_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """``client`` on the module's ``shared_db`` (see there: for tests that only read)."""
    app = create_app(make_settings(tmp_path_factory.mktemp("app")), shared_db, run_worker=False, migrate=False)
    with TestClient(app) as c:
        c.event_hooks = {"request": [unverified], "response": []}
        yield c


@pytest.fixture
def acme(db: Database) -> Tenant:
    return make_tenant(db, "acme")


@pytest.fixture
def globex(db: Database) -> Tenant:
    return make_tenant(db, "globex")


JIRA_SOURCE = {
    "kind": "jira", "name": "jira-cloud", "base_url": "https://acme.atlassian.net",
    "credentials": {"type": "jira_cloud", "email": "bot@acme.io", "api_token": "s3cr3t-token"},
    "scope": {"projects": ["PRJ"]},
}
TRELLO_SOURCE = {
    "kind": "trello", "name": "trello",
    "credentials": {"type": "trello", "api_key": "k" * 32, "token": "t0ken-value", "app_secret": "trello-app-secret"},
    "scope": {"boards": ["5a" + "0" * 22]},
}
