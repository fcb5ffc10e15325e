-- Migration 0010_worklog_task_pairing, upgrade, sqlite: the statements it executed through the store code
-- (service.store.rollup.install, service.store.rollup.uninstall, service.store.worklog_task.install, service.store.worklog_task.uninstall) as of commit 7f1dcc5, frozen by
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

-- statement 6 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_link AFTER INSERT ON worklog BEGIN
  UPDATE worklog SET (task_id, task_project_id, task_deleted_at) = (SELECT t.id, t.project_id, t.deleted_at FROM task t WHERE t.source_id = new.source_id AND t.external_id = new.task_external_id) WHERE id = new.id;
END;

-- statement 7 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_relink AFTER UPDATE OF source_id, task_external_id ON worklog WHEN old.source_id IS NOT new.source_id OR old.task_external_id IS NOT new.task_external_id BEGIN
  UPDATE worklog SET (task_id, task_project_id, task_deleted_at) = (SELECT t.id, t.project_id, t.deleted_at FROM task t WHERE t.source_id = new.source_id AND t.external_id = new.task_external_id) WHERE id = new.id;
END;

-- statement 8 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_insert AFTER INSERT ON task BEGIN
  UPDATE worklog SET task_id = new.id, task_project_id = new.project_id, task_deleted_at = new.deleted_at WHERE source_id = new.source_id AND task_external_id = new.external_id;
END;

-- statement 9 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_update AFTER UPDATE OF source_id, external_id, project_id, deleted_at ON task WHEN old.source_id IS NOT new.source_id OR old.external_id IS NOT new.external_id OR old.project_id IS NOT new.project_id OR old.deleted_at IS NOT new.deleted_at BEGIN
  UPDATE worklog SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL WHERE (old.source_id IS NOT new.source_id OR old.external_id IS NOT new.external_id) AND source_id = old.source_id AND task_external_id = old.external_id AND task_id = old.id;
  UPDATE worklog SET task_id = new.id, task_project_id = new.project_id, task_deleted_at = new.deleted_at WHERE source_id = new.source_id AND task_external_id = new.external_id;
END;

-- statement 10 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_delete AFTER DELETE ON task WHEN EXISTS (SELECT 1 FROM source WHERE id = old.source_id) BEGIN
  UPDATE worklog SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL WHERE source_id = old.source_id AND task_external_id = old.external_id AND task_id = old.id;
END;

-- statement 11 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS task_rollup_insert;

-- statement 12 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS task_rollup_update;

-- statement 13 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS task_rollup_delete;

-- statement 14 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS milestone_rollup_link_insert;

-- statement 15 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS milestone_rollup_link_delete;

-- statement 16 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS milestone_rollup_task_update;

-- statement 17 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS milestone_rollup_task_delete;

-- statement 18 (service.store.rollup.install)
CREATE TRIGGER task_rollup_insert AFTER INSERT ON task WHEN new.deleted_at IS NULL BEGIN
  INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT new.org_id, coalesce(new.project_id, 0), new.source_id, new.status_category, CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END, 1, 1 * (new.estimate_points IS NOT NULL), 1 * coalesce(new.estimate_points, 0), 1 * (new.estimate_seconds IS NOT NULL), 1 * coalesce(new.estimate_seconds, 0), 1 * (coalesce(new.spent_seconds, new.remaining_seconds) IS NOT NULL), 1 * coalesce(new.spent_seconds, 0), 1 * coalesce(new.remaining_seconds, 0), 1 * (new.completed_at IS NOT NULL), new.remote_created_at WHERE new.deleted_at IS NULL ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = n + excluded.n, pts_n = pts_n + excluded.pts_n, pts = pts + excluded.pts, sec_n = sec_n + excluded.sec_n, sec = sec + excluded.sec, time_n = time_n + excluded.time_n, spent = spent + excluded.spent, remaining = remaining + excluded.remaining, completed_n = completed_n + excluded.completed_n, created_hi = max(coalesce(created_hi, excluded.created_hi), coalesce(excluded.created_hi, created_hi));
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT new.org_id, new.source_id, CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END, 'c', new.remote_created_at IS NOT NULL, CASE WHEN new.remote_created_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(new.remote_created_at, 1, 13) || ':00:00.000000' END, 1 WHERE new.deleted_at IS NULL AND CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END > 0 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = n + excluded.n;
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT new.org_id, new.source_id, CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END, 'd', new.completed_at IS NOT NULL, CASE WHEN new.completed_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(new.completed_at, 1, 13) || ':00:00.000000' END, 1 WHERE new.deleted_at IS NULL AND CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END > 0 AND new.status_category = 'done' ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = n + excluded.n;
END;

