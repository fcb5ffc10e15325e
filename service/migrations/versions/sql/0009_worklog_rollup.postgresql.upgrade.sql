-- Migration 0009_worklog_rollup, upgrade, postgresql: the statements it executed through the store code
-- (service.store.worklog_rollup.install, service.store.worklog_rollup.rebuild) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_rollup.install)
CREATE FUNCTION taskhub_worklog_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO worklog_rollup (org_id, day, project_id, source_id, n, seconds, rated, unrated, started_hi) SELECT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id, sum(d.s), sum(d.s * d.seconds), sum(d.s * CASE WHEN d.author_rate IS NULL THEN 0.0 ELSE d.seconds * d.author_rate END), sum(d.s * CASE WHEN d.author_rate IS NULL THEN d.seconds ELSE 0 END), max(CASE WHEN d.s > 0 THEN d.started_at END) FROM (SELECT n.*, 1 AS s FROM new_rows n WHERE n.deleted_at IS NULL AND n.task_id IS NOT NULL AND n.task_deleted_at IS NULL AND n.started_day IS NOT NULL) d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 ON CONFLICT (org_id, day, project_id, source_id) DO UPDATE SET n = worklog_rollup.n + excluded.n, seconds = worklog_rollup.seconds + excluded.seconds, rated = worklog_rollup.rated + excluded.rated, unrated = worklog_rollup.unrated + excluded.unrated, started_hi = GREATEST(worklog_rollup.started_hi, excluded.started_hi);
  RETURN NULL;
END
$fn$;

-- statement 2 (service.store.worklog_rollup.install)
CREATE TRIGGER worklog_rollup_insert AFTER INSERT ON worklog REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_rollup_insert();

-- statement 3 (service.store.worklog_rollup.install)
CREATE FUNCTION taskhub_worklog_rollup_update() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO worklog_rollup (org_id, day, project_id, source_id, n, seconds, rated, unrated, started_hi) SELECT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id, sum(d.s), sum(d.s * d.seconds), sum(d.s * CASE WHEN d.author_rate IS NULL THEN 0.0 ELSE d.seconds * d.author_rate END), sum(d.s * CASE WHEN d.author_rate IS NULL THEN d.seconds ELSE 0 END), max(CASE WHEN d.s > 0 THEN d.started_at END) FROM (SELECT v.*, v.sign AS s FROM (SELECT id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate FROM old_rows UNION ALL SELECT 1, id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate FROM new_rows) x GROUP BY id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate HAVING count(*) = 1) v WHERE v.deleted_at IS NULL AND v.task_id IS NOT NULL AND v.task_deleted_at IS NULL AND v.started_day IS NOT NULL) d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 ON CONFLICT (org_id, day, project_id, source_id) DO UPDATE SET n = worklog_rollup.n + excluded.n, seconds = worklog_rollup.seconds + excluded.seconds, rated = worklog_rollup.rated + excluded.rated, unrated = worklog_rollup.unrated + excluded.unrated, started_hi = GREATEST(worklog_rollup.started_hi, excluded.started_hi);
  DELETE FROM worklog_rollup r USING (SELECT DISTINCT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id FROM (SELECT v.*, v.sign AS s FROM (SELECT id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate FROM old_rows UNION ALL SELECT 1, id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate FROM new_rows) x GROUP BY id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate HAVING count(*) = 1) v WHERE v.deleted_at IS NULL AND v.task_id IS NOT NULL AND v.task_deleted_at IS NULL AND v.started_day IS NOT NULL) d WHERE d.s < 0) k (org_id, day, project_id, source_id) WHERE (r.org_id, r.day, r.project_id, r.source_id) = (k.org_id, k.day, k.project_id, k.source_id) AND r.n = 0;
  RETURN NULL;
END
$fn$;

-- statement 4 (service.store.worklog_rollup.install)
CREATE TRIGGER worklog_rollup_update AFTER UPDATE ON worklog REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_rollup_update();

-- statement 5 (service.store.worklog_rollup.install)
CREATE FUNCTION taskhub_worklog_rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO worklog_rollup (org_id, day, project_id, source_id, n, seconds, rated, unrated, started_hi) SELECT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id, sum(d.s), sum(d.s * d.seconds), sum(d.s * CASE WHEN d.author_rate IS NULL THEN 0.0 ELSE d.seconds * d.author_rate END), sum(d.s * CASE WHEN d.author_rate IS NULL THEN d.seconds ELSE 0 END), max(CASE WHEN d.s > 0 THEN d.started_at END) FROM (SELECT o.*, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL AND o.task_id IS NOT NULL AND o.task_deleted_at IS NULL AND o.started_day IS NOT NULL) d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 ON CONFLICT (org_id, day, project_id, source_id) DO UPDATE SET n = worklog_rollup.n + excluded.n, seconds = worklog_rollup.seconds + excluded.seconds, rated = worklog_rollup.rated + excluded.rated, unrated = worklog_rollup.unrated + excluded.unrated, started_hi = GREATEST(worklog_rollup.started_hi, excluded.started_hi);
  DELETE FROM worklog_rollup r USING (SELECT DISTINCT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id FROM (SELECT o.*, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL AND o.task_id IS NOT NULL AND o.task_deleted_at IS NULL AND o.started_day IS NOT NULL) d WHERE d.s < 0) k (org_id, day, project_id, source_id) WHERE (r.org_id, r.day, r.project_id, r.source_id) = (k.org_id, k.day, k.project_id, k.source_id) AND r.n = 0;
  RETURN NULL;
END
$fn$;

-- statement 6 (service.store.worklog_rollup.install)
CREATE TRIGGER worklog_rollup_delete AFTER DELETE ON worklog REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_rollup_delete();

-- statement 7 (service.store.worklog_rollup.rebuild)
DELETE FROM worklog_rollup;

-- statement 8 (service.store.worklog_rollup.rebuild)
INSERT INTO worklog_rollup (org_id, day, project_id, source_id, n, seconds, rated, unrated, started_hi) SELECT w.org_id, w.started_day, coalesce(w.task_project_id, 0), w.source_id, sum(1), sum(1 * w.seconds), sum(1 * CASE WHEN w.author_rate IS NULL THEN 0.0 ELSE w.seconds * w.author_rate END), sum(1 * CASE WHEN w.author_rate IS NULL THEN w.seconds ELSE 0 END), max(w.started_at) FROM worklog w WHERE w.deleted_at IS NULL AND w.task_id IS NOT NULL AND w.task_deleted_at IS NULL AND w.started_day IS NOT NULL GROUP BY 1, 2, 3, 4;
