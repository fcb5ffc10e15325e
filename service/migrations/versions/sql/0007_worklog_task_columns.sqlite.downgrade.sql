-- Migration 0007_worklog_task_columns, downgrade, sqlite: the statements it executed through the store code
-- (service.store.worklog_task.uninstall) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_link;

-- statement 2 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_relink;

-- statement 3 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_task_insert;

-- statement 4 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_task_update;

-- statement 5 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_task_delete;
