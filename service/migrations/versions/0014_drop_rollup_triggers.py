"""no triggers: the rollups and the worklogs' copy columns are kept by the store's own code

Why (issue 17): each rollup was written four times (a SQLite row trigger, a PostgreSQL statement
trigger and its PL/pgSQL, a rebuild, a scan), every SQLite connection had to register a Python
function before it could write a worklog, and the per-row triggers made deleting a source
superlinear on PostgreSQL. From this revision on the store maintains ``task_rollup``,
``task_day_rollup``, ``milestone_rollup``, ``workload_rollup``, ``worklog_rollup`` and the
worklog columns ``task_id``, ``task_project_id``, ``task_deleted_at``, ``started_day`` and
``author_rate`` itself, in SQLAlchemy Core (``service.store.rollups``).

Upgrade: drops every trigger revision 0013 has, 27 on each store (on ``organization``,
``person_rate``, ``task``, ``task_assignee``, ``task_milestone`` and ``worklog``; installed by
0003, 0004 and 0007-0011, on PostgreSQL two recreated by 0012), and on PostgreSQL the 25
``taskhub_`` functions they execute (seven redefined by 0012). The names are those of the frozen
files of those revisions and of the catalogue of a database migrated to 0013, which
``sql/0014_*.downgrade.sql`` holds. ``IF EXISTS``: a database that lost one by hand still
upgrades to the same end, no trigger at all. The rollup tables and the copy columns keep their
rows: the triggers kept them exact up to this transaction, and the store's code keeps them from here.

Downgrade: revision 0013's triggers back, from ``sql/0014_drop_rollup_triggers.<dialect>.
downgrade.sql`` (written by ``service/migrations/freeze.py capture``): first the rollups and the
copy columns are recomputed from the rows with the frozen rebuild statements of 0003-0011 (the
triggers only apply deltas, so they must start from exact figures, whatever the store left, e.g.
a slice not yet recomputed), then the functions and triggers are created exactly as 0013 had them.
On SQLite that rebuild, and every later worklog write, calls ``taskhub_local_day``, which
``migrations/env.py`` registers on the migration's connection (taskhub's own connections no
longer do: a SQLite database downgraded below 0014 needs the taskhub release of that revision).

Literal SQL, no application imports: a later change to the store cannot change what this does.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import re
from pathlib import Path

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


# What this revision drops, per dialect, grouped by the revision that installed it.
DROP: dict[str, tuple[str, ...]] = {
    'sqlite': (
        # 0003 (task_rollup, task_day_rollup)
        'DROP TRIGGER IF EXISTS task_rollup_insert',  # on task
        'DROP TRIGGER IF EXISTS task_rollup_update',  # on task
        'DROP TRIGGER IF EXISTS task_rollup_delete',  # on task
        # 0004 (milestone_rollup)
        'DROP TRIGGER IF EXISTS milestone_rollup_task_update',  # on task
        'DROP TRIGGER IF EXISTS milestone_rollup_task_delete',  # on task
        'DROP TRIGGER IF EXISTS milestone_rollup_link_insert',  # on task_milestone
        'DROP TRIGGER IF EXISTS milestone_rollup_link_delete',  # on task_milestone
        # 0007 (worklog.task_id, task_project_id, task_deleted_at)
        'DROP TRIGGER IF EXISTS worklog_task_link',  # on worklog
        'DROP TRIGGER IF EXISTS worklog_task_relink',  # on worklog
        'DROP TRIGGER IF EXISTS worklog_task_task_insert',  # on task
        'DROP TRIGGER IF EXISTS worklog_task_task_update',  # on task
        'DROP TRIGGER IF EXISTS worklog_task_task_delete',  # on task
        # 0008 (worklog.started_day, author_rate)
        'DROP TRIGGER IF EXISTS worklog_day_price',  # on worklog
        'DROP TRIGGER IF EXISTS worklog_day_reprice',  # on worklog
        'DROP TRIGGER IF EXISTS worklog_day_rate_insert',  # on person_rate
        'DROP TRIGGER IF EXISTS worklog_day_rate_update',  # on person_rate
        'DROP TRIGGER IF EXISTS worklog_day_rate_delete',  # on person_rate
        'DROP TRIGGER IF EXISTS worklog_day_zone',  # on organization
        # 0009 (worklog_rollup)
        'DROP TRIGGER IF EXISTS worklog_rollup_insert',  # on worklog
        'DROP TRIGGER IF EXISTS worklog_rollup_update',  # on worklog
        'DROP TRIGGER IF EXISTS worklog_rollup_delete',  # on worklog
        # 0011 (workload_rollup)
        'DROP TRIGGER IF EXISTS workload_rollup_task_insert',  # on task
        'DROP TRIGGER IF EXISTS workload_rollup_task_update',  # on task
        'DROP TRIGGER IF EXISTS workload_rollup_task_delete',  # on task
        'DROP TRIGGER IF EXISTS workload_rollup_link_insert',  # on task_assignee
        'DROP TRIGGER IF EXISTS workload_rollup_link_update',  # on task_assignee
        'DROP TRIGGER IF EXISTS workload_rollup_link_delete',  # on task_assignee
    ),
    'postgresql': (
        # the triggers first: a function still executed by one cannot be dropped
        # 0003 (task_rollup, task_day_rollup; reinstalled by 0010)
        'DROP TRIGGER IF EXISTS task_rollup_insert ON task',
        'DROP TRIGGER IF EXISTS task_rollup_update ON task',
        'DROP TRIGGER IF EXISTS task_rollup_delete ON task',
        # 0004 (milestone_rollup; reinstalled by 0010)
        'DROP TRIGGER IF EXISTS milestone_rollup_task_update ON task',
        'DROP TRIGGER IF EXISTS milestone_rollup_task_delete ON task',
        'DROP TRIGGER IF EXISTS milestone_rollup_link_insert ON task_milestone',
        'DROP TRIGGER IF EXISTS milestone_rollup_link_delete ON task_milestone',
        # 0007 (worklog.task_id, task_project_id, task_deleted_at; reinstalled by 0010)
        'DROP TRIGGER IF EXISTS worklog_task_link ON worklog',
        'DROP TRIGGER IF EXISTS worklog_task_relink ON worklog',  # recreated by 0012
        'DROP TRIGGER IF EXISTS worklog_task_task_insert ON task',
        'DROP TRIGGER IF EXISTS worklog_task_task_update ON task',
        'DROP TRIGGER IF EXISTS worklog_task_task_delete ON task',
        # 0008 (worklog.started_day, author_rate)
        'DROP TRIGGER IF EXISTS worklog_day_price ON worklog',
        'DROP TRIGGER IF EXISTS worklog_day_reprice ON worklog',  # recreated by 0012
        'DROP TRIGGER IF EXISTS worklog_day_rate_insert ON person_rate',
        'DROP TRIGGER IF EXISTS worklog_day_rate_update ON person_rate',
        'DROP TRIGGER IF EXISTS worklog_day_rate_delete ON person_rate',
        'DROP TRIGGER IF EXISTS worklog_day_zone ON organization',
        # 0009 (worklog_rollup)
        'DROP TRIGGER IF EXISTS worklog_rollup_insert ON worklog',
        'DROP TRIGGER IF EXISTS worklog_rollup_update ON worklog',
        'DROP TRIGGER IF EXISTS worklog_rollup_delete ON worklog',
        # 0011 (workload_rollup)
        'DROP TRIGGER IF EXISTS workload_rollup_task_insert ON task',
        'DROP TRIGGER IF EXISTS workload_rollup_task_update ON task',
        'DROP TRIGGER IF EXISTS workload_rollup_task_delete ON task',
        'DROP TRIGGER IF EXISTS workload_rollup_link_insert ON task_assignee',
        'DROP TRIGGER IF EXISTS workload_rollup_link_update ON task_assignee',
        'DROP TRIGGER IF EXISTS workload_rollup_link_delete ON task_assignee',
        # their functions, in the same order
        'DROP FUNCTION IF EXISTS taskhub_task_rollup_insert()',
        'DROP FUNCTION IF EXISTS taskhub_task_rollup_update()',
        'DROP FUNCTION IF EXISTS taskhub_task_rollup_delete()',
        'DROP FUNCTION IF EXISTS taskhub_milestone_rollup_task_update()',
        'DROP FUNCTION IF EXISTS taskhub_milestone_rollup_task_delete()',
        'DROP FUNCTION IF EXISTS taskhub_milestone_rollup_link_insert()',
        'DROP FUNCTION IF EXISTS taskhub_milestone_rollup_link_delete()',
        'DROP FUNCTION IF EXISTS taskhub_worklog_task_row()',  # for _link and _relink; redefined by 0012
        'DROP FUNCTION IF EXISTS taskhub_worklog_task_task_insert()',  # redefined by 0012
        'DROP FUNCTION IF EXISTS taskhub_worklog_task_task_update()',
        'DROP FUNCTION IF EXISTS taskhub_worklog_task_task_delete()',
        'DROP FUNCTION IF EXISTS taskhub_worklog_day_row()',  # for _price and _reprice; redefined by 0012
        'DROP FUNCTION IF EXISTS taskhub_worklog_day_rate_insert()',  # redefined by 0012
        'DROP FUNCTION IF EXISTS taskhub_worklog_day_rate_update()',  # redefined by 0012
        'DROP FUNCTION IF EXISTS taskhub_worklog_day_rate_delete()',  # redefined by 0012
        'DROP FUNCTION IF EXISTS taskhub_worklog_day_zone()',  # redefined by 0012
        'DROP FUNCTION IF EXISTS taskhub_worklog_rollup_insert()',
        'DROP FUNCTION IF EXISTS taskhub_worklog_rollup_update()',
        'DROP FUNCTION IF EXISTS taskhub_worklog_rollup_delete()',
        'DROP FUNCTION IF EXISTS taskhub_workload_rollup_task_insert()',
        'DROP FUNCTION IF EXISTS taskhub_workload_rollup_task_update()',
        'DROP FUNCTION IF EXISTS taskhub_workload_rollup_task_delete()',
        'DROP FUNCTION IF EXISTS taskhub_workload_rollup_link_insert()',
        'DROP FUNCTION IF EXISTS taskhub_workload_rollup_link_update()',
        'DROP FUNCTION IF EXISTS taskhub_workload_rollup_link_delete()',
    ),
}


# The downgrade's statements, frozen as literal SQL per dialect in sql/<this file>.<dialect>.downgrade.sql.
_SQL = Path(__file__).resolve().parent / 'sql'


def _run_frozen(direction: str) -> None:
    conn = op.get_bind()
    text = (_SQL / f'{Path(__file__).stem}.{conn.dialect.name}.{direction}.sql').read_text()
    for statement in re.split(r'^-- statement \d+ .*\n', text, flags=re.MULTILINE)[1:]:
        conn.exec_driver_sql(statement.strip().removesuffix(';'))


def upgrade() -> None:
    conn = op.get_bind()
    for statement in DROP[conn.dialect.name]:
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    _run_frozen('downgrade')  # rebuild the rollups and copy columns, then revision 0013's functions and triggers
