"""64-bit keys on PostgreSQL: every key and every column holding one

Why: a 4-byte ``serial`` stops at 2^31 - 1. The tables that grow without bound get there in a
long-lived deployment: ``inbox_event`` (one row per delivery, ids never reused after the inbox is
pruned), ``change`` (one row per field change), ``worklog``, ``task``, ``sync_run`` (one per
source per poll: 300 sources polled every minute pass 2^31 in about 14 years, and the sequence
does not care that old runs were deleted), and with them every column referencing their keys
(``task_assignee.task_id``, ``task_milestone.task_id``, ``worklog.task_id``, the rollups' ids).

The small tables (``organization``, ``api_token``, ``source``, ``project``, ``portfolio``,
``person``, ``person_identity``, ``person_rate``, ``milestone``, ``sync_state``) are widened too,
with every column referencing them. Not because they would overflow, but so that every id in the
schema has the same range: the API then bounds every id parameter alike (``service.ids``: one
annotated type, 1..2^63-1), an id that passes it never fails in the database, and no route has
to know which column its parameter ends in. What it costs: up to 4 bytes per id column per row
(often none, where alignment padding was already there), and one rewrite of each table here.

What it does: one ``ALTER TABLE … ALTER COLUMN … TYPE bigint`` per table (all its id columns in
one statement, so each table and its indexes are rewritten once; foreign keys are re-checked),
then ``ALTER SEQUENCE … AS bigint`` (a ``serial``'s sequence keeps its 4-byte type and maximum
when its column changes). It holds an ACCESS EXCLUSIVE lock on each table until the migration's
transaction commits: run it in a maintenance window on a large database. The trigger functions
(``service.store``) read ids into table row types and ``NEW``/``OLD`` only, none into an
``integer`` variable, so they need no change; but PostgreSQL refuses to retype a column named in
a trigger's ``WHEN`` clause, so the two such triggers on ``worklog`` (``worklog_day_reprice``,
``worklog_task_relink``, as revision 0011 left them) are dropped and created again around it;
and the seven functions that pass an organization's or a source's id as the second key of a
two-key advisory lock (an ``int4``: ``pg_advisory_xact_lock(int, bigint)`` does not exist) are
replaced by the same bodies taking the id modulo 2^31 (the same key for every id below it).
Literal DDL: it imports no application code, so a later change to the models or the trigger code
cannot change what it does. SQLite needs nothing: its keys are 64-bit rowids already.

Downgrade: back to ``integer`` (the lock functions stay: they work on either type); it fails (and changes nothing, in one transaction) once any id
or sequence has passed 2^31 - 1, because such rows cannot be kept in the old schema.

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# Every column holding a key, per table (as of revision 0011).
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    'organization': ('id',),
    'api_token': ('id', 'org_id'),
    'source': ('id', 'org_id'),
    'project': ('id', 'org_id', 'source_id'),
    'portfolio': ('id', 'org_id'),
    'portfolio_project': ('portfolio_id', 'project_id'),
    'person': ('id', 'org_id'),
    'person_identity': ('id', 'org_id', 'person_id'),
    'person_rate': ('id', 'org_id', 'person_id'),
    'milestone': ('id', 'org_id', 'source_id', 'project_id'),
    'task': ('id', 'org_id', 'source_id', 'project_id'),
    'task_assignee': ('task_id', 'person_id'),
    'task_milestone': ('task_id', 'milestone_id'),
    'worklog': ('id', 'org_id', 'source_id', 'person_id', 'task_id', 'task_project_id'),
    'change': ('id', 'org_id', 'source_id'),
    'inbox_event': ('id', 'org_id', 'source_id'),
    'sync_state': ('id', 'source_id'),
    'sync_run': ('id', 'org_id', 'source_id'),
    'task_rollup': ('org_id', 'project_id', 'source_id'),
    'task_day_rollup': ('org_id', 'source_id'),
    'milestone_rollup': ('milestone_id', 'org_id', 'source_id'),
    'workload_rollup': ('org_id', 'project_id', 'source_id', 'person_id'),
    'worklog_rollup': ('org_id', 'project_id', 'source_id'),
}

# The ``serial`` sequences behind the ``id`` columns above.
SEQUENCES = tuple(f'{table}_id_seq' for table, columns in ID_COLUMNS.items() if 'id' in columns)

# Triggers whose WHEN clause names a retyped column (PostgreSQL then refuses ALTER COLUMN TYPE),
# as revision 0011 installed them (service.store.worklog_day, service.store.worklog_task).
WHEN_TRIGGERS: dict[str, tuple[tuple[str, str], ...]] = {
    'worklog': (
        ('worklog_day_reprice',
         'CREATE TRIGGER worklog_day_reprice BEFORE UPDATE OF org_id, started_at, person_id ON worklog '
         'FOR EACH ROW WHEN (OLD.org_id IS DISTINCT FROM NEW.org_id OR OLD.started_at IS DISTINCT FROM '
         'NEW.started_at OR OLD.person_id IS DISTINCT FROM NEW.person_id) '
         'EXECUTE FUNCTION taskhub_worklog_day_row()'),
        ('worklog_task_relink',
         'CREATE TRIGGER worklog_task_relink BEFORE UPDATE OF source_id, task_external_id ON worklog '
         'FOR EACH ROW WHEN (OLD.source_id IS DISTINCT FROM NEW.source_id OR OLD.task_external_id IS '
         'DISTINCT FROM NEW.task_external_id) EXECUTE FUNCTION taskhub_worklog_task_row()'),
    ),
}


# The trigger functions that take an id as the second key of an advisory lock, whose 2-int4 form
# has no (int, bigint) variant: the same bodies as revision 0011 installed (service.store.worklog_day,
# service.store.worklog_task), the key now taken modulo 2^31 (unchanged for every id below it).
LOCK_FUNCTIONS: tuple[str, ...] = (
    (
        'CREATE OR REPLACE FUNCTION taskhub_worklog_day_row() RETURNS trigger LANGUAGE plpgsql AS $fn$\n'
        'BEGIN\n'
        '  PERFORM pg_advisory_xact_lock_shared(2003592289, mod(NEW.org_id, 2147483648)::int);\n'
        '  SELECT (NEW.started_at AT TIME ZONE o.timezone)::date INTO NEW.started_day FROM organization '
        'o WHERE o.id = NEW.org_id;\n'
        '  NEW.author_rate := (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = NEW.person_id'
        ' AND r.effective_from <= NEW.started_day ORDER BY r.effective_from DESC LIMIT 1);\n'
        '  RETURN NEW;\n'
        'END\n'
        '$fn$'
    ),
    (
        'CREATE OR REPLACE FUNCTION taskhub_worklog_day_rate_insert() RETURNS trigger LANGUAGE plpgsql '
        'SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$\n'
        'BEGIN\n'
        '  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT '
        'org_id AS o FROM (SELECT org_id, person_id FROM new_rows) c ORDER BY 1) x;\n'
        '  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id'
        ' = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) '
        'WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM new_rows) c) AND '
        'w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = '
        'w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);\n'
        '  RETURN NULL;\n'
        'END\n'
        '$fn$'
    ),
    (
        'CREATE OR REPLACE FUNCTION taskhub_worklog_day_rate_update() RETURNS trigger LANGUAGE plpgsql '
        'SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$\n'
        'BEGIN\n'
        '  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT '
        'org_id AS o FROM (SELECT org_id, person_id FROM old_rows UNION SELECT org_id, person_id FROM '
        'new_rows) c ORDER BY 1) x;\n'
        '  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id'
        ' = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) '
        'WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM old_rows UNION '
        'SELECT org_id, person_id FROM new_rows) c) AND w.author_rate IS DISTINCT FROM (SELECT '
        'r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= '
        'w.started_day ORDER BY r.effective_from DESC LIMIT 1);\n'
        '  RETURN NULL;\n'
        'END\n'
        '$fn$'
    ),
    (
        'CREATE OR REPLACE FUNCTION taskhub_worklog_day_rate_delete() RETURNS trigger LANGUAGE plpgsql '
        'SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$\n'
        'BEGIN\n'
        '  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT '
        'org_id AS o FROM (SELECT org_id, person_id FROM old_rows) c ORDER BY 1) x;\n'
        '  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id'
        ' = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) '
        'WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM old_rows) c) AND '
        'w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = '
        'w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);\n'
        '  RETURN NULL;\n'
        'END\n'
        '$fn$'
    ),
    (
        'CREATE OR REPLACE FUNCTION taskhub_worklog_day_zone() RETURNS trigger LANGUAGE plpgsql AS $fn$\n'
        'BEGIN\n'
        '  PERFORM pg_advisory_xact_lock(2003592289, mod(NEW.id, 2147483648)::int);\n'
        '  UPDATE worklog w SET started_day = (w.started_at AT TIME ZONE NEW.timezone)::date WHERE '
        'w.org_id = NEW.id AND w.started_day IS DISTINCT FROM (w.started_at AT TIME ZONE '
        'NEW.timezone)::date;\n'
        '  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id'
        ' = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) '
        'WHERE w.org_id = NEW.id AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM '
        'person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY '
        'r.effective_from DESC LIMIT 1);\n'
        '  RETURN NULL;\n'
        'END\n'
        '$fn$'
    ),
    (
        'CREATE OR REPLACE FUNCTION taskhub_worklog_task_row() RETURNS trigger LANGUAGE plpgsql AS $fn$\n'
        'BEGIN\n'
        '  SELECT t.id, t.project_id, t.deleted_at INTO NEW.task_id, NEW.task_project_id, '
        'NEW.task_deleted_at FROM task t WHERE t.source_id = NEW.source_id AND t.external_id = '
        'NEW.task_external_id FOR SHARE;\n'
        '  IF NOT FOUND THEN\n'
        '    -- a task of this key may be in an insert not yet committed: wait for those of the source\n'
        '    PERFORM pg_advisory_xact_lock(2003596385, mod(NEW.source_id, 2147483648)::int);\n'
        '    SELECT t.id, t.project_id, t.deleted_at INTO NEW.task_id, NEW.task_project_id, '
        'NEW.task_deleted_at FROM task t WHERE t.source_id = NEW.source_id AND t.external_id = '
        'NEW.task_external_id FOR SHARE;\n'
        '  END IF;\n'
        '  RETURN NEW;\n'
        'END\n'
        '$fn$'
    ),
    (
        'CREATE OR REPLACE FUNCTION taskhub_worklog_task_task_insert() RETURNS trigger LANGUAGE plpgsql '
        'SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$\n'
        'BEGIN\n'
        '  PERFORM pg_advisory_xact_lock_shared(2003596385, mod(s, 2147483648)::int) FROM (SELECT '
        'DISTINCT source_id AS s FROM new_rows ORDER BY 1) x;\n'
        '  UPDATE worklog w SET task_id = n.id, task_project_id = n.project_id, task_deleted_at = '
        'n.deleted_at FROM new_rows n WHERE w.source_id = n.source_id AND w.task_external_id = '
        'n.external_id;\n'
        '  RETURN NULL;\n'
        'END\n'
        '$fn$'
    ),
)

def _retype(sql_type: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite: INTEGER keys are 64-bit rowids
    for table, columns in ID_COLUMNS.items():
        triggers = WHEN_TRIGGERS.get(table, ())
        for name, _ in triggers:
            op.execute(f'DROP TRIGGER {name} ON "{table}"')
        alters = ', '.join(f'ALTER COLUMN {c} TYPE {sql_type}' for c in columns)
        op.execute(f'ALTER TABLE "{table}" {alters}')
        for _, create in triggers:
            op.execute(create)
    for sequence in SEQUENCES:
        op.execute(f'ALTER SEQUENCE {sequence} AS {sql_type}')


def upgrade() -> None:
    _retype('bigint')
    if op.get_bind().dialect.name == 'postgresql':
        for create in LOCK_FUNCTIONS:
            op.execute(create)


def downgrade() -> None:
    _retype('integer')
