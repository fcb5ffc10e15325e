"""A Trello delivery verified with the app secret, end to end (issue 21): a source registered
through the API (verified against the simulated Trello) with the key, token and app secret of
an application that is not the sandbox's default one, a webhook created with that key, and a
card change delivered by the sandbox — signed with that application's secret, as Trello signs
— to taskhub on a loopback port. A source given another app secret refuses the same kind of
delivery with 401."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from connectors.trello import TrelloClient, set_default_limiter
from sandbox.server import free_port, run_in_thread
from sandbox.trello import TrelloState, generate, mutations, start
from service.app import create_app
from service.db import Database
from service.settings import Settings
from service.tables import InboxEvent
from tests.service.conftest import Tenant, make_tenant
from tests.sync.conftest import FakeSleep, sync_settings

IE = InboxEvent.__table__
TEAM_KEY, TEAM_SECRET = "team-app-key", "team-app-secret"


@dataclass
class World:
    taskhub: str
    trello_api: str
    state: TrelloState
    boards: list[str]
    acme: Tenant
    db: Database
    settings: Settings


@pytest.fixture
def world(db: Database, tmp_path: Path) -> Iterator[World]:
    state = TrelloState(seed=4)
    boards = generate(state, boards=2, cards_per_board=3, seed=4)
    state.set_app(TEAM_KEY, TEAM_SECRET)  # another application: its own key and secret
    trello_url, stop_trello = start(state)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = sync_settings(tmp_path).model_copy(update={"public_base_url": url})
    _, stop_app = run_in_thread(create_app(settings, db, run_worker=False, migrate=False), port=port,
                                probe_path="/healthz", lifespan="on")
    try:
        yield World(url, trello_url + "/1", state, boards, make_tenant(db, "acme"), db, settings)
    finally:
        stop_app()
        stop_trello()
        state.close()
        set_default_limiter(None)


def _register(w: World, name: str, board: str, app_secret: str) -> int:
    body = {"kind": "trello", "name": name, "base_url": w.trello_api, "scope": {"boards": [board]},
            "credentials": {"type": "trello", "api_key": TEAM_KEY, "token": "sandbox-token",
                            "app_secret": app_secret}}
    r = httpx.post(f"{w.taskhub}/api/v1/sources", params={"register_webhooks": "false"}, json=body,
                   headers=w.acme.h(), timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["webhook_secret"] is None
    sid = int(r.json()["id"])
    client = TrelloClient(TEAM_KEY, "sandbox-token", base_url=w.trello_api, sleep=FakeSleep(),
                          outbound=w.settings.outbound_policy)
    client.register_webhook(f"{w.taskhub}/webhooks/trello/{sid}", board, "taskhub")
    return sid


def _change_a_card(w: World, board: str, name: str) -> None:
    card = next(iter(w.state.boards[board].cards.values()))
    mutations.update_card(w.state, card.id, {"name": name})
    assert w.state.wait_deliveries(10)


def _stored(w: World, sid: int) -> int:
    with w.db.read() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(IE).where(IE.c.source_id == sid)).scalar_one())


def test_a_delivery_signed_with_the_keys_app_secret_is_accepted_and_another_secret_refuses_it(world: World) -> None:
    w = world
    good = _register(w, "trello", w.boards[0], TEAM_SECRET)
    _change_a_card(w, w.boards[0], "Signed by the team app")
    assert _stored(w, good) == 1
    assert [d["status"] for d in w.state.delivery().log] == [202]

    wrong = _register(w, "trello-wrong-secret", w.boards[1], "not-the-app-secret")
    _change_a_card(w, w.boards[1], "Still signed by the team app")
    assert _stored(w, wrong) == 0
    assert {d["status"] for d in list(w.state.delivery().log)[1:]} == {401}  # every attempt refused
