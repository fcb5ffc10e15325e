"""``taskhub report`` (issue 23): the week's report as JSON, HTML or PDF, commentary and publish,
the same snapshot the API serves; bad input is one line and exit code 2."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader

from service.db import get_database
from service.settings import get_settings
from tests.conftest import make_sqlite_database
from tests.service.test_cli import cli  # noqa: F401 - the fixture
from tests.views.portfolio_data import build


@pytest.fixture
def world_cli(cli):  # noqa: F811
    settings = get_settings()
    # The session's migrated template copied to where the CLI opens its database: migrating a new
    # file from scratch was most of each of these tests' time; migrate() below finds it current.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    make_sqlite_database(settings.data_dir).dispose()
    db = get_database(settings)
    db.migrate()
    return cli, build(db)


def test_report_json_commentary_publish_pdf(world_cli, tmp_path):
    run, w = world_cli
    r = run("report", "--portfolio", str(w.portfolio), "--week", "2026-W11")
    assert r.exit_code == 0, r.output
    draft = json.loads(r.stdout)
    assert (draft["status"], draft["week"], draft["scope_name"]) == ("draft", "2026-W11", "Main")
    assert {p["name"] for p in draft["data"]["projects"]} == {"ALP", "BETA"}
    out = tmp_path / "w11.pdf"
    r = run("report", "--portfolio", str(w.portfolio), "--week", "2026-03-12", "--commentary", "Beta needs budget.",
            "--publish", "--format", "pdf", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert f"report {draft['id']}" in r.stderr and "published" in r.stderr
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    text = reader.pages[0].extract_text()
    assert "Beta needs budget." in text and "ALP" in text and "BETA" in text
    html = run("report", "--portfolio", str(w.portfolio), "--week", "2026-W11", "--format", "html")
    assert html.exit_code == 0 and "Beta needs budget." in html.stdout and html.stdout.startswith("<!doctype html>")
    again = run("report", "--portfolio", str(w.portfolio), "--week", "2026-W11", "--publish")
    assert again.exit_code == 2 and "already published" in again.stderr
    changed = run("report", "--portfolio", str(w.portfolio), "--week", "2026-W11", "--regenerate")
    assert changed.exit_code == 2 and "never changes" in changed.stderr


@pytest.mark.parametrize("args, needle", [
    ((), "exactly one of --portfolio or --project"),
    (("--portfolio", "1", "--project", "1"), "exactly one of --portfolio or --project"),
    (("--project", "x1"), "--project must be a positive whole number"),
    (("--project", "999999"), "no project 999999"),
    (("--project", "1", "--format", "docx"), "--format must be json, html or pdf"),
    (("--project", "1", "--commentary", "red\x1b[31m"), "commentary: must not contain control characters"),
])
def test_bad_input_is_one_line_exit_2(world_cli, args, needle):
    run, _ = world_cli
    r = run("report", "--week", "2026-W11", *args)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("week, needle", [("2026-W60", "no such week"), ("someday", "expected YYYY-Www"),
                                          ("2999-01-04", "after the current week")])
def test_bad_weeks(world_cli, week, needle):
    run, w = world_cli
    r = run("report", "--project", str(w.alp), "--week", week)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and "--week" in r.stderr
