"""The dashboard tests' data: an organization with a small portfolio, written through the store.

Every name an organization owns carries its tag (``Apollo acme``, ``Ann-acme``, ``R1 acme``),
so a page of one organization can be checked to hold no trace of another.

The world of an organization, as of ``AS_OF`` (2026-03-12, the organization's time zone):
- Apollo (Jira): budget 20,000, planned 2026-02-02 .. 2026-03-27; J1 and J4 done, J2 in
  progress, J3 todo and overdue; versions R1 (due 03-09, open: 3 days overdue) and R2
  (baseline 03-20, moved to 03-25: slip 5, at risk); worklogs by Ann (100/h) and Bob.
- Borealis (Trello): budget 10,000, direct costs 6,000 burning faster than planned (the
  budget runs out before the planned end); milestone card "Launch". Ann is one person
  across both tools (linked by email).
- Nimbus (Jira): no budget, one task, no milestone.
- Portfolio "Core": Apollo and Borealis.
- Sources: the Jira one synced 5 minutes ago; the Trello one degraded.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - parses our own output

import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr

from mappings.model import (
    Change,
    Milestone,
    MilestoneRef,
    MilestoneUpsert,
    PersonRef,
    StatusCategory,
    Task,
    TaskType,
    TaskUpsert,
    Worklog,
    WorklogUpsert,
)
from service import store
from service.dashboard.data import table
from service.db import Database
from service.security.auth import create_token
from service.settings import Settings
from service.store import rollups
from service.tables import (
    Milestone as MilestoneRow,
)
from service.tables import (
    Organization,
    PersonIdentity,
    PersonRate,
    Portfolio,
    PortfolioProject,
    Project,
    Source,
    SyncRun,
    utcnow,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["AS_OF", "Org", "TestClient", "build_org", "charts", "make_settings", "sign_in"]

AS_OF = "2026-03-12"
TODO, WIP, DONE = StatusCategory.todo, StatusCategory.in_progress, StatusCategory.done
H = 3600


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@dataclass
class Org:
    tag: str
    org_id: int
    token: str = ""
    jira: int = 0
    trello: int = 0
    apollo: int = 0
    borealis: int = 0
    nimbus: int = 0
    portfolio: int = 0
    milestones: dict[str, int] = field(default_factory=dict)


def _moves(ext: str, *steps: tuple[StatusCategory, StatusCategory, datetime]) -> list[Change]:
    return [
        Change(task_external_id=ext, external_id=f"{ext}-{i}", field="status", from_value=a.value,
               to_value=b.value, from_category=a, to_category=b, changed_at=when)
        for i, (a, b, when) in enumerate(steps)
    ]


def _task(ext: str, project: str, cat: StatusCategory, updated: datetime, *,
          who: PersonRef | None = None, ms: str | None = None, created: datetime | None = None,
          changes: list[Change] | None = None, **kw: Any) -> TaskUpsert:
    t = Task(external_id=ext, key=ext, title=f"Task {ext}", project_external_id=project,
             project_key=project, status=cat.value, status_category=cat,
             created_at=created or at(2, 2), updated_at=updated, assignees=[who] if who else [],
             milestones=[MilestoneRef(external_id=ms)] if ms else [], **kw)
    return TaskUpsert(task=t, changes=changes or [], raw={"id": ext})


def _ms(ext: str, project: str, name: str, due: date, updated: datetime) -> MilestoneUpsert:
    return MilestoneUpsert(milestone=Milestone(external_id=ext, project_external_id=project,
                                               name=name, due_date=due, updated_at=updated))


def _wl(ext: str, task: str, who: PersonRef, when: datetime, hours: int) -> WorklogUpsert:
    return WorklogUpsert(worklog=Worklog(external_id=ext, task_external_id=task, author=who,
                                         started_at=when, seconds=hours * H, updated_at=when))


def _sources(db: Database, tag: str, timezone: str) -> Org:
    OR, S = table(Organization), table(Source)  # noqa: N806
    with db.write() as c:
        org_id = c.execute(sa.insert(OR).values(
            name=tag, timezone=timezone, currency="USD", default_hourly_rate=Decimal("40"),
            created_at=at(1, 1)).returning(OR.c.id)).scalar_one()
        o = Org(tag=tag, org_id=org_id)
        o.jira = c.execute(sa.insert(S).values(
            org_id=org_id, kind="jira", name=f"jira {tag}", enabled=True, status="ok",
            poll_interval_seconds=300).returning(S.c.id)).scalar_one()
        o.trello = c.execute(sa.insert(S).values(
            org_id=org_id, kind="trello", name=f"trello {tag}", enabled=True, status="degraded",
            status_reason=f"401 from Trello ({tag})", poll_interval_seconds=300,
        ).returning(S.c.id)).scalar_one()
    return o


def build_org(db: Database, tag: str, timezone: str = "UTC") -> Org:
    """One organization's world (see the module docstring), synced as the tools showed it."""
    o = _sources(db, tag, timezone)
    ann_j = PersonRef(tool="jira", external_id=f"acc-ann-{tag}", display_name=f"Ann-{tag}",
                      email=f"ann@{tag}.io")
    ann_t = PersonRef(tool="trello", external_id=f"m-ann-{tag}", display_name=f"ann.t-{tag}",
                      email=f"ann@{tag}.io")
    bob = PersonRef(tool="jira", external_id=f"acc-bob-{tag}", display_name=f"Bob-{tag}")
    cy = PersonRef(tool="trello", external_id=f"m-cy-{tag}", display_name=f"Cy-{tag}")
    card = TaskType.card
    with db.write() as c:
        store.upsert_milestones(c, o.org_id, o.jira, [
            _ms("v1", "100", f"R1 {tag}", date(2026, 3, 9), at(2, 2)),
            _ms("v2", "100", f"R2 {tag}", date(2026, 3, 20), at(2, 2)),
        ])
        store.upsert_tasks(c, o.org_id, o.jira, [
            _task("J1", "100", DONE, at(2, 12), who=ann_j, ms="v1", estimate_points=3,
                  changes=_moves("J1", (TODO, WIP, at(2, 9)), (WIP, DONE, at(2, 12)))),
            _task("J2", "100", WIP, at(3, 2), who=ann_j, ms="v2", estimate_points=5,
                  changes=_moves("J2", (TODO, WIP, at(3, 2)))),
            _task("J3", "100", TODO, at(2, 3), who=bob, ms="v1", estimate_points=2,
                  due_date=date(2026, 3, 5)),
            _task("J4", "100", DONE, at(3, 6), who=bob, ms="v2", estimate_points=1,
                  changes=_moves("J4", (TODO, DONE, at(3, 6)))),
            _task("J5", "100", TODO, at(2, 3), ms="v2", estimate_points=1),
            _task("N1", "200", WIP, at(3, 1), who=bob, changes=_moves("N1", (TODO, WIP, at(3, 1)))),
        ])
        # R2 moves from 03-20 (its baseline) to 03-25.
        store.upsert_milestones(c, o.org_id, o.jira,
                                [_ms("v2", "100", f"R2 {tag}", date(2026, 3, 25), at(3, 6))])
        store.upsert_milestones(c, o.org_id, o.trello,
                                [_ms("mc1", "b1", f"Launch {tag}", date(2026, 4, 1), at(2, 16))])
        store.upsert_tasks(c, o.org_id, o.trello, [
            _task("C1", "b1", DONE, at(2, 20), who=cy, ms="mc1", type=card, created=at(2, 17),
                  estimate_seconds=10 * H, cost=Decimal("2000"),
                  changes=_moves("C1", (TODO, WIP, at(2, 18)), (WIP, DONE, at(2, 20)))),
            _task("C2", "b1", WIP, at(3, 4), who=ann_t, ms="mc1", type=card, created=at(3, 3),
                  estimate_seconds=6 * H, cost=Decimal("3000"),
                  changes=_moves("C2", (TODO, WIP, at(3, 4)))),
            _task("C3", "b1", TODO, at(3, 9), who=cy, type=card, created=at(3, 9),
                  estimate_seconds=4 * H, cost=Decimal("1000"), due_date=date(2026, 3, 10)),
        ])
        store.upsert_worklogs(c, o.org_id, o.jira, [_wl("W1", "J1", ann_j, at(2, 10), 4),
                                                    _wl("W2", "J2", bob, at(3, 10), 8)])
    _pm_data(db, o)
    return o


