"""``worklog_rollup``: the alive worklogs summed per organization, local day, project and source,
kept by triggers on ``worklog``.

The budget view over a whole organization (or a source, a portfolio, a project) as of now
needs each project's hours and cost, and the organization's hours and cost per local day.
Scanning 200,000 worklogs for that, grouped both ways, was most of the view's time on both
stores; the rollup holds the same sums in one row per (day, project, source) that had work.

A worklog counts while it is alive, its task is stored and alive, and it has a local day
(``deleted_at``, ``task_id``, ``task_deleted_at``, ``started_day``). Its cost needs a rate:
the author's rate that day is on the row (``service.store.worklog_day``) and is summed here
(``rated``: Σ seconds × author rate); the seconds with no author rate are summed apart
(``unrated``), for the reader to price at the project's rate or the organization's default,
which may change at any time without touching a worklog. ``started_hi`` is an upper bound of
the counted worklogs' starts (never lowered): a view as of an instant before it reads the
worklogs themselves.

Every column the sums depend on is written by a statement on ``worklog`` — the task columns
and the local day and rate are copied onto the row by the other triggers, whose writes go
through ``worklog`` too — so triggers on that one table keep the rollup in the same
transaction as the rows. SQLite: row triggers (an AFTER INSERT trigger sees the row as
inserted, before the other triggers fill its copies; their UPDATEs then move it here).
PostgreSQL: statement triggers over the transition tables, upserting in key order.

``rebuild`` recomputes the table from the worklog rows (the migration's backfill, ``taskhub
rollups rebuild`` and the tests' reference); ``snapshot`` reads it for comparisons.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.store.common import drop_triggers, pg_signed_rows, pg_statement_triggers, run_ddl

__all__ = ["install", "uninstall", "rebuild", "snapshot", "TRIGGERED_COLUMNS"]

# The worklog columns the rollup reads; a change to any other column leaves it as it is.
TRIGGERED_COLUMNS = (
    "org_id",
    "source_id",
    "task_id",
    "task_project_id",
    "task_deleted_at",
    "deleted_at",
    "started_at",
    "started_day",
    "seconds",
    "author_rate",
)

KEY = ("org_id", "day", "project_id", "source_id")
SUMS = ("n", "seconds", "rated", "unrated")


def _alive(r: str) -> str:
    return (
        f"{r}.deleted_at IS NULL AND {r}.task_id IS NOT NULL AND {r}.task_deleted_at IS NULL "
        f"AND {r}.started_day IS NOT NULL"
    )


def _keys(r: str) -> list[str]:
    return [f"{r}.org_id", f"{r}.started_day", f"coalesce({r}.task_project_id, 0)", f"{r}.source_id"]


def _sums(r: str, s: str) -> list[str]:
    """The summed values of worklog row ``r`` with sign ``s`` (SQL text), in ``SUMS`` order."""
    return [
        s,
        f"{s} * {r}.seconds",
        f"{s} * CASE WHEN {r}.author_rate IS NULL THEN 0.0 ELSE {r}.seconds * {r}.author_rate END",
        f"{s} * CASE WHEN {r}.author_rate IS NULL THEN {r}.seconds ELSE 0 END",
    ]


_ADD = ", ".join(f"{c} = worklog_rollup.{c} + excluded.{c}" for c in SUMS)


# --- SQLite: row triggers ------------------------------------------------------------------------


def _sqlite_apply(r: str, sign: int) -> str:
    hi = f"{r}.started_at" if sign > 0 else "NULL"
    return (
        f"INSERT INTO worklog_rollup ({', '.join(KEY + SUMS)}, started_hi) "
        f"SELECT {', '.join(_keys(r))}, {', '.join(_sums(r, str(sign)))}, {hi} WHERE {_alive(r)} "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {_ADD}, "
        "started_hi = max(coalesce(worklog_rollup.started_hi, excluded.started_hi), "
        "coalesce(excluded.started_hi, worklog_rollup.started_hi));"
    )


def _sqlite_zero(r: str) -> str:
    """The row of ``r``'s key goes when its count reached zero."""
    match = " AND ".join(f"{k} = {v}" for k, v in zip(KEY, _keys(r), strict=True))
    return f"DELETE FROM worklog_rollup WHERE {match} AND n = 0;"


