"""Signed events out (issue 22): change → delivered latency, isolation from bad endpoints, kill -9.

    .venv/bin/python bench/events.py [--rate 200] [--seconds 20] [--part all|healthy|bad|kill]

PostgreSQL (a throw-away database next to TASKHUB_BENCH_DATABASE_URL), 2 delivery worker
processes (``DeliveryLoop``, as ``taskhub worker`` runs it), one receiver process serving the 3
endpoints on loopback, and this process generating changes: each change is one transaction that
emits a ``task.updated`` event to the organization's 3 endpoints (the outbox insert, as a real change
would make it; no task write). All of them share the machine's cores (printed), so the figures
include their contention; each part prints the change rate it reached, the load average and the
CPU each of them used while the changes were generated.

- healthy: 3 endpoints answering 200; latency = receiver's arrival − the change's commit, per delivery.
- bad: one endpoint answering 500 (retried with backoff), one hanging past the 10 s timeout, one
  healthy: the healthy one's p95 against its p95 beside two healthy endpoints at the same rate
  (the healthy part, run first when ``--part bad`` runs alone); both printed, and the change;
  then against its p95 alone (the only endpoint, same rate): a throttled bad endpoint takes few
  deliveries, so beside two healthy ones the machine does more work than beside the bad ones.
- kill: 3 healthy endpoints, one worker killed with SIGKILL mid-run; lease 10 s so the bench
  ends soon. Every (event, endpoint) must arrive; duplicates only for the killed worker's in-flight
  deliveries, each with the event's one webhook-id.
Each part also prints where the time goes: the run's PostgreSQL backends sampled from
``pg_stat_activity`` every 50 ms (mean active per wait event and statement: lock waits, WAL, CPU),
``/ok``'s p95 by commit time, and per worker (each loop cycle logged to a file beside the
receiver's log) cycles a second, a cycle's time (record + claim, one transaction), answers
recorded, claims per endpoint, threads busy and held per endpoint.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.common import cpu_seconds, create_pg_database, drop_pg_database  # noqa: E402


def process_cpu(pid: int) -> float:
    """CPU-s (user + system) a live process has used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends_cpu(database: str) -> float:
    """CPU-s so far of the live PostgreSQL backends connected to ``database`` (the server is
    shared with other sessions' tests, so ``pg_server_cpu``'s whole-server figure would count
    theirs). The run's connections stay open while changes are generated."""
    total = 0.0
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {database} " in title:
            total += process_cpu(int(entry))
    return total


def receiver_main(port_out: Any, log_path: str, hang_seconds: float) -> None:
    """Answer /ok 200, /fail 500, /hang after ``hang_seconds``; log ``path id arrival`` per request."""
    out = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["content-length"]))
            arrived = time.time()
            with lock:
                out.write(f"{self.path} {self.headers['webhook-id']} {arrived:.6f}\n")
            if self.path == "/hang":
                time.sleep(hang_seconds)
            code = 500 if self.path == "/fail" else 200
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    # A listen backlog of 128, not http.server's 5: each timed-out /hang send drops its connection
    # and the next opens one, and a SYN dropped on a full backlog waits 1-3 s to be sent again (the
    # bad part's 1.2-6.4 s maxima at /ok, a receiver's artefact).
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(server.server_address[1])
    server.serve_forever()


