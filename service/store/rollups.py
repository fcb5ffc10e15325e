"""The rollups and the worklogs' copies, kept by the store's own writes: one definition each.

The views as of now read sums instead of scanning 100,000 tasks and 200,000 worklogs
(``service.views.rollups``, ``service.views.costs``):

- ``task_rollup``: alive tasks per (organization, project, source, status category, class);
- ``task_day_rollup``: counted tasks per UTC hour of creation and of completion;
- ``milestone_rollup``: the alive tasks of each milestone and the done ones;
- ``workload_rollup``: open tasks per (project, source, due date, class, assignee, share count);
- ``worklog_rollup``: counted worklogs per (organization, local day, project, source);
- ``task.last_activity_at``: each task's latest change row or alive worklog (``keep_activity``;
  the risk view's stale signal as of now).

Each rollup is **one** ``SELECT`` in SQLAlchemy Core (``Rollup.rows``): the sums of the rows
that match a condition, grouped by the rollup's key. A rebuild inserts what it gives for a
whole organization. A write keeps the rollup by the same statement, in the database:
``tracked`` takes the sums of the rows the write is about to touch away from the rollup, lets
the write run, and adds their sums back as they are then (``INSERT … SELECT … ON CONFLICT DO
UPDATE``). Taking away returns the keys it took to zero; those still at zero at the end go. So
rollups are current in the same transaction as the rows, with no trigger, no PL/pgSQL and no
SQLite function, and no sum crosses to Python; the scans in ``service.views.queries`` stay, as
the test oracle and for ``as_of`` in the past.

Three copies on each worklog row let the views read worklogs without joining 100,000 tasks
on a text key: its task's id, project and tombstone (``pair_worklogs``), its local start day in
the organization's zone (``local_day``, Python's tz database on both stores) and its author's
rate that day (``price_worklogs``). Every write that can move them calls those functions inside
a ``tracked`` block, so the worklog rollup follows.

Concurrency: a write locks its source's row first (``lock_sources``: ``FOR NO KEY UPDATE`` on
PostgreSQL, which foreign-key checks do not wait for; SQLite serializes writers anyway). The
rollups' rows are per source, so two writers of different sources never share one, and two of
the same source take turns: what one took away is not touched by another before it adds it
back. Writers also hold their organization's row ``FOR SHARE``; organization-wide writes (rates,
a time zone, merging people) take it exclusively and then all of the organization's sources in
id order, so a source created meanwhile waits for them too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from service.json_rows import json_rows
from service.store.sql import chunks, in_param, insert_for, run, statement
from service.tables import (
    Change,
    EventState,
    Milestone,
    MilestoneRollup,
    Organization,
    PersonRate,
    Project,
    Source,
    Task,
    TaskAssignee,
    TaskDayRollup,
    TaskMilestone,
    TaskRollup,
    WorkloadRollup,
    Worklog,
    WorklogRollup,
    table,
)

__all__ = [
    "ROLLUPS",
    "Rollup",
    "Scope",
    "check",
    "delete_source",
    "local_day",
    "lock_sources",
    "pair_worklogs",
    "people_changing",
    "price_worklogs",
    "rebuild",
    "rezone",
    "snapshot",
    "keep_activity",
    "touched_tasks",
    "tracked",
    "with_worklogs",
    "worklogs_by_key",
    "worklogs_of_tasks",
]

T = table(Task)
W = table(Worklog)
C = table(Change)
TA = table(TaskAssignee)
TM = table(TaskMilestone)
RATE = table(PersonRate)
S = table(Source)
O = table(Organization)  # noqa: E741

NO_DUE_DATE = date(9999, 12, 31)  # a key column cannot be NULL: "no due date" (never overdue)


class utc_hour(FunctionElement[datetime]):  # noqa: N801 - an SQL function's name
    """The UTC hour a timestamp falls in (the epoch for NULL): the day rollup's bucket, so the
    organization's zone is applied when read and a zone change needs no rebuild."""

    type = table(Task).c.remote_created_at.type  # stored and read back as the task's timestamps are
    inherit_cache = True


@compiles(utc_hour)
def _utc_hour_sqlite(element: utc_hour, compiler: Any, **kw: Any) -> str:
    # SQLite stores timestamps as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'.
    col = compiler.process(element.clauses, **kw)
    return (f"CASE WHEN {col} IS NULL THEN '1970-01-01 00:00:00.000000' "
            f"ELSE substr({col}, 1, 13) || ':00:00.000000' END")


