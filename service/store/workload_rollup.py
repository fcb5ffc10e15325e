"""``workload_rollup``: the open tasks summed per organization, project, source, due date,
class, assignee and share count, kept by triggers on ``task`` and ``task_assignee``.

The workload view over a whole organization (or a source, a portfolio, a project, a person)
as of now needs, per person and per project or source, the open tasks, their estimates and
how many are overdue. Scanning 100,000 tasks and joining their assignees for that was most
of the view's time; the rollup holds the same sums in a row per (project, source, due date,
class, person, shares) that has an open task.

A task is in it while it is alive, not done, not an epic nor a milestone marker (``cls`` 1,
or 2 when archived: the reader keeps those of the sources that count archived cards). A task
is split into ``shares`` rows, one per assignee (``shares`` = its number of assignees), or one
row of person 0 (``shares`` 1) when it has none: the rows' sums per person count each task
once per assignee, as the view's rows do, and the sums of each ``shares`` value divided by it
count every task once (the view's total). ``due_date`` '9999-12-31': the task has no due
date (never overdue; a key column cannot be NULL). ``project_id`` 0: no project.

Triggers keep it in the same transaction as the rows. A write to a task moves the task's rows
(its assignees as stored now); a write to ``task_assignee`` moves the tasks it touches from
their assignee set before the statement to the set after it (the set before is the set now,
less the rows the statement inserted, plus the rows it deleted). A task's deletion subtracts it
before the row goes, while its assignee links still exist (their cascade then finds no task).
SQLite: row triggers. PostgreSQL: statement triggers over the transition tables, upserting in
key order, and a row trigger before a task's deletion; under READ COMMITTED the link triggers
first lock their tasks, as task writes do, so two transactions writing one task's row and
links compute one after the other (a deadlock between them is retried like any other).

``rebuild`` recomputes the table from the task and assignee rows (the migration's backfill,
``taskhub rollups rebuild`` and the tests' reference); ``snapshot`` reads it for comparisons.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.store.common import drop_triggers, pg_signed_rows, run_ddl

__all__ = ["install", "uninstall", "rebuild", "snapshot", "TRIGGERED_COLUMNS", "NO_DUE_DATE"]

# The task columns the rollup reads; a change to any other column leaves it as it is.
TRIGGERED_COLUMNS = (
    "org_id",
    "project_id",
    "source_id",
    "status_category",
    "type",
    "is_milestone",
    "archived",
    "deleted_at",
    "due_date",
    "estimate_points",
    "estimate_seconds",
)

KEY = ("org_id", "project_id", "source_id", "due_date", "cls", "person_id", "shares")
SUMS = ("n", "points", "seconds")
NO_DUE_DATE = "9999-12-31"

_ADD = ", ".join(f"{c} = workload_rollup.{c} + excluded.{c}" for c in SUMS)
_UPSERT = f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {_ADD}"
_INSERT = f"INSERT INTO workload_rollup ({', '.join(KEY + SUMS)}) "


def _open(t: str) -> str:
    """Task row ``t`` is in the rollup: alive, not done, not an epic nor a milestone marker."""
    return (
        f"{t}.deleted_at IS NULL AND {t}.status_category <> 'done' AND {t}.type <> 'epic' "
        f"AND NOT {t}.is_milestone"
    )


def _task_keys(t: str) -> list[str]:
    """The key columns of task row ``t`` before the person and share count."""
    return [
        f"{t}.org_id",
        f"coalesce({t}.project_id, 0)",
        f"{t}.source_id",
        f"coalesce({t}.due_date, '{NO_DUE_DATE}')",
        f"CASE WHEN {t}.archived THEN 2 ELSE 1 END",
    ]


def _sums(t: str, s: str) -> list[str]:
    """The summed values of task row ``t`` with sign ``s`` (SQL text), in ``SUMS`` order."""
    return [s, f"{s} * coalesce({t}.estimate_points, 0)", f"{s} * coalesce({t}.estimate_seconds, 0)"]


def _prefix_match(r: str, t: str) -> str:
    """``r``'s row has task ``t``'s key before the person (the primary key's prefix)."""
    return " AND ".join(f"{r}{k} = {v}" for k, v in zip(KEY[:4], _task_keys(t)[:4], strict=True))


# --- SQLite: row triggers ------------------------------------------------------------------------


def _sqlite_apply(t: str, sign: int, persons: str, source: str = "", where: str = "") -> str:
    """Add (``sign`` 1) or subtract (-1) task row ``t``'s rows for the assignee set ``persons``
    (a SELECT of person ids): a row per person, or person 0 when the set is empty."""
    return (
        f"{_INSERT}SELECT {', '.join(_task_keys(t))}, coalesce(a.person_id, 0), "
        f"max(1, (SELECT count(*) FROM ({persons}))), {', '.join(_sums(t, str(sign)))} "
        f"FROM {source or '(SELECT 1)'} LEFT JOIN ({persons}) a ON 1 WHERE {_open(t)}{where} {_UPSERT};"
    )


def _sqlite_zero(t: str, where: str = "") -> str:
    """The rows of task ``t``'s project, source and due date whose count reached zero go."""
    return f"DELETE FROM workload_rollup WHERE {_prefix_match('', t)} AND n = 0{where};"


def _sqlite_link(x: str, *, old: bool, new: bool, where: str = "") -> list[str]:
    """A change of ``task_assignee`` rows (``old`` and/or ``new``) moves task ``x``'s rows from
    its assignee set before the change to its set now."""
    before = f"SELECT person_id FROM task_assignee WHERE task_id = {x}"
    if new:
        before += " AND NOT (task_id = new.task_id AND person_id = new.person_id)"
    if old:
        before += f" UNION ALL SELECT old.person_id WHERE old.task_id = {x}"
    now = f"SELECT person_id FROM task_assignee WHERE task_id = {x}"
    cond = f" AND t.id = {x}{where}"
    return [
        _sqlite_apply("t", -1, before, "task t", cond),
        _sqlite_apply("t", 1, now, "task t", cond),
        f"DELETE FROM workload_rollup WHERE n = 0 AND ({', '.join(KEY[:4])}) IN "
        f"(SELECT {', '.join(_task_keys('t')[:4])} FROM task t WHERE t.id = {x}){where};",
    ]


def _sqlite_ddl() -> list[str]:
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in TRIGGERED_COLUMNS)

    def persons(t: str) -> str:
        return f"SELECT person_id FROM task_assignee WHERE task_id = {t}.id"

    def body(statements: list[str]) -> str:
        return "\n  ".join(statements) + "\nEND"

    moved = " AND new.task_id <> old.task_id"

    def task_open(x: str) -> str:  # most links are of done tasks (a backfill's history): nothing to move
        return f"EXISTS (SELECT 1 FROM task t WHERE t.id = {x} AND {_open('t')})"

    return [
        # A task just inserted has no assignee links yet (theirs reference it): person 0.
        f"CREATE TRIGGER workload_rollup_task_insert AFTER INSERT ON task WHEN {_open('new')} BEGIN\n  "
        + body([f"{_INSERT}SELECT {', '.join(_task_keys('new'))}, 0, 1, {', '.join(_sums('new', '1'))} "
                f"WHERE {_open('new')} {_UPSERT};"]),
        f"CREATE TRIGGER workload_rollup_task_update AFTER UPDATE OF {', '.join(TRIGGERED_COLUMNS)} ON task "
        f"WHEN {changed} BEGIN\n  "
        + body([_sqlite_apply("old", -1, persons("old")), _sqlite_apply("new", 1, persons("new")),
                _sqlite_zero("old")]),
        # Before the row goes: its assignee links still exist (the cascade then finds no task).
        f"CREATE TRIGGER workload_rollup_task_delete BEFORE DELETE ON task WHEN {_open('old')} BEGIN\n  "
        + body([_sqlite_apply("old", -1, persons("old")), _sqlite_zero("old")]),
        f"CREATE TRIGGER workload_rollup_link_insert AFTER INSERT ON task_assignee WHEN {task_open('new.task_id')} "
        "BEGIN\n  " + body(_sqlite_link("new.task_id", old=False, new=True)),
        f"CREATE TRIGGER workload_rollup_link_delete AFTER DELETE ON task_assignee WHEN {task_open('old.task_id')} "
        "BEGIN\n  " + body(_sqlite_link("old.task_id", old=True, new=False)),
        "CREATE TRIGGER workload_rollup_link_update AFTER UPDATE ON task_assignee "
        f"WHEN {task_open('old.task_id')} OR {task_open('new.task_id')} BEGIN\n  "
        + body(_sqlite_link("old.task_id", old=True, new=True)
               + _sqlite_link("new.task_id", old=True, new=True, where=moved)),
    ]


