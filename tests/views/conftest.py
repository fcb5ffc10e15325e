"""Fixtures for the views and the PM-data API: the hand-computed portfolio with tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from service.db import Database
from service.security.auth import create_token
from tests.service.conftest import acme, client, globex, settings, shared_client  # noqa: F401 - fixtures
from tests.views.portfolio_data import World, build, make_world, phase1


@dataclass
class Org:
    world: World
    tokens: dict[str, str]

    def h(self, scope: str = "read") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}


def tokens_for(db: Database, org_id: int) -> dict[str, str]:
    with db.session() as s:
        return {sc: create_token(s, org_id, sc)[0] for sc in ("read", "write", "admin")}  # type: ignore[arg-type]


@pytest.fixture
def world(db: Database) -> Org:
    """The hand-computed portfolio (both sync phases) in organization "acme" (UTC)."""
    w = build(db)
    return Org(w, tokens_for(db, w.org_id))


@pytest.fixture(scope="module")
def shared_world(shared_db: Database) -> Org:
    """``world`` built once per module and store, in ``shared_db``: for tests that only read it
    (through ``shared_client``)."""
    w = build(shared_db)
    return Org(w, tokens_for(shared_db, w.org_id))


@pytest.fixture
def bare(db: Database) -> Org:
    """The synced portfolio without any PM-side data (no budgets, dates, rates, portfolios)."""
    w = build(db, "bare", pm=False)
    return Org(w, tokens_for(db, w.org_id))


@pytest.fixture
def early_world(db: Database) -> Org:
    """The same portfolio as the tools showed it on 2026-03-01 (phase 1 only)."""
    w = phase1(db, make_world(db))
    return Org(w, tokens_for(db, w.org_id))


@pytest.fixture
def make_org(db: Database) -> Callable[..., Org]:
    def make(name: str, timezone: str = "UTC", full: bool = True, pm: bool = True) -> Org:
        w = build(db, name, timezone, pm=pm) if full else make_world(db, name, timezone)
        return Org(w, tokens_for(db, w.org_id))

    return make


def get_view(http: Any, org: Org, name: str, **params: Any) -> dict[str, Any]:
    q = {k: v for k, v in params.items() if v is not None}
    r = http.get(f"/api/v1/views/{name}", params=q, headers=org.h())
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def by_name(rows: list[dict[str, Any]], key: str = "group") -> dict[str, dict[str, Any]]:
    return {r[key]["name"]: r for r in rows}
