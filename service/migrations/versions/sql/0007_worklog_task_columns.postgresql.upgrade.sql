-- Migration 0007_worklog_task_columns, upgrade, postgresql: the statements it executed through the store code
-- (service.store.worklog_task.install, service.store.worklog_task.rebuild) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_task.rebuild)
UPDATE worklog w SET task_id = t.id, task_project_id = t.project_id, task_deleted_at = t.deleted_at FROM task t WHERE t.source_id = w.source_id AND t.external_id = w.task_external_id AND (task_id, task_project_id, task_deleted_at) IS DISTINCT FROM (t.id, t.project_id, t.deleted_at);

-- statement 2 (service.store.worklog_task.rebuild)
UPDATE worklog w SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL WHERE w.task_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM task t WHERE t.source_id = w.source_id AND t.external_id = w.task_external_id);

-- statement 3 (service.store.worklog_task.install)
CREATE FUNCTION taskhub_worklog_task_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  SELECT t.id, t.project_id, t.deleted_at INTO NEW.task_id, NEW.task_project_id, NEW.task_deleted_at FROM task t WHERE t.source_id = NEW.source_id AND t.external_id = NEW.task_external_id FOR SHARE;
  IF NOT FOUND THEN
    -- a task of this key may be in an insert not yet committed: wait for those of the source
    PERFORM pg_advisory_xact_lock(2003596385, mod(NEW.source_id, 2147483648)::int);
    SELECT t.id, t.project_id, t.deleted_at INTO NEW.task_id, NEW.task_project_id, NEW.task_deleted_at FROM task t WHERE t.source_id = NEW.source_id AND t.external_id = NEW.task_external_id FOR SHARE;
  END IF;
  RETURN NEW;
END
$fn$;

-- statement 4 (service.store.worklog_task.install)
CREATE FUNCTION taskhub_worklog_task_task_insert() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(2003596385, mod(s, 2147483648)::int) FROM (SELECT DISTINCT source_id AS s FROM new_rows ORDER BY 1) x;
  UPDATE worklog w SET task_id = n.id, task_project_id = n.project_id, task_deleted_at = n.deleted_at FROM new_rows n WHERE w.source_id = n.source_id AND w.task_external_id = n.external_id;
  RETURN NULL;
END
$fn$;

-- statement 5 (service.store.worklog_task.install)
CREATE FUNCTION taskhub_worklog_task_task_update() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  UPDATE worklog w SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL FROM (SELECT id, source_id, external_id FROM (SELECT 0 AS side, id, source_id, external_id, project_id, deleted_at FROM old_rows UNION ALL SELECT 1, id, source_id, external_id, project_id, deleted_at FROM new_rows) x GROUP BY 1, 2, 3 HAVING count(*) = 1 AND max(side) = 0) o WHERE w.source_id = o.source_id AND w.task_external_id = o.external_id AND w.task_id = o.id;
  UPDATE worklog w SET task_id = n.id, task_project_id = n.project_id, task_deleted_at = n.deleted_at FROM (SELECT id, source_id, external_id, project_id, deleted_at FROM (SELECT 0 AS side, id, source_id, external_id, project_id, deleted_at FROM old_rows UNION ALL SELECT 1, id, source_id, external_id, project_id, deleted_at FROM new_rows) x GROUP BY 1, 2, 3, 4, 5 HAVING count(*) = 1 AND min(side) = 1) n WHERE w.source_id = n.source_id AND w.task_external_id = n.external_id;
  RETURN NULL;
END
$fn$;

-- statement 6 (service.store.worklog_task.install)
CREATE FUNCTION taskhub_worklog_task_task_delete() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  UPDATE worklog w SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL FROM old_rows o WHERE w.source_id = o.source_id AND w.task_external_id = o.external_id AND w.task_id = o.id AND EXISTS (SELECT 1 FROM source s WHERE s.id = o.source_id);
  RETURN NULL;
END
$fn$;

-- statement 7 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_link BEFORE INSERT ON worklog FOR EACH ROW EXECUTE FUNCTION taskhub_worklog_task_row();

-- statement 8 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_relink BEFORE UPDATE OF source_id, task_external_id ON worklog FOR EACH ROW WHEN (OLD.source_id IS DISTINCT FROM NEW.source_id OR OLD.task_external_id IS DISTINCT FROM NEW.task_external_id) EXECUTE FUNCTION taskhub_worklog_task_row();

-- statement 9 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_insert AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_insert();

-- statement 10 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_update AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_update();

-- statement 11 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_delete AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_delete();
