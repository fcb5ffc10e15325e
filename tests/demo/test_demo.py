"""`taskhub demo` starts, syncs, serves, flows live webhooks and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
        return json.loads(r.read())


@pytest.mark.slow
def test_demo_starts_syncs_serves_and_stops_within_bounded_time(tmp_path):
    exe = Path(sys.executable).with_name("taskhub")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKHUB_")}
    proc = subprocess.Popen([str(exe), "demo", "--port", "0", "--data-dir", str(tmp_path / "demo"),
                             "--jira-issues", "40", "--trello-cards", "25", "--trickle", "0.3"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        t0 = time.monotonic()
        while not any(line.startswith("Live changes") for line in lines):
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
            assert time.monotonic() - t0 < 90, "demo did not become ready within 90 s:\n" + "".join(lines)
        ready = time.monotonic() - t0
        text = "".join(lines)
        token = re.search(r"Token:\s+(th_\S+)", text).group(1)  # type: ignore[union-attr]
        base = re.search(r"API docs:\s+(http://\S+)/docs", text).group(1)  # type: ignore[union-attr]
        tasks = _get(f"{base}/api/v1/tasks?limit=1000", token)["items"]
        assert len(tasks) == 3 * 40 + 4 * 25
        assert {t["source_id"] for t in tasks} == {1, 2}
        # Live changes arrive through real webhooks and are applied by the worker.
        deadline = time.monotonic() + 30
        done: list = []
        while time.monotonic() < deadline:
            done = _get(f"{base}/api/v1/inbox?status=done&limit=500", token)["items"]
            if {e["kind"] for e in done} == {"jira", "trello"}:
                break
            time.sleep(0.5)
        assert {e["kind"] for e in done} == {"jira", "trello"}, done
        assert _get(f"{base}/api/v1/inbox?status=failed", token)["items"] == []
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            raise AssertionError("the demo did not stop within 30 s of Ctrl-C:\n" + out[-20000:]) from None
        assert proc.returncode == 0, out[-20000:]
        print(f"demo ready in {ready:.1f}s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_initial_sync_waits_for_the_worker_that_polled_the_new_source_first(sqlite_db, monkeypatch):
    """The app's worker polls due sources, and a new source is due at once: when its run holds
    the source's lease, the demo waits for it instead of failing with SyncBusy."""
    from types import SimpleNamespace

    import service.sync.runner as runner
    from service.demo import Demo
    from tests.service.factories import make_org, make_source

    org = make_org(sqlite_db)
    jira, trello = make_source(sqlite_db, org), make_source(sqlite_db, org, kind="trello", name="trello")
    calls: list[int] = []

    def run_sync(db, settings, sid, **kw):
        calls.append(sid)
        if calls.count(sid) < 3:  # the worker's run holds the lease for a while
            raise runner.SyncBusy(f"source {sid} is being synced by another worker")
        return SimpleNamespace(items_seen=0, api_calls=1)

    monkeypatch.setattr(runner, "run_sync", run_sync)
    said: list[str] = []
    demo = Demo.__new__(Demo)
    demo.db, demo.settings, demo.progress, demo.say = sqlite_db, None, None, said.append
    demo.jira_source, demo.trello_source = jira, trello
    demo._initial_sync()
    assert calls == [jira, jira, jira, trello, trello, trello]
    assert said[0].startswith("  Jira: 0 tasks stored") and said[1].startswith("  Trello: 0 tasks stored")
