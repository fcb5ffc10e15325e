-- Migration 0011_workload_rollup, downgrade, sqlite: the statements it executed through the store code
-- (service.store.workload_rollup.uninstall) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.workload_rollup.uninstall)
DROP TRIGGER IF EXISTS workload_rollup_task_insert;

-- statement 2 (service.store.workload_rollup.uninstall)
DROP TRIGGER IF EXISTS workload_rollup_task_update;

-- statement 3 (service.store.workload_rollup.uninstall)
DROP TRIGGER IF EXISTS workload_rollup_task_delete;

-- statement 4 (service.store.workload_rollup.uninstall)
DROP TRIGGER IF EXISTS workload_rollup_link_insert;

-- statement 5 (service.store.workload_rollup.uninstall)
DROP TRIGGER IF EXISTS workload_rollup_link_delete;

-- statement 6 (service.store.workload_rollup.uninstall)
DROP TRIGGER IF EXISTS workload_rollup_link_update;
