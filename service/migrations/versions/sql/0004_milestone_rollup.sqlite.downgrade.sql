-- Migration 0004_milestone_rollup, downgrade, sqlite: the statements it executed through the store code
-- (service.store.rollup.uninstall(tasks=False)) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.rollup.uninstall(tasks=False))
DROP TRIGGER IF EXISTS milestone_rollup_link_insert;

-- statement 2 (service.store.rollup.uninstall(tasks=False))
DROP TRIGGER IF EXISTS milestone_rollup_link_delete;

-- statement 3 (service.store.rollup.uninstall(tasks=False))
DROP TRIGGER IF EXISTS milestone_rollup_task_update;

-- statement 4 (service.store.rollup.uninstall(tasks=False))
DROP TRIGGER IF EXISTS milestone_rollup_task_delete;
