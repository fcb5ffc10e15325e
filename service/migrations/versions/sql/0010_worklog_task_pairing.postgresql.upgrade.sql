-- Migration 0010_worklog_task_pairing, upgrade, postgresql: the statements it executed through the store code
-- (service.store.rollup.install, service.store.rollup.uninstall, service.store.worklog_task.install, service.store.worklog_task.uninstall) as of commit 7f1dcc5, frozen by
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

-- statement 10 (service.store.worklog_task.install)
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

-- statement 11 (service.store.worklog_task.install)
CREATE FUNCTION taskhub_worklog_task_task_insert() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(2003596385, mod(s, 2147483648)::int) FROM (SELECT DISTINCT source_id AS s FROM new_rows ORDER BY 1) x;
  UPDATE worklog w SET task_id = n.id, task_project_id = n.project_id, task_deleted_at = n.deleted_at FROM new_rows n WHERE w.source_id = n.source_id AND w.task_external_id = n.external_id;
  RETURN NULL;
END
$fn$;

-- statement 12 (service.store.worklog_task.install)
CREATE FUNCTION taskhub_worklog_task_task_update() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  UPDATE worklog w SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL FROM (SELECT id, source_id, external_id FROM (SELECT 0 AS side, id, source_id, external_id, project_id, deleted_at FROM old_rows UNION ALL SELECT 1, id, source_id, external_id, project_id, deleted_at FROM new_rows) x GROUP BY 1, 2, 3 HAVING count(*) = 1 AND max(side) = 0) o WHERE w.source_id = o.source_id AND w.task_external_id = o.external_id AND w.task_id = o.id;
  UPDATE worklog w SET task_id = n.id, task_project_id = n.project_id, task_deleted_at = n.deleted_at FROM (SELECT id, source_id, external_id, project_id, deleted_at FROM (SELECT 0 AS side, id, source_id, external_id, project_id, deleted_at FROM old_rows UNION ALL SELECT 1, id, source_id, external_id, project_id, deleted_at FROM new_rows) x GROUP BY 1, 2, 3, 4, 5 HAVING count(*) = 1 AND min(side) = 1) n WHERE w.source_id = n.source_id AND w.task_external_id = n.external_id;
  RETURN NULL;
END
$fn$;

-- statement 13 (service.store.worklog_task.install)
CREATE FUNCTION taskhub_worklog_task_task_delete() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  UPDATE worklog w SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL FROM old_rows o WHERE w.source_id = o.source_id AND w.task_external_id = o.external_id AND w.task_id = o.id AND EXISTS (SELECT 1 FROM source s WHERE s.id = o.source_id);
  RETURN NULL;
END
$fn$;

-- statement 14 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_link BEFORE INSERT ON worklog FOR EACH ROW EXECUTE FUNCTION taskhub_worklog_task_row();

-- statement 15 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_relink BEFORE UPDATE OF source_id, task_external_id ON worklog FOR EACH ROW WHEN (OLD.source_id IS DISTINCT FROM NEW.source_id OR OLD.task_external_id IS DISTINCT FROM NEW.task_external_id) EXECUTE FUNCTION taskhub_worklog_task_row();

-- statement 16 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_insert AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_insert();

-- statement 17 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_update AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_update();

-- statement 18 (service.store.worklog_task.install)
CREATE TRIGGER worklog_task_task_delete AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_delete();

-- statement 19 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS task_rollup_insert ON task;

