"""The few reads the dashboard needs beside the views: the organization, its portfolios,
projects, source health and people's identities. Every query filters by ``org_id``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.tables import (
    InboxEvent,
    Organization,
    PersonIdentity,
    Portfolio,
    PortfolioProject,
    Project,
    Source,
    SyncRun,
    table,
    utcnow,
)

__all__ = [
    "OrgInfo",
    "ProjectInfo",
    "org_info",
    "portfolios",
    "projects",
    "project",
    "source_health",
    "person_tools",
    "table",
]



PR, S, SR, IE = table(Project), table(Source), table(SyncRun), table(InboxEvent)


@dataclass(frozen=True)
class OrgInfo:
    id: int
    name: str
    timezone: str
    currency: str


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    name: str
    key: str | None
    url: str | None
    source_id: int | None
    source_name: str | None
    source_kind: str | None
    budget: float | None
    budget_currency: str | None
    planned_start: date | None
    planned_end: date | None
    hourly_rate: float | None


def org_info(conn: Connection, org_id: int) -> OrgInfo | None:
    org = table(Organization)
    row = conn.execute(
        sa.select(org.c.id, org.c.name, org.c.timezone, org.c.currency).where(org.c.id == org_id)
    ).first()
    return None if row is None else OrgInfo(row.id, row.name, row.timezone, row.currency)


def portfolios(conn: Connection, org_id: int) -> list[tuple[int, str]]:
    P = table(Portfolio)
    return [
        (r.id, r.name)
        for r in conn.execute(
            sa.select(P.c.id, P.c.name).where(P.c.org_id == org_id).order_by(P.c.name, P.c.id)
        )
    ]


def _project_query(org_id: int) -> Any:
    return (
        sa.select(
            PR.c.id,
            PR.c.name,
            PR.c.key,
            PR.c.url,
            PR.c.source_id,
            S.c.name.label("source_name"),
            S.c.kind.label("source_kind"),
            PR.c.budget_amount,
            PR.c.budget_currency,
            PR.c.planned_start,
            PR.c.planned_end,
            PR.c.hourly_rate,
        )
        .select_from(PR.outerjoin(S, S.c.id == PR.c.source_id))
        .where(PR.c.org_id == org_id, PR.c.deleted_at.is_(None))
    )


def _info(r: Any) -> ProjectInfo:
    def f(v: Any) -> float | None:
        return None if v is None else float(v)

    return ProjectInfo(
        r.id,
        r.name or r.key or f"project {r.id}",
        r.key,
        r.url,
        r.source_id,
        r.source_name,
        r.source_kind,
        f(r.budget_amount),
        r.budget_currency,
        r.planned_start,
        r.planned_end,
        f(r.hourly_rate),
    )


def projects(conn: Connection, org_id: int, portfolio_id: int | None = None) -> list[ProjectInfo]:
    q = _project_query(org_id)
    if portfolio_id is not None:
        PP = table(PortfolioProject)
        q = q.where(
            PR.c.id.in_(sa.select(PP.c.project_id).where(PP.c.portfolio_id == portfolio_id))
        )
    return [_info(r) for r in conn.execute(q.order_by(PR.c.name, PR.c.id))]


def project(conn: Connection, org_id: int, project_id: int) -> ProjectInfo | None:
    row = conn.execute(_project_query(org_id).where(PR.c.id == project_id)).first()
    return None if row is None else _info(row)


def source_health(
    conn: Connection, org_id: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per source: status, last successful sync, lag, the last run, webhook traffic."""
    now = now or utcnow()
    sources = list(
        conn.execute(
            sa.select(S.c.id, S.c.name, S.c.kind, S.c.enabled, S.c.status, S.c.status_reason)
            .where(S.c.org_id == org_id)
            .order_by(S.c.name, S.c.id)
        )
    )
    if not sources:
        return []
    ids = [s.id for s in sources]
    last_ok: dict[int, datetime] = dict(
        conn.execute(
            sa.select(SR.c.source_id, sa.func.max(SR.c.finished_at))
            .where(SR.c.org_id == org_id, SR.c.source_id.in_(ids), SR.c.status == "ok")
            .group_by(SR.c.source_id)
        ).all()
    )
    latest = (
        sa.select(SR.c.source_id, sa.func.max(SR.c.id).label("mid"))
        .where(SR.c.org_id == org_id, SR.c.source_id.in_(ids))
        .group_by(SR.c.source_id)
        .subquery()
    )
    last_run = {
        r.source_id: r
        for r in conn.execute(
            sa.select(SR.c.source_id, SR.c.status, SR.c.mode, SR.c.started_at, SR.c.error).join(
                latest, latest.c.mid == SR.c.id
            )
        )
    }
    hooks: dict[int, datetime] = dict(
        conn.execute(
            sa.select(IE.c.source_id, sa.func.max(IE.c.received_at))
            .where(IE.c.org_id == org_id, IE.c.source_id.in_(ids))
            .group_by(IE.c.source_id)
        ).all()
    )
    stuck: dict[int, int] = dict(
        conn.execute(
            sa.select(IE.c.source_id, sa.func.count())
            .where(
                IE.c.org_id == org_id,
                IE.c.source_id.in_(ids),
                IE.c.status.in_(("failed", "parked")),
            )
            .group_by(IE.c.source_id)
        ).all()
    )
    out = []
    for s in sources:
        ok_at = _aware(last_ok.get(s.id))
        run = last_run.get(s.id)
        out.append(
            {
                "id": s.id,
                "name": s.name,
                "kind": s.kind,
                "enabled": bool(s.enabled),
                "status": s.status,
                "status_reason": s.status_reason,
                "last_success_at": ok_at,
                "lag_seconds": (now - ok_at).total_seconds() if ok_at else None,
                "last_run_status": run.status if run else None,
                "last_run_mode": run.mode if run else None,
                "last_run_at": _aware(run.started_at) if run else None,
                "last_error": run.error if run else None,
                "last_webhook_at": _aware(hooks.get(s.id)),
                "failed_events": int(stuck.get(s.id, 0)),
            }
        )
    return out


def _aware(v: datetime | None) -> datetime | None:
    if v is None or v.tzinfo is not None:
        return v
    return v.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def person_tools(conn: Connection, org_id: int) -> dict[int, list[tuple[str, str]]]:
    """``person id → [(tool, name in that tool)]``: one human across Jira and Trello."""
    PI = table(PersonIdentity)
    out: dict[int, list[tuple[str, str]]] = {}
    for r in conn.execute(
        sa.select(PI.c.person_id, PI.c.tool, PI.c.external_id, PI.c.display_name)
        .where(PI.c.org_id == org_id)
        .order_by(PI.c.person_id, PI.c.tool, PI.c.id)
    ):
        out.setdefault(r.person_id, []).append((r.tool, r.display_name or r.external_id))
    return out