@compiles(utc_hour, "postgresql")
def _utc_hour_pg(element: utc_hour, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    return f"coalesce(date_trunc('hour', {col}, 'UTC'), 'epoch'::timestamptz)"


def _n(cond: Any) -> Any:
    """1 where ``cond`` holds, else 0: a count as a sum."""
    return sa.case((cond, 1), else_=0)


def _by_key(n: int) -> list[Any]:
    """GROUP BY the first ``n`` columns, by position: a key holding bound literals (``coalesce(x,
    0)``) would otherwise repeat them as new parameters, which PostgreSQL does not match."""
    return [sa.literal_column(str(i)) for i in range(1, n + 1)]


def _task_class() -> Any:
    """0: never counted (an epic, a milestone marker); 2: archived; 1: counted."""
    return sa.case((sa.or_(T.c.type == "epic", T.c.is_milestone), 0), (T.c.archived, 2), else_=1)


@dataclass(frozen=True)
class Rollup:
    """A rollup table and its one definition: ``rows(where)`` gives, for the base rows matching
    ``where`` (a condition on ``task`` or ``worklog``), SELECTs of ``key + sums + bounds +
    attrs`` grouped by the key. ``bounds`` are upper bounds (a maximum, never lowered by a
    write: a reader only needs "nothing later than this"); ``attrs`` follow the key."""

    table: sa.Table
    base: str  # "task" or "worklog": what ``where`` is a condition on
    key: tuple[str, ...]
    sums: tuple[str, ...]
    rows: Callable[[Any], list[sa.Select[Any]]]
    bounds: tuple[str, ...] = ()
    attrs: tuple[str, ...] = ()

    @cached_property
    def count(self) -> str:
        return self.sums[0]

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return self.key + self.sums + self.bounds + self.attrs


def _task_rows(where: Any) -> list[sa.Select[Any]]:
    """``untimed_n`` and ``stand_in``: the time gaps of percent complete by time (METRICS), kept
    for every status so a status change only moves them between rows."""
    cls = _task_class()
    no_remaining = T.c.remaining_seconds.is_(None)
    key: tuple[Any, ...] = (T.c.org_id, sa.func.coalesce(T.c.project_id, 0), T.c.source_id, T.c.status_category, cls)
    return [
        sa.select(
            *key,
            sa.func.count(),
            sa.func.sum(_n(T.c.estimate_points.is_not(None))),
            sa.func.sum(sa.func.coalesce(T.c.estimate_points, 0.0)),
            sa.func.sum(_n(T.c.estimate_seconds.is_not(None))),
            sa.func.sum(sa.func.coalesce(T.c.estimate_seconds, 0)),
            sa.func.sum(_n(sa.func.coalesce(T.c.spent_seconds, T.c.remaining_seconds).is_not(None))),
            sa.func.sum(sa.func.coalesce(T.c.spent_seconds, 0)),
            sa.func.sum(sa.func.coalesce(T.c.remaining_seconds, 0)),
            sa.func.sum(_n(T.c.completed_at.is_not(None))),
            sa.func.sum(_n(sa.and_(no_remaining, T.c.estimate_seconds.is_(None)))),
            sa.func.sum(sa.case((no_remaining, sa.func.coalesce(T.c.estimate_seconds, 0)), else_=0)),
            sa.func.max(T.c.remote_created_at),
        )
        .where(T.c.deleted_at.is_(None), where)
        .group_by(*_by_key(len(key)))
    ]


def _day_rows(where: Any) -> list[sa.Select[Any]]:
    cls = _task_class()
    out = []
    for kind, col, extra in (("c", T.c.remote_created_at, sa.true()),
                             ("d", T.c.completed_at, T.c.status_category == "done")):
        key: tuple[Any, ...] = (T.c.org_id, T.c.source_id, cls, sa.literal_column(f"'{kind}'"), col.is_not(None),
                                utc_hour(col))
        out.append(
            sa.select(*key, sa.func.count())
            .where(T.c.deleted_at.is_(None), cls > 0, extra, where)
            .group_by(*_by_key(len(key)))
        )
    return out


def _milestone_rows(where: Any) -> list[sa.Select[Any]]:
    cls = _task_class()
    return [
        sa.select(TM.c.milestone_id, cls, sa.func.count(), sa.func.sum(_n(T.c.status_category == "done")),
                  sa.func.max(T.c.org_id), sa.func.max(T.c.source_id))
        .select_from(TM.join(T, T.c.id == TM.c.task_id))
        .where(T.c.deleted_at.is_(None), where)
        .group_by(*_by_key(2))
    ]


def _workload_rows(where: Any) -> list[sa.Select[Any]]:
    """A task is in ``shares`` rows, one per assignee (``shares``: how many it has), or in one
    row of person 0 when it has none: the rows per person count it once per assignee, and each
    ``shares`` value's sums divided by it count every task once."""
    other = TA.alias("other")
    shares = sa.select(sa.func.count()).where(other.c.task_id == TA.c.task_id).scalar_subquery()
    key = (T.c.org_id, sa.func.coalesce(T.c.project_id, 0), T.c.source_id,
           sa.func.coalesce(T.c.due_date, sa.literal_column(f"'{NO_DUE_DATE}'", sa.Date)),
           sa.case((T.c.archived, 2), else_=1),
           sa.func.coalesce(TA.c.person_id, 0), sa.case((TA.c.task_id.is_(None), 1), else_=shares))
    return [
        sa.select(*key, sa.func.count(), sa.func.sum(sa.func.coalesce(T.c.estimate_points, 0.0)),
                  sa.func.sum(sa.func.coalesce(T.c.estimate_seconds, 0)))
        .select_from(T.outerjoin(TA, TA.c.task_id == T.c.id))
        .where(T.c.deleted_at.is_(None), T.c.status_category != "done", T.c.type != "epic", ~T.c.is_milestone,
               where)
        .group_by(*_by_key(len(key)))
    ]


def _worklog_rows(where: Any) -> list[sa.Select[Any]]:
    """A worklog counts while it is alive, its task is stored and alive, and it has a local day.
    ``rated``: Σ seconds × the author's rate that day; ``unrated``: the seconds with no author
    rate, priced when read at the project's or the organization's rate."""
    key = (W.c.org_id, W.c.started_day, sa.func.coalesce(W.c.task_project_id, 0), W.c.source_id)
    rated = W.c.author_rate.is_not(None)
    return [
        sa.select(*key, sa.func.count(), sa.func.sum(W.c.seconds),
                  sa.func.sum(sa.case((rated, W.c.seconds * W.c.author_rate), else_=0.0)),
                  sa.func.sum(sa.case((rated, 0), else_=W.c.seconds)),
                  sa.func.max(W.c.started_at))
        .where(W.c.deleted_at.is_(None), W.c.task_id.is_not(None), W.c.task_deleted_at.is_(None),
               W.c.started_day.is_not(None), where)
        .group_by(*_by_key(len(key)))
    ]


TASKS = Rollup(table(TaskRollup), "task", ("org_id", "project_id", "source_id", "status_category", "cls"),
               ("n", "pts_n", "pts", "sec_n", "sec", "time_n", "spent", "remaining", "completed_n", "untimed_n",
                "stand_in"),
               _task_rows, bounds=("created_hi",))
DAYS = Rollup(table(TaskDayRollup), "task", ("org_id", "source_id", "cls", "kind", "known", "bucket"), ("n",),
              _day_rows)
MILESTONES = Rollup(table(MilestoneRollup), "task", ("milestone_id", "cls"), ("tasks", "done"), _milestone_rows,
                    attrs=("org_id", "source_id"))
WORKLOAD = Rollup(table(WorkloadRollup), "task",
                  ("org_id", "project_id", "source_id", "due_date", "cls", "person_id", "shares"),
                  ("n", "points", "seconds"), _workload_rows)
WORKLOGS = Rollup(table(WorklogRollup), "worklog", ("org_id", "day", "project_id", "source_id"),
                  ("n", "seconds", "rated", "unrated"), _worklog_rows, bounds=("started_hi",))
ROLLUPS = (TASKS, DAYS, MILESTONES, WORKLOAD, WORKLOGS)


# --- keeping them ----------------------------------------------------------------------------


def lock_sources(conn: Connection, source_ids: Iterable[int] = (), *, org_id: int | None = None) -> None:
    """Take the write locks, held until commit: a source's writers take turns on its row
    (``FOR NO KEY UPDATE``, which foreign-key checks do not wait for) and hold their
    organization's row ``FOR SHARE``; an organization-wide write (``org_id``: rates, people, a
    zone) takes the organization's row exclusively, so it waits for them and they for it —
    including the writers of a source created meanwhile — then all its sources in id order.
    Taken once per transaction: every store write starts here, before it writes anything, and
    a transaction that will take the organization-wide lock takes it before any source write
    (upgrading the organization row from a writer's share would deadlock with a second writer)."""
    held = _held(conn)
    if org_id is not None:
        if ("org", org_id) in held:
            return
        run(conn, statement(conn, "lock-org", lambda: sa.select(O.c.id).where(O.c.id == sa.bindparam("org"))
                            .with_for_update(key_share=True)), {"org": org_id})
        rows = run(conn, statement(conn, "lock-org-sources", lambda: sa.select(S.c.id)
                                   .where(S.c.org_id == sa.bindparam("org")).order_by(S.c.id)
                                   .with_for_update(key_share=True)), {"org": org_id})
        held.update({("org", org_id), *(("source", i) for i, in rows)})
        return
    ids = sorted({i for i in source_ids if ("source", i) not in held})
    if not ids:
        return
    run(conn, statement(conn, "lock-orgs-of-sources", lambda: sa.select(O.c.id)
                        .where(O.c.id.in_(sa.select(S.c.org_id).where(in_param(conn, S.c.id, "ids"))))
                        .order_by(O.c.id).with_for_update(read=True)), {"ids": ids})
    run(conn, statement(conn, "lock-sources", lambda: sa.select(S.c.id).where(in_param(conn, S.c.id, "ids"))
                        .order_by(S.c.id).with_for_update(key_share=True)), {"ids": ids})
    held.update(("source", i) for i in ids)


def _held(conn: Connection) -> set[tuple[str, int]]:
    """The locks this connection's innermost transaction holds (a savepoint rolled back releases
    the locks taken in it; a new transaction holds none). Outside a transaction: none, and
    nothing remembered (the lock statement itself begins it)."""
    txn = conn.get_nested_transaction() or conn.get_transaction()
    if txn is None:
        return set()
    found = conn.info.get("taskhub_locks")
    if found is None or found[0] is not txn:
        found = conn.info["taskhub_locks"] = (txn, set())
    return found[1]


@dataclass(frozen=True)
class Scope:
    """The rows a write is about to touch, by identity: a condition on ``task`` or ``worklog``
    and its parameters. ``name`` set: the condition's shape is always the same (only the
    parameters differ), so the statements over it are built once per dialect — a sync page
    runs a dozen of them."""

    where: Any
    params: dict[str, Any] = field(default_factory=dict)
    name: str | None = None

    @staticmethod
    def of(where: Any) -> Scope:
        return where if isinstance(where, Scope) else Scope(where)


def _run(conn: Connection, scope: Scope, label: str, build: Callable[[Any], Any]) -> Any:
    """``build(scope.where)``, built once per dialect and scope name when the scope has one."""
    if scope.name is None:
        return build(scope.where)
    return statement(conn, f"{label}:{scope.name}", lambda: build(scope.where))


_KEYS_PER_STATEMENT = 5000  # SQLite builds may cap a statement's parameters at 32,766


def _parts(scope: Scope) -> Iterator[Scope]:
    """The scope in parts of at most ``_KEYS_PER_STATEMENT`` keys (a board's backfill can be
    one page of 70,000 cards)."""
    keys = scope.params.get("scope_keys")
    if keys is None or len(keys) <= _KEYS_PER_STATEMENT:
        yield scope
        return
    for part in chunks(keys, _KEYS_PER_STATEMENT):
        yield Scope(scope.where, {**scope.params, "scope_keys": list(part)}, scope.name)


def _per_part(conn: Connection, scope: Scope, stmt: Any) -> list[tuple[Any, ...]]:
    """Run a statement over ``scope`` part by part, with the rows it returns (ids, keys and
    counts: as the driver gives them); one built for this call only goes through SQLAlchemy
    (``run`` keeps what it compiles)."""
    out: list[tuple[Any, ...]] = []
    for part in _parts(scope):
        if scope.name is None:
            result = conn.execute(stmt, part.params)
            if result.returns_rows:
                out.extend(tuple(r) for r in result)
        else:
            out.extend(run(conn, stmt, part.params))
    return out


def _folding(conn: Connection, rollup: Rollup, sign: int) -> Callable[[Any], Any]:
    """``where -> statement`` that adds (``sign`` 1) or takes away (-1) the sums of the rows
    matching ``where`` to or from the rollup, in the database: ``INSERT … SELECT`` of the
    rollup's definition ``ON CONFLICT DO UPDATE`` (sums add; an upper bound only rises, and only
    when adding). Parts of a scope add up, so it runs per part."""
    t, k, ns = rollup.table, len(rollup.key), len(rollup.sums)

    def build(where: Any) -> Any:
        # One statement per rollup: its SELECTs (the day rollup has two, with different keys) as one.
        named = [q.with_only_columns(*(c.label(f"c{i}") for i, c in enumerate(q.selected_columns)),
                                     maintain_column_froms=True) for q in rollup.rows(where)]
        cols = list((named[0] if len(named) == 1 else sa.union_all(*named)).subquery().c)
        sums = cols[k:k + ns] if sign > 0 else [-c for c in cols[k:k + ns]]
        ins = insert_for(conn, t).from_select(
            # WHERE: SQLite would read ON CONFLICT as a join's ON after a bare FROM
            list(rollup.columns), sa.select(*cols[:k], *sums, *cols[k + ns:]).where(sa.true()))
        ex = ins.excluded
        add = {c: t.c[c] + ex[c] for c in rollup.sums}
        if sign < 0:  # the keys whose count this took to zero: candidates for deletion once added back
            return ins.on_conflict_do_update(index_elements=list(rollup.key), set_=add).returning(
                *(t.c[c] for c in rollup.key), t.c[rollup.count])
        raise_to = {
            c: sa.case((ex[c].is_(None), t.c[c]), (t.c[c].is_(None), ex[c]), (ex[c] > t.c[c], ex[c]), else_=t.c[c])
            for c in rollup.bounds
        }
        return ins.on_conflict_do_update(index_elements=list(rollup.key), set_={**add, **raise_to})

    return build


def _fold(conn: Connection, rollup: Rollup, scope: Scope, sign: int) -> list[tuple[Any, ...]]:
    """Add (1) or take away (-1) the scope's sums; taking away returns the keys it took to zero."""
    rows = _per_part(conn, scope, _run(conn, scope, f"rollup-fold{sign:+d}:{rollup.table.name}",
                                       _folding(conn, rollup, sign)))
    return [r[:-1] for r in rows if r[-1] == 0]


def _drop_emptied(conn: Connection, rollup: Rollup, keys: Sequence[tuple[Any, ...]]) -> None:
    """Delete those of these rows whose count is still zero now that the sums were added back."""
    t = rollup.table
    stmt = statement(conn, f"rollup-emptied:{t.name}", lambda: sa.delete(t).where(
        *(t.c[c] == sa.bindparam(f"k_{c}") for c in rollup.key), t.c[rollup.count] == 0))
    conn.execute(stmt, [{f"k_{c}": v for c, v in zip(rollup.key, key, strict=True)} for key in set(keys)])


@contextmanager
def tracked(conn: Connection, source_ids: Iterable[int] = (), *, org_id: int | None = None,
            tasks: Any = None, worklogs: Any = None, new_tasks: bool = False,
            worklog_activity: bool = False) -> Iterator[None]:
    """Keep every rollup through the writes in the block: ``tasks`` and ``worklogs`` are
    conditions on the identity of the rows the block may change (ids, or a source and external
    ids: not a column the block writes), ``None`` for none. Before the block, the sums of those
    rows are taken away from each rollup; after it, their sums as they are then are added back,
    and rows whose count reached zero go — all in the database, by the rollup's one definition.
    ``new_tasks``: none of the tasks exists yet (a backfill page, as read under the lock), so
    there is nothing to take away. ``worklog_activity``: the block writes these worklogs' times,
    deletion or task, so their tasks' latest activity (``keep_activity``) is recomputed after it,
    and that of the tasks they leave; the tasks of ``tasks`` get theirs only where it is unset
    (stored in the block: their change rows or worklogs may have come first). Locks the sources
    first."""
    lock_sources(conn, source_ids, org_id=org_id)
    plan = [(r, Scope.of(w)) for r in ROLLUPS for w in ((tasks,) if r.base == "task" else (worklogs,))
            if w is not None]
    emptied = [[] if new_tasks and r.base == "task" else _fold(conn, r, w, -1) for r, w in plan]
    # The worklogs' activity before the block: what they take from the tasks they leave or change.
    before = _worklog_acts(conn, Scope.of(worklogs)) if worklogs is not None and worklog_activity else None
    yield
    for (r, w), keys in zip(plan, emptied, strict=True):
        _fold(conn, r, w, 1)
        if keys:
            _drop_emptied(conn, r, keys)
    # A task's latest activity moves only with its change rows (``insert_changes`` keeps it) and
    # its worklogs: a task row written here needs it only when it is new (unset); the worklogs'
    # tasks only when the block writes what the definition reads of them.
    if tasks is not None:
        keep_activity(conn, Scope.of(tasks), unset_only=True)
    if before is not None:
        _worklogs_moved(conn, before, _worklog_acts(conn, Scope.of(worklogs)))


# --- the tasks' latest activity --------------------------------------------------------------


def _latest_activity() -> Any:
    """A task's latest activity (``task.last_activity_at``): the latest of its change rows (any
    field) and of its alive worklogs, a worklog at the later of its start and its last update —
    the risk view's stale rule (``risk._stale``) as of now. NULL: neither."""
    logged = sa.case((W.c.remote_updated_at > W.c.started_at, W.c.remote_updated_at), else_=W.c.started_at)
    acts = sa.union_all(
        sa.select(C.c.changed_at.label("at"))
        .where(C.c.source_id == T.c.source_id, C.c.task_external_id == T.c.external_id).correlate(T),
        sa.select(logged)
        .where(W.c.source_id == T.c.source_id, W.c.task_external_id == T.c.external_id, W.c.deleted_at.is_(None))
        .correlate(T),
    ).subquery("activity")
    return sa.select(sa.func.max(acts.c.at)).scalar_subquery()


def _activity_update(where: Any, *, unset_only: bool = False) -> Any:
    """Set the latest activity of the tasks matching ``where`` (a condition on ``task``), writing
    only the rows whose value moves; ``unset_only``: of those whose value is NULL only."""
    latest = _latest_activity()
    unset = (T.c.last_activity_at.is_(None),) if unset_only else ()
    return (sa.update(T).where(where, *unset, T.c.last_activity_at.is_distinct_from(latest))
            .values(last_activity_at=latest))


def _instant(value: Any) -> datetime:
    """A timestamp as the driver gives it (SQLite: ``YYYY-MM-DD HH:MM:SS.ffffff`` text) as an
    aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


WorklogActs = dict[tuple[int, str], tuple[int, str, datetime | None]]


def _worklog_acts(conn: Connection, scope: Scope) -> WorklogActs:
    """Per worklog matching ``scope`` (source, external id): its task (source, external id) and
    the activity it gives it (the later of its start and last update; ``None``: deleted)."""
    stmt = _run(conn, scope, "activity:worklog-acts", lambda where: sa.select(
        W.c.source_id, W.c.external_id, W.c.task_external_id, W.c.started_at, W.c.remote_updated_at,
        W.c.deleted_at).where(where))
    out: WorklogActs = {}
    for sid, ext, task, started, updated, deleted in _per_part(conn, scope, stmt):
        at = _instant(started)
        if updated is not None and _instant(updated) > at:
            at = _instant(updated)
        out[(int(sid), str(ext))] = (int(sid), str(task), None if deleted is not None else at)
    return out


def _worklogs_moved(conn: Connection, before: WorklogActs, after: WorklogActs) -> None:
    """Keep the latest activity of the tasks whose worklogs a write changed (``before`` and
    ``after`` it: ``_worklog_acts``). A task's value is the latest of a set; per task, the values
    that left it (a worklog deleted, moved away or made earlier) and those that came in (written,
    brought back, moved in or made later): when none that left reached its kept value, the new
    one is the later of the kept value and the latest that came in, set as it is; otherwise (or
    unset) it is recomputed (``keep_activity``). A task not stored takes it in its own write."""
    came: dict[tuple[int, str], datetime] = {}
    went: dict[tuple[int, str], datetime] = {}
    for key in before.keys() | after.keys():
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        if b is not None and b[2] is not None and not (a is not None and a[:2] == b[:2] and a[2] is not None
                                                       and a[2] >= b[2]):
            went[b[:2]] = max(b[2], went.get(b[:2], b[2]))
        if a is not None and a[2] is not None:
            came[a[:2]] = max(a[2], came.get(a[:2], a[2]))
    by_source: dict[int, set[str]] = {}
    for source_id, task in came.keys() | went.keys():
        by_source.setdefault(source_id, set()).add(task)
    for source_id, exts in sorted(by_source.items()):
        recompute: list[str] = []
        later: list[dict[str, Any]] = []
        for part in chunks(sorted(exts)):
            for tid, ext, kept in conn.execute(sa.select(T.c.id, T.c.external_id, T.c.last_activity_at).where(
                    T.c.source_id == source_id, T.c.external_id.in_(part))):
                kept = None if kept is None else _instant(kept)
                out, came_in = went.get((source_id, ext)), came.get((source_id, ext))
                if kept is None or (out is not None and out >= kept):
                    recompute.append(ext)
                elif came_in is not None and came_in > kept:
                    later.append({"tid": tid, "at": came_in})
        if recompute:
            keep_activity(conn, touched_tasks(conn, source_id, recompute))
        if later:
            _set_activity(conn, later)


def _set_activity(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """``task.last_activity_at`` = ``at`` for each ``{"tid", "at"}``: one UPDATE over the rows as
    one JSON text (``json_rows``; PostgreSQL would otherwise take a round trip per row). SQLite
    stores the instant as its datetime text, PostgreSQL reads the ISO form as timestamptz."""
    sqlite = conn.dialect.name == "sqlite"

    def build() -> Any:
        at_type: Any = sa.Text if sqlite else sa.DateTime(timezone=True)
        src = json_rows(conn.dialect.name, "later", {"tid": sa.BigInteger, "at": at_type}, name="later")
        return sa.update(T).where(T.c.id == src.c.tid).values(last_activity_at=src.c.at)

    doc = json.dumps([{"tid": r["tid"], "at": r["at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite
                       else r["at"].isoformat()} for r in rows])
    conn.execute(statement(conn, "activity:later", build), {"later": doc})


def keep_activity(conn: Connection, scope: Any, *, of: str = "tasks", unset_only: bool = False) -> None:
    """Recompute ``task.last_activity_at`` of the tasks a write touched: ``scope`` is a condition
    on ``task`` (``of="tasks"``) or on ``worklog`` (``of="worklogs"``: their tasks, by source and
    external id, stored or not yet). Called after change rows are stored (``insert_changes``,
    ``rewrite_changes``: for the tasks they may move) and at the end of a ``tracked`` block: a
    worklog written, edited or deleted (``worklog_activity``), a task stored after its worklogs or
    changes (``unset_only``: the tasks whose value is NULL; any other one is kept already)."""
    scope = Scope.of(scope)

    def build(where: Any) -> Any:
        if of == "worklogs":
            where = sa.tuple_(T.c.source_id, T.c.external_id).in_(
                sa.select(W.c.source_id, W.c.task_external_id).where(where))
        return _activity_update(where, unset_only=unset_only)

    label = f"activity:{of}" + (":unset" if unset_only else "")
    _per_part(conn, scope, _run(conn, scope, label, build))


@contextmanager
def people_changing(conn: Connection, org_id: int, people: Sequence[int],
                    flush: Callable[[], None] = lambda: None, *, assignments: bool = True) -> Iterator[None]:
    """Keep the rollups through a change of these people's assignments, worklogs or rates (a
    rate, a merge, an identity split off): the tasks assigned to any of them and their worklogs
    stay the same set while work moves between them, so the sums before and after are of the
    same rows. ``flush`` writes what an ORM session holds before the sums are added back; the
    worklogs are re-priced at the end. ``assignments=False``: only rates change, which move no
    task figure."""
    assigned = TA.alias("assigned")
    tasks = T.c.id.in_(sa.select(assigned.c.task_id).where(assigned.c.person_id.in_(list(people))))
    worklogs = W.c.person_id.in_(list(people))
    with tracked(conn, org_id=org_id, tasks=tasks if assignments else None, worklogs=worklogs):
        yield
        flush()
        price_worklogs(conn, worklogs)


def delete_source(conn: Connection, source_id: int) -> None:
    """Delete a source with everything synced from it (the foreign keys cascade) and its rollup
    rows: one statement per table, linear in the rows."""
    lock_sources(conn, [source_id])
    for r in ROLLUPS:
        conn.execute(sa.delete(r.table).where(r.table.c.source_id == source_id))
    # The state events' last states of its milestones and projects (service.state_events.transitions):
    # SQLite reuses the highest ids, and a milestone or project made later under a reused id would
    # inherit them (a first sight firing, or a crossing never announced).
    es, m, pr = table(EventState), table(Milestone), table(Project)
    for prefix, tbl in (("milestone:", m), ("project:", pr)):
        subjects = sa.select(sa.literal(prefix) + sa.cast(tbl.c.id, sa.String)).where(tbl.c.source_id == source_id)
        conn.execute(sa.delete(es).where(es.c.subject.in_(subjects)))
    conn.execute(sa.delete(S).where(S.c.id == source_id))


# --- the worklogs' copies ------------------------------------------------------------------


def local_day(at: datetime | None, zone: str) -> date | None:
    """The local date of a UTC instant in an IANA zone: a worklog's ``started_day``."""
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone)).date()


