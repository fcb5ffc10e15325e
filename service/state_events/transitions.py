"""State events of milestones and budgets: fired once per transition, never per recomputation.

The figures are the views' own (``milestones_view``, ``budget_view`` for one project at a time,
METRICS.md); nothing is re-derived here. ``event_state`` keeps, per subject and kind, the last
state seen; an evaluation compares, stores the new state and emits only on the transitions below,
in the caller's transaction:

- ``milestone.completed``: completed false → true;
- ``milestone.overdue``: overdue false → true (a due date passing in the organization's zone,
  found by the worker's ``date_pass``, or a change that makes it so);
- ``milestone.at_risk``: at risk (forecast finish after the due date) → true from false/unknown;
- ``milestone.slipped``: the due date's slip against the baseline grows to more than it was
  (and more than 0 days);
- ``budget.threshold_crossed``: AC / BAC reaches a threshold (``project.budget_thresholds``,
  default 50/80/100 %) above the highest one reached before: one event naming the highest;
  falling back below (a budget raised) re-arms it;
- ``budget.exhaustion_before_end``: the forecast exhaustion date falls before the planned end,
  from false/unknown.

A subject seen for the first time records its state silently: taskhub installed on a portfolio,
or an endpoint added, announces no stale "transitions". A source's first sync is a backfill: its
projects are not evaluated while it runs (a webhook evaluated midway would record a partial
figure, and the rest of the history would then be announced as news), and its end records their
states silently. Evaluation runs only for organizations with
an endpoint subscribed to a milestone or budget event (else nothing would be sent; the states are
recorded from when one subscribes). Concurrent evaluations of a project are serialized by its
source's write lock (``lock_sources``), which every writer of those figures holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mappings.model import Effect, MilestoneDelete, MilestoneUpsert, TaskDelete, TaskPatch, TaskUpsert, WorklogUpsert
from service.db import Database
from service.events import catalog
from service.events.outbox import emit
from service.outage import is_database_unavailable
from service.store.rollups import lock_sources
from service.store.sql import chunks, in_list
from service.tables import (
    EventState,
    Milestone,
    Organization,
    Project,
    SyncRun,
    Task,
    WebhookEndpoint,
    table,
    utcnow,
)
from service.views.budget import budget_view
from service.views.milestones import milestones_view
from service.views.selection import ViewParams, org_today, resolve_selection

__all__ = ["DEFAULT_THRESHOLDS", "STATE_TYPES", "evaluate_effects", "evaluate_organization", "evaluate_projects",
           "evaluate_source", "date_pass"]

log = logging.getLogger("taskhub.events")
ES, M, T, PR, EP, ORG = (table(EventState), table(Milestone), table(Task), table(Project), table(WebhookEndpoint),
                       table(Organization))
SR = table(SyncRun)
DEFAULT_THRESHOLDS = (50, 80, 100)
STATE_TYPES = ("milestone.overdue", "milestone.at_risk", "milestone.slipped", "milestone.completed",
               "budget.threshold_crossed", "budget.exhaustion_before_end")


# --- the states ------------------------------------------------------------------------------


States = dict[tuple[str, str], str]


def _stored_states(conn: Connection, subjects: Sequence[str]) -> States:
    """The last states of these subjects, every kind, in one read (not one per subject and kind)."""
    out: States = {}
    for part in chunks(sorted(set(subjects))):
        for r in conn.execute(sa.select(ES.c.subject, ES.c.kind, ES.c.state).where(in_list(conn, ES.c.subject, part))):
            out[(r.subject, r.kind)] = r.state
    return out


def _transition(conn: Connection, org_id: int, subject: str, kind: str, state: str,
                stored: States | None = None) -> str | None:
    """Store ``state`` for (subject, kind); the previous one, or None when first seen (stored
    silently). Unchanged: nothing written. ``stored``: the states read before (``_stored_states``),
    else it is read here."""
    if stored is not None:
        old = stored.get((subject, kind))
    else:
        old = conn.execute(sa.select(ES.c.state).where(ES.c.subject == subject, ES.c.kind == kind)).scalar()
    if old is None:
        conn.execute(sa.insert(ES).values(subject=subject, kind=kind, org_id=org_id, state=state,
                                          changed_at=utcnow()))
    elif old != state:
        conn.execute(sa.update(ES).where(ES.c.subject == subject, ES.c.kind == kind)
                     .values(state=state, changed_at=utcnow()))
    return old


def _flag(value: bool | None) -> str:
    return "unknown" if value is None else "true" if value else "false"


def _milestone(conn: Connection, org_id: int, m: dict[str, Any], loud: bool = True,
               stored: States | None = None) -> None:
    subject = f"milestone:{m['id']}"
    data = {
        "milestone_id": m["id"], "name": m["name"], "project_id": m["project_id"], "source_id": m["source_id"],
        "due_date": m["due_date"], "baseline_due_date": m["baseline_due_date"], "days_overdue": m["days_overdue"],
        "forecast_finish": m["forecast_finish"], "slip_days": m["slip_days"], "open_tasks": m["open"],
        "done_tasks": m["done"], "percent_complete": m["percent_complete"],
        "links": {"milestones": f"/api/v1/views/milestones?project={m['project_id']}"},
    }
    for kind, value in (("completed", m["completed"]), ("overdue", m["overdue"]), ("at_risk", m["at_risk"])):
        old = _transition(conn, org_id, subject, kind, _flag(value), stored)
        if loud and old is not None and old != "true" and value:
            emit(conn, org_id, f"milestone.{kind}", data, subject=subject)
    slip = m["slip_days"] if m["due_date"] is not None else None  # the due date's slip, not a forecast's
    old = _transition(conn, org_id, subject, "slip", "none" if slip is None else str(slip), stored)
    if loud and old is not None and slip is not None and slip > 0 and (old == "none" or slip > int(old)):
        emit(conn, org_id, "milestone.slipped",
             {**data, "previous_slip_days": None if old == "none" else int(old)}, subject=subject)


def _budget(conn: Connection, org_id: int, project: Any, b: dict[str, Any], loud: bool = True,
            stored: States | None = None) -> None:
    subject = f"project:{project.id}"
    data = {
        "project_id": project.id, "currency": b["currency"], "bac": b["bac"], "ac": b["ac"],
        "consumed_share": b["consumed_share"], "exhaustion_date": b["exhaustion_date"],
        "planned_end": b["planned_end"], "runway_weeks": b["runway_weeks"],
        "burn_rate_per_week": b["burn_rate_per_week"],
        "links": {"budget": f"/api/v1/views/budget?project={project.id}"},
    }
    thresholds = sorted(project.budget_thresholds or DEFAULT_THRESHOLDS)
    consumed = b["consumed_share"]
    # The share as the view shows it, in decimal: 0.57 * 100 is 56.99999999999999 in floats,
    # so a 57 % threshold was not reached at 57 %.
    percent = Decimal(str(consumed)) * 100 if consumed is not None else None
    reached = [t for t in thresholds if percent is not None and percent >= t]
    level = max(reached, default=0)
    old = _transition(conn, org_id, subject, "budget_threshold", str(level), stored)
    if loud and old is not None and level > float(old):
        emit(conn, org_id, "budget.threshold_crossed",
             {**data, "threshold": level, "crossed": [t for t in reached if t > float(old)]}, subject=subject)
    before_end = b["exhaustion_before_planned_end"]
    old = _transition(conn, org_id, subject, "exhaustion_before_end", _flag(before_end), stored)
    if loud and old is not None and old != "true" and before_end:
        emit(conn, org_id, "budget.exhaustion_before_end", data, subject=subject)


# --- what to evaluate -------------------------------------------------------------------------


def listening(conn: Connection, org_id: int) -> bool:
    """Whether an enabled endpoint of the organization subscribes to a milestone or budget event."""
    patterns = conn.execute(sa.select(EP.c.event_types).where(EP.c.org_id == org_id, EP.c.enabled.is_(True)))
    return any(catalog.matches(p, t) for types, in patterns for p in types or [] for t in STATE_TYPES)


def _in_first_sync(conn: Connection, source_ids: set[int]) -> set[int]:
    """The sources that have started syncing but never completed a run: their figures are a
    backfill's partial ones (a webhook evaluated midway would announce its history as news)."""
    if not source_ids:
        return set()
    ran = set(conn.execute(sa.select(SR.c.source_id).distinct().where(SR.c.source_id.in_(sorted(source_ids))))
              .scalars())
    done = set(conn.execute(sa.select(SR.c.source_id).distinct().where(
        SR.c.source_id.in_(sorted(ran)), SR.c.status == "ok")).scalars()) if ran else set()
    return ran - done


