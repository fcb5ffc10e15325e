"""Each worklog's local start day and its author's rate — ``worklog.started_day`` and
``author_rate`` — kept by triggers on ``worklog``, ``person_rate`` and ``organization``.

The budget view sums 200,000 worklogs per local day (the daily cost series) and prices each
at its author's rate in effect that day (person rates are effective-dated from local
midnight). Converting every worklog's start to the organization's zone and looking up its
rate at read time was most of the costed pass: on SQLite a rate lookup per worklog cost more
than the scan, and the day, an expression, had to be sorted; on PostgreSQL the day had no
statistics. So the worklog row carries both, written in the same transaction as any change
that moves them:

- a worklog written, or its start, author or organization changed;
- a person rate added, changed or removed (the author's worklogs are re-priced);
- the organization's time zone changed (its worklogs' days and rates are recomputed).

``author_rate`` is NULL when the author has no rate in effect on that day (or no author):
the views then fall back to the project's rate and the organization's default, which they
read at query time. ``started_day`` follows the tz database of the store's side: PostgreSQL's
own, and Python's ``zoneinfo`` on SQLite, which has none — there the triggers call
``taskhub_local_day``, a function ``register_sqlite`` adds to every connection taskhub opens.
(A SQLite connection without it cannot write worklogs; reading needs nothing.) When the tz
database changes a zone's rules, ``taskhub rollups rebuild`` recomputes the days.

PostgreSQL under READ COMMITTED: a worklog's trigger holds its organization's advisory lock
shared until commit; a rate or time zone change takes it exclusively before re-pricing, so it
waits for the worklog writes in flight and the worklog writes after it wait for it — neither
can miss the other's uncommitted row. SQLite serializes writers.

``rebuild`` recomputes the columns (the migration's backfill, ``taskhub rollups rebuild`` and
the tests' reference); ``snapshot`` reads them for comparisons.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.store.common import drop_triggers, pg_lock_key, run_ddl

__all__ = ["install", "uninstall", "rebuild", "snapshot", "register_sqlite", "local_day"]

# First key of the two-key advisory lock on an organization's worklog prices: "wlda".
LOCK_CLASS = 0x776C6461


def local_day(stored: str | None, zone: str | None) -> str | None:
    """SQLite's ``taskhub_local_day(started_at, zone)``: the ISO local date of a stored UTC
    timestamp (``YYYY-MM-DD HH:MM:SS[.ffffff]``) in the IANA zone ``zone``."""
    if stored is None or zone is None:
        return None
    at = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(zone)).date().isoformat()


def register_sqlite(dbapi_conn: Any) -> None:
    """Add ``taskhub_local_day`` to a sqlite3 connection (the triggers call it)."""
    dbapi_conn.create_function("taskhub_local_day", 2, local_day, deterministic=True)


def _rate_at(person: str, day: str) -> str:
    """The hourly rate of ``person`` in effect on the local date ``day`` (NULL: none)."""
    return (
        f"(SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = {person} "
        f"AND r.effective_from <= {day} ORDER BY r.effective_from DESC LIMIT 1)"
    )


_MOVED = ("org_id", "started_at", "person_id")


# --- SQLite: row triggers ------------------------------------------------------------------------


def _sqlite_ddl() -> list[str]:
    price = (
        "UPDATE worklog SET (started_day, author_rate) = (SELECT x.d, "
        f"{_rate_at('new.person_id', 'x.d')} FROM (SELECT taskhub_local_day(new.started_at, o.timezone) AS d "
        "FROM organization o WHERE o.id = new.org_id) AS x) WHERE id = new.id;"
    )
    rate = _rate_at("worklog.person_id", "worklog.started_day")

    def reprice(where: str) -> str:  # only the rows whose rate changes are written
        return f"UPDATE worklog SET author_rate = {rate} WHERE {where} AND author_rate IS NOT {rate};"

    day = "taskhub_local_day(started_at, new.timezone)"
    changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in _MOVED)
    return [
        f"CREATE TRIGGER worklog_day_price AFTER INSERT ON worklog BEGIN\n  {price}\nEND",
        f"CREATE TRIGGER worklog_day_reprice AFTER UPDATE OF {', '.join(_MOVED)} ON worklog WHEN {changed} "
        f"BEGIN\n  {price}\nEND",
        f"CREATE TRIGGER worklog_day_rate_insert AFTER INSERT ON person_rate BEGIN\n  "
        f"{reprice('person_id = new.person_id')}\nEND",
        "CREATE TRIGGER worklog_day_rate_update AFTER UPDATE ON person_rate BEGIN\n  "
        f"{reprice('person_id IN (old.person_id, new.person_id)')}\nEND",
        "CREATE TRIGGER worklog_day_rate_delete AFTER DELETE ON person_rate BEGIN\n  "
        f"{reprice('person_id = old.person_id')}\nEND",
        "CREATE TRIGGER worklog_day_zone AFTER UPDATE OF timezone ON organization "
        "WHEN old.timezone IS NOT new.timezone BEGIN\n  "
        f"UPDATE worklog SET started_day = {day} WHERE org_id = new.id AND started_day IS NOT {day};\n  "
        f"{reprice('org_id = new.id')}\nEND",
    ]


_SQLITE_TRIGGERS = ("worklog_day_price", "worklog_day_reprice", "worklog_day_rate_insert",
                    "worklog_day_rate_update", "worklog_day_rate_delete", "worklog_day_zone")


# --- PostgreSQL: a row trigger on the worklog, statement triggers on the rates ---------------------


def _pg_function(name: str, body: list[str], returns: str = "NULL", settings: str = "") -> str:
    return (
        f"CREATE FUNCTION taskhub_worklog_day_{name}() RETURNS trigger LANGUAGE plpgsql{settings} AS $fn$\nBEGIN\n  "
        + "\n  ".join(body)
        + f"\n  RETURN {returns};\nEND\n$fn$"
    )


def _pg_reprice(where: str) -> str:
    rate = _rate_at("w.person_id", "w.started_day")
    return f"UPDATE worklog w SET author_rate = {rate} WHERE {where} AND w.author_rate IS DISTINCT FROM {rate};"


def _pg_ddl() -> list[str]:
    row = [
        f"PERFORM pg_advisory_xact_lock_shared({LOCK_CLASS}, {pg_lock_key('NEW.org_id')});",
        "SELECT (NEW.started_at AT TIME ZONE o.timezone)::date INTO NEW.started_day "
        "FROM organization o WHERE o.id = NEW.org_id;",
        f"NEW.author_rate := {_rate_at('NEW.person_id', 'NEW.started_day')};",
    ]

    def rates(changed: str) -> list[str]:
        return [
            f"PERFORM pg_advisory_xact_lock({LOCK_CLASS}, {pg_lock_key('o')}) "
            f"FROM (SELECT DISTINCT org_id AS o FROM ({changed}) c ORDER BY 1) x;",
            _pg_reprice(f"w.person_id IN (SELECT person_id FROM ({changed}) c)"),
        ]

    zoned = "(w.started_at AT TIME ZONE NEW.timezone)::date"
    zone = [
        f"PERFORM pg_advisory_xact_lock({LOCK_CLASS}, {pg_lock_key('NEW.id')});",
        f"UPDATE worklog w SET started_day = {zoned} "
        f"WHERE w.org_id = NEW.id AND w.started_day IS DISTINCT FROM {zoned};",
        _pg_reprice("w.org_id = NEW.id"),
    ]
    # A rate statement re-prices its people's worklogs through the person index: never a scan of
    # every worklog (transition tables have no statistics to plan by; `taskhub apply` writes rates
    # one statement each).
    probe = " SET enable_hashjoin = off SET enable_mergejoin = off"
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _MOVED)
    return [
        _pg_function("row", row, returns="NEW"),
        _pg_function("rate_insert", rates("SELECT org_id, person_id FROM new_rows"), settings=probe),
        _pg_function(
            "rate_update",
            rates("SELECT org_id, person_id FROM old_rows UNION SELECT org_id, person_id FROM new_rows"),
            settings=probe,
        ),
        _pg_function("rate_delete", rates("SELECT org_id, person_id FROM old_rows"), settings=probe),
        _pg_function("zone", zone),
        "CREATE TRIGGER worklog_day_price BEFORE INSERT ON worklog "
        "FOR EACH ROW EXECUTE FUNCTION taskhub_worklog_day_row()",
        f"CREATE TRIGGER worklog_day_reprice BEFORE UPDATE OF {', '.join(_MOVED)} ON worklog FOR EACH ROW "
        f"WHEN ({changed}) EXECUTE FUNCTION taskhub_worklog_day_row()",
        "CREATE TRIGGER worklog_day_rate_insert AFTER INSERT ON person_rate REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_insert()",
        "CREATE TRIGGER worklog_day_rate_update AFTER UPDATE ON person_rate "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_update()",
        "CREATE TRIGGER worklog_day_rate_delete AFTER DELETE ON person_rate REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_delete()",
        "CREATE TRIGGER worklog_day_zone AFTER UPDATE OF timezone ON organization FOR EACH ROW "
        "WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION taskhub_worklog_day_zone()",
    ]


_PG_TRIGGERS = (("worklog_day_price", "worklog"), ("worklog_day_reprice", "worklog"),
                ("worklog_day_rate_insert", "person_rate"), ("worklog_day_rate_update", "person_rate"),
                ("worklog_day_rate_delete", "person_rate"), ("worklog_day_zone", "organization"))
_PG_FUNCTIONS = ("row", "rate_insert", "rate_update", "rate_delete", "zone")


def install(conn: Connection) -> None:
    """Create the triggers (the columns exist: migration 0008 adds them)."""
    run_ddl(conn, _sqlite_ddl(), _pg_ddl())


def uninstall(conn: Connection) -> None:
    drop_triggers(conn, _SQLITE_TRIGGERS, _PG_TRIGGERS, (f"taskhub_worklog_day_{fn}" for fn in _PG_FUNCTIONS))


def rebuild(conn: Connection, org_id: int | None = None) -> None:
    """Recompute the columns (of one organization's worklogs, or of all); rows already right
    are not written."""
    org = "" if org_id is None else f" AND w.org_id = {int(org_id)}"
    rate = _rate_at("w.person_id", "w.started_day")
    if conn.dialect.name == "postgresql":
        day = "(w.started_at AT TIME ZONE o.timezone)::date"
    else:
        register_sqlite(conn.connection.driver_connection)
        day = "taskhub_local_day(w.started_at, o.timezone)"
    differs = "IS DISTINCT FROM" if conn.dialect.name == "postgresql" else "IS NOT"
    zoned = f"(SELECT {day} FROM organization o WHERE o.id = w.org_id)"
    conn.exec_driver_sql(f"UPDATE worklog AS w SET started_day = {zoned} WHERE w.started_day {differs} {zoned}{org}")
    conn.exec_driver_sql(f"UPDATE worklog AS w SET author_rate = {rate} WHERE w.author_rate {differs} {rate}{org}")


def snapshot(conn: Connection, org_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """``{"worklog_day": {(worklog id, started_day, author_rate), ...}}`` of one organization,
    for comparisons."""
    rows = conn.execute(
        sa.text("SELECT id, started_day, author_rate FROM worklog WHERE org_id = :o"), {"o": org_id}
    ).all()
    return {
        "worklog_day": {
            (r[0], None if r[1] is None else str(r[1]), None if r[2] is None else round(float(r[2]), 6))
            for r in rows
        }
    }
