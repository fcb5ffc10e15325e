"""Webhook ingest throughput: taskhub's /webhooks endpoint against a raw-driver baseline.

    .venv/bin/python bench/ingest.py [--duration 10] [--connections 50] [--store both|postgres|sqlite]

For each store it starts (1) taskhub (`uvicorn service.asgi:app`, 2 workers on
PostgreSQL, 1 on SQLite — SQLite has one writer) and (2) a minimal FastAPI app
that only inserts the body with the raw async driver (asyncpg / aiosqlite),
loads both with wrk (50 connections, a 3 KB Jira payload with a unique nonce, signature
and X-Atlassian-Webhook-Identifier per request — bench/wrk_hmac.py — so every request is a
real insert: taskhub answers a byte-identical body as a duplicate)
and prints req/s, p50/p99 and the ratio taskhub / baseline. Every event is
committed before its 202 in both apps. Needs Debian's wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_pg_database, drop_pg_database  # noqa: E402
from bench.wrk_hmac import lua_script  # noqa: E402
from service.db import Database  # noqa: E402
from service.settings import Settings  # noqa: E402

SECRET = "bench-webhook-secret"



def payload() -> bytes:
    issue = {"id": "10001", "key": "PRJ-1", "fields": {
        "summary": "Bench issue " + "x" * 40, "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
        "updated": "2026-01-05T09:00:00.000+0000", "created": "2026-01-01T09:00:00.000+0000",
        "description": "lorem ipsum dolor sit amet " * 80, "labels": ["bench", "ingest"],
        "project": {"id": "10000", "key": "PRJ", "name": "Project"}}}
    body = json.dumps({"timestamp": 1767603600000, "webhookEvent": "jira:issue_updated",
                       "issue_event_type_name": "issue_generic", "issue": issue}).encode()
    return body[:3072] if len(body) > 3072 else body + b" " * (3072 - len(body))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310
            return
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def run_wrk(url: str, body: bytes, headers: dict[str, str], duration: int, connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "post.lua"
        hdrs = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
        script.write_text(f"wrk.method = \"POST\"\n{hdrs}{lua_script(SECRET.encode(), body, len(body))}")
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
                             capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def lat(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        v, unit = float(m.group(1)), m.group(2)  # type: ignore[union-attr]
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = float(non2xx.group(1)) if non2xx else 0.0
    done = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": lat("50"), "p99": lat("99"), "errors": errors, "answered": done - errors}


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(Path(tempfile.gettempdir()) / f"taskhub-bench-{Path(cmd[3]).name}.log", "w")  # noqa: SIM115
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)


def stop(p: subprocess.Popen[bytes]) -> None:
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()


def prepare(url: str, key: str, tmp: Path) -> int:
    """Migrate, create an org and a Jira source with a known webhook secret; return its id."""
    from service.schemas import SourceCreate
    from service.security.auth import create_org
    from service.sources import create_source

    db = Database(url)
    db.migrate()
    settings = Settings(database_url=url, secret_key=key, data_dir=tmp, _env_file=None)  # type: ignore[call-arg]
    with db.session() as s:
        org = create_org(s, "bench")
        src = create_source(s, settings, org.id, SourceCreate.model_validate({
            "kind": "jira", "name": "bench", "base_url": "https://bench.atlassian.net", "webhook_secret": SECRET,
            "credentials": {"type": "jira_cloud", "email": "b@x.io", "api_token": "t"}}))
    with db.write() as c:
        c.execute(sa.text("CREATE TABLE bench_raw (id " + ("SERIAL PRIMARY KEY" if not db.is_sqlite else
                                                             "INTEGER PRIMARY KEY AUTOINCREMENT") + ", body BYTEA)"
                          if not db.is_sqlite else "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB)"))
    db.dispose()
    return src.id


def bench_store(store: str, duration: int, connections: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix=f"taskhub-bench-{store}-"))
    key = Fernet.generate_key().decode()
    dbname = None
    if store == "postgres":
        url, dbname = create_pg_database("taskhub_bench_ingest")
        baseline_dsn = url.replace("postgresql+psycopg://", "postgresql://")
        workers = 2
    else:
        url = f"sqlite:///{tmp / 'taskhub.db'}"
        baseline_dsn = url
        workers = 1
    try:
        source_id = prepare(url, key, tmp)
        body = payload()
        env = {"TASKHUB_DATABASE_URL": url, "TASKHUB_SECRET_KEY": key, "TASKHUB_DATA_DIR": str(tmp),
               "TASKHUB_EMBEDDED_WORKER": "false", "TASKHUB_LOG_LEVEL": "WARNING", "BENCH_DSN": baseline_dsn}
        results = {}
        for name, app, path, headers in (
            ("baseline", "bench.baseline_app:app", "/ingest", {}),
            ("taskhub", "service.asgi:app", f"/webhooks/jira/{source_id}",
             {"Content-Type": "application/json"}),
        ):
            port = free_port()
            proc = start([sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                          "--workers", str(workers), "--no-access-log", "--log-level", "warning"], env)
            try:
                wait_up(f"http://127.0.0.1:{port}/docs")
                warm = run_wrk(f"http://127.0.0.1:{port}{path}", body, headers, 2, connections)
                results[name] = run_wrk(f"http://127.0.0.1:{port}{path}", body, headers, duration, connections)
                results[name]["answered"] += warm["answered"]  # the warm-up's events are stored too
            finally:
                stop(proc)
        db = Database(url)
        with db.read() as c:
            stored = c.execute(sa.text("SELECT count(*) FROM inbox_event")).scalar()
        db.dispose()
        results["taskhub"]["stored"] = float(stored or 0)
        return results
    finally:
        if dbname:
            drop_pg_database(dbname)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--store", choices=("both", "postgres", "sqlite"), default="both")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/ingest.py needs wrk (apt-get install wrk)")
    stores = ("postgres", "sqlite") if args.store == "both" else (args.store,)
    print(f"payload {len(payload())} bytes, {args.connections} connections, {args.duration}s per run, "
          f"{os.cpu_count()} cores")
    for store in stores:
        r = bench_store(store, args.duration, args.connections)
        b, t = r["baseline"], r["taskhub"]
        print(f"[{store}] baseline (raw driver): {b['rps']:8.0f} req/s  p50 {b['p50']:6.1f} ms  p99 {b['p99']:6.1f} ms"
              f"  non-2xx {b['errors']:.0f}")
        print(f"[{store}] taskhub  /webhooks   : {t['rps']:8.0f} req/s  p50 {t['p50']:6.1f} ms  p99 {t['p99']:6.1f} ms"
              f"  non-2xx {t['errors']:.0f}")
        # Every 202 is an event committed before it was sent: stored = answered, plus at most the
        # requests in flight when wrk stopped (one per connection per run), which the server may
        # still have committed after wrk stopped counting.
        extra = t["stored"] - t["answered"]
        verdict = "ok" if 0 <= extra <= 2 * args.connections else "MISMATCH"
        print(f"[{store}] events stored {t['stored']:.0f}, requests answered 2xx {t['answered']:.0f} "
              f"(warm-up included): {verdict}")
        print(f"[{store}] ratio taskhub/baseline: {t['rps'] / b['rps']:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
