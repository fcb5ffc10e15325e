"""The runner runs whatever syncer a tool module registered for the source's kind, and
records the requests its connector sent, also when the sync fails."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import service.sync.runner as runner
from connectors.errors import Fatal, Transient


class _Client:
    def __init__(self) -> None:
        self.api_calls = 3  # sent before the run (e.g. by an earlier run on a shared client)

    def register_webhook(self, url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"url": url}


class _Syncer:
    def __init__(self, ctx: Any, fail: bool) -> None:
        self.client = _Client()
        self.fail = fail

    def run(self, mode: str) -> None:
        self.client.api_calls += 4
        if self.fail:
            raise Transient("gone away")


def _ctx(kind: str) -> Any:
    return SimpleNamespace(source=SimpleNamespace(kind=kind), recorder=SimpleNamespace(api_calls=0))


@pytest.mark.parametrize("fail", [False, True])
def test_the_run_records_the_requests_its_connector_sent(monkeypatch: pytest.MonkeyPatch, fail: bool) -> None:
    monkeypatch.setitem(runner.SYNCERS, "fake", lambda ctx: _Syncer(ctx, fail))
    ctx = _ctx("fake")
    if fail:
        with pytest.raises(Transient):
            runner._run_syncer(ctx, "incremental")
    else:
        runner._run_syncer(ctx, "incremental")
    assert ctx.recorder.api_calls == 4


def test_a_kind_nobody_registered_is_a_fatal_error_naming_the_known_kinds() -> None:
    with pytest.raises(Fatal, match=r"no syncer for source kind 'asana' \(known: jira, trello\)"):
        runner._run_syncer(_ctx("asana"), "incremental")
