"""Issue 23's data end to end against the sandboxes, through the real ``jira`` and ``py-trello``
libraries: Jira issue links (sync and issuelink_* webhooks), Flagged and affected versions;
Trello bug/blocked labels and their flagged history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sandbox.jira import mutations
from sandbox.jira.api import register_webhook
from sandbox.jira.records import ISSUE_TYPE_BY_NAME, LINK_TYPES
from sandbox.server import run_in_thread
from sandbox.trello import mutations as trello_mutations
from service.app import create_app
from service.sync.runner import run_sync
from service.tables import Change, Task, TaskLink
from service.worker import Worker
from tests.sync.conftest import FakeSleep, JiraSite

T = Task.__table__
L = TaskLink.__table__
C = Change.__table__


def _links(db) -> dict[tuple[str, str], object]:
    with db.read() as c:
        return {(r.task_external_id, r.external_id): r for r in c.execute(sa.select(L))}


def _task(db, ext) -> object:
    with db.read() as c:
        return c.execute(sa.select(T).where(T.c.external_id == str(ext))).one()


def _changes(db, ext, field: str) -> list[tuple[str | None, str | None, str]]:
    with db.read() as c:
        return [tuple(r) for r in c.execute(
            sa.select(C.c.from_value, C.c.to_value, C.c.origin)
            .where(C.c.task_external_id == str(ext), C.c.field == field).order_by(C.c.changed_at, C.c.id))]


def test_jira_backfill_stores_links_flags_and_versions_then_polls_follow_changes(jira_site: JiraSite):
    site, state = jira_site, jira_site.state
    by_project: dict[int, list] = {}
    for issue in state.issues.values():
        by_project.setdefault(issue.project_id, []).append(issue)
    first, second = by_project.values()
    mutations.link_issues(state, first[0].key, first[1].key)  # within a project
    mutations.link_issues(state, second[0].key, first[2].key)  # across projects
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    rows = _links(site.db)
    for link in state.links.values():
        src, dst = rows[(str(link.source_id), str(link.id))], rows[(str(link.destination_id), str(link.id))]
        assert (src.direction, src.role, src.phrase) == ("outward", "blocks", "blocks")
        assert (dst.direction, dst.role, dst.phrase) == ("inward", "blocked_by", "is blocked by")
        assert dst.other_key == state.issues[link.source_id].key
        assert dst.created_at.timestamp() == pytest.approx(link.created / 1000, abs=0.001)  # the changelog's time
    assert len(rows) == 2 * len(state.links)
    flagged = {i.id for i in state.issues.values() if i.flagged}
    assert flagged
    with site.db.read() as c:
        stored = {int(e) for e in c.execute(sa.select(T.c.external_id).where(T.c.flagged.is_(True))).scalars()}
        versions = dict(c.execute(sa.select(T.c.external_id, T.c.affected_versions)).all())
    assert stored == flagged
    assert {int(e) for e, v in versions.items() if v} == {i.id for i in state.issues.values() if i.affects_version_ids}
    one = next(iter(flagged))
    assert _changes(site.db, one, "flagged")[-1][1:] == ("true", "changelog")

    # Polls: a new link, an unflag, a link removed, an affected version set.
    a, b = [i for i in state.issues.values() if not i.link_ids][:2]
    link = mutations.link_issues(state, a.key, b.key)
    mutations.edit_issue(state, one, {"flagged": False})
    gone = next(iter(set(state.links) - {link.id}))
    gone_link = state.links[gone]
    mutations.delete_link(state, gone)
    bug = next(i for i in state.issues.values() if i.type_id == ISSUE_TYPE_BY_NAME["bug"].id)
    released = next(v for v in state.versions.values() if v.released and v.project_id == bug.project_id)
    mutations.edit_issue(state, bug.id, {"affects_versions": [released.id]})
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    rows = _links(site.db)
    assert rows[(str(b.id), str(link.id))].role == "blocked_by" and rows[(str(b.id), str(link.id))].deleted_at is None
    assert rows[(str(gone_link.destination_id), str(gone))].deleted_at is not None
    assert rows[(str(gone_link.source_id), str(gone))].deleted_at is not None
    assert _task(site.db, one).flagged is False
    assert _changes(site.db, one, "flagged")[-1][1:] == ("false", "changelog")
    assert _task(site.db, bug.id).affected_versions == [str(released.id)]
    assert [c[1] for c in _changes(site.db, b.id, "link")][-1] == f"This issue is blocked by {a.key}"


@pytest.fixture
def hub(jira_site: JiraSite) -> Iterator[tuple[JiraSite, Worker]]:
    site = jira_site
    app = create_app(site.settings, site.db, run_worker=False, migrate=False)
    url, stop = run_in_thread(app, probe_path="/healthz", lifespan="on")
    register_webhook(site.state, f"{url}/webhooks/jira/{site.source_id}", secret=site.webhook_secret)
    try:
        yield site, Worker(site.db, site.settings, worker_id="test-worker", poll_sources=False)
    finally:
        stop()


def _drain(site: JiraSite, worker: Worker) -> None:
    assert site.state.flush(10)
    for _ in range(50):
        if not worker.run_once():
            return
    raise AssertionError("inbox did not drain")


def test_jira_link_webhooks_add_and_tombstone_both_sides(hub):
    site, worker = hub
    state = site.state
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    a, b = [i for i in state.issues.values() if not i.link_ids][:2]
    link = mutations.link_issues(state, a.key, b.key, "Relates")
    _drain(site, worker)
    rows = _links(site.db)
    assert rows[(str(a.id), str(link.id))].role == "other" and rows[(str(a.id), str(link.id))].phrase == "relates to"
    assert rows[(str(b.id), str(link.id))].other_key == a.key
    blocks = mutations.link_issues(state, b.key, a.key)  # b blocks a
    mutations.edit_issue(state, a.key, {"flagged": True})
    _drain(site, worker)
    assert _links(site.db)[(str(a.id), str(blocks.id))].role == "blocked_by"
    assert _task(site.db, a.id).flagged is True
    assert _changes(site.db, a.id, "flagged") == [("false", "true", "changelog")]
    mutations.delete_link(state, blocks.id)
    _drain(site, worker)
    rows = _links(site.db)
    assert rows[(str(a.id), str(blocks.id))].deleted_at is not None
    assert rows[(str(b.id), str(blocks.id))].deleted_at is not None
    assert rows[(str(a.id), str(link.id))].deleted_at is None
    assert LINK_TYPES["Blocks"].inward == "is blocked by"


def test_trello_bug_and_blocked_labels_through_sync(trello_site):
    site, state = trello_site, trello_site.state
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    board = state.boards[site.boards[0]]
    labels = {lb.name: lb.id for lb in board.labels.values()}
    with site.db.read() as c:
        rows = {r.external_id: r for r in c.execute(sa.select(T.c.external_id, T.c.type, T.c.flagged))}
    for card in board.cards.values():
        assert (rows[card.id].type == "bug") == (labels["Bug"] in card.id_labels)
        assert rows[card.id].flagged == (labels.get("Blocked") in card.id_labels)
    card = next(c for c in board.cards.values() if not c.closed and labels["Bug"] not in c.id_labels
                and labels.get("Blocked") not in c.id_labels)
    blocked = labels.get("Blocked") or trello_mutations.create_label(state, board.id, "Blocked", "red").id
    trello_mutations.add_card_label(state, card.id, blocked)
    trello_mutations.add_card_label(state, card.id, labels["Bug"])
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    row = _task(site.db, card.id)
    assert row.flagged is True and row.type == "bug"
    # From the addLabelToCard action (the store records an action's change as origin changelog).
    assert ("false", "true", "changelog") in _changes(site.db, card.id, "flagged")
    trello_mutations.remove_card_label(state, card.id, blocked)
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _task(site.db, card.id).flagged is False
    assert _changes(site.db, card.id, "flagged")[-1][:2] == ("true", "false")
