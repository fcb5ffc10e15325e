"""A Jira issue moved to another project and a Trello card moved to another board, end to end
against the sandboxes through the real ``jira`` and ``py-trello`` libraries: the sync stores the
move as a ``project`` change row by the projects' external ids (what the risk view's scope creep
replays), and the task's project and key follow it."""

from __future__ import annotations

import sqlalchemy as sa

from sandbox.jira import mutations
from sandbox.trello import mutations as trello_mutations
from service.sync.runner import run_sync
from service.tables import Change, Project, Task
from tests.sync.conftest import FakeSleep, JiraSite

T, C, P = Task.__table__, Change.__table__, Project.__table__


def _moves(db, ext: str) -> list[tuple[str | None, str | None, str | None, str | None]]:
    with db.read() as c:
        return [tuple(r) for r in c.execute(
            sa.select(C.c.from_value, C.c.to_value, C.c.from_id, C.c.to_id)
            .where(C.c.task_external_id == ext, C.c.field == "project").order_by(C.c.changed_at, C.c.id))]


def _project_of(db, ext: str) -> tuple[str, str | None]:
    with db.read() as c:
        return tuple(c.execute(sa.select(P.c.external_id, T.c.key).select_from(T.join(P, P.c.id == T.c.project_id))
                               .where(T.c.external_id == ext)).one())


def test_a_jira_issue_moved_between_projects_of_a_source(jira_site: JiraSite):
    site, state = jira_site, jira_site.state
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    first, second = sorted(state.projects.values(), key=lambda p: p.id)
    issue = next(i for i in state.issues.values() if i.project_id == first.id)
    old_key = issue.key
    assert _project_of(site.db, str(issue.id)) == (str(first.id), old_key)
    mutations.move_issue(state, old_key, second.key)
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _project_of(site.db, str(issue.id)) == (str(second.id), issue.key)
    assert issue.key != old_key
    assert _moves(site.db, str(issue.id)) == [(str(first.id), str(second.id), str(first.id), str(second.id))]


def test_a_trello_card_moved_between_boards_of_a_source(trello_site):
    site, state = trello_site, trello_site.state
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    a, b = site.boards
    card = next(c for c in state.boards[a].cards.values() if not c.closed)
    assert _project_of(site.db, card.id)[0] == a
    trello_mutations.move_card_to_board(state, card.id, b)
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _project_of(site.db, card.id)[0] == b
    assert _moves(site.db, card.id) == [(a, b, a, b)]
