-- Migration 0004_milestone_rollup, upgrade, postgresql: the statements it executed through the store code
-- (service.store.rollup.install(tasks=False), service.store.rollup.rebuild(tasks=False)) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.rollup.install(tasks=False))
CREATE FUNCTION taskhub_milestone_rollup_link_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, 1 AS tasks, 1 * (t.status_category = 'done')::int AS done FROM new_rows tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  RETURN NULL;
END
$fn$;

-- statement 2 (service.store.rollup.install(tasks=False))
CREATE FUNCTION taskhub_milestone_rollup_link_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, -1 AS tasks, -1 * (t.status_category = 'done')::int AS done FROM old_rows tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM old_rows);
  RETURN NULL;
END
$fn$;

-- statement 3 (service.store.rollup.install(tasks=False))
CREATE FUNCTION taskhub_milestone_rollup_task_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.org_id, v.source_id, v.sign AS tasks, v.sign * (v.status_category = 'done')::int AS done FROM (SELECT id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM old_rows UNION ALL SELECT 1, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM new_rows) x GROUP BY id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id HAVING count(*) = 1) v JOIN task_milestone tm ON tm.task_id = v.id WHERE v.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  WITH z AS MATERIALIZED (SELECT DISTINCT milestone_id FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.org_id, v.source_id, v.sign AS tasks, v.sign * (v.status_category = 'done')::int AS done FROM (SELECT id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM old_rows UNION ALL SELECT 1, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM new_rows) x GROUP BY id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id HAVING count(*) = 1) v JOIN task_milestone tm ON tm.task_id = v.id WHERE v.deleted_at IS NULL) x) DELETE FROM milestone_rollup r USING z WHERE r.milestone_id = z.milestone_id AND r.tasks = 0;
  RETURN NULL;
END
$fn$;

-- statement 4 (service.store.rollup.install(tasks=False))
CREATE FUNCTION taskhub_milestone_rollup_task_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN OLD.type = 'epic' OR OLD.is_milestone THEN 0 WHEN OLD.archived THEN 2 ELSE 1 END AS cls, OLD.org_id, OLD.source_id, -1 AS tasks, -1 * (OLD.status_category = 'done')::int AS done FROM task_milestone tm WHERE OLD.deleted_at IS NULL AND tm.task_id = OLD.id) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM task_milestone WHERE task_id = OLD.id);
  RETURN OLD;
END
$fn$;

-- statement 5 (service.store.rollup.install(tasks=False))
CREATE TRIGGER milestone_rollup_link_insert AFTER INSERT ON task_milestone REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_link_insert();

-- statement 6 (service.store.rollup.install(tasks=False))
CREATE TRIGGER milestone_rollup_link_delete AFTER DELETE ON task_milestone REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_link_delete();

-- statement 7 (service.store.rollup.install(tasks=False))
CREATE TRIGGER milestone_rollup_task_update AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_task_update();

-- statement 8 (service.store.rollup.install(tasks=False))
CREATE TRIGGER milestone_rollup_task_delete BEFORE DELETE ON task FOR EACH ROW EXECUTE FUNCTION taskhub_milestone_rollup_task_delete();

-- statement 9 (service.store.rollup.rebuild(tasks=False))
DELETE FROM milestone_rollup;

-- statement 10 (service.store.rollup.rebuild(tasks=False))
INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END, max(t.org_id), max(t.source_id), count(*), sum((t.status_category = 'done')::int) FROM task_milestone tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL GROUP BY 1, 2;