_SQLITE_TRIGGERS = tuple(
    f"workload_rollup_{n}"
    for n in ("task_insert", "task_update", "task_delete", "link_insert", "link_delete", "link_update")
)


# --- PostgreSQL: statement triggers over the transition tables ----------------------------------

# A trigger function's plans are cached from its first call in a session, which may come when
# the tables are nearly empty (a first sync) and plan a scan of task_assignee or task where
# they have grown since: a full scan per statement, or per row, quadratic over a backfill (a
# micro-bench of 10,000 new tasks took 2.5× as long). These functions join the statement's
# rows only to tables they can probe by primary key: with scans and hash and merge joins
# off, every plan is index probes, whatever the statistics were.
_PROBES = "SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off"


def _pg_function(name: str, ctes: str, upsert: str, *, lock: str = "") -> str:
    """A statement trigger's function: ``lock`` (if any), the upsert (after ``ctes``, if any),
    then the rows it left at a zero count go, found by its RETURNING and deleted one by one by
    their whole key. (A join of the statement's keys with the table on ``n = 0`` was planned as
    a nested loop over a scan of the zero rows — which ANALYZE never sees, estimated at 3 —
    quadratic in a bulk statement; so was a join with the returned rows.)"""
    whole_key = " AND ".join(f"r.{c} = z.{c}" for c in KEY)
    return (
        f"CREATE FUNCTION taskhub_workload_rollup_{name}() RETURNS trigger LANGUAGE plpgsql {_PROBES} AS $fn$\n"
        "DECLARE zero workload_rollup[]; z workload_rollup;\nBEGIN\n  "
        + (f"{lock};\n  " if lock else "")
        + f"WITH {ctes + ', ' if ctes else ''}up AS ({upsert} RETURNING *) "
        "SELECT array_agg(up) INTO zero FROM up WHERE up.n = 0;\n  "
        "IF zero IS NOT NULL THEN\n    FOREACH z IN ARRAY zero LOOP\n      "
        f"DELETE FROM workload_rollup r WHERE {whole_key} AND r.n = 0;\n    "
        "END LOOP;\n  END IF;\n  RETURN NULL;\nEND\n$fn$"
    )


