"""The Trello sync against the sandbox, through py-trello's ``fetch_json``: pacing under
Trello's real limits, 429 storms, census, scope, the card-list switch, leases, bad tokens.

Trello reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits/
(100 requests / 10 s per token, 300 / 10 s per key, 429 without ``Retry-After``) and
https://developer.atlassian.com/cloud/trello/rest/api-group-boards/ (actions, cards).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.errors import RateLimited, Unauthorized
from connectors.trello import RateLimiter, set_default_limiter
from sandbox.trello import TrelloState, generate, mutations, start
from sandbox.trello.testing import FakeClock
from service.db import Database
from service.schemas import SourceCreate
from service.security.auth import create_org
from service.sources import create_source
from service.sync.runner import SyncBusy, run_sync
from service.tables import Source, SyncRun, Task
from tests.sync.conftest import FakeSleep, TrelloSite, sync_settings

T = Task.__table__
CARD_LIST = "GET /1/boards/{board_id}/cards/{card_filter}"
BATCH = "GET /1/batch"


def _register(
    db: Database,
    settings: Any,
    api_base: str,
    state: TrelloState,
    *,
    token: str = "sandbox-token",  # noqa: S107 - the sandbox's test token
    boards: list[str] | None = None,
) -> int:
    with db.session() as s:
        org = create_org(s, f"org-{token}")
        body: dict[str, Any] = {
            "kind": "trello",
            "name": "trello",
            "base_url": api_base,
            "credentials": {"type": "trello", "api_key": state.api_key, "token": token, "app_secret": state.app_secret},
        }
        if boards:
            body["scope"] = {"boards": boards}
        return create_source(s, settings, org.id, SourceCreate.model_validate(body)).id  # type: ignore[return-value]


def _task(db: Database, ext: str) -> Any:
    with db.read() as c:
        return c.execute(sa.select(T).where(T.c.external_id == ext)).one_or_none()


def _live_count(db: Database) -> int:
    with db.read() as c:
        return int(
            c.execute(
                sa.select(sa.func.count()).select_from(T).where(T.c.deleted_at.is_(None))
            ).scalar()
            or 0
        )


def _routes(state: TrelloState) -> dict[str, int]:
    return state.stats.snapshot()["by_route"]


@pytest.fixture
def paced_site(
    db: Database, tmp_path: Path
) -> Iterator[tuple[TrelloState, Any, int, RateLimiter, FakeClock]]:
    """20 boards behind Trello's real limits, on a fake clock shared by sandbox and limiter
    (the limiter's waits move time; nothing sleeps for real)."""
    clock = FakeClock()
    state = TrelloState(seed=11, clock=clock.now)
    generate(state, boards=20, cards_per_board=15, seed=11)
    limiter = RateLimiter(
        clock=clock.now, sleep=clock.sleep
    )  # real limits: 100/10 s token, 300/10 s key
    set_default_limiter(limiter)
    url, stop = start(state)
    settings = sync_settings(tmp_path)
    source_id = _register(db, settings, url + "/1", state)  # no scope: every board of the token
    try:
        yield state, settings, source_id, limiter, clock
    finally:
        stop()
        set_default_limiter(None)


def test_a_sync_of_twenty_boards_never_draws_a_429(db, paced_site):
    state, settings, source_id, limiter, clock = paced_site
    assert state.config.limits_enabled and state.config.token_limit == 100
    first = run_sync(db, settings, source_id, mode="backfill", sleep=FakeSleep())
    again = run_sync(db, settings, source_id, mode="full", sleep=FakeSleep())
    for board in list(state.boards.values()):
        card = next(c for c in board.cards.values() if not c.closed)
        mutations.update_card(state, card.id, {"name": card.name + " (edited)"})
    delta = run_sync(db, settings, source_id, mode="incremental", sleep=FakeSleep())
    # the first sync also reads each board's history (one page here); a full re-read does not,
    # only the actions since the last poll (one request a board: hours changed since are worklogs)
    assert (first.api_calls, again.api_calls, delta.api_calls) == (1 + 4 * 20, 4 * 20, 2 * 20)
    assert state.stats.snapshot()["by_status"].get("429", 0) == 0
    assert limiter.waits > 0 and clock.sleeps  # 181 requests: the limiter had to hold some back
    assert _live_count(db) == len(state.cards)


def test_a_429_storm_is_survived_with_bounded_backoff(trello_site: TrelloSite):
    site = trello_site
    site.state.config.update({"storm_remaining": 4})
    sleep = FakeSleep()
    run = run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=sleep)
    assert site.state.stats.snapshot()["by_status"]["429"] == 4
    assert len(sleep.waits) == 4 and all(0 < w <= 60 for w in sleep.waits)
    assert sleep.waits == sorted(sleep.waits)  # backing off, not hammering
    assert run.api_calls == 6 + 2 + 4 and _live_count(site.db) == 50


def test_a_storm_longer_than_the_attempts_fails_the_run_without_a_retry_storm(
    trello_site: TrelloSite,
):
    site = trello_site
    site.state.config.update({"storm_remaining": 1000})
    with pytest.raises(RateLimited):
        run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    assert site.state.stats.snapshot()["total"] == 6  # max_attempts, then give up
    with site.db.read() as c:
        run = c.execute(sa.select(SyncRun.__table__)).one()
    assert run.status == "failed" and "RateLimited" in run.error
    site.state.config.update({"storm_remaining": 0})
    run_sync(
        site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep()
    )  # the next run recovers
    assert _live_count(site.db) == 50


