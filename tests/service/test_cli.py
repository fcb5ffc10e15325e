"""The CLI: orgs, tokens, inbox; bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from service.cli.main import app
from service.db import reset_database_cache
from service.settings import get_settings


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TASKHUB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    reset_database_cache()
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(app, list(args), input=input)

    yield run
    get_settings.cache_clear()
    reset_database_cache()


def test_org_and_token_create(cli):
    r = cli("org", "create", "acme", "--timezone", "Europe/Berlin")
    assert r.exit_code == 0, r.output
    org = json.loads(r.stdout)
    assert org["timezone"] == "Europe/Berlin"
    r = cli("token", "create", "--org", "acme", "--scope", "write")
    tok = json.loads(r.stdout)
    assert tok["scope"] == "write" and tok["token"].startswith("th_") and tok["org_id"] == org["id"]


@pytest.mark.parametrize("args, needle", [
    (("org", "create", "x", "--timezone", "Mars/Base"), "unknown time zone"),
    (("org", "create", "x", "--currency", "EURO"), "3-letter"),
    (("token", "create", "--org", "nope"), "no organization"),
    (("token", "create", "--org", "acme", "--scope", "root"), "--scope must be one of"),
    (("inbox", "list", "--status", "weird"), "--status must be one of"),
    (("inbox", "retry", "12345"), "none of those events"),
])
def test_bad_input_exits_2_with_a_message(cli, args, needle):
    cli("org", "create", "acme")
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and r.stderr.startswith("taskhub: ")


def test_duplicate_org_is_exit_2(cli):
    cli("org", "create", "acme")
    r = cli("org", "create", "acme")
    assert r.exit_code == 2 and "already exists" in r.stderr


def test_normalize_rejects_unreadable_input(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cli("normalize", "jira", str(bad))
    assert r.exit_code == 2 and "not valid JSON" in r.stderr
    r = cli("normalize", "jira", "-", input='{"foo": 1}')
    assert r.exit_code == 2 and "unrecognised Jira document" in r.stderr
    r = cli("normalize", "jira", str(tmp_path / "missing.json"))
    assert r.exit_code == 2 and "cannot read" in r.stderr
    r = cli("normalize", "asana", str(bad))
    assert r.exit_code == 2


def test_normalize_prints_one_effect_per_line(cli):
    payload = {"timestamp": 1700000000000, "webhookEvent": "jira:issue_deleted",
               "issue": {"id": "10001", "key": "PRJ-1", "fields": {}}}
    r = cli("normalize", "jira", "-", input=json.dumps(payload))
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0]["effect"] == "task_delete" and lines[0]["external_id"] == "10001"


def test_normalize_trello_webhook_gives_a_task_patch(cli):
    from tests.realdata import REALDATA

    r = cli("normalize", "trello", str(REALDATA / "trello-webhooks" / "ringcentral" / "createCard.json"))
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout.splitlines()[0])
    assert first["effect"] == "task_patch" and first["external_id"] == "60940be5986d6c0bca3637d6"
    assert first["fields"]["title"] == "hi" and first["fields"]["status_category"] == "todo"
    r = cli("normalize", "trello", "-", input='{"x": 1}')
    assert r.exit_code == 2 and "not a Trello document" in r.stderr


def test_rollups_check_and_rebuild(cli):
    import sqlalchemy as sa

    from service.db import get_database
    from service.store.tasks import apply_effects
    from tests.service.factories import T0, make_source, task
    from tests.views.portfolio_data import ANN_J, _wl

    assert cli("org", "create", "acme").exit_code == 0
    db = get_database(get_settings())
    src = make_source(db, 1)
    with db.write() as c:
        apply_effects(c, 1, src, [task(str(i), minutes=i) for i in range(5)] + [_wl("w1", "1", ANN_J, T0, 1)])
    r = cli("rollups", "check")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"org_id": 1, "consistent": True,
                                    "rows_differing": {"task_rollup": 0, "task_day_rollup": 0, "milestone_rollup": 0,
                                                       "workload_rollup": 0, "worklog_rollup": 0, "worklog_copies": 0,
                                                       "task_activity": 0, "task_rollup.created_hi": 0,
                                                       "worklog_rollup.started_hi": 0}}
    with db.write() as c:  # writes that bypass the store: the rollups and a worklog's copies are off by them
        c.execute(sa.text("UPDATE task SET status_category = 'done'"))
        c.execute(sa.text("UPDATE worklog SET task_id = NULL, started_day = '2001-01-01'"))
        c.execute(sa.text("UPDATE task SET last_activity_at = NULL"))  # task 1 has a worklog
        stray = "INSERT INTO worklog_rollup VALUES (1, '2001-01-01', 0, :s, 1, 60, 0.0, 60, NULL)"
        c.execute(sa.text(stray), {"s": src})
    r = cli("rollups", "check", "--org", "acme")
    assert r.exit_code == 1 and json.loads(r.stdout)["consistent"] is False
    differing = json.loads(r.stdout)["rows_differing"]
    assert differing["task_rollup"] > 0 and differing["workload_rollup"] > 0  # the tasks went to done
    assert differing["worklog_copies"] == 2  # the worklog's row as kept and as rebuilt
    assert differing["worklog_rollup"] == 1  # the stray row; the worklog itself is still counted right
    assert differing["task_activity"] == 2  # task 1's latest activity (its worklog) as kept and as rebuilt
    with db.write() as c:  # the check changed nothing
        assert c.execute(sa.text("SELECT count(*) FROM task_rollup WHERE status_category = 'done'")).scalar() == 0
    r = cli("rollups", "rebuild", "--org", "1")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"rebuilt": [1]}
    assert cli("rollups", "check").exit_code == 0
    assert cli("rollups", "check", "--org", "nope").exit_code == 2