-- statement 20 (service.store.rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_task_rollup_insert();

-- statement 21 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS task_rollup_update ON task;

-- statement 22 (service.store.rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_task_rollup_update();

-- statement 23 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS task_rollup_delete ON task;

-- statement 24 (service.store.rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_task_rollup_delete();

-- statement 25 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS milestone_rollup_link_insert ON task_milestone;

-- statement 26 (service.store.rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_milestone_rollup_link_insert();

-- statement 27 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS milestone_rollup_link_delete ON task_milestone;

-- statement 28 (service.store.rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_milestone_rollup_link_delete();

-- statement 29 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS milestone_rollup_task_update ON task;

-- statement 30 (service.store.rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_milestone_rollup_task_update();

-- statement 31 (service.store.rollup.uninstall)
DROP TRIGGER IF EXISTS milestone_rollup_task_delete ON task;

-- statement 32 (service.store.rollup.uninstall)
DROP FUNCTION IF EXISTS taskhub_milestone_rollup_task_delete();

-- statement 33 (service.store.rollup.install)
CREATE FUNCTION taskhub_task_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH d AS (SELECT n.*, CASE WHEN n.type = 'epic' OR n.is_milestone THEN 0 WHEN n.archived THEN 2 ELSE 1 END AS cls, 1 AS s FROM new_rows n WHERE n.deleted_at IS NULL) INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, d.status_category, d.cls, sum(d.s), sum(d.s * (d.estimate_points IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_points, 0)), sum(d.s * (d.estimate_seconds IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_seconds, 0)), sum(d.s * (coalesce(d.spent_seconds, d.remaining_seconds) IS NOT NULL)::int), sum(d.s * coalesce(d.spent_seconds, 0)), sum(d.s * coalesce(d.remaining_seconds, 0)), sum(d.s * (d.completed_at IS NOT NULL)::int), max(CASE WHEN d.s > 0 THEN d.remote_created_at END) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = task_rollup.n + excluded.n, pts_n = task_rollup.pts_n + excluded.pts_n, pts = task_rollup.pts + excluded.pts, sec_n = task_rollup.sec_n + excluded.sec_n, sec = task_rollup.sec + excluded.sec, time_n = task_rollup.time_n + excluded.time_n, spent = task_rollup.spent + excluded.spent, remaining = task_rollup.remaining + excluded.remaining, completed_n = task_rollup.completed_n + excluded.completed_n, created_hi = GREATEST(task_rollup.created_hi, excluded.created_hi);
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket, sum(d.s) FROM (SELECT n.*, CASE WHEN n.type = 'epic' OR n.is_milestone THEN 0 WHEN n.archived THEN 2 ELSE 1 END AS cls, 1 AS s FROM new_rows n WHERE n.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = task_day_rollup.n + excluded.n;
  RETURN NULL;
END
$fn$;

-- statement 34 (service.store.rollup.install)
CREATE TRIGGER task_rollup_insert AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_task_rollup_insert();

-- statement 35 (service.store.rollup.install)
CREATE FUNCTION taskhub_task_rollup_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH d AS (SELECT v.*, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at HAVING count(*) = 1) v WHERE v.deleted_at IS NULL) INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, d.status_category, d.cls, sum(d.s), sum(d.s * (d.estimate_points IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_points, 0)), sum(d.s * (d.estimate_seconds IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_seconds, 0)), sum(d.s * (coalesce(d.spent_seconds, d.remaining_seconds) IS NOT NULL)::int), sum(d.s * coalesce(d.spent_seconds, 0)), sum(d.s * coalesce(d.remaining_seconds, 0)), sum(d.s * (d.completed_at IS NOT NULL)::int), max(CASE WHEN d.s > 0 THEN d.remote_created_at END) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = task_rollup.n + excluded.n, pts_n = task_rollup.pts_n + excluded.pts_n, pts = task_rollup.pts + excluded.pts, sec_n = task_rollup.sec_n + excluded.sec_n, sec = task_rollup.sec + excluded.sec, time_n = task_rollup.time_n + excluded.time_n, spent = task_rollup.spent + excluded.spent, remaining = task_rollup.remaining + excluded.remaining, completed_n = task_rollup.completed_n + excluded.completed_n, created_hi = GREATEST(task_rollup.created_hi, excluded.created_hi);
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket, sum(d.s) FROM (SELECT v.*, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at HAVING count(*) = 1) v WHERE v.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = task_day_rollup.n + excluded.n;
  DELETE FROM task_rollup r USING (SELECT DISTINCT org_id, coalesce(project_id, 0) AS project_id, source_id, status_category, cls FROM (SELECT v.*, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at HAVING count(*) = 1) v WHERE v.deleted_at IS NULL) x WHERE s < 0) k WHERE (r.org_id, r.project_id, r.source_id, r.status_category, r.cls) = (k.org_id, k.project_id, k.source_id, k.status_category, k.cls) AND r.n = 0;
  DELETE FROM task_day_rollup r USING (SELECT DISTINCT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket FROM (SELECT v.*, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at HAVING count(*) = 1) v WHERE v.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 AND d.s < 0) k WHERE (r.org_id, r.source_id, r.cls, r.kind, r.known, r.bucket) = (k.org_id, k.source_id, k.cls, k.kind, k.known, k.bucket) AND r.n = 0;
  RETURN NULL;
END
$fn$;

-- statement 36 (service.store.rollup.install)
CREATE TRIGGER task_rollup_update AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_task_rollup_update();

-- statement 37 (service.store.rollup.install)
CREATE FUNCTION taskhub_task_rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  WITH d AS (SELECT o.*, CASE WHEN o.type = 'epic' OR o.is_milestone THEN 0 WHEN o.archived THEN 2 ELSE 1 END AS cls, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL) INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, d.status_category, d.cls, sum(d.s), sum(d.s * (d.estimate_points IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_points, 0)), sum(d.s * (d.estimate_seconds IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_seconds, 0)), sum(d.s * (coalesce(d.spent_seconds, d.remaining_seconds) IS NOT NULL)::int), sum(d.s * coalesce(d.spent_seconds, 0)), sum(d.s * coalesce(d.remaining_seconds, 0)), sum(d.s * (d.completed_at IS NOT NULL)::int), max(CASE WHEN d.s > 0 THEN d.remote_created_at END) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = task_rollup.n + excluded.n, pts_n = task_rollup.pts_n + excluded.pts_n, pts = task_rollup.pts + excluded.pts, sec_n = task_rollup.sec_n + excluded.sec_n, sec = task_rollup.sec + excluded.sec, time_n = task_rollup.time_n + excluded.time_n, spent = task_rollup.spent + excluded.spent, remaining = task_rollup.remaining + excluded.remaining, completed_n = task_rollup.completed_n + excluded.completed_n, created_hi = GREATEST(task_rollup.created_hi, excluded.created_hi);
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket, sum(d.s) FROM (SELECT o.*, CASE WHEN o.type = 'epic' OR o.is_milestone THEN 0 WHEN o.archived THEN 2 ELSE 1 END AS cls, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = task_day_rollup.n + excluded.n;
  DELETE FROM task_rollup r USING (SELECT DISTINCT org_id, coalesce(project_id, 0) AS project_id, source_id, status_category, cls FROM (SELECT o.*, CASE WHEN o.type = 'epic' OR o.is_milestone THEN 0 WHEN o.archived THEN 2 ELSE 1 END AS cls, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL) x WHERE s < 0) k WHERE (r.org_id, r.project_id, r.source_id, r.status_category, r.cls) = (k.org_id, k.project_id, k.source_id, k.status_category, k.cls) AND r.n = 0;
  DELETE FROM task_day_rollup r USING (SELECT DISTINCT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket FROM (SELECT o.*, CASE WHEN o.type = 'epic' OR o.is_milestone THEN 0 WHEN o.archived THEN 2 ELSE 1 END AS cls, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 AND d.s < 0) k WHERE (r.org_id, r.source_id, r.cls, r.kind, r.known, r.bucket) = (k.org_id, k.source_id, k.cls, k.kind, k.known, k.bucket) AND r.n = 0;
  RETURN NULL;
END
$fn$;

-- statement 38 (service.store.rollup.install)
CREATE TRIGGER task_rollup_delete AFTER DELETE ON task REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_task_rollup_delete();

-- statement 39 (service.store.rollup.install)
CREATE FUNCTION taskhub_milestone_rollup_link_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, 1 AS tasks, 1 * (t.status_category = 'done')::int AS done FROM new_rows tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  RETURN NULL;
END
$fn$;

-- statement 40 (service.store.rollup.install)
CREATE FUNCTION taskhub_milestone_rollup_link_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, -1 AS tasks, -1 * (t.status_category = 'done')::int AS done FROM old_rows tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM old_rows);
  RETURN NULL;
END
$fn$;

-- statement 41 (service.store.rollup.install)
CREATE FUNCTION taskhub_milestone_rollup_task_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.org_id, v.source_id, v.sign AS tasks, v.sign * (v.status_category = 'done')::int AS done FROM (SELECT id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM old_rows UNION ALL SELECT 1, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM new_rows) x GROUP BY id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id HAVING count(*) = 1) v JOIN task_milestone tm ON tm.task_id = v.id WHERE v.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  WITH z AS MATERIALIZED (SELECT DISTINCT milestone_id FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.org_id, v.source_id, v.sign AS tasks, v.sign * (v.status_category = 'done')::int AS done FROM (SELECT id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM old_rows UNION ALL SELECT 1, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM new_rows) x GROUP BY id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id HAVING count(*) = 1) v JOIN task_milestone tm ON tm.task_id = v.id WHERE v.deleted_at IS NULL) x) DELETE FROM milestone_rollup r USING z WHERE r.milestone_id = z.milestone_id AND r.tasks = 0;
  RETURN NULL;
END
$fn$;

-- statement 42 (service.store.rollup.install)
CREATE FUNCTION taskhub_milestone_rollup_task_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN OLD.type = 'epic' OR OLD.is_milestone THEN 0 WHEN OLD.archived THEN 2 ELSE 1 END AS cls, OLD.org_id, OLD.source_id, -1 AS tasks, -1 * (OLD.status_category = 'done')::int AS done FROM task_milestone tm WHERE OLD.deleted_at IS NULL AND tm.task_id = OLD.id) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM task_milestone WHERE task_id = OLD.id);
  RETURN OLD;
END
$fn$;

-- statement 43 (service.store.rollup.install)
CREATE TRIGGER milestone_rollup_link_insert AFTER INSERT ON task_milestone REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_link_insert();

-- statement 44 (service.store.rollup.install)
CREATE TRIGGER milestone_rollup_link_delete AFTER DELETE ON task_milestone REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_link_delete();

-- statement 45 (service.store.rollup.install)
CREATE TRIGGER milestone_rollup_task_update AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_task_update();

-- statement 46 (service.store.rollup.install)
CREATE TRIGGER milestone_rollup_task_delete BEFORE DELETE ON task FOR EACH ROW EXECUTE FUNCTION taskhub_milestone_rollup_task_delete();
