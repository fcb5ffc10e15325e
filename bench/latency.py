"""Webhook-to-view latency: a change in the tool until it is visible in /api/v1/views.

    .venv/bin/python bench/latency.py [--store sqlite|postgres|both] [--rate 200] [--duration 20]

The simulated Jira (in this process) sends signed admin webhooks to a taskhub
started as separate processes (SQLite: `taskhub serve` with its embedded
worker; PostgreSQL: `taskhub serve` + 2 `taskhub worker`). Background load:
``--rate`` issue edits per second across two seeded projects. Probes: an issue
of a separate project is moved to Done, and the probe's clock runs until
``GET /api/v1/views/progress?project=<id>`` counts it done. Prints p50/p95/max
over the probes, the event rate achieved and the target (p95 <= 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_pg_database, drop_pg_database  # noqa: E402
from bench.ingest import free_port, wait_up  # noqa: E402
from sandbox.jira import JiraConfig, JiraState, generate, start  # noqa: E402
from sandbox.jira import mutations as jm  # noqa: E402
from sandbox.jira.api import register_webhook  # noqa: E402
from service.db import Database  # noqa: E402
from service.schemas import SourceCreate  # noqa: E402
from service.security.auth import create_org, create_token  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.sources import create_source  # noqa: E402
from service.sync.runner import run_sync  # noqa: E402
from service.tables import Project  # noqa: E402

PROBES = 40
DEBUG = os.environ.get("BENCH_DEBUG") == "1"


def get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        return json.loads(r.read())


def run(store: str, rate: float, duration: float) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="taskhub-latency-"))
    key = Fernet.generate_key().decode()
    dbname = None
    if store == "postgres":
        url, dbname = create_pg_database("taskhub_latency")
    else:
        url = f"sqlite:///{tmp / 'taskhub.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=url, secret_key=key, data_dir=tmp, public_base_url=base,
                        outbound_allow="127.0.0.1", _env_file=None)  # type: ignore[call-arg]
    db = Database(settings.effective_database_url)
    db.migrate()
    state = JiraState(JiraConfig(worklog_feed_delay_ms=0, webhook_concurrency=4))
    generate(state, projects=2, issues_per_project=500, seed=3)
    probe_project = jm.create_project(state, "PRB", "Probes")
    probes = [jm.create_issue(state, "PRB", f"probe {i}").key for i in range(PROBES)]
    jira_url, stop_jira = start(state)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with db.session() as s:
            org = create_org(s, "latency")
            token, _ = create_token(s, org.id, "read")
            src = create_source(s, settings, org.id, SourceCreate.model_validate({
                "kind": "jira", "name": "jira", "base_url": jira_url,
                "credentials": {"type": "jira_cloud", "email": "integration@example.com",
                                "api_token": "sandbox-api-token"}}))
        run_sync(db, settings, src.id, mode="backfill")
        P = Project.__table__
        with db.read() as c:
            project_id = c.execute(sa.select(P.c.id).where(P.c.key == "PRB")).scalar_one()
        db.dispose()
        env = {**os.environ, "TASKHUB_DATABASE_URL": url, "TASKHUB_SECRET_KEY": key, "TASKHUB_DATA_DIR": str(tmp),
               "TASKHUB_PUBLIC_BASE_URL": base, "TASKHUB_LOG_LEVEL": "WARNING", "TASKHUB_POLL_SOURCES": "false",
               "TASKHUB_OUTBOUND_ALLOW": "127.0.0.1"}
        exe = str(Path(sys.executable).with_name("taskhub"))
        log = open(tmp / "server.log", "w")  # noqa: SIM115
        procs.append(subprocess.Popen([exe, "serve", "--port", str(port)], env=env, stdout=log, stderr=log))
        if store == "postgres":
            procs += [subprocess.Popen([exe, "worker"], env=env, stdout=log, stderr=log) for _ in range(2)]
        wait_up(f"{base}/healthz")
        register_webhook(state, f"{base}/webhooks/jira/{src.id}", secret=src.webhook_secret)
        view = f"{base}/api/v1/views/progress?project={project_id}"
        baseline = get(view, token)["total"]["done"]
        t_view = time.perf_counter()
        for _ in range(5):
            get(view, token)
        view_ms = (time.perf_counter() - t_view) / 5 * 1000

        stop = threading.Event()
        sent = [0]

        def background() -> None:
            rng = random.Random(5)
            keys = [i.key for i in state.issues.values() if i.project_id != probe_project.id]
            interval = 1.0 / rate
            nxt = time.perf_counter()
            while not stop.is_set():
                jm.edit_issue(state, rng.choice(keys), {"labels": [f"l{rng.randrange(50)}"]})
                sent[0] += 1
                nxt += interval
                delay = nxt - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)

        t = threading.Thread(target=background, daemon=True)
        t.start()
        time.sleep(1.0)  # let the load settle
        latencies: list[float] = []
        t_start = time.perf_counter()
        for i, key_ in enumerate(probes):
            if time.perf_counter() - t_start > duration:
                break
            t0 = time.perf_counter()
            jm.transition_issue(state, key_, "Done")
            if DEBUG:
                dbg = Database(url)
                with dbg.read() as c:
                    counts = dict(c.execute(sa.text("select status, count(*) from inbox_event group by status")).all())
                dbg.dispose()
                print(f"  probe {i}: sent {sent[0]} sandbox backlog {len(state._dispatcher._heap) if state._dispatcher else '?'}"
                      f" inbox {counts}", flush=True)
            while True:
                if get(view, token)["total"]["done"] >= baseline + i + 1:
                    latencies.append(time.perf_counter() - t0)
                    break
                if time.perf_counter() - t0 > 15:
                    latencies.append(float("inf"))
                    break
                time.sleep(0.05)
            time.sleep(max(0.0, 0.25 - (time.perf_counter() - t0)))
        elapsed = time.perf_counter() - t_start
        stop.set()
        t.join(5)
        lat = sorted(latencies)
        return {"probes": len(lat), "p50": statistics.median(lat), "p95": lat[int(0.95 * (len(lat) - 1))],
                "max": lat[-1], "rate": sent[0] / (elapsed + 1.0), "view_ms": view_ms}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        stop_jira()
        state.close()
        if dbname:
            drop_pg_database(dbname)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--duration", type=float, default=20.0)
    args = ap.parse_args()
    for store in ("sqlite", "postgres") if args.store == "both" else (args.store,):
        r = run(store, args.rate, args.duration)
        print(f"[{store}] {r['probes']} probes under {r['rate']:.0f} events/s: webhook-to-view latency "
              f"p50 {r['p50'] * 1000:.0f} ms, p95 {r['p95'] * 1000:.0f} ms, max {r['max'] * 1000:.0f} ms "
              f"(target p95 <= 1000 ms); one idle view request {r['view_ms']:.0f} ms")


if __name__ == "__main__":
    main()
