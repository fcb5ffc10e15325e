"""What a view looks at: the caller's organization, the filters, ``as_of``, and the
state of every task at ``as_of``.

Status at ``as_of`` comes from the change history: it is the state the first
status change after ``as_of`` started from (the same as the last change at or
before ``as_of`` when the history is complete); without such a change it is the
current state, except that a task whose ``completed_at`` (``started_at``) lies
after ``as_of`` was not yet done (started) then. A change row is never newer than
its task's ``remote_updated_at``, so only tasks updated after ``as_of`` look at
the history at all — for ``as_of`` = now the history costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.tables import (
    Change,
    Milestone,
    Organization,
    Person,
    Portfolio,
    PortfolioProject,
    Project,
    Source,
    Task,
    TaskAssignee,
    TaskMilestone,
    table,
)
from service.timerange import AsOfAfterToday
from service.views.formulas import TRAILING_DAYS
from service.views.sqltime import local_midnight, ts_literal

__all__ = [
    "table",
    "GroupBy",
    "GROUP_BY",
    "ViewParams",
    "Selection",
    "NotFound",
    "resolve_as_of",
    "org_today",
    "resolve_selection",
    "org_is",
    "task_conditions",
    "task_state",
    "counted_task",
    "group_join",
    "group_names",
]



GroupBy = Literal["project", "source", "milestone", "person"]
GROUP_BY: tuple[str, ...] = ("project", "source", "milestone", "person")

T = table(Task)
C = table(Change)
TA = table(TaskAssignee)
TM = table(TaskMilestone)


class NotFound(LookupError):
    """A filter names an id that is not in the caller's organization."""


@dataclass(frozen=True)
class ViewParams:
    portfolio: int | None = None
    project: int | None = None
    source: int | None = None
    assignee: int | None = None
    group_by: GroupBy | None = None
    as_of: date | datetime | None = None

    def echo(self) -> dict[str, Any]:
        as_of = self.as_of.isoformat() if self.as_of is not None else None
        return {
            "portfolio": self.portfolio,
            "project": self.project,
            "source": self.source,
            "assignee": self.assignee,
            "group_by": self.group_by,
            "as_of": as_of,
        }


@dataclass(frozen=True)
class Selection:
    org_id: int
    params: ViewParams
    dialect: str
    tz_name: str
    currency: str
    default_rate: float | None
    as_of: datetime  # UTC instant, inclusive
    as_of_date: date  # "today" in the organization's time zone
    project_ids: tuple[int, ...] | None  # None: every project
    keep_archived_sources: tuple[int, ...] = field(default_factory=tuple)
    history: bool = True  # something was synced after as_of: the state then comes from the history
    current: bool = False  # as_of is now or later: nothing stored now was deleted (or started) after it
    scan: bool = False  # SQLite holding this organization only: read whole tables, not org index ranges
    session_zone: bool = False  # PostgreSQL: the transaction's TimeZone is the organization's

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    @property
    def group_by(self) -> str | None:
        return self.params.group_by

    @property
    def window_start_date(self) -> date:
        """First day of the trailing 4 weeks that end with ``as_of_date``."""
        return self.as_of_date - timedelta(days=TRAILING_DAYS - 1)

    @property
    def window_start(self) -> datetime:
        return local_midnight(self.window_start_date, self.tz)

    @property
    def week_start_date(self) -> date:
        """Monday of the ISO week holding ``as_of_date``."""
        return self.as_of_date - timedelta(days=self.as_of_date.weekday())

    @property
    def week_start(self) -> datetime:
        """Monday 00:00 (local) of the ISO week holding ``as_of_date``."""
        return local_midnight(self.week_start_date, self.tz)


def resolve_as_of(value: date | datetime | None, tz: ZoneInfo, now: datetime | None = None) -> tuple[datetime, date]:
    """The instant and the local date of ``as_of``. A date means the end of that local day."""
    if value is None:
        instant = (now or datetime.now(UTC)).astimezone(UTC)
    elif isinstance(value, datetime):
        instant = (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)
    else:
        instant = local_midnight(value + timedelta(days=1), tz) - timedelta(microseconds=1)
    return instant, instant.astimezone(tz).date()