def org_zone(conn: Connection, org_id: int) -> str:
    return conn.execute(sa.select(O.c.timezone).where(O.c.id == org_id)).scalar_one()


def _of_task(column: str) -> Any:
    t = T.alias("t")
    return (sa.select(t.c[column])
            .where(t.c.source_id == W.c.source_id, t.c.external_id == W.c.task_external_id)
            .scalar_subquery())


def _pairing(where: Any) -> Any:
    values = {"task_id": _of_task("id"), "task_project_id": _of_task("project_id"),
              "task_deleted_at": _of_task("deleted_at")}
    differs = sa.or_(*(W.c[c].is_distinct_from(v) for c, v in values.items()))
    return sa.update(W).where(where, differs).values(values)


def pair_worklogs(conn: Connection, scope: Any) -> None:
    """Copy onto the worklogs in ``scope`` their task's id, project and tombstone as stored now
    (NULL while the task is unknown); rows already right are not written."""
    scope = Scope.of(scope)
    stmt = _run(conn, scope, "pair", _pairing)
    _per_part(conn, scope, stmt)


def _pricing(where: Any) -> Any:
    rate = (sa.select(RATE.c.hourly_rate)
            .where(RATE.c.person_id == W.c.person_id, RATE.c.effective_from <= W.c.started_day)
            .order_by(RATE.c.effective_from.desc()).limit(1).scalar_subquery())
    return sa.update(W).where(where, W.c.author_rate.is_distinct_from(rate)).values(author_rate=rate)