def _pg_task_function(event: str) -> str:
    """A statement's task rows (signed, the changed ones of an UPDATE), each with its assignees
    now: an index probe per task (a join of two sets derived from transition tables can be
    planned as a nested loop, quadratic in the statement's rows; see ``pg_signed_rows``)."""

    def pick(r: str, sign: str, source: str) -> str:
        return f"SELECT {r}.*, {sign} AS s FROM {source} WHERE {_open(r)}"

    delta = pg_signed_rows(event, TRIGGERED_COLUMNS, pick)
    keys = ", ".join(str(i) for i in range(1, len(KEY) + 1))
    # Tasks just inserted have no assignee links yet (theirs reference them): person 0.
    assignees = (
        "(SELECT NULL::int AS person_id, NULL::int AS k) a ON true" if event == "INSERT" else
        "LATERAL (SELECT person_id, count(*) OVER () AS k FROM task_assignee WHERE task_id = d.id) a ON true"
    )
    upsert = (
        f"{_INSERT}SELECT {', '.join(_task_keys('d'))}, coalesce(a.person_id, 0), coalesce(a.k, 1), "
        + ", ".join(f"sum({x})" for x in _sums("d", "d.s"))
        + f" FROM ({delta}) d LEFT JOIN {assignees} GROUP BY {keys} ORDER BY {keys} {_UPSERT}"
    )
    return _pg_function(f"task_{event.lower()}", "", upsert)


