"""Webhooks and remap categorize status transitions by id through the catalogue the sync
cached: a move out of a status the issue is no longer in still has its category."""

from __future__ import annotations

import sqlalchemy as sa

from sandbox.jira import mutations
from service.sync.remap import remap_source
from service.sync.runner import run_sync
from service.tables import Change, Source
from tests.sync.conftest import FakeSleep
from tests.sync.test_jira_webhooks_e2e import Hub, hub  # noqa: F401 - the fixture

C = Change.__table__


def _moves(db, task_external_id: str) -> list:
    with db.read() as c:
        return c.execute(sa.select(C.c.from_value, C.c.to_value, C.c.from_id, C.c.to_id, C.c.from_category,
                                   C.c.to_category).where(C.c.task_external_id == task_external_id,
                                                          C.c.field == "status").order_by(C.c.changed_at)).all()


def test_a_webhook_transition_is_categorized_by_status_id_on_both_sides(hub: Hub):  # noqa: F811
    site = hub.site
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    issue = mutations.create_issue(site.state, "APOLLO", "Moved by webhooks")
    mutations.transition_issue(site.state, issue.key, "In Progress")
    mutations.transition_issue(site.state, issue.key, "Done")
    hub.deliver_and_drain()
    moves = [tuple(m) for m in _moves(site.db, str(issue.id))]
    # The issue is Done now: only the catalogue knows "In Progress" (id 3) and "To Do" (10000).
    # Its three events came in one inbox batch: each one's changelog entry is kept.
    assert moves[-2:] == [("To Do", "In Progress", "10000", "3", "todo", "in_progress"),
                     ("In Progress", "Done", "3", "10002", "in_progress", "done")]


def test_remap_recategorizes_stored_transitions_under_a_changed_status_override(hub: Hub):  # noqa: F811
    site = hub.site
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    with site.db.read() as c:
        review = c.execute(sa.select(sa.func.count()).where(C.c.to_value == "In Review",
                                                            C.c.to_category == "in_progress")).scalar()
    assert review > 0
    with site.db.write() as c:  # the PM decides a review means done
        c.execute(sa.update(Source.__table__).values(
            mapping_profile={"jira": {"status_overrides": {"In Review": "done"}}}))
    calls = site.state.stats.snapshot()["total"]
    result = remap_source(site.db, site.source_id)
    assert result["status_changes_recategorized"] >= review
    with site.db.read() as c:
        assert c.execute(sa.select(sa.func.count()).where(C.c.to_value == "In Review",
                                                          C.c.to_category != "done")).scalar() == 0
    assert site.state.stats.snapshot()["total"] == calls  # no request to Jira
