"""``taskhub endpoint`` (issue 22): add (secret printed once), list, rotate, test, deliveries,
remove; bad input is one line and exit code 2."""

from __future__ import annotations

import json

from tests.service.test_cli import cli  # noqa: F401 - the fixture


def _add(cli, *extra):  # noqa: F811
    r = cli("endpoint", "add", "--org", "acme", "--url", "https://hooks.example.com/x", "--events",
            "task.*, source.degraded", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_add_list_rotate_test_deliveries_remove(cli):  # noqa: F811
    cli("org", "create", "acme")
    made = _add(cli, "--description", "zap")
    assert made["secret"].startswith("whsec_") and made["event_types"] == ["task.*", "source.degraded"]
    listed = [json.loads(line) for line in cli("endpoint", "list", "--org", "acme").stdout.splitlines()]
    assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]
    rotated = json.loads(cli("endpoint", "rotate", str(made["id"])).stdout)
    assert rotated["secret"] != made["secret"] and rotated["previous_secret_signs_until"] is not None
    again = cli("endpoint", "rotate", str(made["id"]))
    assert again.exit_code == 2 and "force" in again.stderr
    queued = json.loads(cli("endpoint", "test", str(made["id"])).stdout)
    log = [json.loads(line) for line in cli("endpoint", "deliveries", str(made["id"])).stdout.splitlines()]
    assert [(d["event_id"], d["type"], d["status"]) for d in log] == [(queued["event_id"], "webhook.test", "pending")]
    assert cli("endpoint", "remove", str(made["id"])).exit_code == 0
    assert cli("endpoint", "list").stdout == ""


def test_bad_input_exits_2(cli):  # noqa: F811
    cli("org", "create", "acme")
    for args, needle in [
        (("endpoint", "add", "--org", "acme", "--url", "https://127.0.0.1/x", "--events", "*"), "loopback"),
        (("endpoint", "add", "--org", "acme", "--url", "https://h.example.com", "--events", "nope"), "unknown event"),
        (("endpoint", "add", "--org", "nope", "--url", "https://h.example.com", "--events", "*"), "no organization"),
        (("endpoint", "rotate", "999"), "no webhook endpoint"),
        (("endpoint", "test", "abc"), "positive whole number"),
        (("endpoint", "deliveries", "1", "--status", "weird"), "--status must be"),
    ]:
        r = cli(*args)
        assert r.exit_code == 2 and needle in r.stderr, (args, r.output)
