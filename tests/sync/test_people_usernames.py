"""Identities keep the tools' login names (issue 20, people suggestions' username evidence):
a Trello member's ``username`` and a Jira Data Center user's ``name``; Jira Cloud has none.
Synced from the sandboxes over HTTP, on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sandbox.jira import JiraConfig, JiraState, generate, start
from service.sync.runner import run_sync
from service.tables import PersonIdentity
from tests.sync.conftest import FakeSleep, JiraSite, register_jira, sync_settings

ID = PersonIdentity.__table__


def _identities(db, org_id: int) -> dict[str, tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with db.read() as c:
        rows = c.execute(sa.select(ID.c.external_id, ID.c.tool, ID.c.username).where(ID.c.org_id == org_id))
        return {ext: (tool, username) for ext, tool, username in rows}


@pytest.fixture
def dc_site(db, tmp_path) -> Iterator[JiraSite]:  # type: ignore[no-untyped-def]
    state = JiraState(JiraConfig(deployment="DataCenter", worklog_feed_delay_ms=0))
    generate(state, projects=1, issues_per_project=20, seed=11)
    url, stop = start(state)
    settings = sync_settings(tmp_path)
    org_id, source_id, secret = register_jira(db, settings, url, dc=True, org="initech")
    yield JiraSite(url, state, settings, db, org_id, source_id, secret)
    stop()
    state.close()


def test_trello_members_keep_their_username(trello_site):
    site = trello_site
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    stored = _identities(site.db, site.org_id)
    members = {m.id: m.username for m in site.state.members.values()}
    assert stored and all(tool == "trello" for tool, _ in stored.values())
    assert {ext: username for ext, (_, username) in stored.items()} == {ext: members[ext] for ext in stored}


def test_jira_data_center_users_keep_their_name_and_cloud_users_have_none(dc_site, jira_site):
    run_sync(dc_site.db, dc_site.settings, dc_site.source_id, mode="backfill", sleep=FakeSleep())
    dc = _identities(dc_site.db, dc_site.org_id)
    assert dc and all(username == ext for ext, (_, username) in dc.items())  # the DC identity is the name
    assert "ada" in dc
    run_sync(jira_site.db, jira_site.settings, jira_site.source_id, mode="backfill", sleep=FakeSleep())
    cloud = _identities(jira_site.db, jira_site.org_id)
    assert cloud and all(username is None for _, username in cloud.values())


def test_a_username_longer_than_the_column_is_left_out_not_a_failed_sync(db):  # type: ignore[no-untyped-def]
    # Jira Data Center names reach 255 characters; the column holds 200. PostgreSQL refused the
    # whole batch ("value too long"), found by review; now the identity is stored without it.
    from mappings.model import PersonRef
    from service import store
    from tests.views.portfolio_data import make_world

    w = make_world(db)
    long, short = "u" * 201, "u" * 200
    with db.write() as c:
        store.resolve_people(c, w.org_id, [PersonRef(tool="jira", external_id="a", username=long),
                                           PersonRef(tool="jira", external_id="b", username=short),
                                           PersonRef(tool="jira", external_id="c")])
        store.resolve_people(c, w.org_id, [PersonRef(tool="jira", external_id="c", username=long)])
    got = {k: v for k, (_, v) in _identities(db, w.org_id).items()}
    assert got == {"a": None, "b": short, "c": None}
