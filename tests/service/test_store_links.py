"""The store's issue links (task_link), flagged and affected versions (issue 23), on both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from mappings.jira import effects_from_webhook, map_issue
from mappings.model import Change, LinkRef, StatusCategory, TaskDelete, TaskPatch
from mappings.profile import load_default_profile
from service import store
from service.tables import Change as ChangeRow
from service.tables import Task, TaskLink
from tests.service.factories import T0, make_org, make_source, task

REAL = Path("/work/shared/realdata")
L = TaskLink.__table__
C = ChangeRow.__table__


def _blocker(ident: str = "500", other: str = "20", key: str | None = "PRJ-20",
             cat: StatusCategory | None = StatusCategory.in_progress) -> LinkRef:
    return LinkRef(external_id=ident, link_type="Blocks", direction="inward", phrase="is blocked by",
                   role="blocked_by", other_external_id=other, other_key=key, other_status_category=cat)


def _links(db, holder: str | None = None) -> dict[tuple[str, str], object]:
    with db.read() as c:
        q = sa.select(L)
        if holder is not None:
            q = q.where(L.c.task_external_id == holder)
        return {(r.task_external_id, r.external_id): r for r in c.execute(q)}


def _changes(db, field: str) -> list:
    with db.read() as c:
        return list(c.execute(sa.select(C).where(C.c.field == field).order_by(C.c.changed_at, C.c.id)))


def test_links_are_replaced_tombstoned_and_revived(db):
    org = make_org(db)
    src = make_source(db, org)
    made = T0 - timedelta(days=3)
    link_change = Change(task_external_id="1", external_id="h1:0", field="link",
                         to_value="This issue is blocked by PRJ-20", to_id="PRJ-20", changed_at=made)
    first = task("1", links=[_blocker()])
    first.changes = [link_change]
    with db.write() as c:
        store.upsert_tasks(c, org, src, [first])
    (row,) = _links(db).values()
    assert (row.role, row.direction, row.phrase, row.other_key, row.other_status_category) == (
        "blocked_by", "inward", "is blocked by", "PRJ-20", "in_progress")
    assert row.created_at == made and row.deleted_at is None  # the changelog's time, not now
    assert row.org_id == org and row.link_type == "Blocks"

    # A version without links in the payload (None) keeps the stored ones.
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=1)])
    assert _links(db)[("1", "500")].deleted_at is None

    # The blocker is done now: the row follows; a second link comes.
    other = LinkRef(external_id="501", link_type="Relates", direction="outward", phrase="relates to",
                    other_external_id="30", other_key="PRJ-30")
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=2, links=[_blocker(cat=StatusCategory.done), other])])
    rows = _links(db)
    assert rows[("1", "500")].other_status_category == "done" and rows[("1", "500")].created_at == made
    assert rows[("1", "501")].role == "other" and rows[("1", "501")].deleted_at is None

    # The blocker is gone: tombstoned, the other one stays.
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=3, links=[other])])
    rows = _links(db)
    assert rows[("1", "500")].deleted_at is not None and rows[("1", "501")].deleted_at is None
    # Listed again: revived, made again (no changelog time: now, not the first time).
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=4, links=[_blocker(), other])])
    revived = _links(db)[("1", "500")]
    assert revived.deleted_at is None and revived.created_at > made
    # An empty list tombstones them all; rows stay one per link.
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=5, links=[])])
    assert all(r.deleted_at is not None for r in _links(db).values()) and len(_links(db)) == 2


def test_a_stale_version_does_not_touch_links_and_a_deleted_task_keeps_them(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=5, links=[_blocker()])])
    with db.write() as c:
        stats = store.upsert_tasks(c, org, src, [task("1", minutes=1, links=[])])
    assert stats.stale == 1 and _links(db)[("1", "500")].deleted_at is None
    with db.write() as c:
        store.apply_task_deletes(c, org, src, [TaskDelete(external_id="1", at=T0 + timedelta(minutes=6))])
    assert _links(db)[("1", "500")].deleted_at is None  # hidden through its task's tombstone


def test_flagged_and_affected_versions_are_written_and_an_observed_flag_change_recorded(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", affected_versions=["10000", "10001"])])
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=30, flagged=True, affected_versions=["10000"])])
    with db.read() as c:
        row = c.execute(sa.select(Task.__table__).where(Task.__table__.c.external_id == "1")).one()
    assert row.flagged is True and row.affected_versions == ["10000"]
    (obs,) = _changes(db, "flagged")
    assert (obs.from_value, obs.to_value, obs.origin) == ("false", "true", "observed")
    assert obs.changed_at == T0 + timedelta(minutes=30)
    # A changelog entry for it: no observed row beside it.
    unflag = task("1", minutes=40, flagged=False)
    unflag.changes = [Change(task_external_id="1", external_id="h9:0", field="flagged", from_value="true",
                             to_value="false", changed_at=T0 + timedelta(minutes=39))]
    with db.write() as c:
        store.upsert_tasks(c, org, src, [unflag])
    assert [(r.to_value, r.origin) for r in _changes(db, "flagged")] == [("true", "observed"), ("false", "changelog")]


def test_a_patch_sets_flagged_and_replaces_links(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", links=[_blocker()])])
    patch = TaskPatch(external_id="1", fields={"flagged": True, "links": [], "affected_versions": ["7"]},
                      updated_at=T0 + timedelta(minutes=1))
    with db.write() as c:
        stats = store.apply_task_patches(c, org, src, [patch])
    assert stats.changed == 1
    with db.read() as c:
        row = c.execute(sa.select(Task.__table__.c.flagged, Task.__table__.c.affected_versions)).one()
    assert row.flagged is True and row.affected_versions == ["7"]
    assert _links(db)[("1", "500")].deleted_at is not None


def _pinpoint(name: str) -> dict:
    return json.loads((REAL / "jira-webhooks/pinpoint" / f"{name}.json").read_text())


def test_link_webhooks_add_both_sides_fill_known_keys_and_tombstone(db):
    org = make_org(db)
    src = make_source(db, org)
    profile = load_default_profile()
    with db.write() as c:  # the link's destination is a stored task: its key and category are known
        store.upsert_tasks(c, org, src, [task("20734", status="Doing", category=StatusCategory.in_progress)])
    created = effects_from_webhook(_pinpoint("issuelink_created"), site_url="https://x", profile=profile)
    with db.write() as c:
        store.apply_effects(c, org, src, created)
        store.apply_effects(c, org, src, created)  # again: nothing more
    rows = _links(db)
    assert set(rows) == {("20192", "22768"), ("20734", "22768")}
    src_side, dst_side = rows[("20192", "22768")], rows[("20734", "22768")]
    assert (src_side.direction, src_side.role, src_side.phrase) == ("outward", "blocks", "blocks")
    assert (src_side.other_key, src_side.other_status_category) == ("PRJ-20734", "in_progress")
    assert (dst_side.direction, dst_side.role, dst_side.phrase) == ("inward", "blocked_by", "is blocked by")
    assert dst_side.other_external_id == "20192" and dst_side.other_key is None  # not stored
    assert src_side.created_at == datetime(2020, 7, 7, 0, 30, 54, 17000, tzinfo=UTC)
    deleted = effects_from_webhook(_pinpoint("issuelink_deleted"), site_url="https://x", profile=profile)
    with db.write() as c:
        stats = store.apply_effects(c, org, src, deleted)
    assert stats.deleted == 1
    assert all(r.deleted_at is not None for r in _links(db).values())
    with db.write() as c:  # created again later: revived with the new time
        store.apply_effects(c, org, src, created)
    assert all(r.deleted_at is None for r in _links(db).values())


def test_real_issues_links_and_flag_history_land_in_the_store(db):
    org = make_org(db)
    src = make_source(db, org)
    profile = load_default_profile()
    upserts = [map_issue(json.loads((REAL / f"jira-rest/jirametrics/testdata/{n}.json").read_text()),
                         site_url="https://x", profile=profile) for n in ("SP-13", "SP-14", "SP-15")]
    with db.write() as c:
        store.upsert_tasks(c, org, src, upserts)
    sp15 = {r.external_id: r for (t, _), r in _links(db).items() if t == "10022"}
    assert sp15["10003"].role == "blocked_by" and sp15["10003"].other_key == "SP-14"
    assert sp15["10003"].created_at == datetime(2022, 4, 24, 16, 42, 42, 531000, tzinfo=UTC)
    assert sp15["10002"].role == "other" and sp15["10002"].phrase == "clones"
    assert [(r.task_external_id, r.to_value) for r in _changes(db, "flagged")] == [("10022", "true")]
    assert {r.to_value for r in _changes(db, "link")} >= {"This issue is blocked by SP-14", "This issue blocks SP-15"}
