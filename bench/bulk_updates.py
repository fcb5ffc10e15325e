"""One statement over many rows: the triggers' cost per row as the statement grows.

    .venv/bin/python bench/bulk_updates.py [--store both|sqlite|postgres] [--scale 0.3]

Builds ``bench/views.py``'s organization (scale 0.3: 30,000 tasks, 60,000 worklogs), then
times single statements of growing size, each in a transaction rolled back: tombstoning tasks
(their worklogs follow: task columns, rollups), moving tasks to another status, moving
worklogs by a day (the worklog rollup), and moving assignments to another person (the
workload rollup). Every trigger must stay linear: the ms per 1,000
rows of the largest statement ÷ that of the smallest is printed (target ≤ 2; PostgreSQL's
triggers paired old and new transition rows with a join that could be a nested loop, and
8,000 tasks tombstoned at once took a minute).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_pg_database, drop_pg_database  # noqa: E402
from bench.views import build  # noqa: E402
from service.db import Database  # noqa: E402

STATEMENTS = {
    "tombstone tasks": "UPDATE task SET deleted_at = CURRENT_TIMESTAMP WHERE org_id = :org AND id % 100 < :pct",
    "tasks to done": "UPDATE task SET status_category = 'done' WHERE org_id = :org AND id % 100 < :pct",
    "worklogs a day later": "UPDATE worklog SET started_at = started_at + INTERVAL '1 day' "
    "WHERE org_id = :org AND id % 100 < :pct",
    # A people merge moves a person's assignments in one statement (the workload rollup's link
    # triggers); the bench's tasks have at most one assignee, so no link collides.
    "assignees to one person": "UPDATE task_assignee SET person_id = "
    "(SELECT min(id) FROM person WHERE org_id = :org) WHERE task_id % 100 < :pct "
    "AND task_id IN (SELECT id FROM task WHERE org_id = :org)",
}
# The rows each statement touches.
COUNTS = {
    "task": "SELECT count(*) FROM task WHERE org_id = :org AND id % 100 < :pct",
    "worklog": "SELECT count(*) FROM worklog WHERE org_id = :org AND id % 100 < :pct",
    "task_assignee": "SELECT count(*) FROM task_assignee WHERE task_id % 100 < :pct "
    "AND task_id IN (SELECT id FROM task WHERE org_id = :org)",
}
SQLITE_DAY = "UPDATE worklog SET started_at = datetime(started_at, '+1 day') WHERE org_id = :org AND id % 100 < :pct"
SHARES = (2, 10, 50)  # per cent of the organization's rows


def measure(db: Database, org: int) -> None:
    print(f"{'statement':24} " + " ".join(f"{f'{p} % rows':>16}" for p in SHARES) + "   largest ÷ smallest")
    for name, sql in STATEMENTS.items():
        if db.dialect == "sqlite" and name.startswith("worklogs"):
            sql = SQLITE_DAY
        table = sql.split()[1]
        per_k = []
        cells = []
        for pct in SHARES:
            with db.engine.connect() as c:
                n = c.execute(sa.text(COUNTS[table]), {"org": org, "pct": pct}).scalar()
                t0 = time.perf_counter()
                c.execute(sa.text(sql), {"org": org, "pct": pct})
                ms = (time.perf_counter() - t0) * 1000
                c.rollback()
            per_k.append(ms / max(n, 1) * 1000)
            cells.append(f"{n:>6} {ms:7.0f} ms")
        print(f"{name:24} " + " ".join(f"{c:>16}" for c in cells) + f"   {per_k[-1] / per_k[0]:.2f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=("both", "sqlite", "postgres"), default="both")
    ap.add_argument("--scale", type=float, default=0.3)
    args = ap.parse_args()
    for store in ("sqlite", "postgres") if args.store == "both" else (args.store,):
        if store == "sqlite":
            path = Path(tempfile.mkdtemp()) / "bulk.db"
            db, name = Database(f"sqlite:///{path}"), None
        else:
            url, name = create_pg_database("taskhub_bench_bulk")
            db = Database(url)
        try:
            db.migrate()
            org = build(db, args.scale)
            print(f"\n== {store}")
            measure(db, org)
        finally:
            db.dispose()
            if name:
                drop_pg_database(name)


if __name__ == "__main__":
    main()
