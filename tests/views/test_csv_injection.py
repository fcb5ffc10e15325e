"""CSV exports never carry a live formula (issue 16 §2): names the tools' users control
are neutralized with a leading quote, numbers keep their sign."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from service.db import Database
from service.views.csvout import FORMULA_PREFIXES, safe_cell, write_csv
from tests.views.conftest import Org

AS_OF = "2026-03-11"
HOSTILE_MILESTONES = ("=1+1", "+1+1", "-1+1", "@SUM(A1)")
HYPERLINK = '=HYPERLINK("http://x","y")'
# Every CSV export there is: the five views, each with every grouping it takes.
EXPORTS = [
    (view, group_by)
    for view in ("progress", "budget", "milestones", "flow", "workload")
    for group_by in (None, "project", "source", "milestone", "person")
]


def _is_number(cell: str) -> bool:
    """A plain decimal number as the exports write them (no inf, nan, exponent or spaces)."""
    return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", cell) is not None


def _poison(db: Database, org: Org) -> None:
    """Give the hand portfolio hostile names everywhere a name can come from."""
    w = org.world
    assert w.milestones is not None
    with db.engine.begin() as conn:
        for mid, name in zip(sorted(w.milestones.values()), HOSTILE_MILESTONES, strict=False):
            conn.execute(sa.text("UPDATE milestone SET name = :n WHERE id = :i"), {"n": name, "i": mid})
        conn.execute(sa.text("UPDATE person SET display_name = :n WHERE id = :i"), {"n": HYPERLINK, "i": w.ann})
        conn.execute(sa.text("UPDATE person_identity SET display_name = :n WHERE person_id = :i"),
                     {"n": HYPERLINK, "i": w.ann})
        conn.execute(sa.text("UPDATE project SET name = :n WHERE id = :i"), {"n": "@cmd|' /C calc'!A0", "i": w.alp})
        conn.execute(sa.text("UPDATE source SET name = :n WHERE id = :i"), {"n": "\tjira", "i": w.jira})
        conn.execute(sa.text("UPDATE task SET title = :n WHERE org_id = :o"), {"n": "-2+3", "o": w.org_id})


@pytest.fixture(scope="module")
def poisoned(shared_db: Database, shared_world: Org) -> Org:
    """The hand portfolio poisoned once per store for the module: the tests below only read it."""
    _poison(shared_db, shared_world)
    return shared_world


def test_every_csv_export_neutralizes_formula_prefixes(shared_client, poisoned):
    """Every export and grouping over one poisoned portfolio (built once: it is the slow part)."""
    client, world = shared_client, poisoned
    for view, group_by in EXPORTS:
        params = {"as_of": AS_OF, "format": "csv", **({"group_by": group_by} if group_by else {})}
        r = client.get(f"/api/v1/views/{view}", params=params, headers=world.h())
        assert r.status_code == 200, (view, group_by, r.text)
        cells = [c for row in csv.reader(io.StringIO(r.text)) for c in row]
        live = [c for c in cells if c.startswith(FORMULA_PREFIXES) and not _is_number(c)]
        assert live == [], (view, group_by)
        # The hostile names are there, as text (the export would prove nothing otherwise); an
        # ungrouped progress, budget or flow export is the total row alone and names nothing.
        quoted = {c for c in cells if c.startswith("'")}
        assert quoted or (group_by is None and view in ("progress", "budget", "flow")), (view, group_by)
        assert quoted <= {"'" + n for n in (*HOSTILE_MILESTONES, HYPERLINK, "@cmd|' /C calc'!A0", "\tjira")}


def test_hostile_names_come_out_quoted_and_readable(shared_client, poisoned):
    client, world = shared_client, poisoned
    ms = client.get("/api/v1/views/milestones", params={"as_of": AS_OF, "format": "csv"}, headers=world.h())
    names = [row["name"] for row in csv.DictReader(io.StringIO(ms.text))]
    assert sorted(names) == sorted("'" + n for n in HOSTILE_MILESTONES)
    wl = client.get("/api/v1/views/workload", params={"as_of": AS_OF, "format": "csv"}, headers=world.h())
    assert "'" + HYPERLINK in [row["person.name"] for row in csv.DictReader(io.StringIO(wl.text))]
    # JSON is data, not a spreadsheet: the names stay exactly as the tool has them.
    js = client.get("/api/v1/views/milestones", params={"as_of": AS_OF}, headers=world.h()).json()
    assert sorted(m["name"] for m in js["milestones"]) == sorted(HOSTILE_MILESTONES)


def test_negative_figures_stay_numbers_in_the_budget_export(shared_client, poisoned):
    client, world = shared_client, poisoned
    r = client.get("/api/v1/views/budget", params={"as_of": AS_OF, "format": "csv", "group_by": "project"},
                   headers=world.h())
    negatives = [c for row in csv.reader(io.StringIO(r.text)) for c in row if c.startswith("-")]
    assert negatives, "the hand portfolio has negative variances (CV, SV) to check"
    assert all(_is_number(c) for c in negatives)


def test_safe_cell_quotes_text_and_keeps_numbers():
    for text in ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", HYPERLINK, "-", "-1e5", "+1",
                 " =1+1", "  =HYPERLINK(1)", "\n=1+1", "\x00=1+1", "\ufeff=1+1", "\xa0=1", "\uff1d1+1",
                 "\uff0b1", "\uff0d1", "\uff20SUM(A1)", "\x00", " -1"):
        assert safe_cell(text) == "'" + text, repr(text)
    for value in (-1, -2.5, Decimal("-3.25"), 0, "-12.5", "-7", "plain", "1.0", "", "a=b", " plain", "x -1"):
        assert safe_cell(value) == value
    assert safe_cell(None) == ""
    assert write_csv(["=h", "n"], [["=x", -4], [None, "-0.5"]]) == "'=h,n\n'=x,-4\n,-0.5\n"