def _sqlite_ddl() -> list[str]:
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in TRIGGERED_COLUMNS)
    return [
        f"CREATE TRIGGER worklog_rollup_insert AFTER INSERT ON worklog WHEN {_alive('new')} BEGIN\n  "
        + _sqlite_apply("new", 1)
        + "\nEND",
        f"CREATE TRIGGER worklog_rollup_delete AFTER DELETE ON worklog WHEN {_alive('old')} BEGIN\n  "
        + _sqlite_apply("old", -1)
        + "\n  "
        + _sqlite_zero("old")
        + "\nEND",
        f"CREATE TRIGGER worklog_rollup_update AFTER UPDATE OF {', '.join(TRIGGERED_COLUMNS)} ON worklog "
        f"WHEN {changed} BEGIN\n  "
        + _sqlite_apply("old", -1)
        + "\n  "
        + _sqlite_apply("new", 1)
        + "\n  "
        + _sqlite_zero("old")
        + "\nEND",
    ]


_SQLITE_TRIGGERS = ("worklog_rollup_insert", "worklog_rollup_delete", "worklog_rollup_update")


# --- PostgreSQL: statement triggers over the transition tables ----------------------------------


def _pg_delta(event: str) -> str:
    """The signed worklog rows of one statement: ``+1`` per new row, ``-1`` per old one, alive
    only; an UPDATE contributes only the rows whose rollup columns changed."""

    def pick(r: str, sign: str, source: str) -> str:
        return f"SELECT {r}.*, {sign} AS s FROM {source} WHERE {_alive(r)}"

    return pg_signed_rows(event, TRIGGERED_COLUMNS, pick)


def _pg_function(event: str) -> str:
    delta = _pg_delta(event)
    upsert = (
        f"INSERT INTO worklog_rollup ({', '.join(KEY + SUMS)}, started_hi) "
        f"SELECT {', '.join(_keys('d'))}, "
        + ", ".join(f"sum({x})" for x in _sums("d", "d.s"))
        + f", max(CASE WHEN d.s > 0 THEN d.started_at END) FROM ({delta}) d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {_ADD}, "
        "started_hi = GREATEST(worklog_rollup.started_hi, excluded.started_hi)"
    )
    body = [upsert]
    if event != "INSERT":  # rows whose count reached zero go
        body.append(
            f"DELETE FROM worklog_rollup r USING (SELECT DISTINCT {', '.join(_keys('d'))} FROM ({delta}) d "
            f"WHERE d.s < 0) k ({', '.join(KEY)}) "
            f"WHERE ({', '.join('r.' + c for c in KEY)}) = ({', '.join('k.' + c for c in KEY)}) AND r.n = 0"
        )
    return (
        f"CREATE FUNCTION taskhub_worklog_rollup_{event.lower()}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
        "BEGIN\n  " + ";\n  ".join(body) + ";\n  RETURN NULL;\nEND\n$fn$"
    )


def _pg_ddl() -> list[str]:
    return pg_statement_triggers("worklog_rollup", "worklog", _pg_function)


_PG_TRIGGERS = tuple((f"worklog_rollup_{e}", "worklog") for e in ("insert", "update", "delete"))


def install(conn: Connection) -> None:
    """Create the triggers (the table exists: migration 0009 creates it)."""
    run_ddl(conn, _sqlite_ddl(), _pg_ddl())


def uninstall(conn: Connection) -> None:
    drop_triggers(
        conn, _SQLITE_TRIGGERS, _PG_TRIGGERS, (f"taskhub_worklog_rollup_{e}" for e in ("insert", "update", "delete"))
    )


# --- rebuild and snapshot ------------------------------------------------------------------------


def rebuild(conn: Connection, org_id: int | None = None) -> None:
    """Recompute the rollup from the worklog rows (of one organization, or of all)."""
    where = "" if org_id is None else f" WHERE org_id = {int(org_id)}"
    org = "" if org_id is None else f" AND w.org_id = {int(org_id)}"
    conn.exec_driver_sql(f"DELETE FROM worklog_rollup{where}")
    conn.exec_driver_sql(
        f"INSERT INTO worklog_rollup ({', '.join(KEY + SUMS)}, started_hi) "
        f"SELECT {', '.join(_keys('w'))}, "
        + ", ".join(f"sum({x})" for x in _sums("w", "1"))
        + f", max(w.started_at) FROM worklog w WHERE {_alive('w')}{org} GROUP BY 1, 2, 3, 4"
    )


def snapshot(conn: Connection, org_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """``{"worklog_rollup": rows}`` of one organization, the cost to 10 significant digits, without ``started_hi``
    (an upper bound the triggers never lower), for comparisons."""
    rows = conn.execute(
        sa.text(f"SELECT {', '.join(KEY + SUMS)} FROM worklog_rollup WHERE org_id = :o"), {"o": org_id}
    ).all()
    return {
        "worklog_rollup": {
            (r[0], str(r[1]), r[2], r[3], int(r[4]), int(r[5]), float(f"{float(r[6]):.10g}"), int(r[7])) for r in rows
        }
    }
