"""``taskhub risk`` (issue 23): add, list (JSON lines or CSV), update, remove; bad input is one line
and exit code 2."""

from __future__ import annotations

import csv
import io
import json

import sqlalchemy as sa

from service.db import get_database
from service.settings import get_settings
from service.tables import Person, Project, table
from tests.service.test_cli import cli  # noqa: F401 - the fixture


def _project_and_person(org_id: int) -> tuple[int, int]:
    db = get_database(get_settings())
    with db.write() as c:
        pid = c.execute(sa.insert(table(Project)).values(org_id=org_id, external_id="APO", name="Apollo")
                        .returning(table(Project).c.id)).scalar_one()
        person = c.execute(sa.insert(table(Person)).values(org_id=org_id, display_name="Ann")
                           .returning(table(Person).c.id)).scalar_one()
    return pid, person


def test_add_list_update_remove(cli):  # noqa: F811
    org = json.loads(cli("org", "create", "acme").stdout)
    pid, ann = _project_and_person(org["id"])
    r = cli("risk", "add", "--project", str(pid), "--title", "=Vendor API sunset", "--probability", "4",
            "--impact", "5", "--owner", "Dana", "--review-date", "2099-01-31")
    assert r.exit_code == 0, r.output
    made = json.loads(r.stdout)
    assert (made["score"], made["owner_name"], made["created_by"], made["review_overdue"]) == (20, "Dana",
                                                                                            "taskhub cli", False)
    low = json.loads(cli("risk", "add", "--project", str(pid), "--title", "Office move", "--probability", "1",
                         "--impact", "2", "--owner-person", str(ann)).stdout)
    assert (low["owner_person_id"], low["owner_name"]) == (ann, "Ann")
    listed = [json.loads(line) for line in cli("risk", "list", "--org", "acme").stdout.splitlines()]
    assert [x["id"] for x in listed] == [made["id"], low["id"]]
    table_csv = list(csv.DictReader(io.StringIO(cli("risk", "list", "--org", "acme", "--csv").stdout)))
    assert [row["title"] for row in table_csv] == ["'=Vendor API sunset", "Office move"]  # the one CSV writer

    r = cli("risk", "update", str(low["id"]), "--impact", "5", "--probability", "5", "--owner", "", "--status",
            "mitigating")
    assert r.exit_code == 0, r.output
    changed = json.loads(r.stdout)
    assert (changed["score"], changed["owner_person_id"], changed["status"]) == (25, ann, "mitigating")
    r = cli("risk", "update", str(made["id"]), "--review-date", "")
    assert json.loads(r.stdout)["review_date"] is None
    only = [json.loads(line) for line in cli("risk", "list", "--org", "acme", "--status", "mitigating").stdout
            .splitlines()]
    assert [x["id"] for x in only] == [low["id"]]
    assert cli("risk", "remove", str(low["id"])).exit_code == 0
    assert [json.loads(x)["id"] for x in cli("risk", "list", "--org", "acme").stdout.splitlines()] == [made["id"]]


def test_bad_input_exits_2(cli):  # noqa: F811
    org = json.loads(cli("org", "create", "acme").stdout)
    pid, ann = _project_and_person(org["id"])
    ok = ("--title", "T", "--probability", "3", "--impact", "3")
    for args, needle in [
        (("risk", "add", "--project", str(pid), "--title", "T", "--probability", "6", "--impact", "1"),
         "--probability"),
        (("risk", "add", "--project", str(pid), "--probability", "2", "--impact", "1"), "--title"),
        (("risk", "add", "--project", str(pid), *ok, "--status", "done"), "--status"),
        (("risk", "add", "--project", str(pid), *ok, "--review-date", "31/01/2099"), "--review-date"),
        (("risk", "add", "--project", str(pid), *ok, "--owner", "Bo", "--owner-person", str(ann)), "--owner"),
        (("risk", "add", "--project", str(pid), *ok, "--owner-person", "999"), "person 999 not found"),
        (("risk", "add", "--project", "999", *ok), "no project 999"),
        (("risk", "add", "--project", "x", *ok), "positive whole number"),
        (("risk", "update", "999", "--impact", "2"), "no risk 999"),
        (("risk", "remove", "abc"), "positive whole number"),
        (("risk", "list", "--org", "nope"), "no organization"),
        (("risk", "list", "--org", "acme", "--status", "weird"), "--status must be"),
        (("risk", "list", "--org", "acme", "--project", "999"), "project 999 not found"),
    ]:
        r = cli(*args)
        assert r.exit_code == 2 and needle in r.stderr, (args, r.output)
    made = json.loads(cli("risk", "add", "--project", str(pid), *ok).stdout)
    for args, needle in [((), "nothing to change"), (("--title", ""), "--title"), (("--impact", "0"), "--impact")]:
        r = cli("risk", "update", str(made["id"]), *args)
        assert r.exit_code == 2 and needle in r.stderr, (args, r.output)
    assert [json.loads(x)["score"] for x in cli("risk", "list", "--org", "acme").stdout.splitlines()] == [9]
