"""Trello time as dated, attributed worklogs (METRICS.md "Worklogs from Trello"), end to end:
the sandbox's ``updateCustomFieldItem`` actions through py-trello, the sync and the store."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sandbox.trello import mutations
from service.sync.runner import run_sync
from service.tables import PersonIdentity, Worklog, table
from tests.sync.conftest import FakeSleep, TrelloSite

W, PI = table(Worklog), table(PersonIdentity)


def _hours_field(state: Any, board_id: str) -> str:
    return next(cf.id for cf in state.boards[board_id].custom_fields.values() if cf.name == "Hours spent")


def _worklogs(site: TrelloSite, card_id: str) -> list[Any]:
    with site.db.read() as c:
        return c.execute(
            sa.select(W.c.external_id, W.c.seconds, W.c.carried_in, PI.c.external_id.label("member"))
            .outerjoin(PI, sa.and_(PI.c.person_id == W.c.person_id, PI.c.tool == "trello"))
            .where(W.c.source_id == site.source_id, W.c.task_external_id == card_id, W.c.deleted_at.is_(None))
            .order_by(W.c.started_at, W.c.external_id)
        ).all()


def test_an_hours_change_seen_by_a_poll_is_a_worklog_by_its_member(trello_site: TrelloSite):
    site, state = trello_site, trello_site.state
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    board_id = site.boards[0]
    field = _hours_field(state, board_id)
    card = next(c for c in state.boards[board_id].cards.values() if field not in c.custom)
    member = next(iter(state.boards[board_id].membership_ids))
    before = {w.external_id for w in _worklogs(site, card.id)}
    mutations.set_custom_field(state, card.id, field, "3.5", by=member)
    mutations.set_custom_field(state, card.id, field, "2", by=member)  # lowered: a correction
    mutations.set_custom_field(state, card.id, field, None, by=member)  # emptied
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    new = [w for w in _worklogs(site, card.id) if w.external_id not in before]
    assert [w.seconds for w in new] == [12600, -5400, -7200]
    assert {w.member for w in new} == {member} and not any(w.carried_in for w in new)
