"""``make run PORT=… JIRA_PORT=… TRELLO_PORT=…`` reaches ``taskhub demo``, whose simulated tools
listen where they were told, and ``make stop`` stops a demo running in the background (issue 21)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.server import free_port
from service.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_passes_the_ports_to_the_demo() -> None:
    r = subprocess.run(["make", "-n", "-C", str(ROOT), "run", "PORT=8123", "JIRA_PORT=9001", "TRELLO_PORT=9002"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert ".venv/bin/taskhub demo --port 8123 --jira-port 9001 --trello-port 9002" in r.stdout.splitlines()
    r = subprocess.run(["make", "-n", "-C", str(ROOT), "run"], capture_output=True, text=True, timeout=60)
    assert ".venv/bin/taskhub demo --port 8000 --jira-port 0 --trello-port 0" in r.stdout.splitlines()


@pytest.mark.parametrize("args, message", [
    (("--jira-port", "70000"), "--jira-port must be between 0 and 65535, not 70000"),
    (("--trello-port", "-1"), "--trello-port must be between 0 and 65535, not -1"),
])
def test_a_port_out_of_range_is_exit_2(args: tuple[str, ...], message: str) -> None:
    r = CliRunner().invoke(app, ["demo", *args])
    assert r.exit_code == 2 and r.stderr == f"taskhub: {message}\n"


def test_a_taken_or_repeated_port_is_one_line_before_anything_starts() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(app, ["demo", "--trello-port", str(port)])
    assert r.exit_code == 1 and r.stderr == f"taskhub: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    r = CliRunner().invoke(app, ["demo", "--port", "9100", "--jira-port", "9100"])
    assert r.exit_code == 2 and r.stderr == "taskhub: --port, --jira-port and --trello-port must differ\n"


@pytest.mark.slow
def test_the_tools_listen_on_the_chosen_ports_and_make_stop_stops_the_demo(tmp_path: Path) -> None:
    jira_port, trello_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKHUB_")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("taskhub")), "demo", "--port", "0", "--jira-port", str(jira_port),
         "--trello-port", str(trello_port), "--jira-issues", "2", "--trello-cards", "2", "--trickle", "0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("Live changes") for line in lines):
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert (line or proc.poll() is None) and time.monotonic() < deadline, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        assert f"Jira  : http://127.0.0.1:{jira_port} " in text and f"Trello: http://127.0.0.1:{trello_port} " in text
        assert urllib.request.urlopen(f"http://127.0.0.1:{jira_port}/rest/api/3/serverInfo", timeout=10).status == 200  # noqa: S310
        assert (tmp_path / ".taskhub-demo" / "demo.pid").read_text() == f"{proc.pid}\n"

        stop = subprocess.run(["make", "-f", str(ROOT / "Makefile"), "stop"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=30)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out[-5000:]
        assert not (tmp_path / ".taskhub-demo" / "demo.pid").exists()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
