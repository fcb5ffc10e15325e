-- Migration 0007_worklog_task_columns, downgrade, postgresql: the statements it executed through the store code
-- (service.store.worklog_task.uninstall) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_link ON worklog;

-- statement 2 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_relink ON worklog;

-- statement 3 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_task_insert ON task;

-- statement 4 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_task_update ON task;

-- statement 5 (service.store.worklog_task.uninstall)
DROP TRIGGER IF EXISTS worklog_task_task_delete ON task;

-- statement 6 (service.store.worklog_task.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_task_row();

-- statement 7 (service.store.worklog_task.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_task_task_insert();

-- statement 8 (service.store.worklog_task.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_task_task_update();

-- statement 9 (service.store.worklog_task.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_task_task_delete();