def org_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today in the organization's time zone ``tz`` (``now``: the current instant by default)."""
    return (now or datetime.now(UTC)).astimezone(tz).date()


def _owned(conn: Connection, table: sa.Table, ident: int, org_id: int) -> bool:
    return conn.execute(sa.select(table.c.id).where(table.c.id == ident, table.c.org_id == org_id)).first() is not None


def resolve_selection(conn: Connection, org_id: int, params: ViewParams, *, now: datetime | None = None) -> Selection:
    org = conn.execute(sa.select(table(Organization)).where(table(Organization).c.id == org_id)).one()
    checks = (
        ("portfolio", Portfolio),
        ("project", Project),
        ("source", Source),
        ("assignee", Person),
    )
    for name, model in checks:
        ident = getattr(params, name)
        if ident is not None and not _owned(conn, table(model), ident, org_id):
            raise NotFound(f"{name} {ident} not found in this organization")
    project_ids: tuple[int, ...] | None = None
    if params.portfolio is not None:
        PP = table(PortfolioProject)
        project_ids = tuple(
            conn.execute(
                sa.select(PP.c.project_id).where(PP.c.portfolio_id == params.portfolio).order_by(PP.c.project_id)
            ).scalars()
        )
    if params.project is not None:
        project_ids = (params.project,) if project_ids is None or params.project in project_ids else ()
    keep = []
    S = table(Source)
    for sid, profile in conn.execute(sa.select(S.c.id, S.c.mapping_profile).where(S.c.org_id == org_id)):
        if isinstance(profile, dict) and (profile.get("trello") or {}).get("archived_as_done"):
            keep.append(sid)
    tz = ZoneInfo(org.timezone)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    instant, today = resolve_as_of(params.as_of, tz, now)
    # METRICS.md: as_of after today (in the organization's time zone) is refused. A later time of
    # today itself is accepted (a date as_of is the end of that day, after now).
    if today > org_today(tz, now):
        raise AsOfAfterToday(today, org_today(tz, now), org.timezone)
    # Every change, creation and deletion of a task is stamped no later than its sync (synced_at,
    # indexed per organization): when the last sync is not after as_of, the current state is the
    # state then.
    last_sync = conn.execute(sa.select(sa.func.max(T.c.synced_at)).where(T.c.org_id == org_id)).scalar()
    if conn.dialect.name == "postgresql":
        # Local days by a plain cast in the organization's zone, for the rest of this transaction.
        conn.execute(sa.select(sa.func.set_config("TimeZone", org.timezone, True)))
    return Selection(
        org_id=org_id,
        params=params,
        dialect=conn.dialect.name,
        tz_name=org.timezone,
        currency=org.currency,
        default_rate=float(org.default_hourly_rate) if org.default_hourly_rate is not None else None,
        as_of=instant,
        as_of_date=today,
        project_ids=project_ids,
        keep_archived_sources=tuple(keep),
        history=last_sync is not None and aware(last_sync) > instant,
        # Tombstones are stamped at sync, before this transaction's snapshot and so before now.
        current=instant >= now,
        session_zone=conn.dialect.name == "postgresql",
        scan=conn.dialect.name == "sqlite"
        and conn.execute(sa.select(sa.func.count()).select_from(table(Organization))).scalar() == 1,
    )


