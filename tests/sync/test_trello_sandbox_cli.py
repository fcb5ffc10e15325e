"""``taskhub sandbox trello``: a seeded Trello sandbox in its own process, one JSON ready line,
then the Trello API (``/1``) served until interrupted."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

from sandbox.server import free_port


def test_taskhub_sandbox_trello_serves_the_seeded_boards():
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from service.cli.main import main; main()",
            "sandbox",
            "trello",
            "--port",
            str(port),
            "--seed-cards",
            "12",
            "--boards",
            "3",
            "--no-limits",
            "--app-secret",
            "my-app-secret",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert (
            ready["url"] == f"http://127.0.0.1:{port}"
            and ready["cards"] == 12
            and ready["limits"] is False
            and ready["app_secret"] == "my-app-secret"  # signs the deliveries of the key's webhooks
        )
        auth = {"key": ready["api_key"], "token": ready["token"]}
        with httpx.Client(timeout=5) as http:
            for _ in range(100):  # the ready line comes just before uvicorn binds
                try:
                    boards = http.get(ready["api"] + "/members/me/boards", params=auth)
                    break
                except httpx.ConnectError:
                    time.sleep(0.05)
            assert [b["id"] for b in boards.json()] == ready["boards"]
            cards = http.get(
                f"{ready['api']}/boards/{ready['boards'][0]}/cards/all", params=auth
            ).json()
            assert len(cards) == 4
            apps = http.get(ready["url"] + "/_sandbox/apps").json()
            assert apps["apps"] == {ready["api_key"]: "my-app-secret"}
    finally:
        proc.terminate()
        proc.wait(10)