def _pm_data(db: Database, o: Org) -> None:
    """Names, budgets, planned dates, a rate, a portfolio, a sync run, a read token."""
    P, PI, M = table(Project), table(PersonIdentity), table(MilestoneRow)  # noqa: N806
    with db.write() as c:
        ids = {(r.source_id, r.external_id): r.id for r in c.execute(
            sa.select(P.c.id, P.c.source_id, P.c.external_id).where(P.c.org_id == o.org_id))}
        o.apollo, o.borealis = ids[(o.jira, "100")], ids[(o.trello, "b1")]
        o.nimbus = ids[(o.jira, "200")]
        c.execute(sa.update(P).where(P.c.id == o.apollo).values(
            name=f"Apollo {o.tag}", budget_amount=Decimal("20000"), budget_currency="USD",
            planned_start=date(2026, 2, 2), planned_end=date(2026, 3, 27),
            hourly_rate=Decimal("60")))
        c.execute(sa.update(P).where(P.c.id == o.borealis).values(
            name=f"Borealis {o.tag}", budget_amount=Decimal("10000"), budget_currency="USD",
            planned_start=date(2026, 2, 16), planned_end=date(2026, 4, 10)))
        c.execute(sa.update(P).where(P.c.id == o.nimbus).values(name=f"Nimbus {o.tag}"))
        ann = c.execute(sa.select(PI.c.person_id).where(
            PI.c.org_id == o.org_id, PI.c.external_id == f"acc-ann-{o.tag}")).scalar_one()
        with rollups.people_changing(c, o.org_id, [ann]):  # Ann's worklogs are priced at her rate
            c.execute(sa.insert(table(PersonRate)).values(
                org_id=o.org_id, person_id=ann, effective_from=date(2026, 1, 1),
                hourly_rate=Decimal("100")))
        pf = table(Portfolio)
        o.portfolio = c.execute(sa.insert(pf).values(org_id=o.org_id, name=f"Core {o.tag}")
                                .returning(pf.c.id)).scalar_one()
        c.execute(sa.insert(table(PortfolioProject)),
                  [{"portfolio_id": o.portfolio, "project_id": p} for p in (o.apollo, o.borealis)])
        o.milestones = {r.external_id: r.id for r in c.execute(
            sa.select(M.c.id, M.c.external_id).where(M.c.org_id == o.org_id))}
        now = utcnow()
        c.execute(sa.insert(table(SyncRun)).values(
            org_id=o.org_id, source_id=o.jira, mode="incremental", status="ok",
            started_at=now - timedelta(minutes=6), finished_at=now - timedelta(minutes=5)))
    with db.session() as s:
        o.token = create_token(s, o.org_id, "read", name="dashboard")[0]


