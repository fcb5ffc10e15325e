"""Dashboard fixtures: organizations with a small portfolio each (see ``world.py``), an app on
the ``db`` store under test, and clients signed in through the real sign-in form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.db import Database
from service.security.auth import create_org, create_token
from service.settings import Settings
from tests.dashboard.world import Org, TestClient, build_org, make_settings, sign_in


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def tenant(db: Database) -> Org:
    """An organization with a read token and nothing else (fast: for sign-in tests)."""
    with db.session() as s:
        org = create_org(s, "initech")
        assert org.id is not None
        token = create_token(s, org.id, "read")[0]
    return Org(tag="initech", org_id=org.id, token=token)


@pytest.fixture
def acme(db: Database) -> Org:
    return build_org(db, "acme")


@pytest.fixture
def globex(db: Database, acme: Org) -> Org:
    """A second organization beside acme, in another time zone."""
    return build_org(db, "globex", timezone="America/New_York")


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, db, run_worker=False, migrate=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def as_acme(client: TestClient, acme: Org, globex: Org) -> TestClient:
    """A client signed in as acme, with globex beside it in the same database."""
    sign_in(client, acme.token)
    return client


@pytest.fixture(scope="module")
def shared_acme(shared_db: Database) -> Org:
    """``acme`` built once per module and store in ``shared_db``, for tests that only read."""
    return build_org(shared_db, "acme")


@pytest.fixture(scope="module")
def shared_globex(shared_db: Database, shared_acme: Org) -> Org:
    return build_org(shared_db, "globex", timezone="America/New_York")


@pytest.fixture(scope="module")
def shared_as_acme(shared_db: Database, shared_acme: Org, shared_globex: Org,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """``as_acme`` on ``shared_db``: for tests that only read (GET) and keep the session."""
    app = create_app(make_settings(tmp_path_factory.mktemp("app")), shared_db, run_worker=False, migrate=False)
    with TestClient(app) as c:
        sign_in(c, shared_acme.token)
        yield c


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One Chromium for every browser test a pytest process runs: Playwright's sync API drives one
    event loop per thread, so a second ``sync_playwright()`` in the same process fails ("using
    Playwright Sync API inside the asyncio loop") while the first is open."""
    from tests.dashboard.test_dashboard_browser import ARGS, CHROMIUM, REQUIRE, _missing

    reason = _missing()
    if reason:
        if REQUIRE:
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
