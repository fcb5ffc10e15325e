"""A Trello card moved to a board its source does not mirror and back (review of issue 23's project
moves): scope creep replays a card's board from its ``project`` change rows, so the move out must
be stored too, or the card reads as off its board before it came back (``added`` where it was in
the baseline)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.trello import mutations as trello_mutations
from service.db import Database
from service.sync.runner import run_sync
from tests.sync.conftest import FakeSleep, TrelloSite, run_trello_site
from tests.sync.test_project_moves_e2e import _moves, _project_of


@pytest.fixture
def one_board_site(db: Database, tmp_path: Path) -> Iterator[TrelloSite]:
    """Two boards in the sandbox, the source mirroring the first only."""
    yield from run_trello_site(db, tmp_path, cards_per_board=10, mirrored=1)


def test_a_card_moved_to_an_unmirrored_board_is_tombstoned_with_its_move_then_back(one_board_site: TrelloSite):
    site, state = one_board_site, one_board_site.state
    a, b = site.boards
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    card = next(c for c in state.boards[a].cards.values() if not c.closed)  # type: ignore[attr-defined]
    trello_mutations.move_card_to_board(state, card.id, b)
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _moves(site.db, card.id) == [(a, b, a, b)]  # tombstoned with its move
    trello_mutations.move_card_to_board(state, card.id, a)
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _project_of(site.db, card.id)[0] == a
    assert _moves(site.db, card.id) == [(a, b, a, b), (b, a, b, a)]


def test_a_card_moved_out_and_back_before_a_backfill_keeps_both_moves(one_board_site: TrelloSite):
    """The same moves read from the board's history by a backfill."""
    site, state = one_board_site, one_board_site.state
    a, b = site.boards
    card = next(c for c in state.boards[a].cards.values() if not c.closed)  # type: ignore[attr-defined]
    now = time.time()  # a minute apart (in one millisecond, the two moves' order would be a tie)
    trello_mutations.move_card_to_board(state, card.id, b, ts=now - 120)
    trello_mutations.move_card_to_board(state, card.id, a, ts=now - 60)
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    assert _project_of(site.db, card.id)[0] == a
    assert _moves(site.db, card.id) == [(a, b, a, b), (b, a, b, a)]

