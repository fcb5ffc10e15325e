"""``taskhub apply FILE.yaml`` stores exactly what the API stores; a bad file is one line,
exit code 2, and nothing applied."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from service.cli.main import app
from service.db import reset_database_cache
from service.settings import get_settings
from service.tables import (
    Milestone,
    MilestoneChange,
    Organization,
    Person,
    PersonIdentity,
    PersonRate,
    Portfolio,
    PortfolioProject,
    Project,
    Source,
)
from tests.views.conftest import Org, get_view, tokens_for
from tests.views.portfolio_data import build, make_world, phase1

FILE = textwrap.dedent("""\
    organization: {name: fileorg, timezone: Europe/Berlin, currency: USD, default_hourly_rate: 45}
    portfolios:
      - {name: Main, description: Both tools}
    projects:
      - source: jira-cloud
        key: ALP
        budget: {amount: 20000, currency: USD}
        planned_start: 2026-02-02
        planned_end: 2026-03-27
        hourly_rate: 60
        portfolios: [Main]
      - source: trello
        external_id: b1
        budget: {amount: 10000, currency: USD}
        planned_start: 2026-02-16
        planned_end: 2026-04-10
        portfolios: [Main]
    people:
      - identity: {tool: jira, external_id: acc-ann}
        rates:
          - {effective_from: 2026-01-01, hourly_rate: 100}
          - {effective_from: 2026-03-01, hourly_rate: 120}
      - identity: {tool: jira, external_id: acc-bob}
        display_name: Bob B.
        identities: [{tool: trello, external_id: m-cy}]
    milestones:
      - {source: jira-cloud, name: "1.1", baseline: 2026-03-15}
      - {source: trello, external_id: mc1, baseline: reset}
    """)


def _via_api(client: Any, org: Org) -> None:
    w, h = org.world, org.h("admin")
    ok = [
        client.patch(
            "/api/v1/organization",
            json={"timezone": "Europe/Berlin", "currency": "USD", "default_hourly_rate": 45},
            headers=h,
        ),
    ]
    pf = client.post("/api/v1/portfolios", json={"name": "Main", "description": "Both tools"}, headers=h)
    ok += [
        pf,
        client.patch(
            f"/api/v1/projects/{w.alp}",
            json={
                "budget": {"amount": 20000, "currency": "USD"},
                "planned_start": "2026-02-02",
                "planned_end": "2026-03-27",
                "hourly_rate": 60,
                "portfolio_ids": [pf.json()["id"]],
            },
            headers=h,
        ),
        client.patch(
            f"/api/v1/projects/{w.beta}",
            json={
                "budget": {"amount": 10000, "currency": "USD"},
                "planned_start": "2026-02-16",
                "planned_end": "2026-04-10",
                "portfolio_ids": [pf.json()["id"]],
            },
            headers=h,
        ),
        client.post(
            f"/api/v1/people/{w.ann}/rates",
            json={"effective_from": "2026-01-01", "hourly_rate": 100},
            headers=h,
        ),
        client.post(
            f"/api/v1/people/{w.ann}/rates",
            json={"effective_from": "2026-03-01", "hourly_rate": 120},
            headers=h,
        ),
        client.post(
            f"/api/v1/people/{w.bob}/identities/link",
            json={"tool": "trello", "external_id": "m-cy"},
            headers=h,
        ),
        client.patch(f"/api/v1/people/{w.bob}", json={"display_name": "Bob B."}, headers=h),
    ]
    ms = {m["external_id"]: m["id"] for m in client.get("/api/v1/milestones", headers=h).json()}
    ok += [
        client.post(f"/api/v1/milestones/{ms['v2']}/baseline", json={"due_date": "2026-03-15"}, headers=h),
        client.post(f"/api/v1/milestones/{ms['mc1']}/baseline", json={"due_date": None}, headers=h),
    ]
    assert all(r.status_code in (200, 201) for r in ok), [r.text for r in ok]


def stored(db, org_id: int) -> dict[str, Any]:
    """The organization's PM-side state, by names and external ids (not row ids)."""
    ORG, S, P, PF, PP = (t.__table__ for t in (Organization, Source, Project, Portfolio, PortfolioProject))
    PE, PI, PR = Person.__table__, PersonIdentity.__table__, PersonRate.__table__
    with db.read() as c:
        org = c.execute(
            sa.select(ORG.c.timezone, ORG.c.currency, ORG.c.default_hourly_rate).where(ORG.c.id == org_id)
        ).one()
        members: dict[int, list[str]] = {}
        for pf_name, src, ext in c.execute(
            sa.select(PF.c.name, S.c.name, P.c.external_id)
            .join(PP, PP.c.portfolio_id == PF.c.id)
            .join(P, P.c.id == PP.c.project_id)
            .join(S, S.c.id == P.c.source_id)
            .where(PF.c.org_id == org_id)
        ):
            members.setdefault(pf_name, []).append(f"{src}/{ext}")
        projects = {
            f"{r.src}/{r.external_id}": (
                float(r.budget_amount or 0),
                r.budget_currency,
                r.planned_start,
                r.planned_end,
                float(r.hourly_rate) if r.hourly_rate is not None else None,
            )
            for r in c.execute(
                sa.select(S.c.name.label("src"), P).join(S, S.c.id == P.c.source_id).where(P.c.org_id == org_id)
            )
        }
        portfolios = {
            r.name: (r.description, sorted(members.get(r.name, [])))
            for r in c.execute(sa.select(PF).where(PF.c.org_id == org_id))
        }
        idents: dict[int, list[str]] = {}
        for pid, tool, ext in c.execute(
            sa.select(PI.c.person_id, PI.c.tool, PI.c.external_id).where(PI.c.org_id == org_id)
        ):
            idents.setdefault(pid, []).append(f"{tool}:{ext}")
        rates: dict[int, list[tuple[Any, float]]] = {}
        for pid, frm, rate in c.execute(
            sa.select(PR.c.person_id, PR.c.effective_from, PR.c.hourly_rate)
            .where(PR.c.org_id == org_id)
            .order_by(PR.c.effective_from)
        ):
            rates.setdefault(pid, []).append((frm, float(rate)))
        people = {
            ",".join(sorted(idents.get(r.id, []))): (r.display_name, r.email, rates.get(r.id, []))
            for r in c.execute(sa.select(PE).where(PE.c.org_id == org_id))
        }
        M, MC = Milestone.__table__, MilestoneChange.__table__
        baselines = {
            r.external_id: (r.baseline_due_date, r.pm_changes)
            for r in c.execute(
                sa.select(M.c.external_id, M.c.baseline_due_date,
                          sa.select(sa.func.count()).where(MC.c.milestone_id == M.c.id, MC.c.origin == "pm")
                          .scalar_subquery().label("pm_changes"))
                .where(M.c.org_id == org_id)
            )
        }
    return {
        "org": (org.timezone, org.currency, float(org.default_hourly_rate or 0)),
        "projects": projects,
        "portfolios": portfolios,
        "people": people,
        "baselines": baselines,
    }