def make_settings(tmp_path: Path, **kw: Any) -> Settings:
    key = SecretStr(Fernet.generate_key().decode())
    return Settings(data_dir=tmp_path / "data", secret_key=key, _env_file=None, **kw)  # type: ignore[call-arg]


def sign_in(client: TestClient, token: str) -> None:
    r = client.post("/login", data={"token": token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text


def signed_in(client: TestClient, db: Database, o: Org, scope: str, page: str, name: str | None = None) -> str:
    """Sign in with a new token of ``scope`` (named ``name``); the CSRF token of ``page``'s forms."""
    with db.session() as s:
        token = create_token(s, o.org_id, scope, **({"name": name} if name else {}))[0]  # type: ignore[arg-type]
    sign_in(client, token)
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', client.get(page).text)
    assert found, f"no CSRF token on {page}"
    return found[1]


def charts(html: str) -> list[tuple[str, list[str]]]:
    """``(kind, [series names])`` of every chart on a page, in order. Each chart must be
    well-formed XML on its own, draw each series as one path and name it in its legend."""
    ns = "{http://www.w3.org/2000/svg}"
    out = []
    for block in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        root = ET.fromstring(block)  # noqa: S314 - our own output
        drawn = [el for el in root.iter() if el.get("data-series") is not None]
        assert all(el.tag in (f"{ns}path", f"{ns}polyline") for el in drawn), block
        series = [el.get("data-series") or "" for el in drawn]
        legend = {el.get("data-legend") for el in root.iter() if el.get("data-legend")}
        assert set(series) <= legend, f"every series has a legend entry: {series} vs {legend}"
        out.append((root.get("data-chart") or "", series))
    return out