def price_worklogs(conn: Connection, scope: Any) -> None:
    """Set the author's hourly rate in effect on the local day onto the worklogs in ``scope``
    (NULL: no author or no rate then; the views fall back to the project's and the
    organization's rates); rows already right are not written."""
    scope = Scope.of(scope)
    stmt = _run(conn, scope, "price", _pricing)
    _per_part(conn, scope, stmt)


def _date_worklogs(conn: Connection, org_id: int) -> None:
    """Recompute ``started_day`` of the organization's worklogs in its zone (Python's tz
    database); rows already right are not written."""
    zone = org_zone(conn, org_id)
    moved = [{"w_id": i, "day": day} for i, at, stored in conn.execute(
        sa.select(W.c.id, W.c.started_at, W.c.started_day).where(W.c.org_id == org_id))
        if (day := local_day(at, zone)) != stored]
    stmt = sa.update(W).where(W.c.id == sa.bindparam("w_id")).values(started_day=sa.bindparam("day"))
    for part in chunks(moved, 5000):
        conn.execute(stmt, list(part))


def rezone(conn: Connection, org_id: int) -> None:
    """After the organization's time zone changed: re-date and re-price its worklogs and rebuild
    its worklog rollup (an administrator's rare change; linear in the worklogs)."""
    lock_sources(conn, org_id=org_id)
    _date_worklogs(conn, org_id)
    price_worklogs(conn, W.c.org_id == org_id)
    _rebuild_one(conn, WORKLOGS, org_id)


