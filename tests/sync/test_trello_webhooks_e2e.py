"""The Trello webhook path end to end: a webhook registered through ``TrelloClient`` (py-trello
transport; the sandbox HEADs our endpoint first), sandbox mutations delivered as signed
POSTs to the taskhub app on a loopback port, the worker draining the inbox into the store.

Trello reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/
(``X-Trello-Webhook`` = base64(HMAC-SHA1(app secret, body + callbackURL)); retries may
duplicate a delivery; nothing orders them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from connectors.trello import TrelloClient, dedupe_key, sign
from sandbox.server import free_port, run_in_thread
from sandbox.trello import mutations
from service.app import create_app
from service.db import Database
from service.settings import Settings
from service.sync.runner import run_sync
from service.sync.trello_boards import load_board_context
from service.tables import Change, InboxEvent, Organization, Task
from service.worker import Worker
from tests.realdata import REALDATA
from tests.sync.conftest import FakeSleep, TrelloSite, register_trello

IE = InboxEvent.__table__
T = Task.__table__
C = Change.__table__
ORG_TZ = "America/Los_Angeles"


@dataclass
class Hub:
    url: str
    site: TrelloSite
    settings: Settings
    worker: Worker
    api: TrelloClient
    held: list[bytes] = field(default_factory=list)
    http: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=10)
    )  # one SSL context, not one a post

    def hook_url(self, source_id: int | None = None) -> str:
        return f"{self.url}/webhooks/trello/{source_id or self.site.source_id}"

    def deliver_and_drain(self) -> None:
        assert self.site.state.wait_deliveries(10), "sandbox deliveries did not finish"
        self.drain()

    def drain(self) -> None:
        for _ in range(50):
            if not self.worker.run_once():
                return
        raise AssertionError("inbox did not drain")

    def post(
        self, body: bytes, *, source_id: int | None = None, signature: str | None = None
    ) -> httpx.Response:
        url = self.hook_url(source_id)
        headers = {
            "Content-Type": "application/json",
            "X-Trello-Webhook": signature or sign(self.site.state.app_secret, body, url),
        }
        return self.http.post(url, content=body, headers=headers)

    def task(self, external_id: str) -> Any:
        with self.site.db.read() as c:
            return c.execute(sa.select(T).where(T.c.external_id == external_id)).one_or_none()

    def inbox(self, source_id: int | None = None) -> list[Any]:
        with self.site.db.read() as c:
            return c.execute(
                sa.select(IE.c.id, IE.c.dedupe_key, IE.c.status, IE.c.reason, IE.c.error)
                .where(IE.c.source_id == (source_id or self.site.source_id))
                .order_by(IE.c.id)
            ).all()

    def card_fetches(self) -> int:
        routes = self.site.state.stats.snapshot()["by_route"]
        return routes.get("GET /1/cards/{card_id}", 0) + routes.get("GET /1/batch", 0)


@pytest.fixture
def hub(trello_site: TrelloSite) -> Iterator[Hub]:
    site = trello_site
    with site.db.write() as c:
        c.execute(sa.update(Organization.__table__).values(timezone=ORG_TZ))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = site.settings.model_copy(update={"public_base_url": url})
    app = create_app(settings, site.db, run_worker=False, migrate=False)
    _, stop = run_in_thread(app, port=port, probe_path="/healthz", lifespan="on")
    api = TrelloClient(site.state.api_key, "sandbox-token", base_url=site.url, sleep=FakeSleep(),
                    outbound=settings.outbound_policy)
    h = Hub(
        url,
        site,
        settings,
        Worker(site.db, settings, worker_id="test-worker", poll_sources=False),
        api,
    )
    try:
        run_sync(site.db, settings, site.source_id, mode="backfill", sleep=FakeSleep())
        for board_id in site.boards:
            api.register_webhook(h.hook_url(), board_id, "taskhub")
        yield h
    finally:
        h.http.close()
        stop()


def _hold_deliveries(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the signed bodies the sandbox would send, to deliver them by hand."""
    delivery = hub.site.state.delivery()
    monkeypatch.setattr(delivery, "_queue", lambda hook, body, action_id: hub.held.append(body))