-- statement 19 (service.store.rollup.install)
CREATE TRIGGER task_rollup_delete AFTER DELETE ON task WHEN old.deleted_at IS NULL BEGIN
  INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT old.org_id, coalesce(old.project_id, 0), old.source_id, old.status_category, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END, -1, -1 * (old.estimate_points IS NOT NULL), -1 * coalesce(old.estimate_points, 0), -1 * (old.estimate_seconds IS NOT NULL), -1 * coalesce(old.estimate_seconds, 0), -1 * (coalesce(old.spent_seconds, old.remaining_seconds) IS NOT NULL), -1 * coalesce(old.spent_seconds, 0), -1 * coalesce(old.remaining_seconds, 0), -1 * (old.completed_at IS NOT NULL), NULL WHERE old.deleted_at IS NULL ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = n + excluded.n, pts_n = pts_n + excluded.pts_n, pts = pts + excluded.pts, sec_n = sec_n + excluded.sec_n, sec = sec + excluded.sec, time_n = time_n + excluded.time_n, spent = spent + excluded.spent, remaining = remaining + excluded.remaining, completed_n = completed_n + excluded.completed_n, created_hi = max(coalesce(created_hi, excluded.created_hi), coalesce(excluded.created_hi, created_hi));
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT old.org_id, old.source_id, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END, 'c', old.remote_created_at IS NOT NULL, CASE WHEN old.remote_created_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(old.remote_created_at, 1, 13) || ':00:00.000000' END, -1 WHERE old.deleted_at IS NULL AND CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END > 0 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = n + excluded.n;
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT old.org_id, old.source_id, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END, 'd', old.completed_at IS NOT NULL, CASE WHEN old.completed_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(old.completed_at, 1, 13) || ':00:00.000000' END, -1 WHERE old.deleted_at IS NULL AND CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END > 0 AND old.status_category = 'done' ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = n + excluded.n;
  DELETE FROM task_rollup WHERE org_id = old.org_id AND project_id = coalesce(old.project_id, 0) AND source_id = old.source_id AND status_category = old.status_category AND cls = CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AND n = 0;
  DELETE FROM task_day_rollup WHERE org_id = old.org_id AND source_id = old.source_id AND cls = CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AND kind = 'c' AND known = (old.remote_created_at IS NOT NULL) AND bucket = CASE WHEN old.remote_created_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(old.remote_created_at, 1, 13) || ':00:00.000000' END AND n = 0;
  DELETE FROM task_day_rollup WHERE org_id = old.org_id AND source_id = old.source_id AND cls = CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AND kind = 'd' AND known = (old.completed_at IS NOT NULL) AND bucket = CASE WHEN old.completed_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(old.completed_at, 1, 13) || ':00:00.000000' END AND n = 0;
END;

