"""Each worklog's task as stored now — ``worklog.task_id``, ``task_project_id``,
``task_deleted_at`` — kept by triggers on ``worklog`` and ``task``.

A worklog names its task by the tool's key (``source_id``, ``task_external_id``), and may
arrive before the task does. The budget and workload views sum 200,000 worklogs by project
and by whether their task is alive; joining them to 100,000 tasks on a text key cost more
than the rest of the pass. The triggers copy the three task columns onto the worklog row in
the same transaction as any write that changes them (a worklog written, a task inserted,
moved to another project, tombstoned or deleted), so the views read the worklogs alone.
``task_id`` is NULL while the task is unknown; such a worklog counts in no view.

PostgreSQL under READ COMMITTED needs care where a worklog and its task are written by two
transactions at once (the inbox runs several workers): each could miss the other's
uncommitted row. A worklog's trigger reads its task ``FOR SHARE``, so it waits for a
concurrent update or delete of that task (which in turn waits for it); a task insert holds
its source's advisory lock shared until commit, and a worklog that finds no task takes that
lock exclusively and looks again, so one of the two always sees the other. Two transactions
that each inserted tasks of a source and then write a worklog whose task is missing can wait
for each other: PostgreSQL aborts one as a deadlock, which the inbox and the next poll retry
like any other. SQLite serializes writers.

``rebuild`` recomputes the columns from the tasks (the migration's backfill, ``taskhub rollups
rebuild`` and the tests' reference); ``snapshot`` reads them for comparisons.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.store.common import drop_triggers, pg_lock_key, run_ddl

__all__ = ["install", "uninstall", "rebuild", "snapshot"]

# The task columns copied, in the worklog's column order.
LINKED = (("task_id", "id"), ("task_project_id", "project_id"), ("task_deleted_at", "deleted_at"))
# First key of the two-key advisory lock a task insert holds (shared) per source: "wlta".
LOCK_CLASS = 0x776C7461

_COLS = ", ".join(w for w, _ in LINKED)
_NULLS = ", ".join(f"{w} = NULL" for w, _ in LINKED)


def _set_from(r: str) -> str:
    return ", ".join(f"{w} = {r}.{t}" for w, t in LINKED)


def _task_of(w: str) -> str:
    return f"FROM task t WHERE t.source_id = {w}.source_id AND t.external_id = {w}.task_external_id"


def _moved(o: str, n: str, cmp: str) -> str:
    cols = ("source_id", "external_id", "project_id", "deleted_at")
    return " OR ".join(f"{o}.{c} {cmp} {n}.{c}" for c in cols)


# --- SQLite: row triggers ------------------------------------------------------------------------


def _sqlite_ddl() -> list[str]:
    link = (
        f"UPDATE worklog SET ({_COLS}) = (SELECT {', '.join('t.' + t for _, t in LINKED)} {_task_of('new')}) "
        "WHERE id = new.id;"
    )
    rekeyed = "old.source_id IS NOT new.source_id OR old.external_id IS NOT new.external_id"
    return [
        f"CREATE TRIGGER worklog_task_link AFTER INSERT ON worklog BEGIN\n  {link}\nEND",
        "CREATE TRIGGER worklog_task_relink AFTER UPDATE OF source_id, task_external_id ON worklog "
        "WHEN old.source_id IS NOT new.source_id OR old.task_external_id IS NOT new.task_external_id "
        f"BEGIN\n  {link}\nEND",
        "CREATE TRIGGER worklog_task_task_insert AFTER INSERT ON task BEGIN\n  "
        f"UPDATE worklog SET {_set_from('new')} "
        "WHERE source_id = new.source_id AND task_external_id = new.external_id;\nEND",
        "CREATE TRIGGER worklog_task_task_update AFTER UPDATE OF source_id, external_id, project_id, deleted_at "
        f"ON task WHEN {_moved('old', 'new', 'IS NOT')} BEGIN\n  "
        f"UPDATE worklog SET {_NULLS} WHERE ({rekeyed}) AND source_id = old.source_id "
        "AND task_external_id = old.external_id AND task_id = old.id;\n  "
        f"UPDATE worklog SET {_set_from('new')} "
        "WHERE source_id = new.source_id AND task_external_id = new.external_id;\nEND",
        # A source's deletion cascades to its tasks and worklogs alike: nothing to unlink then.
        "CREATE TRIGGER worklog_task_task_delete AFTER DELETE ON task "
        "WHEN EXISTS (SELECT 1 FROM source WHERE id = old.source_id) BEGIN\n  "
        f"UPDATE worklog SET {_NULLS} WHERE source_id = old.source_id AND task_external_id = old.external_id "
        "AND task_id = old.id;\nEND",
    ]


_SQLITE_TRIGGERS = ("worklog_task_link", "worklog_task_relink", "worklog_task_task_insert",
                    "worklog_task_task_update", "worklog_task_task_delete")


# --- PostgreSQL: a row trigger on the worklog, statement triggers on the task --------------------


def _pg_function(name: str, body: list[str], returns: str = "NULL", settings: str = "") -> str:
    return (
        f"CREATE FUNCTION taskhub_worklog_task_{name}() RETURNS trigger LANGUAGE plpgsql{settings} AS $fn$\nBEGIN\n  "
        + "\n  ".join(body)
        + f"\n  RETURN {returns};\nEND\n$fn$"
    )


def _pg_ddl() -> list[str]:
    pick = (
        f"SELECT {', '.join('t.' + t for _, t in LINKED)} INTO {', '.join('NEW.' + w for w, _ in LINKED)} "
        f"{_task_of('NEW')} FOR SHARE;"
    )
    row = [
        pick,
        "IF NOT FOUND THEN",
        "  -- a task of this key may be in an insert not yet committed: wait for those of the source",
        f"  PERFORM pg_advisory_xact_lock({LOCK_CLASS}, {pg_lock_key('NEW.source_id')});",
        f"  {pick}",
        "END IF;",
    ]
    # The statement triggers join a page of task rows to the worklogs by key: an index probe per
    # task, never a scan of every worklog (transition tables have no statistics to plan by).
    probe = " SET enable_hashjoin = off SET enable_mergejoin = off"
    insert = [
        f"PERFORM pg_advisory_xact_lock_shared({LOCK_CLASS}, {pg_lock_key('s')}) FROM (SELECT DISTINCT source_id AS s "
        "FROM new_rows ORDER BY 1) x;",
        f"UPDATE worklog w SET {_set_from('n')} FROM new_rows n "
        "WHERE w.source_id = n.source_id AND w.task_external_id = n.external_id;",
    ]
    # The old and new rows are paired by grouping, not by a join: with hash and merge joins off,
    # joining the two transition tables would be a nested loop, quadratic in the statement's rows
    # (8,000 tasks updated at once took a minute). A version of a task that occurs once among the
    # old and new rows is one that changed; GROUP BY treats NULLs as equal, as IS DISTINCT FROM.
    both = ("SELECT 0 AS side, id, source_id, external_id, project_id, deleted_at FROM old_rows UNION ALL "
            "SELECT 1, id, source_id, external_id, project_id, deleted_at FROM new_rows")
    rekeyed = (f"SELECT id, source_id, external_id FROM ({both}) x GROUP BY 1, 2, 3 "
               "HAVING count(*) = 1 AND max(side) = 0")
    moved = (f"SELECT id, source_id, external_id, project_id, deleted_at FROM ({both}) x GROUP BY 1, 2, 3, 4, 5 "
             "HAVING count(*) = 1 AND min(side) = 1")
    update = [
        f"UPDATE worklog w SET {_NULLS} FROM ({rekeyed}) o "
        "WHERE w.source_id = o.source_id AND w.task_external_id = o.external_id AND w.task_id = o.id;",
        f"UPDATE worklog w SET {_set_from('n')} FROM ({moved}) n "
        "WHERE w.source_id = n.source_id AND w.task_external_id = n.external_id;",
    ]
    delete = [
        f"UPDATE worklog w SET {_NULLS} FROM old_rows o "
        "WHERE w.source_id = o.source_id AND w.task_external_id = o.external_id AND w.task_id = o.id "
        "AND EXISTS (SELECT 1 FROM source s WHERE s.id = o.source_id);",
    ]
    return [
        _pg_function("row", row, returns="NEW"),
        _pg_function("task_insert", insert, settings=probe),
        _pg_function("task_update", update, settings=probe),
        _pg_function("task_delete", delete, settings=probe),
        "CREATE TRIGGER worklog_task_link BEFORE INSERT ON worklog "
        "FOR EACH ROW EXECUTE FUNCTION taskhub_worklog_task_row()",
        "CREATE TRIGGER worklog_task_relink BEFORE UPDATE OF source_id, task_external_id ON worklog FOR EACH ROW "
        "WHEN (OLD.source_id IS DISTINCT FROM NEW.source_id OR OLD.task_external_id IS DISTINCT FROM "
        "NEW.task_external_id) EXECUTE FUNCTION taskhub_worklog_task_row()",
        "CREATE TRIGGER worklog_task_task_insert AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_insert()",
        "CREATE TRIGGER worklog_task_task_update AFTER UPDATE ON task "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_update()",
        "CREATE TRIGGER worklog_task_task_delete AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_delete()",
    ]


_PG_TRIGGERS = (("worklog_task_link", "worklog"), ("worklog_task_relink", "worklog"),
                ("worklog_task_task_insert", "task"), ("worklog_task_task_update", "task"),
                ("worklog_task_task_delete", "task"))
_PG_FUNCTIONS = ("row", "task_insert", "task_update", "task_delete")


def install(conn: Connection) -> None:
    """Create the triggers (the columns exist: migration 0007 adds them)."""
    run_ddl(conn, _sqlite_ddl(), _pg_ddl())


def uninstall(conn: Connection) -> None:
    drop_triggers(conn, _SQLITE_TRIGGERS, _PG_TRIGGERS, (f"taskhub_worklog_task_{fn}" for fn in _PG_FUNCTIONS))


def rebuild(conn: Connection, org_id: int | None = None) -> None:
    """Recompute the columns from the task rows (of one organization's worklogs, or of all);
    rows already right are not written."""
    org = "" if org_id is None else f" AND w.org_id = {int(org_id)}"
    task_cols = ", ".join("t." + t for _, t in LINKED)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"UPDATE worklog w SET {_set_from('t')} FROM task t WHERE t.source_id = w.source_id "
            f"AND t.external_id = w.task_external_id AND ({_COLS}) IS DISTINCT FROM ({task_cols}){org}"
        )
        conn.exec_driver_sql(
            f"UPDATE worklog w SET {_NULLS} WHERE w.task_id IS NOT NULL{org} "
            f"AND NOT EXISTS (SELECT 1 {_task_of('w')})"
        )
        return
    conn.exec_driver_sql(
        f"UPDATE worklog AS w SET ({_COLS}) = (SELECT {task_cols} {_task_of('w')}) "
        f"WHERE (w.task_id, w.task_project_id, w.task_deleted_at) IS NOT (SELECT {task_cols} {_task_of('w')})"
        f"{org}"
    )


def snapshot(conn: Connection, org_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """``{"worklog_task": {(worklog id, task_id, task_project_id, task_deleted_at), ...}}`` of
    one organization, for comparisons."""
    rows = conn.execute(
        sa.text(f"SELECT id, {_COLS} FROM worklog WHERE org_id = :o"), {"o": org_id}
    ).all()
    return {"worklog_task": {(r[0], r[1], r[2], None if r[3] is None else str(r[3])) for r in rows}}