def _open_card(site: TrelloSite, *, board: int = 0, not_in: tuple[str, ...] = ("Done",)) -> Any:
    b = site.state.boards[site.boards[board]]
    return next(
        c for c in b.cards.values() if not c.closed and b.lists[c.id_list].name not in not_in
    )


def _list_named(site: TrelloSite, name: str, board: int = 0) -> Any:
    b = site.state.boards[site.boards[board]]
    return next(lst for lst in b.lists.values() if lst.name == name)


def test_registration_heads_our_endpoint_and_lists_the_hooks(hub: Hub):
    hooks = hub.api.webhooks()
    assert {h["idModel"] for h in hooks} == set(hub.site.boards)
    assert all(h["callbackURL"] == hub.hook_url() and h["consecutiveFailures"] == 0 for h in hooks)
    assert hub.http.head(hub.hook_url()).status_code == 200


def test_card_changes_reach_the_store(hub: Hub):
    site, state = hub.site, hub.site.state
    moved = _open_card(site)
    done = _list_named(site, "Done")
    mutations.move_card(state, moved.id, done.id)
    archived = _open_card(site, not_in=("Done",))
    mutations.set_card_closed(state, archived.id, True)
    deleted = _open_card(site, board=1)
    mutations.delete_card(state, deleted.id)
    dated = _open_card(site, board=1)
    # 03:30 UTC on 4 March is still 3 March in Los Angeles (the org's zone).
    mutations.update_card(state, dated.id, {"due": "2031-03-04T03:30:00.000Z"})
    board = state.boards[site.boards[0]]
    assigned = next(
        c
        for c in board.cards.values()
        if not c.closed and len(c.id_members) < len(board.member_ids)
    )
    member = next(m for m in board.member_ids if m not in assigned.id_members)
    mutations.add_card_member(state, assigned.id, member)
    hub.deliver_and_drain()

    row = hub.task(moved.id)
    assert (row.status, row.status_category) == ("Done", "done")
    with site.db.read() as c:
        moves = c.execute(
            sa.select(C.c.to_value, C.c.to_category).where(
                C.c.task_external_id == moved.id, C.c.field == "status"
            )
        ).all()
    assert ("Done", "done") in [tuple(m) for m in moves]
    assert hub.task(archived.id).archived is True
    gone = hub.task(deleted.id)
    assert gone.deleted_at is not None and gone.deleted_reason == "deleted"
    assert hub.task(dated.id).due_date == date(2031, 3, 3)
    assert member in {a["external_id"] for a in hub.task(assigned.id).assignees}
    assert {r.status for r in hub.inbox()} <= {"done", "ignored"}, hub.inbox()


def test_list_rename_remaps_the_status_of_that_lists_cards(hub: Hub):
    site, state = hub.site, hub.site.state
    doing = _list_named(site, "Doing")
    on_list = [c.id for c in state.boards[site.boards[0]].cards.values() if c.id_list == doing.id]
    assert on_list
    mutations.rename_list(state, doing.id, "Shipped")
    hub.deliver_and_drain()
    for card_id in on_list:
        row = hub.task(card_id)
        assert (row.status, row.status_category) == (
            "Shipped",
            "done",
        )  # `shipped` is a done pattern
    elsewhere = [c.id for c in state.boards[site.boards[0]].cards.values() if c.id_list != doing.id]
    assert all(hub.task(cid).status != "Shipped" for cid in elsewhere)
    assert {r.status for r in hub.inbox()} == {"done"}


def test_a_board_context_refreshed_by_a_batch_is_stored_for_the_next_one(hub: Hub):
    site, state = hub.site, hub.site.state
    doing = _list_named(site, "Doing")
    card = next(c for c in state.boards[site.boards[0]].cards.values() if c.id_list == doing.id)
    mutations.rename_list(state, doing.id, "Shipped")
    hub.deliver_and_drain()
    stored = load_board_context(
        site.db, site.source_id, site.boards[0], timezone=ORG_TZ, milestone_label="Milestone"
    )
    assert stored is not None and stored.lists[doing.id].name == "Shipped"
    state.stats.reset()
    mutations.update_card(state, card.id, {"name": "Later edit"})
    hub.deliver_and_drain()
    row = hub.task(card.id)
    assert (row.title, row.status) == ("Later edit", "Shipped")  # mapped with the stored context
    assert state.stats.snapshot()["by_route"].get("GET /1/boards/{board_id}", 0) == 0