-- statement 20 (service.store.rollup.install)
CREATE TRIGGER task_rollup_update AFTER UPDATE OF org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at ON task WHEN old.org_id IS NOT new.org_id OR old.project_id IS NOT new.project_id OR old.source_id IS NOT new.source_id OR old.status_category IS NOT new.status_category OR old.type IS NOT new.type OR old.is_milestone IS NOT new.is_milestone OR old.archived IS NOT new.archived OR old.deleted_at IS NOT new.deleted_at OR old.estimate_points IS NOT new.estimate_points OR old.estimate_seconds IS NOT new.estimate_seconds OR old.spent_seconds IS NOT new.spent_seconds OR old.remaining_seconds IS NOT new.remaining_seconds OR old.remote_created_at IS NOT new.remote_created_at OR old.completed_at IS NOT new.completed_at BEGIN
  INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT old.org_id, coalesce(old.project_id, 0), old.source_id, old.status_category, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END, -1, -1 * (old.estimate_points IS NOT NULL), -1 * coalesce(old.estimate_points, 0), -1 * (old.estimate_seconds IS NOT NULL), -1 * coalesce(old.estimate_seconds, 0), -1 * (coalesce(old.spent_seconds, old.remaining_seconds) IS NOT NULL), -1 * coalesce(old.spent_seconds, 0), -1 * coalesce(old.remaining_seconds, 0), -1 * (old.completed_at IS NOT NULL), NULL WHERE old.deleted_at IS NULL ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = n + excluded.n, pts_n = pts_n + excluded.pts_n, pts = pts + excluded.pts, sec_n = sec_n + excluded.sec_n, sec = sec + excluded.sec, time_n = time_n + excluded.time_n, spent = spent + excluded.spent, remaining = remaining + excluded.remaining, completed_n = completed_n + excluded.completed_n, created_hi = max(coalesce(created_hi, excluded.created_hi), coalesce(excluded.created_hi, created_hi));
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT old.org_id, old.source_id, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END, 'c', old.remote_created_at IS NOT NULL, CASE WHEN old.remote_created_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(old.remote_created_at, 1, 13) || ':00:00.000000' END, -1 WHERE old.deleted_at IS NULL AND CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END > 0 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = n + excluded.n;
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT old.org_id, old.source_id, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END, 'd', old.completed_at IS NOT NULL, CASE WHEN old.completed_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(old.completed_at, 1, 13) || ':00:00.000000' END, -1 WHERE old.deleted_at IS NULL AND CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END > 0 AND old.status_category = 'done' ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = n + excluded.n;
  DELETE FROM task_rollup WHERE org_id = old.org_id AND project_id = coalesce(old.project_id, 0) AND source_id = old.source_id AND status_category = old.status_category AND cls = CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AND n = 0;
  DELETE FROM task_day_rollup WHERE org_id = old.org_id AND source_id = old.source_id AND cls = CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AND kind = 'c' AND known = (old.remote_created_at IS NOT NULL) AND bucket = CASE WHEN old.remote_created_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(old.remote_created_at, 1, 13) || ':00:00.000000' END AND n = 0;
  DELETE FROM task_day_rollup WHERE org_id = old.org_id AND source_id = old.source_id AND cls = CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AND kind = 'd' AND known = (old.completed_at IS NOT NULL) AND bucket = CASE WHEN old.completed_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(old.completed_at, 1, 13) || ':00:00.000000' END AND n = 0;
  INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT new.org_id, coalesce(new.project_id, 0), new.source_id, new.status_category, CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END, 1, 1 * (new.estimate_points IS NOT NULL), 1 * coalesce(new.estimate_points, 0), 1 * (new.estimate_seconds IS NOT NULL), 1 * coalesce(new.estimate_seconds, 0), 1 * (coalesce(new.spent_seconds, new.remaining_seconds) IS NOT NULL), 1 * coalesce(new.spent_seconds, 0), 1 * coalesce(new.remaining_seconds, 0), 1 * (new.completed_at IS NOT NULL), new.remote_created_at WHERE new.deleted_at IS NULL ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = n + excluded.n, pts_n = pts_n + excluded.pts_n, pts = pts + excluded.pts, sec_n = sec_n + excluded.sec_n, sec = sec + excluded.sec, time_n = time_n + excluded.time_n, spent = spent + excluded.spent, remaining = remaining + excluded.remaining, completed_n = completed_n + excluded.completed_n, created_hi = max(coalesce(created_hi, excluded.created_hi), coalesce(excluded.created_hi, created_hi));
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT new.org_id, new.source_id, CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END, 'c', new.remote_created_at IS NOT NULL, CASE WHEN new.remote_created_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(new.remote_created_at, 1, 13) || ':00:00.000000' END, 1 WHERE new.deleted_at IS NULL AND CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END > 0 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = n + excluded.n;
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT new.org_id, new.source_id, CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END, 'd', new.completed_at IS NOT NULL, CASE WHEN new.completed_at IS NULL THEN '1970-01-01 00:00:00.000000' ELSE substr(new.completed_at, 1, 13) || ':00:00.000000' END, 1 WHERE new.deleted_at IS NULL AND CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END > 0 AND new.status_category = 'done' ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = n + excluded.n;
END;

-- statement 21 (service.store.rollup.install)
CREATE TRIGGER milestone_rollup_link_insert AFTER INSERT ON task_milestone BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT new.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, 1 AS tasks, 1 * (t.status_category = 'done') AS done FROM task t WHERE t.deleted_at IS NULL AND t.id = new.task_id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
END;

-- statement 22 (service.store.rollup.install)
CREATE TRIGGER milestone_rollup_link_delete AFTER DELETE ON task_milestone BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT old.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, -1 AS tasks, -1 * (t.status_category = 'done') AS done FROM task t WHERE t.deleted_at IS NULL AND t.id = old.task_id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id = old.milestone_id;
END;

-- statement 23 (service.store.rollup.install)
CREATE TRIGGER milestone_rollup_task_update AFTER UPDATE OF status_category, type, is_milestone, archived, deleted_at ON task WHEN old.status_category IS NOT new.status_category OR old.type IS NOT new.type OR old.is_milestone IS NOT new.is_milestone OR old.archived IS NOT new.archived OR old.deleted_at IS NOT new.deleted_at BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id AS milestone_id, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AS cls, old.org_id, old.source_id, -1 AS tasks, -1 * (old.status_category = 'done') AS done FROM task_milestone tm WHERE old.deleted_at IS NULL AND tm.task_id = old.id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id AS milestone_id, CASE WHEN new.type = 'epic' OR new.is_milestone THEN 0 WHEN new.archived THEN 2 ELSE 1 END AS cls, new.org_id, new.source_id, 1 AS tasks, 1 * (new.status_category = 'done') AS done FROM task_milestone tm WHERE new.deleted_at IS NULL AND tm.task_id = new.id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM task_milestone WHERE task_id = old.id);
END;

-- statement 24 (service.store.rollup.install)
CREATE TRIGGER milestone_rollup_task_delete BEFORE DELETE ON task BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id AS milestone_id, CASE WHEN old.type = 'epic' OR old.is_milestone THEN 0 WHEN old.archived THEN 2 ELSE 1 END AS cls, old.org_id, old.source_id, -1 AS tasks, -1 * (old.status_category = 'done') AS done FROM task_milestone tm WHERE old.deleted_at IS NULL AND tm.task_id = old.id ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM task_milestone WHERE task_id = old.id);
END;
