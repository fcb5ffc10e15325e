"""Issue 20: ``GET /api/v1/tasks?overdue=true`` is "due before today in the organization's time
zone" (METRICS.md, as the views' overdue), not the server's date. Both stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from mappings.model import StatusCategory
from service import store
from service.tables import Organization
from service.views.selection import org_today
from tests.service.conftest import JIRA_SOURCE
from tests.service.factories import task


def _zone_on_another_date() -> str:
    """A zone whose date differs from the server's (UTC) date now: UTC+14 from 10:00 UTC on,
    UTC-12 before 12:00 UTC (each with an hour's margin where chosen)."""
    return "Etc/GMT-14" if datetime.now(UTC).hour >= 11 else "Etc/GMT+12"


def test_overdue_uses_today_in_the_organizations_zone(client, db, acme):
    zone = _zone_on_another_date()
    orgs = Organization.__table__
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]
    with db.write() as c:
        c.execute(sa.update(orgs).where(orgs.c.id == acme.org_id).values(timezone=zone))
    today = org_today(ZoneInfo(zone))
    server_today = datetime.now(UTC).date()
    assert today != server_today  # the test tells the two rules apart
    # "yesterday": due the day before the organization's today (overdue); "today": due today
    # (not overdue yet); "done": due yesterday but done (never overdue); "none": no due date.
    with db.write() as c:
        store.upsert_tasks(c, acme.org_id, sid, [
            task("yesterday", due_date=today - timedelta(days=1)),
            task("today", due_date=today),
            task("done", due_date=today - timedelta(days=1), category=StatusCategory.done),
            task("none"),
        ])
    if org_today(ZoneInfo(zone)) != today:  # pragma: no cover - midnight passed in that zone
        return

    def get(**p: object) -> list[str]:
        r = client.get("/api/v1/tasks", params=p, headers=acme.h("read"))
        assert r.status_code == 200, r.text
        return sorted(t["external_id"] for t in r.json()["items"])

    assert get(overdue=True) == ["yesterday"]
    # No due date: never overdue, so in overdue=false (was in neither: found by review).
    assert get(overdue=False) == ["done", "none", "today"]
    # By the server's date the answer would differ: ahead of UTC, "yesterday" is the server's
    # today (not overdue); behind it, "today" is the server's yesterday (overdue).
    by_server = sorted(x for x, d in (("yesterday", today - timedelta(days=1)), ("today", today))
                       if d < server_today)
    assert by_server != ["yesterday"]
    assert isinstance(today, date)