def test_census_tombstones_a_card_deleted_while_its_action_went_unseen(trello_site: TrelloSite):
    site, state = trello_site, trello_site.state
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    board = state.boards[site.boards[0]]
    victim = next(iter(board.cards.values()))
    mutations.delete_card(state, victim.id)
    board.actions = [a for a in board.actions if a.type != "deleteCard"]  # the action log lost it
    renamed = next(c for c in board.cards.values() if c.id != victim.id)
    renamed.name, renamed.last_activity = (
        "Renamed without an action",
        state.now() + 1,
    )  # nor this edit
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _task(site.db, victim.id).deleted_at is None  # the log cannot tell
    census = run_sync(site.db, site.settings, site.source_id, mode="census", sleep=FakeSleep())
    row = _task(site.db, victim.id)
    assert row.deleted_at is not None and row.deleted_reason == "deleted"
    # per board one card list and the actions since the last poll (an hours change there is a
    # worklog, not carried-in hours), one /batch for the missing card
    assert census.api_calls == 2 * 2 + 1
    assert _task(site.db, renamed.id).title == "Renamed without an action"  # reconciled too
    assert _live_count(site.db) == 49


def test_a_card_moved_to_a_board_outside_the_scope_is_out_of_scope(trello_site: TrelloSite):
    site, state = trello_site, trello_site.state
    (outside,) = generate(state, boards=1, cards_per_board=3, seed=99)
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    leaving = next(iter(state.boards[site.boards[0]].cards.values()))
    mutations.move_card_to_board(state, leaving.id, outside)
    # Between two mirrored boards a card stays alive; the target board is synced first.
    crossing = next(iter(state.boards[site.boards[1]].cards.values()))
    mutations.move_card_to_board(state, crossing.id, site.boards[0])
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    gone = _task(site.db, leaving.id)
    assert gone.deleted_at is not None and gone.deleted_reason == "out_of_scope"
    # Tombstoned as of the move (the action's time), not of the sync that saw it.
    (left,) = [a for a in state.boards[site.boards[0]].actions
               if a.type == "moveCardFromBoard" and (a.card or {}).get("id") == leaving.id]
    stamped = gone.deleted_at if gone.deleted_at.tzinfo else gone.deleted_at.replace(tzinfo=UTC)
    assert abs(stamped - datetime.fromtimestamp(left.ts, UTC)) < timedelta(milliseconds=1)
    moved = _task(site.db, crossing.id)
    assert moved.deleted_at is None
    assert moved.raw["idBoard"] == site.boards[0] and moved.status == "Backlog"
    assert _task(site.db, next(iter(state.boards[outside].cards))) is None  # never mirrored


def test_incremental_after_many_changes_rereads_the_card_list_not_batches(trello_site: TrelloSite):
    site, state = trello_site, trello_site.state
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    board0, board1 = (state.boards[b] for b in site.boards)
    for card in list(board0.cards.values())[:15]:  # most of a 25-card board
        mutations.update_card(state, card.id, {"name": card.name + " *"})
    for card in list(board1.cards.values())[:3]:  # a few
        mutations.update_card(state, card.id, {"name": card.name + " *"})
    state.stats.reset()
    run = run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    paths = state.stats.snapshot()["by_path"]
    assert paths.get(f"/1/boards/{board0.id}/cards/all") == 1
    assert paths.get(f"/1/boards/{board1.id}/cards/all") is None
    assert _routes(state).get(BATCH) == 1  # board 1's three cards: one /batch
    assert run.api_calls == 2 + 2
    assert all(_task(site.db, c.id).title.endswith(" *") for c in list(board0.cards.values())[:15])


def test_a_no_change_poll_costs_one_request_per_board(trello_site: TrelloSite):
    site = trello_site
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    site.state.stats.reset()
    run = run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert run.api_calls == 2 and _routes(site.state) == {"GET /1/boards/{board_id}/actions": 2}


def test_two_concurrent_syncs_of_one_source_one_is_busy(trello_site: TrelloSite):
    site = trello_site
    site.state.config.update(
        {"storm_remaining": 1}
    )  # the first request draws a 429: the run sleeps
    in_sleep, release = threading.Event(), threading.Event()

    def held_sleep(seconds: float) -> None:
        in_sleep.set()
        assert release.wait(10)

    result: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: result.setdefault(
            "run",
            run_sync(
                site.db, site.settings, site.source_id, mode="backfill", owner="a", sleep=held_sleep
            ),
        )
    )
    worker.start()
    try:
        assert in_sleep.wait(10)
        with pytest.raises(SyncBusy):
            run_sync(
                site.db,
                site.settings,
                site.source_id,
                mode="backfill",
                owner="b",
                sleep=FakeSleep(),
            )
    finally:
        release.set()
        worker.join(10)
    assert result["run"].items_seen == 50 and _live_count(site.db) == 50


def test_a_rejected_token_marks_the_source_failing_with_the_reason(db, tmp_path):
    state = TrelloState(seed=2)
    generate(state, boards=1, cards_per_board=3, seed=2)
    url, stop = start(state)
    settings = sync_settings(tmp_path)
    try:
        source_id = _register(db, settings, url + "/1", state, token="not-a-real-token")
        with pytest.raises(Unauthorized):
            run_sync(db, settings, source_id, mode="backfill", sleep=FakeSleep())
    finally:
        stop()
        set_default_limiter(None)
    with db.session() as s:
        source = s.get(Source, source_id)
    assert source.status == "failing"  # from the first failed run (issue 21)
    assert source.status_reason.startswith(url.split("//", 1)[1] + ": HTTP 401 credentials rejected; ")
    # Status and classification, never the body Trello sent (issue 16: bodies stay out of the API).
    assert (
        "(Unauthorized)" in source.status_reason
        and "invalid token" not in source.status_reason
    )
    assert "not-a-real-token" not in source.status_reason
