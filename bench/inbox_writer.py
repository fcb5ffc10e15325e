"""The inbox write path alone, in process: ``InboxWriter`` storing distinct 3 KB Jira events.

    .venv/bin/python bench/inbox_writer.py [--events 40000] [--store sqlite|postgres] [--fixed-timestamp]

No HTTP and no wrk, so it shows what the database work per event costs (the replay guard's
index, issue 16 §5) with less noise than bench/ingest.py on a shared machine. 50 events in
flight (grouped commits, as under load), a random 32-hex identifier per event (as Jira's
are). ``--fixed-timestamp`` gives every body one event time: the guard's index key is then
random, its worst case, which a live source (whose timestamps rise) does not produce.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_pg_database, drop_pg_database  # noqa: E402
from service.db import Database  # noqa: E402
from service.ingest.receive import REPLAY, CachedSource, InboxWriter  # noqa: E402


async def _run(url: str, events: int, fixed: bool) -> float:
    writer = InboxWriter(url)
    src = CachedSource(1, 1, "jira", True, "secret", "http://bench/webhooks/jira/1")
    pad = "lorem ipsum " * 240
    gate = asyncio.Semaphore(50)
    t0 = 1767603600000

    async def one(k: int) -> None:
        async with gate:
            parsed = {"timestamp": t0 if fixed else t0 + k, "webhookEvent": "jira:issue_updated",
                      "issue": {"id": str(k)}, "pad": pad}
            headers = {"x-atlassian-webhook-identifier": os.urandom(16).hex()}
            await writer.insert(src, f"jira:{headers['x-atlassian-webhook-identifier']}",
                                json.dumps(parsed).encode(), headers, REPLAY["jira"](parsed, headers))

    try:
        await asyncio.gather(*(one(k) for k in range(2000)))  # warm-up: connections, caches
        start = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(2000, 2000 + events)))
        return time.perf_counter() - start
    finally:
        await writer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=40000)
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--fixed-timestamp", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="taskhub-bench-writer-"))
    dbname = None
    try:
        if args.store == "postgres":
            url, dbname = create_pg_database("taskhub_bench_writer")
        else:
            url = f"sqlite:///{tmp / 'taskhub.db'}"
        db = Database(url)
        db.migrate()
        with db.write() as c:
            c.execute(sa.text("INSERT INTO organization (id, name, timezone, currency, created_at) "
                              "VALUES (1, 'bench', 'UTC', 'USD', CURRENT_TIMESTAMP)"))
            c.execute(sa.text("INSERT INTO source (id, org_id, kind, name, poll_interval_seconds, enabled, status, "
                              "created_at, updated_at) VALUES (1, 1, 'jira', 'bench', 300, true, 'ok', "
                              "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        db.dispose()
        seconds = asyncio.run(_run(url, args.events, args.fixed_timestamp))
        print(f"[{args.store}] {args.events} events{' (fixed timestamp)' if args.fixed_timestamp else ''}: "
              f"{args.events / seconds:.0f} events/s, {seconds * 1e6 / args.events:.1f} us/event")
    finally:
        if dbname:
            drop_pg_database(dbname)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