def _pg_task_delete_function() -> str:
    """Per row, before it goes: its assignee links still exist (their cascade then finds no task)."""
    return (
        f"CREATE FUNCTION taskhub_workload_rollup_task_delete() RETURNS trigger LANGUAGE plpgsql {_PROBES} "
        "AS $fn$\n"
        f"BEGIN\n  IF {_open('OLD')} THEN\n    "
        f"{_INSERT}SELECT {', '.join(_task_keys('OLD'))}, coalesce(a.person_id, 0), coalesce(a.k, 1), "
        f"{', '.join(_sums('OLD', '-1'))} FROM (SELECT 1) one LEFT JOIN "
        "(SELECT person_id, count(*) OVER () AS k FROM task_assignee WHERE task_id = OLD.id) a ON true "
        f"ORDER BY 6 {_UPSERT};\n    "
        f"DELETE FROM workload_rollup WHERE {_prefix_match('', 'OLD')} AND n = 0;\n  "
        "END IF;\n  RETURN OLD;\nEND\n$fn$"
    )


def _pg_link_function(event: str) -> str:
    """The statement's tasks move from their assignee set before it to their set now. Each
    (task, person) of the touched tasks is counted in the set now (``a``: the stored links),
    and in the set before (``b`` = now − inserted + deleted) by one GROUP BY over the stored
    links and the transition rows: no join between sets derived from transition tables (see
    ``pg_signed_rows``); the set sizes are window sums per task."""
    old, new = event in ("UPDATE", "DELETE"), event in ("UPDATE", "INSERT")
    touched = "SELECT DISTINCT task_id FROM (" + " UNION ALL ".join(
        f"SELECT task_id FROM {rows}" for rows, on in (("old_rows", old), ("new_rows", new)) if on
    ) + ") y"
    parts = ["SELECT ta.task_id, ta.person_id, 1 AS a, 0 AS n, 0 AS o FROM x JOIN task_assignee ta "
             "ON ta.task_id = x.task_id"]
    if new:
        parts.append("SELECT task_id, person_id, 0, 1, 0 FROM new_rows")
    if old:
        parts.append("SELECT task_id, person_id, 0, 0, 1 FROM old_rows")
    keys = ", ".join(str(i) for i in range(1, len(KEY) + 1))
    sums = _sums("t", "e.s")
    ctes = (
        f"x AS MATERIALIZED ({touched}), "
        "m AS (SELECT task_id, person_id, sum(a) AS a, sum(a) - sum(n) + sum(o) AS b "
        f"FROM ({' UNION ALL '.join(parts)}) u GROUP BY task_id, person_id), "
        "w AS (SELECT m.*, (sum(a) OVER p)::int AS ka, (sum(b) OVER p)::int AS kb, row_number() OVER p AS i FROM m "
        "WINDOW p AS (PARTITION BY task_id)), "
        # each touched task on both sides: its set's rows, or person 0 where the set is empty
        "e AS (SELECT task_id, person_id, ka AS k, 1 AS s FROM w WHERE a = 1 "
        "UNION ALL SELECT task_id, person_id, kb, -1 FROM w WHERE b = 1 "
        "UNION ALL SELECT task_id, 0, 1, 1 FROM w WHERE ka = 0 AND i = 1 "
        "UNION ALL SELECT task_id, 0, 1, -1 FROM w WHERE kb = 0 AND i = 1)"
    )
    upsert = (
        f"{_INSERT}SELECT {', '.join(_task_keys('t'))}, e.person_id, e.k, "
        + ", ".join(f"sum({x})" for x in sums)
        + f" FROM e JOIN task t ON t.id = e.task_id WHERE {_open('t')} GROUP BY {keys} "
        + "HAVING " + " OR ".join(f"sum({x}) <> 0" for x in sums)
        + f" ORDER BY {keys} {_UPSERT}"
    )
    # Under READ COMMITTED, a task's rows depend on its task row and its links, which two
    # transactions may write at once (a sync and a people merge; two merges): each trigger would
    # compute from the other's state before its commit. Task writes lock the task rows; a link
    # write locks its tasks too, in id order, in a statement of its own — the upsert after it
    # then reads, in a fresh snapshot, what the transactions it waited for committed.
    lock = (f"PERFORM 1 FROM task t WHERE t.id IN ({touched}) ORDER BY t.id FOR NO KEY UPDATE OF t")
    return _pg_function(f"link_{event.lower()}", ctes, upsert, lock=lock)