def test_fifty_updates_to_one_card_cost_at_most_two_fetches(hub: Hub):
    site, state = hub.site, hub.site.state
    card = _open_card(site)
    state.stats.reset()
    for n in range(50):
        mutations.update_card(state, card.id, {"name": f"Rename #{n}"})
    hub.deliver_and_drain()
    assert len(hub.inbox()) == 50
    assert hub.card_fetches() <= 2
    assert hub.task(card.id).title == "Rename #49"


def test_tampered_or_unsigned_delivery_is_401_and_stores_nothing(hub: Hub, monkeypatch):
    _hold_deliveries(hub, monkeypatch)
    card = _open_card(hub.site)
    mutations.update_card(hub.site.state, card.id, {"name": "Forged"})
    body = hub.held[0]
    good = sign(hub.site.state.app_secret, body, hub.hook_url())
    tampered = hub.post(body.replace(b"Forged", b"Fooled"), signature=good)
    wrong_secret = hub.post(body, signature=sign("not-the-secret", body, hub.hook_url()))
    wrong_url = hub.post(
        body, signature=sign(hub.site.state.app_secret, body, "https://elsewhere.example/hook")
    )
    unsigned = hub.http.post(hub.hook_url(), content=body)
    for r in (tampered, wrong_secret, wrong_url, unsigned):
        assert r.status_code == 401, r.text
    hub.drain()
    assert hub.inbox() == [] and hub.task(card.id).title != "Forged"


def test_out_of_order_and_duplicate_deliveries_are_harmless(hub: Hub, monkeypatch):
    site, state = hub.site, hub.site.state
    _hold_deliveries(hub, monkeypatch)
    card = _open_card(site, not_in=("Done", "Review"))
    review, done = _list_named(site, "Review"), _list_named(site, "Done")
    t0 = state.now()
    mutations.move_card(state, card.id, review.id, ts=t0 + 60)
    mutations.update_card(state, card.id, {"name": "Final title"}, ts=t0 + 120)
    mutations.move_card(state, card.id, done.id, ts=t0 + 180)
    first, middle, newest = hub.held
    for body in (
        newest,
        newest,
        middle,
        first,
        middle,
    ):  # newest first, then stale ones and retries
        assert hub.post(body).status_code == 202
        hub.drain()  # one at a time: each in its own worker batch
    rows = hub.inbox()
    assert len(rows) == 3 and {r.status for r in rows} == {"done"}
    row = hub.task(card.id)
    assert (row.status, row.status_category, row.title) == ("Done", "done", "Final title")
    with site.db.read() as c:
        moves = (
            c.execute(
                sa.select(C.c.to_value).where(
                    C.c.task_external_id == card.id,
                    C.c.field == "status",
                    C.c.origin == "changelog",
                    C.c.changed_at > datetime.fromtimestamp(t0, UTC),  # not the backfilled history
                )
            )
            .scalars()
            .all()
        )
    assert sorted(moves) == ["Done", "Review"]  # both moves kept once, whatever the order


def test_sandbox_duplicates_and_reordering_end_in_the_right_state(hub: Hub):
    site, state = hub.site, hub.site.state
    state.config.update({"duplicate_probability": 0.5, "reorder_probability": 0.5})
    cards = [c for c in state.boards[site.boards[0]].cards.values() if not c.closed][:6]
    done = _list_named(site, "Done")
    log = state.boards[site.boards[0]].actions
    before = len(log)
    for card in cards:
        mutations.update_card(state, card.id, {"name": f"{card.name} (edited)"})
        mutations.move_card(state, card.id, done.id)
    hub.deliver_and_drain()
    for card in cards:
        row = hub.task(card.id)
        assert (row.title, row.status) == (card.name, "Done")
    rows = hub.inbox()
    actions = len(log) - before
    assert actions >= 6 and len(rows) == actions and {r.status for r in rows} == {"done"}
    sent = [e for e in state.delivery().log if e["ok"]]
    assert len(sent) > actions  # the sandbox did send duplicates; each action was stored once