def aware(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (naive ones are UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def org_is(sel: Selection, table: sa.Table) -> Any:
    """``table.org_id = org``. On a SQLite file that holds this organization only, the index on
    ``org_id`` selects every row in index order, a b-tree lookup per row: a unary ``+`` makes
    SQLite read the table in order instead, about twice as fast."""
    if sel.scan:
        return sa.literal_column(f"+{table.name}.org_id", sa.Integer) == sel.org_id
    return table.c.org_id == sel.org_id


def scope_conditions(sel: Selection, project_id: Any, source_id: Any) -> list[Any]:
    """The ``portfolio``/``project`` and ``source`` filters on a row's project and source columns."""
    cond: list[Any] = []
    if sel.project_ids is not None:
        cond.append(project_id.in_(sel.project_ids) if sel.project_ids else sa.false())
    if sel.params.source is not None:
        cond.append(source_id == sel.params.source)
    return cond


def task_conditions(sel: Selection, table: sa.Table = T, *, assignee: bool = True, org: bool = True) -> list[Any]:
    """Organization and filters on the task table (no time conditions). ``org=False``: no
    organization condition (a join on ``source_id`` already implies it)."""
    cond: list[Any] = [org_is(sel, table)] if org else []
    cond += scope_conditions(sel, table.c.project_id, table.c.source_id)
    if assignee and sel.params.assignee is not None:
        cond.append(table.c.id.in_(sa.select(TA.c.task_id).where(TA.c.person_id == sel.params.assignee)))
    return cond


def alive(sel: Selection, table: sa.Table = T) -> list[Any]:
    """Created by ``as_of`` (unknown creation counts as created) and not deleted by then."""
    at = ts_literal(sel.as_of)
    return [
        sa.or_(table.c.remote_created_at.is_(None), table.c.remote_created_at <= at),
        sa.or_(table.c.deleted_at.is_(None), table.c.deleted_at > at),
    ]


def _history(t: Any, *, where: Any, value: Any, order: Any, field_: str = "status") -> Any:
    return (
        sa.select(value)
        .where(
            C.c.org_id == t.c.org_id,
            C.c.task_external_id == t.c.external_id,
            C.c.source_id == t.c.source_id,
            C.c.field == field_,
            where,
        )
        .order_by(*order)
        .limit(1)
        .scalar_subquery()
    )


def counted_task(sel: Selection, archived: Any) -> Any:
    """In scope: not an epic, not a milestone marker, not archived unless the source keeps
    archived cards as done (``archived``: the column, or its value then)."""
    not_archived = sa.or_(archived.is_(None), archived == sa.false())
    archived_ok = (
        sa.or_(not_archived, T.c.source_id.in_(sel.keep_archived_sources))
        if sel.keep_archived_sources
        else not_archived
    )
    return sa.and_(T.c.type != "epic", T.c.is_milestone == sa.false(), archived_ok)


_COLS = (
    "id",
    "org_id",
    "source_id",
    "project_id",
    "external_id",
    "remote_created_at",
    "remote_updated_at",
    "completed_at",
    "estimate_points",
    "estimate_seconds",
    "spent_seconds",
    "remaining_seconds",
    "cost",
)


def task_state(sel: Selection, *, require_counted: bool = False, extra: tuple[str, ...] = ()) -> Any:
    """A subquery: every alive task of the selection with ``status_asof``, ``done_at``
    (when it last reached done, as of ``as_of``), ``due_date`` then, and ``counted`` (in
    scope: not an epic, not a milestone marker, not archived unless the source keeps
    archived cards as done). ``extra``: more task columns to carry, as they are now (the
    tools keep no history of them), read in the same pass instead of a second join to the
    task table.

    When nothing was synced after ``as_of`` (``sel.history`` false: the usual "as of now"),
    the state at ``as_of`` is the current state and the subquery is the plain columns."""
    if sel.history:
        return _history_state(sel, require_counted, extra)
    counted = counted_task(sel, T.c.archived)
    q = sa.select(
        *(T.c[c] for c in _COLS + extra),
        T.c.due_date,
        T.c.status_category.label("status_asof"),
        sa.case((counted, 1), else_=0).label("counted"),
        sa.case((T.c.status_category == "done", T.c.completed_at)).label("done_at"),
    )
    q = q.where(*task_conditions(sel), *alive(sel))
    if require_counted:
        q = q.where(counted)
    return q.subquery("ts")


def _history_state(sel: Selection, require_counted: bool, extra: tuple[str, ...]) -> Any:
    at = ts_literal(sel.as_of)
    current = sa.case(
        (
            sa.and_(T.c.status_category == "done", T.c.completed_at > at),
            sa.case((T.c.started_at <= at, "in_progress"), else_="todo"),
        ),
        (sa.and_(T.c.status_category == "in_progress", T.c.started_at > at), "todo"),
        else_=T.c.status_category,
    )
    first_after = _history(T, where=C.c.changed_at > at, value=C.c.from_category, order=(C.c.changed_at, C.c.id))
    status = sa.case((T.c.remote_updated_at <= at, current), else_=sa.func.coalesce(first_after, current))
    # Archiving has a history only where the tool reports it (Trello closed/reopened actions).
    unarchived_after = _history(
        T,
        where=C.c.changed_at > at,
        value=C.c.from_value,
        order=(C.c.changed_at, C.c.id),
        field_="archived",
    )
    was_archived = sa.case(
        (T.c.remote_updated_at <= at, T.c.archived),
        else_=sa.func.coalesce(unarchived_after == "true", T.c.archived),
    )
    counted = counted_task(sel, was_archived)
    # The due date then: what the first due-date change after as_of changed it from.
    due_after = _history(
        T,
        where=C.c.changed_at > at,
        value=C.c.from_value,
        order=(C.c.changed_at, C.c.id),
        field_="due_date",
    )
    moved_after = sa.exists().where(
        C.c.org_id == T.c.org_id,
        C.c.task_external_id == T.c.external_id,
        C.c.source_id == T.c.source_id,
        C.c.field == "due_date",
        C.c.changed_at > at,
    )
    # from_value is the ISO date text: PostgreSQL casts it, SQLite stores dates as that text anyway.
    due_then = sa.cast(due_after, sa.Date) if sel.dialect == "postgresql" else due_after
    due = sa.case((T.c.remote_updated_at <= at, T.c.due_date), (moved_after, due_then), else_=T.c.due_date)
    inner_q = sa.select(
        *(T.c[c] for c in _COLS + extra),
        sa.type_coerce(due, sa.Date).label("due_date"),
        status.label("status_asof"),
        sa.case((counted, 1), else_=0).label("counted"),
    )
    inner_q = inner_q.where(*task_conditions(sel), *alive(sel))
    if require_counted:
        inner_q = inner_q.where(counted)
    # OFFSET 0 keeps both stores from inlining the subquery: each CASE is computed once per row.
    inner = inner_q.offset(0).subquery("ts0")
    last_done = _history(
        inner,
        where=sa.and_(C.c.to_category == "done", C.c.changed_at <= at),
        value=C.c.changed_at,
        order=(C.c.changed_at.desc(), C.c.id.desc()),
    )
    completed_by_then = sa.case((inner.c.completed_at <= at, inner.c.completed_at))
    done_at = sa.case(
        (inner.c.status_asof != "done", None),
        (inner.c.remote_updated_at <= at, completed_by_then),
        else_=sa.func.coalesce(last_done, completed_by_then),
    )
    return sa.select(*inner.c, sa.type_coerce(done_at, T.c.completed_at.type).label("done_at")).subquery("ts")


def group_join(sel: Selection, from_: Any, task_id: Any, project_id: Any, source_id: Any) -> tuple[Any, Any]:
    """``(from clause, group key)`` for ``sel.group_by``; ``(from_, None)`` without grouping.

    Person and milestone groups overlap (a task with two assignees is in both groups);
    tasks with none fall in the ``None`` group."""
    g = sel.group_by
    if g == "project":
        return from_, project_id
    if g == "source":
        return from_, source_id
    if g == "person":
        on = TA.c.task_id == task_id
        if sel.params.assignee is not None:
            on = sa.and_(on, TA.c.person_id == sel.params.assignee)
        return from_.outerjoin(TA, on), TA.c.person_id
    if g == "milestone":
        return from_.outerjoin(TM, TM.c.task_id == task_id), TM.c.milestone_id
    return from_, None


_NAMES_BY_ID = 50


def group_names(conn: Connection, sel: Selection, keys: set[Any]) -> dict[Any, str]:
    """Display names for group keys."""
    ids = [k for k in keys if k is not None]
    if not ids or sel.group_by is None:
        return {}
    named, col = {
        "project": (table(Project), "name"),
        "source": (table(Source), "name"),
        "milestone": (table(Milestone), "name"),
        "person": (table(Person), "display_name"),
    }[sel.group_by]
    q = sa.select(named.c.id, named.c[col]).where(named.c.org_id == sel.org_id)
    if len(ids) <= _NAMES_BY_ID:
        q = q.where(named.c.id.in_(ids))
    # Many groups: the organization's names, all of them (a statement with hundreds of ids cost
    # more to render and parse than the few extra rows to read).
    return {i: n for i, n in conn.execute(q).all()}
