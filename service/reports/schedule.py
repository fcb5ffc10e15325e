"""The weekly pass: last week's reports, as drafts, once per organization after Monday 06:00.

Run by the worker every minute (``service.worker``). For each organization, once its local time
is past Monday 06:00 of the current ISO week, the previous week's report of every portfolio and of
every project with at least one task (a project nobody tracks work in has nothing to report) is
generated as a draft. Done once: the organization's marker (``event_state``: subject
``organization:N``, kind ``status_reports``, state the week done) is written after its reports,
and the reports themselves are unique per scope and week, so a pass cut short is finished by the
next one and a second worker adds nothing. Drafts are never published by the pass: publishing is
a PM's act (with a commentary), or an automation's through the API.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from service.db import Database
from service.outage import is_database_unavailable
from service.reports.data import Scope
from service.reports.snapshots import generate_many
from service.reports.weeks import Week, current_week
from service.tables import EventState, Organization, Portfolio, Project, Task, table, utcnow

__all__ = ["RUN_AT", "due_week", "weekly_pass"]

log = logging.getLogger("taskhub.reports")
RUN_AT = time(6, 0)  # local time on Monday
ES, ORG, PF, PR, T = table(EventState), table(Organization), table(Portfolio), table(Project), table(Task)
KIND = "status_reports"


def due_week(tz: ZoneInfo, now: datetime) -> Week | None:
    """The week whose reports are due at ``now``: the previous one, from Monday 06:00 local on;
    None on Monday before 06:00 (the week before it was due, and done, a week ago)."""
    week = current_week(tz, now)
    run_at = datetime.combine(week.start, RUN_AT, tzinfo=tz)
    return week.previous() if now.astimezone(tz) >= run_at else None


def _scopes(conn: sa.Connection, org_id: int) -> list[tuple[Scope, int]]:
    portfolios = conn.execute(sa.select(PF.c.id).where(PF.c.org_id == org_id).order_by(PF.c.id)).scalars()
    with_tasks = sa.select(T.c.project_id).where(T.c.org_id == org_id, T.c.deleted_at.is_(None),
                                                   T.c.project_id == PR.c.id).exists()
    projects = conn.execute(sa.select(PR.c.id).where(PR.c.org_id == org_id, PR.c.deleted_at.is_(None), with_tasks)
                            .order_by(PR.c.id)).scalars()
    out: list[tuple[Scope, int]] = [("portfolio", int(i)) for i in portfolios]
    return out + [("project", int(i)) for i in projects]


def weekly_pass(db: Database, now: datetime | None = None) -> int:
    """Generate the due week's drafts of every organization not done yet; how many were stored."""
    now = (now or utcnow()).astimezone(UTC)
    made = 0
    with db.read() as conn:
        orgs = conn.execute(sa.select(ORG.c.id, ORG.c.timezone)).all()
        done = dict(conn.execute(sa.select(ES.c.org_id, ES.c.state).where(ES.c.kind == KIND)).all())
    for org_id, zone in orgs:
        week = due_week(ZoneInfo(zone), now)
        if week is None or done.get(org_id) is not None and done[org_id] >= week.start.isoformat():
            continue
        try:
            made += _org_pass(db, org_id, week, now)
        except Exception as exc:  # noqa: BLE001 - one organization's failure must not hold back the others'
            if is_database_unavailable(exc):
                raise
            log.exception("reports.weekly_pass_failed org=%s week=%s", org_id, week.label)
    return made


def _org_pass(db: Database, org_id: int, week: Week, now: datetime) -> int:
    with db.read() as conn:
        scopes = _scopes(conn, org_id)
    made = generate_many(db, org_id, scopes, week, now=now)
    subject = f"organization:{org_id}"
    with db.write() as conn:
        stored = conn.execute(sa.select(ES.c.state).where(ES.c.subject == subject, ES.c.kind == KIND)).scalar()
        if stored is None:
            conn.execute(sa.insert(ES).values(subject=subject, kind=KIND, org_id=org_id,
                                              state=week.start.isoformat(), changed_at=utcnow()))
        elif stored < week.start.isoformat():
            conn.execute(sa.update(ES).where(ES.c.subject == subject, ES.c.kind == KIND)
                         .values(state=week.start.isoformat(), changed_at=utcnow()))
    log.info("reports.weekly org=%s week=%s scopes=%s stored=%s", org_id, week.label, len(scopes), made)
    return made


