-- Migration 0008_worklog_day_rate, downgrade, sqlite: the statements it executed through the store code
-- (service.store.worklog_day.uninstall) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_price;

-- statement 2 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_reprice;

-- statement 3 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_rate_insert;

-- statement 4 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_rate_update;

-- statement 5 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_rate_delete;

-- statement 6 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_zone;