def evaluate_projects(conn: Connection, org_id: int, project_ids: Iterable[int | None], *,
                      now: datetime | None = None, silent: bool = False) -> None:
    """Evaluate the milestones and the budget of these projects of the organization as of ``now``
    and emit their transitions, in the caller's transaction. ``silent``: record the states, emit
    nothing (the end of a source's first sync). Projects of a source whose first sync has not
    completed are left out until it has."""
    ids = sorted({p for p in project_ids if p is not None})
    if not ids or not listening(conn, org_id):
        return
    projects = conn.execute(sa.select(PR).where(PR.c.org_id == org_id, PR.c.id.in_(ids), PR.c.deleted_at.is_(None))
                            .order_by(PR.c.id)).all()
    lock_sources(conn, [p.source_id for p in projects if p.source_id is not None])
    backfilling = _in_first_sync(conn, {p.source_id for p in projects if p.source_id is not None})
    for p in projects:
        if p.source_id in backfilling:
            continue
        sel = resolve_selection(conn, org_id, ViewParams(project=p.id), now=now)
        milestones = milestones_view(conn, sel)["milestones"]
        stored = _stored_states(conn, [f"project:{p.id}", *(f"milestone:{m['id']}" for m in milestones)])
        for m in milestones:
            _milestone(conn, org_id, m, not silent, stored)
        _budget(conn, org_id, p, budget_view(conn, sel)["total"], not silent, stored)


