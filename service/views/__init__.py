"""Portfolio views (progress, budget, milestones, flow, workload, risk, quality) as defined in METRICS.md.

``formulas`` holds the pure formulas; ``queries`` the SQL aggregates; one module per
view assembles a response. ``compute_view`` is the entry point the API and the
dashboard use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from service.db import Database
from service.views.budget import budget_view
from service.views.csvout import to_csv, view_rows
from service.views.flow import flow_view
from service.views.milestones import milestones_view
from service.views.progress import progress_view
from service.views.quality import quality_view
from service.views.risk import UnsupportedParameter, risk_view
from service.views.selection import GROUP_BY, NotFound, Selection, ViewParams, resolve_selection
from service.views.workload import workload_view

__all__ = [
    "VIEWS",
    "UnsupportedParameter",
    "GROUP_BY",
    "NotFound",
    "Selection",
    "ViewParams",
    "compute_view",
    "compute_view_conn",
    "resolve_selection",
    "to_csv",
    "view_rows",
    "view_transaction",
]

VIEWS: dict[str, Callable[[Connection, Selection], dict[str, Any]]] = {
    "progress": progress_view,
    "budget": budget_view,
    "milestones": milestones_view,
    "flow": flow_view,
    "workload": workload_view,
    "risk": risk_view,
    "quality": quality_view,
}


def compute_view_conn(
    conn: Connection, org_id: int, name: str, params: ViewParams, *, now: datetime | None = None
) -> dict[str, Any]:
    sel = resolve_selection(conn, org_id, params, now=now)
    return VIEWS[name](conn, sel)


def compute_view(
    db: Database, org_id: int, name: str, params: ViewParams, *, now: datetime | None = None
) -> dict[str, Any]:
    """Compute one view for the organization ``org_id``. Raises ``NotFound`` for a filter id
    outside the organization and ``KeyError`` for an unknown view name."""
    if name not in VIEWS:
        raise KeyError(name)
    with view_transaction(db) as conn:
        return compute_view_conn(conn, org_id, name, params, now=now)


@contextmanager
def view_transaction(db: Database) -> Iterator[Connection]:
    """A read transaction as the views run in (also bench/views.py's per-signal timings)."""
    with db.read() as conn:
        if db.dialect == "postgresql":
            # One consistent snapshot for all the view's queries. JIT compilation costs more than it
            # saves on queries of this size, and the day-by-day GROUP BYs want to hash in memory.
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.exec_driver_sql("SET LOCAL jit = off")
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        yield conn
