-- Migration 0003_task_rollups, downgrade, postgresql: the statements it executed through the store code
-- (service.store.rollup.uninstall(milestones=False)) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.rollup.uninstall(milestones=False))
DROP TRIGGER IF EXISTS task_rollup_insert ON task;

-- statement 2 (service.store.rollup.uninstall(milestones=False))
DROP FUNCTION IF EXISTS taskhub_task_rollup_insert();

-- statement 3 (service.store.rollup.uninstall(milestones=False))
DROP TRIGGER IF EXISTS task_rollup_update ON task;

-- statement 4 (service.store.rollup.uninstall(milestones=False))
DROP FUNCTION IF EXISTS taskhub_task_rollup_update();

-- statement 5 (service.store.rollup.uninstall(milestones=False))
DROP TRIGGER IF EXISTS task_rollup_delete ON task;

-- statement 6 (service.store.rollup.uninstall(milestones=False))
DROP FUNCTION IF EXISTS taskhub_task_rollup_delete();
