-- Migration 0009_worklog_rollup, downgrade, postgresql: the statements it executed through the store code
-- (service.store.worklog_rollup.uninstall) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_rollup.uninstall)
DROP TRIGGER IF EXISTS worklog_rollup_insert ON worklog;

-- statement 2 (service.store.worklog_rollup.uninstall)
DROP TRIGGER IF EXISTS worklog_rollup_update ON worklog;

-- statement 3 (service.store.worklog_rollup.uninstall)
DROP TRIGGER IF EXISTS worklog_rollup_delete ON worklog;

-- statement 4 (service.store.worklog_rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_rollup_insert();

-- statement 5 (service.store.worklog_rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_rollup_update();

-- statement 6 (service.store.worklog_rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_rollup_delete();