_REFS = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
         "DELETE": "OLD TABLE AS old_rows"}


def _pg_ddl() -> list[str]:
    out = []
    for event in ("INSERT", "UPDATE"):
        out += [
            _pg_task_function(event),
            f"CREATE TRIGGER workload_rollup_task_{event.lower()} AFTER {event} ON task REFERENCING "
            f"{_REFS[event]} FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_task_{event.lower()}()",
        ]
    out += [
        _pg_task_delete_function(),
        "CREATE TRIGGER workload_rollup_task_delete BEFORE DELETE ON task "
        "FOR EACH ROW EXECUTE FUNCTION taskhub_workload_rollup_task_delete()",
    ]
    for event in ("INSERT", "UPDATE", "DELETE"):
        out += [
            _pg_link_function(event),
            f"CREATE TRIGGER workload_rollup_link_{event.lower()} AFTER {event} ON task_assignee REFERENCING "
            f"{_REFS[event]} FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_link_{event.lower()}()",
        ]
    return out


_PG_TRIGGERS = tuple(
    (f"workload_rollup_{n}", "task" if n.startswith("task") else "task_assignee")
    for n in ("task_insert", "task_update", "task_delete", "link_insert", "link_update", "link_delete")
)


def install(conn: Connection) -> None:
    """Create the triggers (the table exists: migration 0011 creates it)."""
    run_ddl(conn, _sqlite_ddl(), _pg_ddl())


def uninstall(conn: Connection) -> None:
    drop_triggers(conn, _SQLITE_TRIGGERS, _PG_TRIGGERS, (f"taskhub_{name}" for name, _ in _PG_TRIGGERS))


# --- rebuild and snapshot ------------------------------------------------------------------------


def rebuild(conn: Connection, org_id: int | None = None) -> None:
    """Recompute the rollup from the task and assignee rows (of one organization, or of all)."""
    where = "" if org_id is None else f" WHERE org_id = {int(org_id)}"
    org = "" if org_id is None else f" AND t.org_id = {int(org_id)}"
    conn.exec_driver_sql(f"DELETE FROM workload_rollup{where}")
    conn.exec_driver_sql(
        f"{_INSERT}SELECT {', '.join(_task_keys('t'))}, coalesce(a.person_id, 0), coalesce(a.k, 1), "
        + ", ".join(f"sum({x})" for x in _sums("t", "1"))
        + " FROM task t LEFT JOIN (SELECT task_id, person_id, count(*) OVER (PARTITION BY task_id) AS k "
        f"FROM task_assignee) a ON a.task_id = t.id WHERE {_open('t')}{org} "
        f"GROUP BY {', '.join(str(i) for i in range(1, len(KEY) + 1))}"
    )


def snapshot(conn: Connection, org_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """``{"workload_rollup": rows}`` of one organization, points rounded to 6 places, for comparisons."""
    rows = conn.execute(
        sa.text(f"SELECT {', '.join(KEY + SUMS)} FROM workload_rollup WHERE org_id = :o"), {"o": org_id}
    ).all()
    return {"workload_rollup": {(*r[:3], str(r[3]), *r[4:8], round(float(r[8]), 6), int(r[9])) for r in rows}}
