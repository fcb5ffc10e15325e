"""Rollups the store keeps in the same transaction as every write (``service/store/rollups.py``)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.tables.base import ID


class TaskRollup(SQLModel, table=True):
    """Alive tasks summed per (organization, project, source, status category, class): kept by
    the store in the same transaction as the rows (``service.store.rollups``).

    ``project_id`` 0: no project. ``cls``: 0 never counted (epic, milestone marker), 1 counted,
    2 archived (counted where the source keeps archived cards as done). ``created_hi``: the
    latest creation time ever added to the row (an upper bound; it never decreases). No foreign
    keys: the rows follow the tasks, deleted when their count reaches zero."""

    __tablename__ = "task_rollup"
    __table_args__ = {"sqlite_with_rowid": False}  # SQLite: one b-tree, keyed by the primary key
    org_id: int = Field(primary_key=True, sa_type=ID)
    project_id: int = Field(primary_key=True, sa_type=ID)
    source_id: int = Field(primary_key=True, sa_type=ID)
    status_category: str = Field(primary_key=True, max_length=20)
    cls: int = Field(primary_key=True)
    n: int = 0
    pts_n: int = 0
    pts: float = 0.0
    sec_n: int = 0
    sec: int = Field(default=0, sa_type=sa.BigInteger)
    time_n: int = 0
    spent: int = Field(default=0, sa_type=sa.BigInteger)
    remaining: int = Field(default=0, sa_type=sa.BigInteger)
    completed_n: int = 0  # tasks with a completion time (of done ones: flow's "completed known")
    # Progress's time gaps (METRICS: percent complete by time), kept for every status and read
    # for the open ones: the tasks with neither a remaining figure nor an original estimate, and
    # Σ original estimate of the tasks without a remaining figure (it stands in for that figure).
    untimed_n: int = 0
    stand_in: int = Field(default=0, sa_type=sa.BigInteger)
    created_hi: datetime | None = None


class TaskDayRollup(SQLModel, table=True):
    """Counted tasks (``cls`` 1 and 2 of ``TaskRollup``) per UTC hour of creation (``kind`` "c")
    and of completion for done tasks (``kind`` "d"); ``known`` false: no such time (the bucket
    is then the epoch). Hours, not days: the organization's zone is applied when read, so a
    zone change needs no rebuild. Kept by the store (``service.store.rollups``)."""

    __tablename__ = "task_day_rollup"
    __table_args__ = {"sqlite_with_rowid": False}
    org_id: int = Field(primary_key=True, sa_type=ID)
    source_id: int = Field(primary_key=True, sa_type=ID)
    cls: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=1)
    known: bool = Field(primary_key=True)
    bucket: datetime = Field(primary_key=True)
    n: int = 0


class MilestoneRollup(SQLModel, table=True):
    """Alive tasks linked to each milestone, per class (see ``TaskRollup``), and the done ones:
    kept by the store (``service.store.rollups``)."""

    __tablename__ = "milestone_rollup"
    __table_args__ = (sa.Index("ix_milestone_rollup_org", "org_id"), {"sqlite_with_rowid": False})
    milestone_id: int = Field(primary_key=True, sa_type=ID)
    cls: int = Field(primary_key=True)
    org_id: int = Field(sa_type=ID)
    source_id: int = Field(sa_type=ID)
    tasks: int = 0
    done: int = 0


class WorkloadRollup(SQLModel, table=True):
    """Open tasks (alive, not done, not epics nor milestone markers) summed per (organization,
    project, source, due date, class, assignee, share count): kept by the store
    (``service.store.rollups``). A task is in ``shares`` rows, one per
    assignee, or in one row of person 0 (``shares`` 1) when it has none. ``project_id`` 0: no
    project; ``due_date`` 9999-12-31: no due date; ``cls`` as in ``TaskRollup`` (1 counted, 2
    archived). No foreign keys: the rows follow the tasks, deleted when their count reaches zero."""

    __tablename__ = "workload_rollup"
    __table_args__ = {"sqlite_with_rowid": False}
    org_id: int = Field(primary_key=True, sa_type=ID)
    project_id: int = Field(primary_key=True, sa_type=ID)
    source_id: int = Field(primary_key=True, sa_type=ID)
    due_date: date = Field(primary_key=True)
    cls: int = Field(primary_key=True)
    person_id: int = Field(primary_key=True, sa_type=ID)
    shares: int = Field(primary_key=True)
    n: int = 0
    points: float = 0.0
    seconds: int = Field(default=0, sa_type=sa.BigInteger)


class WorklogRollup(SQLModel, table=True):
    """Alive worklogs of stored, alive tasks summed per (organization, local day, project,
    source): kept by the store in the same transaction as the rows
    (``service.store.rollups``). ``project_id`` 0: the task has no project. ``rated``:
    Σ seconds × the author's rate that day, over the worklogs that have one; ``unrated``: Σ
    seconds of the others (priced when read, at the project's or the organization's rate).
    ``started_hi``: the latest start ever added to the row (an upper bound; it never
    decreases). No foreign keys: the rows follow the worklogs, deleted when their count reaches
    zero."""

    __tablename__ = "worklog_rollup"
    __table_args__ = {"sqlite_with_rowid": False}  # SQLite: one b-tree, in order of days
    org_id: int = Field(primary_key=True, sa_type=ID)
    day: date = Field(primary_key=True)
    project_id: int = Field(primary_key=True, sa_type=ID)
    source_id: int = Field(primary_key=True, sa_type=ID)
    n: int = 0
    seconds: int = Field(default=0, sa_type=sa.BigInteger)
    rated: float = 0.0
    unrated: int = Field(default=0, sa_type=sa.BigInteger)
    started_hi: datetime | None = None
