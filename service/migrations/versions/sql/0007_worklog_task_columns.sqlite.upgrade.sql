-- Migration 0007_worklog_task_columns, upgrade, sqlite: the statements it executed through the store code
-- (service.store.worklog_task.install, service.store.worklog_task.rebuild) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_task.rebuild)
UPDATE worklog AS w SET (task_id, task_project_id, task_deleted_at) = (SELECT t.id, t.project_id, t.deleted_at FROM task t WHERE t.source_id = w.source_id AND t.external_id = w.task_external_id) WHERE (w.task_id, w.task_project_id, w.task_deleted_at) IS NOT (SELECT t.id, t.project_id, t.deleted_at FROM task t WHERE t.source_id = w.source_id AND t.external_id = w.task_external_id);

-- statement 2 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_link AFTER INSERT ON worklog BEGIN
  UPDATE worklog SET (task_id, task_project_id, task_deleted_at) = (SELECT t.id, t.project_id, t.deleted_at FROM task t WHERE t.source_id = new.source_id AND t.external_id = new.task_external_id) WHERE id = new.id;
END;

-- statement 3 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_relink AFTER UPDATE OF source_id, task_external_id ON worklog WHEN old.source_id IS NOT new.source_id OR old.task_external_id IS NOT new.task_external_id BEGIN
  UPDATE worklog SET (task_id, task_project_id, task_deleted_at) = (SELECT t.id, t.project_id, t.deleted_at FROM task t WHERE t.source_id = new.source_id AND t.external_id = new.task_external_id) WHERE id = new.id;
END;

-- statement 4 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_insert AFTER INSERT ON task BEGIN
  UPDATE worklog SET task_id = new.id, task_project_id = new.project_id, task_deleted_at = new.deleted_at WHERE source_id = new.source_id AND task_external_id = new.external_id;
END;

-- statement 5 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_update AFTER UPDATE OF source_id, external_id, project_id, deleted_at ON task WHEN old.source_id IS NOT new.source_id OR old.external_id IS NOT new.external_id OR old.project_id IS NOT new.project_id OR old.deleted_at IS NOT new.deleted_at BEGIN
  UPDATE worklog SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL WHERE (old.source_id IS NOT new.source_id OR old.external_id IS NOT new.external_id) AND source_id = old.source_id AND task_external_id = old.external_id AND task_id = old.id;
  UPDATE worklog SET task_id = new.id, task_project_id = new.project_id, task_deleted_at = new.deleted_at WHERE source_id = new.source_id AND task_external_id = new.external_id;
END;

-- statement 6 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_delete AFTER DELETE ON task WHEN EXISTS (SELECT 1 FROM source WHERE id = old.source_id) BEGIN
  UPDATE worklog SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL WHERE source_id = old.source_id AND task_external_id = old.external_id AND task_id = old.id;
END;
