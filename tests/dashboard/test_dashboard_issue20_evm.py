"""Issue 20 on the project page (both stores): TCPI follows METRICS (TCPI(BAC) while AC < BAC,
TCPI(EAC) once the budget is exhausted, never a negative number) and EAC and the burn chart's
forecast are labelled with their methods."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import escape

import sqlalchemy as sa

from service.db import Database
from service.tables import Project
from service.views import ViewParams, compute_view
from tests.dashboard.world import AS_OF, Org, TestClient

Q = {"as_of": AS_OF}


def _evm_row(html: str, label: str) -> str:
    m = re.search(rf'<th scope="row">{re.escape(label)}</th><td class="num">(.*?)</td>', html, flags=re.S)
    assert m, f"no row {label}"
    return m.group(1)


def test_project_page_labels_eac_forecast_and_tcpi(as_acme: TestClient, acme: Org, db: Database) -> None:
    for pid in (acme.apollo, acme.borealis):
        html = as_acme.get(f"/projects/{pid}", params=Q).text
        b = compute_view(db, acme.org_id, "budget", ViewParams(project=pid, as_of=date.fromisoformat(AS_OF)))["total"]
        assert "EAC (BAC / CPI)" in html and "EAC (AC + BAC − EV)" in html
        assert "a different method from EAC (BAC / CPI" in html  # the burn chart's caption
        tcpi, tcpi_eac = _evm_row(html, "TCPI(BAC)"), _evm_row(html, "TCPI(EAC)")
        for cell, key in ((tcpi, "tcpi"), (tcpi_eac, "tcpi_eac")):
            assert not re.search(r"[−-]\s*\d", cell), cell  # never a negative number
            if b[key] is None:
                assert f'title="{escape(b["reasons"][key])}"' in cell
        if b["ac"] >= b["bac"]:
            assert "budget exhausted" in tcpi


def test_over_budget_project_shows_tcpi_eac_not_a_negative_tcpi(as_acme: TestClient, acme: Org, db: Database) -> None:
    P = Project.__table__
    with db.write() as c:  # a budget below what was spent: AC ≥ BAC
        c.execute(sa.update(P).where(P.c.id == acme.apollo).values(budget_amount=Decimal("1")))
    b = compute_view(db, acme.org_id, "budget", ViewParams(project=acme.apollo, as_of=date.fromisoformat(AS_OF)))[
        "total"
    ]
    assert b["ac"] >= b["bac"] and b["tcpi"] is None and b["tcpi_eac"] is not None and b["tcpi_eac"] >= 0
    html = as_acme.get(f"/projects/{acme.apollo}", params=Q).text
    assert "budget exhausted" in _evm_row(html, "TCPI(BAC)")
    assert re.fullmatch(r"\s*\d+(\.\d+)?\s*", _evm_row(html, "TCPI(EAC)"))