def test_every_captured_payload_ends_done_or_ignored(hub: Hub):
    """Real deliveries name boards and cards the sandbox never had: the board fetch 404s (the
    action's names are used), the card fetch 404s (tombstone) — settled, never a retry loop.
    Posted to a second source that mirrors every board (no scope yet)."""
    site = hub.site
    _, open_source = register_trello(site.db, site.settings, site.url, site.state, org="open")
    files = sorted((REALDATA / "trello-webhooks").rglob("*.json"))
    assert len(files) >= 50
    for path in files:
        r = hub.post(path.read_bytes(), source_id=open_source)
        assert r.status_code == 202, (path.name, r.text)
    hub.drain()
    with site.db.read() as c:
        rows = c.execute(
            sa.select(IE.c.dedupe_key, IE.c.status, IE.c.reason, IE.c.error, IE.c.attempts)
            .where(IE.c.source_id == open_source)
            .order_by(IE.c.id)
        ).all()
        tombstones = c.execute(
            sa.select(sa.func.count())
            .select_from(T)
            .where(T.c.source_id == open_source, T.c.deleted_reason == "deleted")
        ).scalar()
    assert len(rows) == len({dedupe_key(p.read_bytes()) for p in files})
    assert [r for r in rows if r.status not in ("done", "ignored")] == []
    assert all(r.attempts == 1 for r in rows)
    assert all(r.reason for r in rows if r.status == "ignored")
    assert tombstones >= 1

    # The scoped source ignores the same deliveries: their boards are not the ones it mirrors.
    for path in files[:5]:
        assert hub.post(path.read_bytes()).status_code == 202
    hub.drain()
    scoped = hub.inbox()
    assert len(scoped) == 5 and all(
        r.status == "ignored" and "not mirrored" in r.reason for r in scoped
    )


def test_behind_a_proxy_the_registered_public_url_is_what_verifies(hub: Hub):
    """Trello signs with the callback URL it was given (the public one); the request that
    reaches us after a proxy has another URL. Both verify; any other URL does not."""
    site = hub.site
    public = "https://hooks.example.com/taskhub"
    settings = site.settings.model_copy(update={"public_base_url": public})
    db = Database(site.db.url)  # its own async engine: one per app (and event loop)
    app = create_app(settings, db, run_worker=False, migrate=False)
    url, stop = run_in_thread(app, probe_path="/healthz", lifespan="on")
    try:
        card = _open_card(site)
        path = f"/webhooks/trello/{site.source_id}"
        secret = site.state.app_secret

        def deliver(action_id: str, signed_for: str) -> int:
            body = (
                b'{"action": {"id": "' + action_id.encode() + b'", "type": "updateCard", '
                b'"date": "2031-01-01T00:00:00.000Z", "data": {"card": {"id": "'
                + card.id.encode()
                + b'"}, "old": {"name": "x"}, "board": {"id": "'
                + site.boards[0].encode()
                + b'"}}}}'
            )
            headers = {"X-Trello-Webhook": sign(secret, body, signed_for)}
            return hub.http.post(url + path, content=body, headers=headers).status_code

        assert deliver("a" * 24, public + path) == 202
        assert deliver("b" * 24, url + path) == 202
        assert deliver("c" * 24, "https://attacker.example" + path) == 401
    finally:
        stop()
        db.dispose()


def test_a_card_created_into_progress_gets_its_entry_change_from_the_webhook(hub: Hub):
    site, state = hub.site, hub.site.state
    doing = _list_named(site, "Doing")
    card = mutations.create_card(state, doing.id, "straight into Doing")
    hub.deliver_and_drain()
    created = next(a for a in state.boards[site.boards[0]].actions
                   if a.type == "createCard" and a.id_card == card.id)
    with site.db.read() as c:
        rows = c.execute(sa.select(C.c.external_id, C.c.to_category).where(
            C.c.task_external_id == card.id, C.c.field == "status")).all()
    # the id the history read and a poll give it: whichever comes first, it is stored once
    assert [tuple(r) for r in rows] == [(f"{created.id}:entry", "in_progress")]
    assert hub.task(card.id).started_at is not None