def _project_ids(conn: Connection, table_: sa.Table, column: Any, source_id: int, keys: Sequence[str]) -> set[int]:
    out: set[int] = set()
    for part in chunks(sorted(set(keys))):
        out.update(conn.execute(sa.select(table_.c.project_id).distinct()
                                .where(table_.c.source_id == source_id, in_list(conn, column, part))).scalars())
    out.discard(None)
    return out


def evaluate_effects(conn: Connection, org_id: int, source_id: int, effects: Sequence[Effect]) -> None:
    """After an inbox batch's effects were applied: evaluate the projects they touched (their
    tasks', their worklogs' tasks' and their milestones')."""
    if not effects or not listening(conn, org_id):
        return
    tasks = [e.task.external_id for e in effects if isinstance(e, TaskUpsert)]
    tasks += [e.external_id for e in effects if isinstance(e, TaskPatch | TaskDelete)]
    tasks += [e.worklog.task_external_id for e in effects if isinstance(e, WorklogUpsert)]
    milestones = [e.milestone.external_id for e in effects if isinstance(e, MilestoneUpsert)]
    milestones += [e.external_id for e in effects if isinstance(e, MilestoneDelete)]
    touched = _project_ids(conn, T, T.c.external_id, source_id, tasks)
    touched |= _project_ids(conn, M, M.c.external_id, source_id, milestones)
    evaluate_projects(conn, org_id, touched)


def evaluate_source(conn: Connection, org_id: int, source_id: int, *, silent: bool = False) -> None:
    """After a sync run: evaluate every project of the source (its pages touched any of them);
    ``silent`` after its first sync (a backfill: its history is no news)."""
    if listening(conn, org_id):
        evaluate_projects(conn, org_id, conn.execute(sa.select(PR.c.id).where(PR.c.source_id == source_id)).scalars(),
                          silent=silent)


def evaluate_organization(conn: Connection, org_id: int) -> None:
    """After an organization-wide change of figures (a rate, the default rate, the time zone):
    evaluate all its projects, in the caller's transaction."""
    if listening(conn, org_id):
        evaluate_projects(conn, org_id, conn.execute(sa.select(PR.c.id).where(PR.c.org_id == org_id)).scalars())


def date_pass(db: Database, now: datetime | None = None) -> int:
    """The worker's periodic pass, for what moves with the date alone. Per organization that
    listens, each in a transaction of its own: the projects with a milestone whose due date passed
    in the organization's zone and that is not yet known overdue — only those candidates (index on
    the organization and due date) — and, on the first pass of the organization's day, all its
    projects (a forecast finish or a budget's exhaustion date moves a day with no change). Returns
    the projects evaluated."""
    now = now or utcnow()
    evaluated = 0
    with db.read() as conn:
        orgs = conn.execute(sa.select(ORG.c.id, ORG.c.timezone).where(
            ORG.c.id.in_(sa.select(EP.c.org_id).where(EP.c.enabled.is_(True))))).all()
    for org_id, zone in orgs:
        try:
            evaluated += _date_pass_org(db, org_id, zone, now)
        except Exception as exc:  # noqa: BLE001 - one organization's failure must not hold back the others'
            if is_database_unavailable(exc):
                raise  # an outage: the worker's loop waits it out
            log.exception("events.date_pass_failed org=%s", org_id)
    return evaluated


def _date_pass_org(db: Database, org_id: int, zone: str, now: datetime) -> int:
    today = org_today(ZoneInfo(zone), now)
    with db.write() as conn:
        if not listening(conn, org_id):
            return 0
        if _transition(conn, org_id, f"organization:{org_id}", "day", today.isoformat()) != today.isoformat():
            projects = list(conn.execute(sa.select(PR.c.id).where(PR.c.org_id == org_id)).scalars())
        else:
            projects = list(conn.execute(_overdue_candidates(org_id, today)).scalars())
        evaluate_projects(conn, org_id, projects, now=now)
    return len(projects)


def _overdue_candidates(org_id: int, today: date) -> Any:
    """The projects of the organization's milestones that are overdue today and not known so."""
    known = sa.select(ES.c.subject).where(ES.c.org_id == org_id, ES.c.kind == "overdue", ES.c.state == "true")
    return (
        sa.select(M.c.project_id).distinct()
        .where(M.c.org_id == org_id, M.c.due_date < today, M.c.deleted_at.is_(None), M.c.released.is_(False),
               M.c.completed_at.is_(None), M.c.project_id.is_not(None),
               (sa.literal("milestone:") + sa.cast(M.c.id, sa.String)).not_in(known))
    )
