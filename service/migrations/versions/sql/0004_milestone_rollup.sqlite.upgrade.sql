-- Migration 0004_milestone_rollup, upgrade, sqlite: the statements it executed through the store code
-- (service.store.rollup.install(tasks=False), service.store.rollup.rebuild(tasks=False)) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.rollup.install(tasks=False))
CREATE TRIGGER milestone_rollup_link_insert AFTER INSERT ON task_milestone BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT new.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, 1 AS tasks, 1 * (t.status_category = 'done') AS done FROM task t WHERE t.deleted_at IS NULL AND t.id = new.task_id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
END;

-- statement 2 (service.store.rollup.install(tasks=False))
CREATE TRIGGER milestone_rollup_link_delete AFTER DELETE ON task_milestone BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT old.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, -1 AS tasks, -1 * (t.status_category = 'done') AS done FROM task t WHERE t.deleted_at IS NULL AND t.id = old.task_id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id = old.milestone_id;
END;

-- statement 3 (service.store.rollup.install(tasks=False))
CREATE TRIGGER milestone_rollup_task_update AFTER UPDATE OF status_category, type, is_milestone, archived, deleted_at ON task WHEN old.status_category IS NOT new.status_category OR old.type IS NOT new.type OR old.is_milestone IS NOT new.is_milestone OR old.archived IS NOT new.archived OR old.deleted_at IS NOT new.deleted_at BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id AS milestone_id, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AS cls, old.org_id, old.source_id, -1 AS tasks, -1 * (old.status_category = 'done') AS done FROM task_milestone tm WHERE old.deleted_at IS NULL AND tm.task_id = old.id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id AS milestone_id, CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END AS cls, new.org_id, new.source_id, 1 AS tasks, 1 * (new.status_category = 'done') AS done FROM task_milestone tm WHERE new.deleted_at IS NULL AND tm.task_id = new.id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM task_milestone WHERE task_id = old.id);
END;

-- statement 4 (service.store.rollup.install(tasks=False))
CREATE TRIGGER milestone_rollup_task_delete BEFORE DELETE ON task BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id AS milestone_id, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AS cls, old.org_id, old.source_id, -1 AS tasks, -1 * (old.status_category = 'done') AS done FROM task_milestone tm WHERE old.deleted_at IS NULL AND tm.task_id = old.id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM task_milestone WHERE task_id = old.id);
END;

-- statement 5 (service.store.rollup.rebuild(tasks=False))
DELETE FROM milestone_rollup;

-- statement 6 (service.store.rollup.rebuild(tasks=False))
INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END, max(t.org_id), max(t.source_id), count(*), sum((t.status_category = 'done')) FROM task_milestone tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL GROUP BY 1, 2;
