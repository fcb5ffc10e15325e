"""The worker's weekly pass (issue 23): last week's reports as drafts, once, after Monday 06:00 in
each organization's zone; every portfolio and every project with tasks; idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from service import worker as worker_module
from service.reports.schedule import weekly_pass
from service.tables import EventState, StatusReport, table
from service.worker import Worker

SR, ES = table(StatusReport), table(EventState)
# Monday 2026-03-16 06:00 in Auckland (NZDT, UTC+13) is Sunday 2026-03-15 17:00 UTC.
BEFORE = datetime(2026, 3, 15, 16, 59, tzinfo=UTC)
AT = datetime(2026, 3, 15, 17, 0, tzinfo=UTC)


def _reports(db, org_id):
    with db.read() as c:
        return sorted((r.scope, r.scope_id, r.week_start.isoformat(), r.status) for r in c.execute(
            sa.select(SR).where(SR.c.org_id == org_id)))


def test_once_after_monday_six_in_the_organizations_zone(db, make_org):
    kiwi = make_org("kiwi", "Pacific/Auckland").world
    utc = make_org("utc", "UTC").world
    assert weekly_pass(db, BEFORE) == 3  # 05:59 Monday in Auckland: nothing there; UTC's 2026-W10 (3 scopes) is due
    assert _reports(db, kiwi.org_id) == []
    assert weekly_pass(db, AT) == 3
    # Auckland: its week 2026-W11 (Mon 03-09 .. Sun 03-15), the portfolio and both projects with tasks.
    assert _reports(db, kiwi.org_id) == sorted([("portfolio", kiwi.portfolio, "2026-03-09", "draft"),
                                               ("project", kiwi.alp, "2026-03-09", "draft"),
                                               ("project", kiwi.beta, "2026-03-09", "draft")])
    # UTC at the same instant is still in its Sunday: its due week is 2026-W10.
    assert {r[2] for r in _reports(db, utc.org_id)} == {"2026-03-02"}
    # Once: the next passes store nothing, even with the organization's marker gone (unique per week).
    assert weekly_pass(db, AT) == 0
    with db.write() as c:
        c.execute(sa.delete(ES).where(ES.c.kind == "status_reports"))
    assert weekly_pass(db, AT) == 0
    assert len(_reports(db, kiwi.org_id)) == 3
    # The stored draft is the week's, computed as of its Sunday's end in Auckland.
    with db.read() as c:
        data = c.execute(sa.select(SR.c.data).where(SR.c.org_id == kiwi.org_id, SR.c.scope == "portfolio")).scalar()
    assert (data["week"], data["as_of_date"], data["timezone"]) == ("2026-W11", "2026-03-15", "Pacific/Auckland")
    assert data["as_of"] == "2026-03-15T10:59:59.999999+00:00"  # 23:59:59.999999 NZDT


def test_a_project_without_tasks_gets_no_report(db, make_org):
    from service.tables import Project

    w = make_org("acme").world
    PR = table(Project)
    with db.write() as c:
        empty = c.execute(sa.insert(PR).values(org_id=w.org_id, source_id=w.jira, external_id="999", name="Empty",
                                               key="EMP").returning(PR.c.id)).scalar_one()
    weekly_pass(db, datetime(2026, 3, 17, 9, tzinfo=UTC))
    scopes = {(r[0], r[1]) for r in _reports(db, w.org_id)}
    assert ("project", empty) not in scopes and ("project", w.alp) in scopes and ("portfolio", w.portfolio) in scopes


def test_the_worker_runs_the_pass_with_its_date_pass(db, settings, monkeypatch):
    calls = []
    monkeypatch.setattr(worker_module, "date_pass", lambda d: calls.append(("date", d)))
    monkeypatch.setattr(worker_module, "weekly_pass", lambda d: calls.append(("weekly", d)))
    w = Worker(db, settings, poll_sources=False)
    w._date_pass()
    w._date_pass()  # within the minute: not again
    assert calls == [("date", db), ("weekly", db)]


def test_a_draft_read_while_its_week_ran_is_computed_again_at_the_weeks_end(db, make_org):
    """A read during the week stores that week's draft as of the moment of the read; once the week
    is over, the pass (and any read) computes it again as of its Sunday's end, keeping the draft's
    id and commentary; a report published during its week is left as it is."""
    from service.dashboard.report_render import RENDERER
    from service.reports import snapshots
    from service.reports.weeks import parse_week

    w = make_org("utc", "UTC").world
    week = parse_week("2026-W11")
    wednesday = datetime(2026, 3, 11, 12, tzinfo=UTC)
    alp = snapshots.get_or_generate(db, w.org_id, "project", w.alp, week, now=wednesday, renderer=RENDERER)
    assert (alp.data["current_week"], alp.data["as_of_date"]) == (True, "2026-03-11")
    snapshots.set_commentary(db, w.org_id, alp.id, "Alpha: midweek note", renderer=RENDERER)
    beta = snapshots.get_or_generate(db, w.org_id, "project", w.beta, week, now=wednesday, renderer=RENDERER)
    final = snapshots.publish(db, w.org_id, beta.id, by="pm", renderer=RENDERER, now=wednesday)
    # Still the running week: a read serves the stored draft.
    thursday = datetime(2026, 3, 12, 9, tzinfo=UTC)
    assert snapshots.get_or_generate(db, w.org_id, "project", w.alp, week, now=thursday).data["as_of_date"] == \
        "2026-03-11"
    weekly_pass(db, datetime(2026, 3, 16, 7, tzinfo=UTC))
    after = snapshots.find(db, w.org_id, "project", w.alp, week)
    assert after is not None and after.id == alp.id and after.status == "draft"
    assert (after.data["current_week"], after.data["as_of_date"]) == (False, "2026-03-15")
    assert after.commentary == "Alpha: midweek note" and after.html is None  # rendered from the new data on read
    assert "the week is not over" not in snapshots.rendered(after, "html", RENDERER)
    # The next week's baseline is the week-end report.
    nxt = snapshots.get_or_generate(db, w.org_id, "project", w.alp, parse_week("2026-W12"),
                                    now=datetime(2026, 3, 18, tzinfo=UTC))
    assert nxt.data["baseline"]["kind"] == "previous_report" and nxt.data["baseline"]["report_id"] == alp.id
    published = snapshots.find(db, w.org_id, "project", w.beta, week)
    assert published is not None and published.status == "published"
    assert (published.data, published.html, published.pdf) == (final.data, final.html, final.pdf)
    assert published.data["as_of_date"] == "2026-03-11"
