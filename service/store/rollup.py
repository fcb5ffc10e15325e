"""The rollups (``task_rollup``, ``task_day_rollup``, ``milestone_rollup``), kept by triggers on
``task`` and ``task_milestone``.

The progress view over a whole organization as of now needs, per project and status, the
task counts and estimate sums, and over all its tasks the number created and completed per
local day; flow needs the completions; the milestones view the tasks and done tasks of each
milestone. Scanning 100,000 tasks for that costs full sorts on SQLite; the rollups hold the
same sums in a few thousand rows. Triggers keep them in the same transaction as the rows,
whatever writes them (the bulk upserts, tombstones, link replacement, project changes,
cascaded deletes), so they can never lag behind.

Day buckets are UTC hours: the organization's zone is applied when they are read, so a
zone change needs no rebuild (zones whose offsets are not whole hours read the task table).

``rebuild`` recomputes the tables from the task and link rows (the migration's backfill, and the
tests' reference); ``install`` creates the triggers for the connection's dialect.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.store.common import pg_signed_rows, pg_statement_triggers

__all__ = ["install", "uninstall", "rebuild", "snapshot", "created_bounds", "TRIGGERED_COLUMNS", "MILESTONE_COLUMNS"]

# The task columns the rollups read; a change to any other column leaves them as they are.
TRIGGERED_COLUMNS = (
    "org_id",
    "project_id",
    "source_id",
    "status_category",
    "type",
    "is_milestone",
    "archived",
    "deleted_at",
    "estimate_points",
    "estimate_seconds",
    "spent_seconds",
    "remaining_seconds",
    "remote_created_at",
    "completed_at",
)

_TOTAL_KEY = ("org_id", "project_id", "source_id", "status_category", "cls")
_DAY_KEY = ("org_id", "source_id", "cls", "kind", "known", "bucket")
_SUMS = ("n", "pts_n", "pts", "sec_n", "sec", "time_n", "spent", "remaining", "completed_n")


def _cls(r: str) -> str:
    """0: never counted (epic, milestone marker); 2: archived; 1: counted."""
    return f"CASE WHEN {r}.type = 'epic' OR {r}.is_milestone THEN 0 WHEN {r}.archived THEN 2 ELSE 1 END"


def _sums(r: str, s: str, cast: str) -> list[str]:
    """The summed values of one task row ``r`` with sign ``s`` (SQL text), in ``_SUMS`` order."""
    return [
        s,
        f"{s} * ({r}.estimate_points IS NOT NULL){cast}",
        f"{s} * coalesce({r}.estimate_points, 0)",
        f"{s} * ({r}.estimate_seconds IS NOT NULL){cast}",
        f"{s} * coalesce({r}.estimate_seconds, 0)",
        f"{s} * (coalesce({r}.spent_seconds, {r}.remaining_seconds) IS NOT NULL){cast}",
        f"{s} * coalesce({r}.spent_seconds, 0)",
        f"{s} * coalesce({r}.remaining_seconds, 0)",
        f"{s} * ({r}.completed_at IS NOT NULL){cast}",
    ]


# --- SQLite: row triggers --------------------------------------------------------------------

_EPOCH_TEXT = "'1970-01-01 00:00:00.000000'"


def _sqlite_bucket(col: str) -> str:
    return f"CASE WHEN {col} IS NULL THEN {_EPOCH_TEXT} ELSE substr({col}, 1, 13) || ':00:00.000000' END"


def _sqlite_apply(r: str, sign: int) -> str:
    """The statements adding (``sign`` 1) or removing (-1) task row ``r`` (``new``/``old``)."""
    cls = _cls(r)
    hi = f"{r}.remote_created_at" if sign > 0 else "NULL"
    total = (
        f"INSERT INTO task_rollup ({', '.join(_TOTAL_KEY + _SUMS)}, created_hi) "
        f"SELECT {r}.org_id, coalesce({r}.project_id, 0), {r}.source_id, {r}.status_category, {cls}, "
        f"{', '.join(_sums(r, str(sign), ''))}, {hi} WHERE {r}.deleted_at IS NULL "
        f"ON CONFLICT ({', '.join(_TOTAL_KEY)}) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in _SUMS)
        + ", created_hi = max(coalesce(created_hi, excluded.created_hi), "
        "coalesce(excluded.created_hi, created_hi));"
    )
    out = [total]
    for kind, col, extra in (
        ("c", f"{r}.remote_created_at", ""),
        ("d", f"{r}.completed_at", f" AND {r}.status_category = 'done'"),
    ):
        out.append(
            f"INSERT INTO task_day_rollup ({', '.join(_DAY_KEY)}, n) "
            f"SELECT {r}.org_id, {r}.source_id, {cls}, '{kind}', {col} IS NOT NULL, {_sqlite_bucket(col)}, {sign} "
            f"WHERE {r}.deleted_at IS NULL AND {cls} > 0{extra} "
            f"ON CONFLICT ({', '.join(_DAY_KEY)}) DO UPDATE SET n = n + excluded.n;"
        )
    if sign < 0:  # rows whose count reached zero go
        out.append(
            f"DELETE FROM task_rollup WHERE org_id = {r}.org_id AND project_id = coalesce({r}.project_id, 0) "
            f"AND source_id = {r}.source_id AND status_category = {r}.status_category AND cls = {cls} AND n = 0;"
        )
        for kind, col in (("c", f"{r}.remote_created_at"), ("d", f"{r}.completed_at")):
            out.append(
                f"DELETE FROM task_day_rollup WHERE org_id = {r}.org_id AND source_id = {r}.source_id "
                f"AND cls = {cls} AND kind = '{kind}' AND known = ({col} IS NOT NULL) "
                f"AND bucket = {_sqlite_bucket(col)} AND n = 0;"
            )
    return "\n  ".join(out)


def _sqlite_ddl() -> list[str]:
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in TRIGGERED_COLUMNS)
    return [
        "CREATE TRIGGER task_rollup_insert AFTER INSERT ON task WHEN new.deleted_at IS NULL BEGIN\n  "
        + _sqlite_apply("new", 1)
        + "\nEND",
        "CREATE TRIGGER task_rollup_delete AFTER DELETE ON task WHEN old.deleted_at IS NULL BEGIN\n  "
        + _sqlite_apply("old", -1)
        + "\nEND",
        f"CREATE TRIGGER task_rollup_update AFTER UPDATE OF {', '.join(TRIGGERED_COLUMNS)} ON task "
        f"WHEN {changed} BEGIN\n  " + _sqlite_apply("old", -1) + "\n  " + _sqlite_apply("new", 1) + "\nEND",
    ]


# --- PostgreSQL: statement triggers over the transition tables ----------------------------------


def _pg_delta(event: str) -> str:
    """The signed task rows of one statement: ``+1`` per new row, ``-1`` per old one, alive only;
    an UPDATE contributes only the rows whose rollup columns changed."""

    def pick(r: str, sign: str, source: str) -> str:
        return f"SELECT {r}.*, {_cls(r)} AS cls, {sign} AS s FROM {source} WHERE {r}.deleted_at IS NULL"

    return pg_signed_rows(event, TRIGGERED_COLUMNS, pick)


def _pg_function(event: str) -> str:
    delta = _pg_delta(event)
    sums = _sums("d", "d.s", "::int")
    total = (
        f"WITH d AS ({delta}) "
        f"INSERT INTO task_rollup ({', '.join(_TOTAL_KEY + _SUMS)}, created_hi) "
        f"SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, d.status_category, d.cls, "
        + ", ".join(f"sum({x})" for x in sums)
        + ", max(CASE WHEN d.s > 0 THEN d.remote_created_at END) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 "
        f"ON CONFLICT ({', '.join(_TOTAL_KEY)}) DO UPDATE SET "
        + ", ".join(f"{c} = task_rollup.{c} + excluded.{c}" for c in _SUMS)
        + ", created_hi = GREATEST(task_rollup.created_hi, excluded.created_hi)"
    )
    day_keys = (
        "d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, "
        "coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket"
    )
    day_rows = (
        f"FROM ({delta}) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), "
        "('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0"
    )
    days = (
        f"INSERT INTO task_day_rollup ({', '.join(_DAY_KEY)}, n) SELECT {day_keys}, sum(d.s) {day_rows} "
        "GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6 "
        f"ON CONFLICT ({', '.join(_DAY_KEY)}) DO UPDATE SET n = task_day_rollup.n + excluded.n"
    )
    body = [total, days]
    if event != "INSERT":  # rows whose count reached zero go
        body.append(
            f"DELETE FROM task_rollup r USING (SELECT DISTINCT org_id, coalesce(project_id, 0) AS project_id, "
            f"source_id, status_category, cls FROM ({delta}) x WHERE s < 0) k "
            f"WHERE ({', '.join('r.' + c for c in _TOTAL_KEY)}) = ({', '.join('k.' + c for c in _TOTAL_KEY)}) "
            "AND r.n = 0"
        )
        body.append(
            f"DELETE FROM task_day_rollup r USING (SELECT DISTINCT {day_keys} {day_rows} AND d.s < 0) k "
            f"WHERE ({', '.join('r.' + c for c in _DAY_KEY)}) = ({', '.join('k.' + c for c in _DAY_KEY)}) "
            "AND r.n = 0"
        )
    name = f"taskhub_task_rollup_{event.lower()}"
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n  "
        + ";\n  ".join(body)
        + ";\n  RETURN NULL;\nEND\n$fn$"
    )


def _pg_ddl() -> list[str]:
    return pg_statement_triggers("task_rollup", "task", _pg_function)


# --- milestone counts: task_milestone links × the linked task's state ---------------------------

# The task columns milestone counts read.
MILESTONE_COLUMNS = ("status_category", "type", "is_milestone", "archived", "deleted_at")
_MS_KEY = ("milestone_id", "cls")
_MS_UPSERT = (
    "ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, "
    "done = milestone_rollup.done + excluded.done"
)


def _ms_add(t: str, sign: int | str, link: str, source: str, where: str, cast: str = "") -> str:
    """Add task ``t``'s contribution, with sign ``sign``, to the milestones ``link`` names: the
    rows of ``source`` that ``where`` keeps, the task alive."""
    return (
        f"SELECT {link} AS milestone_id, {_cls(t)} AS cls, {t}.org_id, {t}.source_id, {sign} AS tasks, "
        f"{sign} * ({t}.status_category = 'done'){cast} AS done FROM {source} WHERE {t}.deleted_at IS NULL{where}"
    )


def _sqlite_ms_ddl() -> list[str]:
    def add(t: str, sign: int, link: str, source: str, where: str) -> str:
        return (
            "INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) "
            f"{_ms_add(t, sign, link, source, where)} {_MS_UPSERT};"
        )

    zero = "DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id {which};"
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in MILESTONE_COLUMNS)
    link_add = add("t", 1, "new.milestone_id", "task t", " AND t.id = new.task_id")
    link_sub = add("t", -1, "old.milestone_id", "task t", " AND t.id = old.task_id")
    task_sub = add("old", -1, "tm.milestone_id", "task_milestone tm", " AND tm.task_id = old.id")
    task_add = add("new", 1, "tm.milestone_id", "task_milestone tm", " AND tm.task_id = new.id")
    of_task = "IN (SELECT milestone_id FROM task_milestone WHERE task_id = old.id)"
    return [
        f"CREATE TRIGGER milestone_rollup_link_insert AFTER INSERT ON task_milestone BEGIN\n  {link_add}\nEND",
        "CREATE TRIGGER milestone_rollup_link_delete AFTER DELETE ON task_milestone BEGIN\n  "
        f"{link_sub}\n  {zero.format(which='= old.milestone_id')}\nEND",
        f"CREATE TRIGGER milestone_rollup_task_update AFTER UPDATE OF {', '.join(MILESTONE_COLUMNS)} ON task "
        f"WHEN {changed} BEGIN\n  {task_sub}\n  {task_add}\n  {zero.format(which=of_task)}\nEND",
        # Before the row goes: its links still exist (the cascade then finds no task to subtract).
        "CREATE TRIGGER milestone_rollup_task_delete BEFORE DELETE ON task BEGIN\n  "
        f"{task_sub}\n  {zero.format(which=of_task)}\nEND",
    ]


def _pg_ms_ddl() -> list[str]:
    def upsert(rows: str) -> str:
        return (
            "INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) "
            # One row per conflict key (a statement may not update a row twice), whatever the rows'
            # organization and source (a milestone's tasks share them).
            f"SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM ({rows}) x "
            f"GROUP BY 1, 2 ORDER BY 1, 2 {_MS_UPSERT}"
        )

    def part(t: str, sign: int, source: str, where: str) -> str:
        return _ms_add(t, sign, "tm.milestone_id", source, where, "::int")

    zero = "DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN ({ids})"
    # The changed tasks' old (-1) and new (+1) versions, each joined to its milestone links.
    changed = pg_signed_rows(
        "UPDATE",
        (*MILESTONE_COLUMNS, "org_id", "source_id"),
        lambda t, sign, source: _ms_add(
            t, sign, "tm.milestone_id", f"{source} JOIN task_milestone tm ON tm.task_id = {t}.id", "", "::int"
        ),
    )
    bodies = {
        "link_insert": [upsert(part("t", 1, "new_rows tm JOIN task t ON t.id = tm.task_id", ""))],
        "link_delete": [
            upsert(part("t", -1, "old_rows tm JOIN task t ON t.id = tm.task_id", "")),
            zero.format(ids="SELECT milestone_id FROM old_rows"),
        ],
        "task_update": [
            upsert(changed),
            # only where a task changed: this runs after every UPDATE of task rows (each sync page)
            "WITH z AS MATERIALIZED (SELECT DISTINCT milestone_id FROM (" + changed + ") x) "
            "DELETE FROM milestone_rollup r USING z WHERE r.milestone_id = z.milestone_id AND r.tasks = 0",
        ],
    }
    out = []
    for name, body in bodies.items():
        out.append(
            f"CREATE FUNCTION taskhub_milestone_rollup_{name}() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n  "
            + ";\n  ".join(body) + ";\n  RETURN NULL;\nEND\n$fn$"
        )
    # Before the row goes, per row: its links still exist (the cascade then finds no task).
    out.append(
        "CREATE FUNCTION taskhub_milestone_rollup_task_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n  "
        + upsert(part("OLD", -1, "task_milestone tm", " AND tm.task_id = OLD.id"))
        + ";\n  " + zero.format(ids="SELECT milestone_id FROM task_milestone WHERE task_id = OLD.id")
        + ";\n  RETURN OLD;\nEND\n$fn$"
    )
    out += [
        "CREATE TRIGGER milestone_rollup_link_insert AFTER INSERT ON task_milestone REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_link_insert()",
        "CREATE TRIGGER milestone_rollup_link_delete AFTER DELETE ON task_milestone REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_link_delete()",
        "CREATE TRIGGER milestone_rollup_task_update AFTER UPDATE ON task "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_task_update()",
        "CREATE TRIGGER milestone_rollup_task_delete BEFORE DELETE ON task "
        "FOR EACH ROW EXECUTE FUNCTION taskhub_milestone_rollup_task_delete()",
    ]
    return out


_MS_TRIGGERS = (("link_insert", "task_milestone"), ("link_delete", "task_milestone"), ("task_update", "task"),
                ("task_delete", "task"))


def install(conn: Connection, *, tasks: bool = True, milestones: bool = True) -> None:
    """Create the triggers (the tables exist: the migrations create them)."""
    pg = conn.dialect.name == "postgresql"
    ddl = (_pg_ddl() if pg else _sqlite_ddl()) if tasks else []
    if milestones:
        ddl += _pg_ms_ddl() if pg else _sqlite_ms_ddl()
    for statement in ddl:
        conn.exec_driver_sql(statement)


def uninstall(conn: Connection, *, tasks: bool = True, milestones: bool = True) -> None:
    pg = conn.dialect.name == "postgresql"
    if tasks:
        for event in ("insert", "update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS task_rollup_{event}" + (" ON task" if pg else ""))
            if pg:
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS taskhub_task_rollup_{event}()")
    if milestones:
        for name, table_name in _MS_TRIGGERS:
            on = f" ON {table_name}" if pg else ""
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS milestone_rollup_{name}{on}")
            if pg:
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS taskhub_milestone_rollup_{name}()")


# --- rebuild and snapshot ------------------------------------------------------------------------


def _rebuild_sql(dialect: str, org_filter: str) -> list[str]:
    cast = "::int" if dialect == "postgresql" else ""
    if dialect == "postgresql":
        bucket = "coalesce(date_trunc('hour', {c}, 'UTC'), 'epoch'::timestamptz)"
    else:
        bucket = _sqlite_bucket("{c}")
    sums = _sums("t", "1", cast)
    alive = f"t.deleted_at IS NULL{org_filter}"
    total = (
        f"INSERT INTO task_rollup ({', '.join(_TOTAL_KEY + _SUMS)}, created_hi) "
        f"SELECT t.org_id, coalesce(t.project_id, 0), t.source_id, t.status_category, {_cls('t')}, "
        + ", ".join(f"sum({x})" for x in sums)
        + f", max(t.remote_created_at) FROM task t WHERE {alive} GROUP BY 1, 2, 3, 4, 5"
    )
    days = []
    for kind, col, extra in (
        ("c", "t.remote_created_at", ""),
        ("d", "t.completed_at", " AND t.status_category = 'done'"),
    ):
        days.append(
            f"INSERT INTO task_day_rollup ({', '.join(_DAY_KEY)}, n) "
            f"SELECT t.org_id, t.source_id, {_cls('t')}, '{kind}', {col} IS NOT NULL, {bucket.format(c=col)}, count(*) "
            f"FROM task t WHERE {alive} AND {_cls('t')} > 0{extra} GROUP BY 1, 2, 3, 4, 5, 6"
        )
    return [total, *days]


def rebuild(conn: Connection, org_id: int | None = None, *, tasks: bool = True, milestones: bool = True) -> None:
    """Recompute the rollups from the task rows (of one organization, or of all)."""
    where = "" if org_id is None else f" WHERE org_id = {int(org_id)}"
    org_filter = "" if org_id is None else f" AND t.org_id = {int(org_id)}"
    if tasks:
        conn.exec_driver_sql(f"DELETE FROM task_rollup{where}")
        conn.exec_driver_sql(f"DELETE FROM task_day_rollup{where}")
        for sql in _rebuild_sql(conn.dialect.name, org_filter):
            conn.exec_driver_sql(sql)
    if milestones:
        cast = "::int" if conn.dialect.name == "postgresql" else ""
        conn.exec_driver_sql(f"DELETE FROM milestone_rollup{where}")
        conn.exec_driver_sql(
            "INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) "
            f"SELECT tm.milestone_id, {_cls('t')}, max(t.org_id), max(t.source_id), count(*), "
            f"sum((t.status_category = 'done'){cast}) FROM task_milestone tm JOIN task t ON t.id = tm.task_id "
            f"WHERE t.deleted_at IS NULL{org_filter} GROUP BY 1, 2"
        )


def snapshot(conn: Connection, org_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """The rollup tables' rows of one organization, floats rounded, without ``created_hi`` (an upper
    bound that the triggers never lower; see ``created_bounds``), for comparisons."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for name, key, values in (
        ("task_rollup", _TOTAL_KEY, _SUMS),
        ("task_day_rollup", _DAY_KEY, ("n",)),
        ("milestone_rollup", _MS_KEY, ("source_id", "tasks", "done")),
    ):
        rows = conn.execute(
            sa.text(f"SELECT {', '.join(key + values)} FROM {name} WHERE org_id = :o"), {"o": org_id}
        ).all()
        out[name] = {tuple(_plain(v) for v in r) for r in rows}
    return out


def created_bounds(conn: Connection, org_id: int) -> dict[tuple[Any, ...], Any]:
    """``created_hi`` per ``task_rollup`` key of one organization."""
    rows = conn.execute(
        sa.text(f"SELECT {', '.join(_TOTAL_KEY)}, created_hi FROM task_rollup WHERE org_id = :o"), {"o": org_id}
    ).all()
    return {tuple(r[:-1]): r[-1] for r in rows}


def _plain(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, (float, Decimal)):
        return round(float(v), 6)
    return str(v)
