"""Backfill then action-driven incremental against the Trello sandbox, through py-trello."""

from __future__ import annotations

import sqlalchemy as sa

from sandbox.trello import mutations
from service.sync.runner import run_sync
from service.tables import Task
from tests.sync.conftest import FakeSleep


def _task(db, ext):
    T = Task.__table__
    with db.read() as c:
        return c.execute(sa.select(T).where(T.c.external_id == ext)).one()


def test_backfill_then_incremental_follows_a_moved_card(trello_site):
    site = trello_site
    run = run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    T = Task.__table__
    with site.db.read() as c:
        n = c.execute(sa.select(sa.func.count()).select_from(T)).scalar()
    assert n == 50 and run.api_calls == 6 + 2  # + each board's history: one page
    noop = run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert noop.api_calls == 2  # one actions request per board
    state = site.state
    board = state.boards[site.boards[0]]
    card = next(c for c in board.cards.values() if not c.closed and board.lists[c.id_list].name != "Done")
    done_list = next(lst for lst in board.lists.values() if lst.name == "Done")
    mutations.move_card(state, card.id, done_list.id)
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    row = _task(site.db, card.id)
    assert row.status == "Done" and row.status_category == "done"