@pytest.fixture
def cli(db, monkeypatch) -> Iterator[Any]:
    monkeypatch.setenv("TASKHUB_DATABASE_URL", db.url)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(path: Path, *args: str) -> Any:
        return runner.invoke(app, ["apply", str(path), *args])

    yield run
    get_settings.cache_clear()
    reset_database_cache()


def test_the_file_and_the_api_store_the_same_state(client, db, cli, tmp_path):
    api_org = Org(build(db, "apiorg", pm=False), {})
    api_org.tokens = tokens_for(db, api_org.world.org_id)
    file_org = Org(build(db, "fileorg", pm=False), {})
    file_org.tokens = tokens_for(db, file_org.world.org_id)
    _via_api(client, api_org)
    path = tmp_path / "portfolio.yaml"
    path.write_text(FILE)
    result = cli(path)
    assert result.exit_code == 0, result.output
    assert '"applied": true' in result.output and '"projects": 2' in result.output
    api, file = stored(db, api_org.world.org_id), stored(db, file_org.world.org_id)
    assert api == file
    assert file["people"]["jira:acc-bob,trello:m-cy"][0] == "Bob B."
    assert file["portfolios"] == {"Main": ("Both tools", ["jira-cloud/100", "trello/b1"])}
    assert file["baselines"]["v2"] == (date(2026, 3, 15), 1)  # set: one change recorded
    assert file["baselines"]["mc1"] == (date(2026, 4, 1), 0)  # reset to the due date it already has
    # ... and so the views agree.
    for org in (api_org, file_org):
        b = get_view(client, org, "budget", as_of="2026-03-11")["total"]
        assert (b["bac"], b["ac"], b["pv"]) == (30000, 9000, 18500)
    # Applying the same file again changes nothing.
    assert cli(path).exit_code == 0 and stored(db, file_org.world.org_id) == file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FILE + "budgets: {}\n", "budgets: Extra inputs are not permitted"),
        (
            FILE.replace("planned_end: 2026-04-10", "planned_end: 2026-01-10"),
            "projects[1]: planned_end 2026-01-10 is before planned_start 2026-02-16",
        ),
        (
            FILE.replace(
                "currency: USD}\n    planned_start: 2026-02-16",
                "currency: usd}\n    planned_start: 2026-02-16",
            ),
            "projects[1].budget.currency: String should match pattern",
        ),
        (
            FILE.replace("source: trello", "source: asana"),
            "projects[1]: no source named 'asana'; nothing was applied",
        ),
        (
            FILE.replace("external_id: m-cy", "external_id: m-nobody"),
            "people[1].identities[0]: identity trello:m-nobody not found",
        ),
        (
            FILE.replace("2026-03-01, hourly_rate: 120", "2026-01-01, hourly_rate: 120"),
            "people[0].rates: two rates take effect on the same day",
        ),
        (
            FILE.replace("portfolios: [Main]\n  - source: trello", "portfolios: [Side]\n  - source: trello"),
            "projects[0].portfolios: unknown portfolio 'Side'",
        ),
        (
            FILE.replace('name: "1.1"', 'name: "9.9"'),
            "milestones[0]: source 'jira-cloud' has no milestone '9.9' (it appears once synced)",
        ),
        (FILE.replace("baseline: reset", "baseline: later"), "milestones[1].baseline"),
        (FILE + "  - {id: 99999999999999999999999, baseline: reset}\n", "milestones[2].id"),
        (FILE.replace("baseline: 2026-03-15", "baseline: 2026-99-01"), "a value YAML cannot read"),
        ("projects: [\n", "not valid YAML at line"),
        ("- just a list\n", "the file must be a mapping"),
    ],
)
def test_a_bad_file_is_one_line_exit_2_and_nothing_applied(db, cli, tmp_path, text, message):
    w = phase1(db, make_world(db, "fileorg"), pm=False)  # sources, projects, identities: enough here
    before = stored(db, w.org_id)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = cli(path, "--org", "fileorg")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("taskhub: ") and message in lines[0], result.output
    assert stored(db, w.org_id) == before


def test_dry_run_validates_without_writing(db, cli, tmp_path):
    w = phase1(db, make_world(db, "fileorg"), pm=False)
    before = stored(db, w.org_id)
    path = tmp_path / "p.yaml"
    path.write_text(FILE)
    result = cli(path, "--dry-run")
    assert result.exit_code == 0 and '"applied": false' in result.output
    assert stored(db, w.org_id) == before
    assert cli(tmp_path / "missing.yaml").exit_code == 2


def test_an_apply_file_with_a_nul_is_refused_before_the_store():
    """PostgreSQL cannot store NUL: the file's names are checked like the API's bodies."""
    import pytest
    from pydantic import ValidationError

    from service.portfolio.apply import ApplyPortfolio, ApplyProject, IdentityRef

    for model, body in ((ApplyPortfolio, {"name": "p\x00"}), (ApplyProject, {"key": "K\x00"}),
                        (IdentityRef, {"tool": "jira", "external_id": "\x00"})):
        with pytest.raises(ValidationError):
            model.model_validate(body)
