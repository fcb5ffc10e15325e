"""Shared pieces of the views' SQL: the tables, small expression helpers, the group swap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from service.tables import (
    Change,
    Milestone,
    Project,
    Task,
    TaskAssignee,
    TaskMilestone,
    Worklog,
)
from service.views.selection import Selection, table

__all__ = [
    "T",
    "W",
    "C",
    "M",
    "PR",
    "TA",
    "TM",
    "Row",
    "num",
    "flag",
    "sum_if",
    "key_or_null",
    "with_group",
    "parallel_plans",
]

T = table(Task)
W = table(Worklog)
C = table(Change)
M = table(Milestone)
PR = table(Project)
TA = table(TaskAssignee)
TM = table(TaskMilestone)

Row = dict[str, Any]


def num(v: Any) -> float:
    return float(v) if v is not None else 0.0


def flag(cond: Any) -> Any:
    return sa.case((cond, 1), else_=0)


def sum_if(cond: Any, value: Any) -> Any:
    return sa.func.sum(sa.case((cond, value)))


def key_or_null(key: Any) -> Any:
    return key if key is not None else sa.literal(None, sa.Integer)


def with_group(sel: Selection, by: Any) -> Selection:
    if by == sel.group_by:
        return sel
    return replace(sel, params=replace(sel.params, group_by=by))


@contextmanager
def parallel_plans(conn: Any, sel: Selection) -> Iterator[None]:
    """PostgreSQL: plan the statements inside as if parallel workers cost nothing to start or to
    hear from. The planner guesses a grouping by local day to have as many groups as rows (a
    ``timestamptz::date`` has no statistics), so it keeps the costed worklog pass on one core: with
    workers, the costed worklog pass of ``bench/views.py`` takes half the time. Small tables
    stay serial anyway (``min_parallel_table_scan_size``). Restored afterwards: other views'
    queries were measured slower with these settings. (Not on an error: a failed statement
    aborts the transaction, and its SET LOCALs end with it.)"""
    if sel.dialect != "postgresql":
        yield
        return
    # One round trip each way: the previous values are read as the new ones are set.
    before = conn.exec_driver_sql(
        "SELECT current_setting('parallel_setup_cost'), current_setting('parallel_tuple_cost'), "
        "set_config('parallel_setup_cost', '0', true), set_config('parallel_tuple_cost', '0', true)"
    ).one()
    yield
    conn.exec_driver_sql(
        "SELECT set_config('parallel_setup_cost', %(setup)s, true), set_config('parallel_tuple_cost', %(tuple)s, true)",
        {"setup": before[0], "tuple": before[1]},
    )