def worker_main(url: str, worker_id: str, allow: str, lease: float, stats_path: str = "") -> None:
    """One delivery worker process until SIGTERM. ``stats_path``: a file to log each cycle of the
    loop to (``stats_line``), for the phases' summary."""
    from service.db import Database
    from service.events.delivery import Claimed, DeliveryConfig, DeliveryLoop
    from service.settings import Settings

    settings = Settings(database_url=url, outbound_allow=allow, _env_file=None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out = open(stats_path, "a", buffering=1) if stats_path else None  # noqa: SIM115 - the process's life

    class Logged(DeliveryLoop):
        """The loop, each cycle logged: its time, answers recorded, claimed per endpoint, busy threads."""

        def _cycle(self, limit: int) -> list[Claimed]:
            started = time.monotonic()
            before = self.sent
            items = super()._cycle(limit)
            if out is not None and (items or self.sent != before):
                with self._lock:
                    busy = self._busy
                claimed = Counter(i.endpoint_id for i in items)
                out.write(f"{time.time():.3f} {time.monotonic() - started:.4f} {self.sent - before} {busy} "
                          f"{limit} {','.join(f'{e}:{n}' for e, n in sorted(claimed.items())) or '-'} "
                          f"{','.join(f'{e}:{n}' for e, n in sorted(self._held.items()) if n) or '-'}\n")
            return items

    Logged(Database(url), settings, worker_id, stop, config=DeliveryConfig(lease_seconds=lease)).run()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


class Run:
    def __init__(self, rate: int, seconds: float, paths: list[str], lease: float = 60.0) -> None:
        from cryptography.fernet import Fernet

        self.rate, self.seconds, self.paths, self.lease = rate, seconds, paths, lease
        self.url, self.name = create_pg_database("taskhub_bench_events")
        self.key = Fernet.generate_key().decode()
        os.environ["TASKHUB_SECRET_KEY"] = self.key
        self.log = Path(f"/tmp/taskhub-bench-events-{os.getpid()}-{time.time_ns()}.log")
        self.commits: dict[int, float] = {}
        self.workers: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Run:
        from service.db import Database
        from service.security.auth import create_org
        from service.settings import Settings

        self.db = Database(self.url)
        self.db.migrate()
        ports: Any = mp.Queue()
        self.receiver = mp.Process(target=receiver_main, args=(ports, str(self.log), 12.0), daemon=True)
        self.receiver.start()
        self.port = ports.get(timeout=10)
        self.allow = f"127.0.0.1:{self.port}"
        self.settings = Settings(database_url=self.url, outbound_allow=self.allow, secret_key=self.key,
                                 _env_file=None)
        from service.events import endpoints as svc

        with self.db.session() as s:
            self.org: int = create_org(s, "bench").id  # type: ignore[assignment]  # stored: it has an id
            self.endpoints = {
                svc.create_endpoint(s, self.settings, self.org, url=f"http://127.0.0.1:{self.port}{p}",
                                    event_types=["*"])[0].id: p for p in self.paths}
        for i in range(2):
            self.start_worker(f"w{i + 1}")
        self.warm_up()
        return self

    def warm_up(self) -> None:
        """One event, delivered to every endpoint, before the clock starts: the workers are up."""
        from service.events.outbox import emit

        with self.db.write() as c:
            emit(c, self.org, "task.created", {"task_id": 0, "source_id": 1, "external_id": "warm-up"})
        deadline = time.time() + 60
        while time.time() < deadline and len(self.log.read_text().splitlines() if self.log.exists() else []) < 1:
            time.sleep(0.1)
        time.sleep(1.0)

    def start_worker(self, worker_id: str) -> None:
        stats = f"{self.log}.{worker_id}"
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench.events import worker_main; "
                f"worker_main({self.url!r}, {worker_id!r}, {self.allow!r}, {self.lease!r}, {stats!r})")
        self.workers.append(subprocess.Popen([sys.executable, "-c", code], env={**os.environ}))

    def generate(self, kill_at: float | None = None, threads: int = 4) -> None:
        """``rate`` changes a second for ``seconds``, each its own transaction, from ``threads``
        connections (changes come from several API and worker processes; one connection waits for
        each commit's flush in turn); SIGKILL worker 1 at ``kill_at`` seconds."""
        n = int(self.rate * self.seconds)
        start = time.time() + 0.5
        lock = threading.Lock()

        def one(k: int) -> None:
            from service.events.outbox import emit

            for i in range(k, n, threads):
                if (lag := start + i / self.rate - time.time()) > 0:
                    time.sleep(lag)
                with self.db.write() as c:
                    event_id = emit(c, self.org, "task.updated",
                                    {"task_id": i + 1, "source_id": 1, "external_id": f"B-{i + 1}",
                                     "changed": {"status": {"old": "To Do", "new": "Done"}}})
                assert event_id is not None
                with lock:
                    self.commits[event_id] = time.time()

        pool = [threading.Thread(target=one, args=(k,)) for k in range(threads)]
        waits: Counter[str] = Counter()
        sampling = threading.Event()
        sampler = threading.Thread(target=self.sample_waits, args=(waits, sampling))
        sampler.start()
        cpu_before = self.cpu()
        load_before = os.getloadavg()[0]
        for t in pool:
            t.start()
        if kill_at is not None:
            time.sleep(max(0.0, start + kill_at - time.time()))
            self.workers[0].send_signal(signal.SIGKILL)
            print(f"  killed worker w1 (SIGKILL) at {time.time() - start:.1f} s", flush=True)
        for t in pool:
            t.join()
        sampling.set()
        sampler.join()
        took = time.time() - start
        self.window = (start, start + took)
        behind = took - n / self.rate
        used = {k: v - cpu_before.get(k, 0.0) for k, v in self.cpu().items()}
        print(f"  generated {n} changes in {took:.1f} s ({n / took:.0f}/s; ended {max(behind, 0):.2f} s behind "
              f"schedule); load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
        print("  CPU meanwhile, % of one core (ms per change): "
              + ", ".join(f"{k} {v / took * 100:.0f} ({v / n * 1000:.2f})" for k, v in used.items())
              + f"; {os.cpu_count()} cores, the rest for other processes")
        samples = waits.pop("", 0)
        print(f"  PostgreSQL backends of the run, sampled every 50 ms ({samples} samples), mean active per "
              "wait and statement: " + ", ".join(f"{k} {v / max(samples, 1):.2f}" for k, v in waits.most_common(6)))

    def sample_waits(self, waits: Counter[str], done: threading.Event) -> None:
        """Count, every 50 ms until ``done``, the run's active backends by wait event and statement:
        where PostgreSQL's time goes (lock waits, I/O, CPU) without pg_stat_statements."""
        sql = sa.text("SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), left(query, 30) "
                      "FROM pg_stat_activity WHERE datname = :db AND state = 'active' AND pid <> pg_backend_pid()")
        with self.db.engine.connect() as c:
            while not done.wait(0.05):
                waits[""] += 1
                for wait, query in c.execute(sql, {"db": self.name}):
                    waits[f"{wait} [{' '.join(query.split())}]"] += 1
                c.rollback()

    def phases(self, names: Mapping[int | None, str]) -> None:
        """From the workers' cycle logs, while the changes were generated: cycles a second, a
        cycle's time (recording + claim, one transaction), answers recorded, claims per endpoint
        and the mean threads busy (of 32) and held per endpoint."""
        t0, t1 = self.window
        for w in range(1, 3):
            path = Path(f"{self.log}.w{w}")
            rows = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
            rows = [r for r in rows if t0 <= float(r[0]) <= t1]
            if not rows:
                continue
            took = sorted(float(r[1]) for r in rows)
            claimed: Counter[str] = Counter()
            held: Counter[str] = Counter()
            for r in rows:
                for part, into in ((r[5], claimed), (r[6], held)):
                    for kv in part.split(",") if part != "-" else []:
                        e, n = kv.split(":")
                        into[names.get(int(e), e)] += int(n)
            span = t1 - t0
            print(f"  w{w}: {len(rows) / span:.0f} cycles/s, cycle p50 {pct(took, 50) * 1000:.1f} ms p95 "
                  f"{pct(took, 95) * 1000:.1f} ms, {sum(int(r[2]) for r in rows) / span:.0f} answers recorded/s, "
                  f"busy threads {sum(int(r[3]) for r in rows) / len(rows):.1f}; claimed/s "
                  + ", ".join(f"{k} {v / span:.0f}" for k, v in sorted(claimed.items()))
                  + "; mean held " + ", ".join(f"{k} {v / len(rows):.1f}" for k, v in sorted(held.items())))

    def over_time(self, path: str, step: float = 2.0) -> None:
        """The p95 of ``path``'s latency by when the change was committed, ``step`` s apart."""
        by_msg = {m: e for e, m in self.msg_ids().items()}
        first: dict[str, float] = {}
        for p, m, at in self.arrivals():
            if p == path and m not in first:
                first[m] = at
        t0 = self.window[0]
        buckets: dict[int, list[float]] = {}
        for m, at in first.items():
            committed = self.commits.get(by_msg.get(m, -1))
            if committed is not None:
                buckets.setdefault(int((committed - t0) // step), []).append(at - committed)
        print(f"  {path} p95 by commit time ({step:.0f} s steps): "
              + " ".join(f"{pct(v, 95) * 1000:.0f}" for _, v in sorted(buckets.items())) + " ms")

    def cpu(self) -> dict[str, float]:
        """CPU-s so far of each part of the run (PostgreSQL: the backends of its database)."""
        return {"generator": cpu_seconds(), "receiver": process_cpu(self.receiver.pid or 0),
                "workers": sum(process_cpu(w.pid) for w in self.workers),
                "PostgreSQL": backends_cpu(self.name)}

    def wait_delivered(self, paths: list[str], timeout: float) -> None:
        ids = self.msg_ids()
        want = {(p, m) for p in paths for m in ids.values()}
        deadline = time.time() + timeout
        while time.time() < deadline:
            if want <= {(p, m) for p, m, _ in self.arrivals()}:
                return
            time.sleep(0.5)
        print(f"  not all delivered within {timeout:.0f} s")

    def msg_ids(self) -> dict[int, str]:
        from service.tables import Event, table

        ev = table(Event)
        with self.db.read() as c:
            return {r.id: r.msg_id for r in c.execute(sa.select(ev.c.id, ev.c.msg_id))}

    def arrivals(self) -> list[tuple[str, str, float]]:
        out = []
        for line in self.log.read_text().splitlines():
            path, msg, at = line.split()
            out.append((path, msg, float(at)))
        return out

    def latencies(self, path: str) -> list[float]:
        """Seconds from commit to the first arrival of each event at ``path``."""
        by_msg = {m: e for e, m in self.msg_ids().items()}
        first: dict[str, float] = {}
        for p, m, at in self.arrivals():
            if p == path and m not in first:
                first[m] = at
        return [first[m] - self.commits[by_msg[m]] for m in first if by_msg.get(m) in self.commits]

    def __exit__(self, *exc: Any) -> None:
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        self.receiver.kill()
        self.db.dispose()
        drop_pg_database(self.name)
        self.log.unlink(missing_ok=True)
        for w in self.workers:
            Path(f"{self.log}.w{self.workers.index(w) + 1}").unlink(missing_ok=True)


def report(label: str, lat: list[float]) -> float:
    p95 = pct(lat, 95)
    print(f"  {label}: n={len(lat)} p50={pct(lat, 50) * 1000:.0f} ms p95={p95 * 1000:.0f} ms "
          f"p99={pct(lat, 99) * 1000:.0f} ms max={max(lat, default=float('nan')) * 1000:.0f} ms")
    return p95


def healthy(rate: int, seconds: float) -> float:
    print(f"[healthy] {rate} changes/s for {seconds:.0f} s, 3 endpoints answering 200, 2 workers")
    with Run(rate, seconds, ["/ok", "/ok2", "/ok3"]) as run:
        run.generate()
        run.wait_delivered(["/ok", "/ok2", "/ok3"], 60)
        p95s = [report(p, run.latencies(p)) for p in ("/ok", "/ok2", "/ok3")]
        run.over_time("/ok")
        run.phases(run.endpoints)
    return p95s[0]


def bad(rate: int, seconds: float, baseline: float | None) -> None:
    """The healthy endpoint's p95 beside two bad ones, against its p95 beside two healthy ones (the
    healthy part: the same rate, endpoints, workers and run length; run here first when not given)."""
    if baseline is None:
        baseline = healthy(rate, seconds)
    print(f"[bad] {rate} changes/s for {seconds:.0f} s: /ok healthy, /fail answers 500, /hang hangs 12 s (timeout 10 s)")
    with Run(rate, seconds, ["/ok", "/fail", "/hang"]) as run:
        run.generate()
        run.wait_delivered(["/ok"], 60)
        p95 = report("/ok (healthy)", run.latencies("/ok"))
        run.over_time("/ok")
        run.phases(run.endpoints)
        counts = Counter(p for p, _, _ in run.arrivals())
        print(f"  attempts that reached /fail: {counts['/fail']}, /hang: {counts['/hang']}")
    print(f"  healthy endpoint's p95: {baseline * 1000:.0f} ms beside two healthy endpoints, {p95 * 1000:.0f} ms "
          f"beside a 500 and a hanging one: {p95 / baseline * 100 - 100:+.0f} % (target: within ±20 %)")
    # Beside two healthy endpoints the machine delivers 600 a second; beside throttled bad ones
    # far fewer, so the healthy one can get faster. Alone, it shares the machine with nothing.
    print(f"[alone] {rate} changes/s for {seconds:.0f} s: /ok the only endpoint")
    with Run(rate, seconds, ["/ok"]) as run:
        run.generate()
        run.wait_delivered(["/ok"], 60)
        alone = report("/ok (alone)", run.latencies("/ok"))
    print(f"  healthy endpoint's p95: {alone * 1000:.0f} ms alone, {p95 * 1000:.0f} ms beside a 500 and a hanging "
          f"one: {p95 / alone * 100 - 100:+.0f} %")


def kill(rate: int, seconds: float) -> None:
    print(f"[kill] {rate} changes/s for {seconds:.0f} s, 3 healthy endpoints, worker w1 SIGKILLed at half time, lease 10 s")
    with Run(rate, seconds, ["/ok", "/ok2", "/ok3"], lease=10.0) as run:
        run.generate(kill_at=seconds / 2)
        run.wait_delivered(["/ok", "/ok2", "/ok3"], 90)
        arrivals = run.arrivals()
        ids = run.msg_ids()
        per = Counter((p, m) for p, m, _ in arrivals)
        missing = sum(1 for p in ("/ok", "/ok2", "/ok3") for m in ids.values() if (p, m) not in per)
        dups = sum(n - 1 for n in per.values() if n > 1)
        unknown = sum(1 for _, m, _ in arrivals if m not in set(ids.values()))
        print(f"  events {len(ids)} x 3 endpoints: missing {missing}, duplicate arrivals {dups} "
              f"(each under its event's one webhook-id: a duplicate is the same (endpoint, webhook-id) twice), "
              f"ids not of an event {unknown}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--part", choices=("all", "healthy", "bad", "kill"), default="all")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()} shared by the load generator, the receiver, 2 workers and PostgreSQL")
    base = healthy(args.rate, args.seconds) if args.part in ("all", "healthy") else None
    if args.part in ("all", "bad"):
        bad(args.rate, args.seconds, base)
    if args.part in ("all", "kill"):
        kill(args.rate, args.seconds)


if __name__ == "__main__":
    main()
