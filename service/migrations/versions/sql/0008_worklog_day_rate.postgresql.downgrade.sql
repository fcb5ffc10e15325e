-- Migration 0008_worklog_day_rate, downgrade, postgresql: the statements it executed through the store code
-- (service.store.worklog_day.uninstall) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_price ON worklog;

-- statement 2 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_reprice ON worklog;

-- statement 3 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_rate_insert ON person_rate;

-- statement 4 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_rate_update ON person_rate;

-- statement 5 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_rate_delete ON person_rate;

-- statement 6 (service.store.worklog_day.uninstall)
DROP TRIGGER IF EXISTS worklog_day_zone ON organization;

-- statement 7 (service.store.worklog_day.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_day_row();

-- statement 8 (service.store.worklog_day.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_day_rate_insert();

-- statement 9 (service.store.worklog_day.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_day_rate_update();

-- statement 10 (service.store.worklog_day.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_day_rate_delete();

-- statement 11 (service.store.worklog_day.uninstall)
DROP FUNCTION IF EXISTS taskhub_worklog_day_zone();
