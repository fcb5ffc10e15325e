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
    assert [(d["event_id"], d["type"], d["status"], d["requested"]) for d in log] == [
        (queued["event_id"], "webhook.test", "pending", True)]
    one = cli("endpoint", "redeliver", str(made["id"]), "--event", str(queued["event_id"]))
    assert json.loads(one.stdout) == {"queued": 1}, one.output
    ranged = cli("endpoint", "redeliver", str(made["id"]), "--from", "2000-01-01T00:00:00Z")
    assert json.loads(ranged.stdout) == {"queued": 1}, ranged.output
    unknown = cli("endpoint", "redeliver", str(made["id"]), "--event", "999999")
    assert unknown.exit_code == 2 and "event 999999 was not recorded" in unknown.stderr, unknown.output
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
        (("endpoint", "redeliver", "1", "--from", "2026-12-01T00:00:00"), "time zone"),
        (("endpoint", "redeliver", "1", "--from", "yesterday"), "ISO 8601"),
        (("endpoint", "redeliver", "999", "--event", "1"), "no webhook endpoint"),
    ]:
        r = cli(*args)
        assert r.exit_code == 2 and needle in r.stderr, (args, r.output)
    made = _add(cli)
    for args, needle in [((), "either event_id or a time range"),
                         (("--event", "1", "--from", "2026-12-01T00:00:00Z"), "either event_id or a time range"),
                         (("--from", "2026-12-02T00:00:00Z", "--to", "2026-12-01T00:00:00Z"), "before")]:
        r = cli("endpoint", "redeliver", str(made["id"]), *args)
        assert r.exit_code == 2 and needle in r.stderr, (args, r.output)
