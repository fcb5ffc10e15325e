"""`taskhub remap`: a profile change re-applied from stored raw JSON, without the tool."""

from __future__ import annotations

import sqlalchemy as sa

from service.sync.remap import remap_source
from service.sync.runner import run_sync
from service.tables import Event, Source, Task
from tests.service.test_events_tasks import subscribe
from tests.sync.conftest import FakeSleep


def test_trello_profile_change_remaps_stored_cards_without_api_calls(trello_site):
    site = trello_site
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    T = Task.__table__
    with site.db.read() as c:
        before = dict(c.execute(sa.select(T.c.status, sa.func.count()).where(T.c.status_category == "done")
                                .group_by(T.c.status)).all())
    assert "Review" not in before
    with site.db.write() as c:  # the PM decides "Review" counts as done
        c.execute(sa.update(Source.__table__).values(mapping_profile={"trello": {"list_map": {"Review": "done"}}}))
    calls = site.state.stats.snapshot()["total"]
    with site.db.read() as c:
        org_id = c.execute(sa.select(Source.__table__.c.org_id)).scalar_one()
    subscribe(site.db, org_id)
    result = remap_source(site.db, site.source_id)
    assert result["tasks"] == 50 and result["unmappable"] == 0
    with site.db.read() as c:
        review = c.execute(sa.select(sa.func.count()).where(T.c.status == "Review",
                                                            T.c.status_category == "done")).scalar()
        total_review = c.execute(sa.select(sa.func.count()).where(T.c.status == "Review")).scalar()
    assert total_review > 0 and review == total_review
    assert site.state.stats.snapshot()["total"] == calls  # no request to Trello
    # Like a backfill, a remap sends no per-task event: one source.synced with the counts.
    with site.db.read() as c:
        sent = c.execute(sa.select(Event.__table__.c.type, Event.__table__.c.payload)).all()
    assert [t for t, _ in sent] == ["source.synced"]
    data = sent[0].payload["data"]
    assert data["mode"] == "remap" and data["items_seen"] == 50
    assert data["tasks"]["updated"] == total_review > 0