# --- rebuild and check ---------------------------------------------------------------------


def _rebuild_one(conn: Connection, rollup: Rollup, org_id: int | None) -> None:
    t = rollup.table
    conn.execute(sa.delete(t).where(sa.true() if org_id is None else t.c.org_id == org_id))
    base = T if rollup.base == "task" else W
    where = sa.true() if org_id is None else base.c.org_id == org_id
    for q in rollup.rows(where):
        conn.execute(sa.insert(t).from_select(list(rollup.columns), q))


def rebuild(conn: Connection, org_id: int | None = None) -> None:
    """Recompute the worklogs' copies and every rollup from the task, assignee, milestone link,
    worklog, rate and organization rows (of one organization, or of all): after writes that
    bypassed the store, or a change of the tz database's rules."""
    orgs = [org_id] if org_id is not None else list(conn.execute(sa.select(O.c.id)).scalars())
    for oid in orgs:
        lock_sources(conn, org_id=oid)
        _date_worklogs(conn, oid)
        pair_worklogs(conn, W.c.org_id == oid)
        price_worklogs(conn, W.c.org_id == oid)
        for r in ROLLUPS:
            _rebuild_one(conn, r, oid)
        conn.execute(_activity_update(T.c.org_id == oid))


def _rounded(v: Any) -> Any:
    if isinstance(v, float | Decimal):  # sums of floats added and taken away leave a last-digit residue
        f = float(v)
        return 0.0 if abs(f) < 1e-9 else float(f"{f:.12g}")
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def snapshot(conn: Connection, org_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """The kept rows of one organization — each rollup's key and sums, and the worklogs'
    copies — floats to 10 significant digits, for comparisons. Upper bounds are left out: a
    write never lowers them, so they may exceed a rebuild's (``check`` compares them apart)."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for r in ROLLUPS:
        cols = [r.table.c[c] for c in r.key + r.sums]
        out[r.table.name] = {tuple(_rounded(v) for v in row)
                             for row in conn.execute(sa.select(*cols).where(r.table.c.org_id == org_id))}
    copies = (W.c.id, W.c.task_id, W.c.task_project_id, W.c.task_deleted_at, W.c.started_day, W.c.author_rate)
    out["worklog_copies"] = {tuple(_rounded(v) for v in row)
                             for row in conn.execute(sa.select(*copies).where(W.c.org_id == org_id))}
    out["task_activity"] = {tuple(_rounded(v) for v in row) for row in conn.execute(
        sa.select(T.c.id, T.c.last_activity_at).where(T.c.org_id == org_id))}
    return out


def _bounds(conn: Connection, org_id: int) -> dict[str, dict[tuple[Any, ...], Any]]:
    out = {}
    for r in ROLLUPS:
        for b in r.bounds:
            cols = [r.table.c[c] for c in r.key]
            out[f"{r.table.name}.{b}"] = {tuple(_rounded(v) for v in row[:-1]): row[-1] for row in conn.execute(
                sa.select(*cols, r.table.c[b]).where(r.table.c.org_id == org_id))}
    return out


class _Undo(Exception):
    pass


def check(conn: Connection, org_id: int) -> dict[str, int]:
    """How many kept rows of the organization differ from a rebuild (none: all zero), per table;
    an upper bound counts as differing when it is below the rebuild's. Changes nothing: the
    rebuild runs in a savepoint that is rolled back."""
    lock_sources(conn, org_id=org_id)  # no write may commit between the snapshot and the rebuild
    kept, kept_bounds = snapshot(conn, org_id), _bounds(conn, org_id)
    try:
        with conn.begin_nested():
            rebuild(conn, org_id)
            fresh, fresh_bounds = snapshot(conn, org_id), _bounds(conn, org_id)
            raise _Undo
    except _Undo:
        pass
    diff = {name: len(kept[name] ^ fresh[name]) for name in kept}
    for name, rows in fresh_bounds.items():
        have = kept_bounds[name]
        diff[name] = sum(1 for k, v in rows.items()
                         if v is not None and (have.get(k) is None or have[k] < v))
    return diff


def _keyed(conn: Connection, source: Any, column: Any, name: str, source_id: int, keys: Sequence[str]) -> Scope:
    """The rows of a source whose ``column`` is one of ``keys``: a fixed-shape scope."""
    return Scope(sa.and_(source == sa.bindparam("scope_source"), in_param(conn, column, "scope_keys")),
                 {"scope_source": source_id, "scope_keys": list(keys)}, name)


def touched_tasks(conn: Connection, source_id: int, external_ids: Sequence[str]) -> Scope:
    """A write to these tasks of a source."""
    return _keyed(conn, T.c.source_id, T.c.external_id, "tasks", source_id, external_ids)


def worklogs_of_tasks(conn: Connection, source_id: int, external_ids: Sequence[str]) -> Scope:
    """The worklogs of these tasks of a source."""
    return _keyed(conn, W.c.source_id, W.c.task_external_id, "worklogs-of-tasks", source_id, external_ids)


def with_worklogs(conn: Connection, source_id: int, external_ids: Sequence[str]) -> list[str]:
    """Those of these tasks of a source that have a worklog stored."""
    if not external_ids:
        return []
    scope = worklogs_of_tasks(conn, source_id, external_ids)
    stmt = _run(conn, scope, "with-worklogs", lambda where: sa.select(W.c.task_external_id).where(where).distinct())
    return sorted({e for part in _parts(scope) for e, in run(conn, stmt, part.params)})


def worklogs_by_key(conn: Connection, source_id: int, external_ids: Sequence[str]) -> Scope:
    """These worklogs of a source."""
    return _keyed(conn, W.c.source_id, W.c.external_id, "worklogs", source_id, external_ids)
