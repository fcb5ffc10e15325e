-- Migration 0014_drop_rollup_triggers, downgrade, postgresql: revision 0013's rollups and triggers back.
-- First the rebuild statements of the frozen upgrades (the rollups and the worklog copies
-- recomputed from the rows), then every function and trigger of a database migrated to
-- 0013, from its catalogue. Written by service/migrations/freeze.py capture. Executed in
-- order, one statement each (the text after a '-- statement N' line, without its final ';').
-- Do not edit: a change is a new migration.

-- statement 1 (0003_task_rollups upgrade: service.store.rollup.rebuild(milestones=False))
DELETE FROM task_rollup;

-- statement 2 (0003_task_rollups upgrade: service.store.rollup.rebuild(milestones=False))
DELETE FROM task_day_rollup;

-- statement 3 (0003_task_rollups upgrade: service.store.rollup.rebuild(milestones=False))
INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT t.org_id, coalesce(t.project_id, 0), t.source_id, t.status_category, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END, sum(1), sum(1 * (t.estimate_points IS NOT NULL)::int), sum(1 * coalesce(t.estimate_points, 0)), sum(1 * (t.estimate_seconds IS NOT NULL)::int), sum(1 * coalesce(t.estimate_seconds, 0)), sum(1 * (coalesce(t.spent_seconds, t.remaining_seconds) IS NOT NULL)::int), sum(1 * coalesce(t.spent_seconds, 0)), sum(1 * coalesce(t.remaining_seconds, 0)), sum(1 * (t.completed_at IS NOT NULL)::int), max(t.remote_created_at) FROM task t WHERE t.deleted_at IS NULL GROUP BY 1, 2, 3, 4, 5;

-- statement 4 (0003_task_rollups upgrade: service.store.rollup.rebuild(milestones=False))
INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT t.org_id, t.source_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END, 'c', t.remote_created_at IS NOT NULL, coalesce(date_trunc('hour', t.remote_created_at, 'UTC'), 'epoch'::timestamptz), count(*) FROM task t WHERE t.deleted_at IS NULL AND CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END > 0 GROUP BY 1, 2, 3, 4, 5, 6;

-- statement 5 (0003_task_rollups upgrade: service.store.rollup.rebuild(milestones=False))
INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT t.org_id, t.source_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END, 'd', t.completed_at IS NOT NULL, coalesce(date_trunc('hour', t.completed_at, 'UTC'), 'epoch'::timestamptz), count(*) FROM task t WHERE t.deleted_at IS NULL AND CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END > 0 AND t.status_category = 'done' GROUP BY 1, 2, 3, 4, 5, 6;

-- statement 6 (0004_milestone_rollup upgrade: service.store.rollup.rebuild(tasks=False))
DELETE FROM milestone_rollup;

-- statement 7 (0004_milestone_rollup upgrade: service.store.rollup.rebuild(tasks=False))
INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT tm.milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END, max(t.org_id), max(t.source_id), count(*), sum((t.status_category = 'done')::int) FROM task_milestone tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL GROUP BY 1, 2;

-- statement 8 (0007_worklog_task_columns upgrade: service.store.worklog_task.rebuild)
UPDATE worklog w SET task_id = t.id, task_project_id = t.project_id, task_deleted_at = t.deleted_at FROM task t WHERE t.source_id = w.source_id AND t.external_id = w.task_external_id AND (task_id, task_project_id, task_deleted_at) IS DISTINCT FROM (t.id, t.project_id, t.deleted_at);

-- statement 9 (0007_worklog_task_columns upgrade: service.store.worklog_task.rebuild)
UPDATE worklog w SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL WHERE w.task_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM task t WHERE t.source_id = w.source_id AND t.external_id = w.task_external_id);

-- statement 10 (0008_worklog_day_rate upgrade: service.store.worklog_day.rebuild)
UPDATE worklog AS w SET started_day = (SELECT (w.started_at AT TIME ZONE o.timezone)::date FROM organization o WHERE o.id = w.org_id) WHERE w.started_day IS DISTINCT FROM (SELECT (w.started_at AT TIME ZONE o.timezone)::date FROM organization o WHERE o.id = w.org_id);

-- statement 11 (0008_worklog_day_rate upgrade: service.store.worklog_day.rebuild)
UPDATE worklog AS w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);

-- statement 12 (0009_worklog_rollup upgrade: service.store.worklog_rollup.rebuild)
DELETE FROM worklog_rollup;

-- statement 13 (0009_worklog_rollup upgrade: service.store.worklog_rollup.rebuild)
INSERT INTO worklog_rollup (org_id, day, project_id, source_id, n, seconds, rated, unrated, started_hi) SELECT w.org_id, w.started_day, coalesce(w.task_project_id, 0), w.source_id, sum(1), sum(1 * w.seconds), sum(1 * CASE WHEN w.author_rate IS NULL THEN 0.0 ELSE w.seconds * w.author_rate END), sum(1 * CASE WHEN w.author_rate IS NULL THEN w.seconds ELSE 0 END), max(w.started_at) FROM worklog w WHERE w.deleted_at IS NULL AND w.task_id IS NOT NULL AND w.task_deleted_at IS NULL AND w.started_day IS NOT NULL GROUP BY 1, 2, 3, 4;

-- statement 14 (0011_workload_rollup upgrade: service.store.workload_rollup.rebuild)
DELETE FROM workload_rollup;

-- statement 15 (0011_workload_rollup upgrade: service.store.workload_rollup.rebuild)
INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT t.org_id, coalesce(t.project_id, 0), t.source_id, coalesce(t.due_date, '9999-12-31'), CASE WHEN t.archived THEN 2 ELSE 1 END, coalesce(a.person_id, 0), coalesce(a.k, 1), sum(1), sum(1 * coalesce(t.estimate_points, 0)), sum(1 * coalesce(t.estimate_seconds, 0)) FROM task t LEFT JOIN (SELECT task_id, person_id, count(*) OVER (PARTITION BY task_id) AS k FROM task_assignee) a ON a.task_id = t.id WHERE t.deleted_at IS NULL AND t.status_category <> 'done' AND t.type <> 'epic' AND NOT t.is_milestone GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- statement 16 (function taskhub_milestone_rollup_link_delete)
CREATE OR REPLACE FUNCTION public.taskhub_milestone_rollup_link_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, -1 AS tasks, -1 * (t.status_category = 'done')::int AS done FROM old_rows tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM old_rows);
  RETURN NULL;
END
$function$;

-- statement 17 (function taskhub_milestone_rollup_link_insert)
CREATE OR REPLACE FUNCTION public.taskhub_milestone_rollup_link_insert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls, t.org_id, t.source_id, 1 AS tasks, 1 * (t.status_category = 'done')::int AS done FROM new_rows tm JOIN task t ON t.id = tm.task_id WHERE t.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  RETURN NULL;
END
$function$;

-- statement 18 (function taskhub_milestone_rollup_task_delete)
CREATE OR REPLACE FUNCTION public.taskhub_milestone_rollup_task_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN OLD.type = 'epic' OR OLD.is_milestone THEN 0 WHEN OLD.archived THEN 2 ELSE 1 END AS cls, OLD.org_id, OLD.source_id, -1 AS tasks, -1 * (OLD.status_category = 'done')::int AS done FROM task_milestone tm WHERE OLD.deleted_at IS NULL AND tm.task_id = OLD.id) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  DELETE FROM milestone_rollup WHERE tasks = 0 AND milestone_id IN (SELECT milestone_id FROM task_milestone WHERE task_id = OLD.id);
  RETURN OLD;
END
$function$;

-- statement 19 (function taskhub_milestone_rollup_task_update)
CREATE OR REPLACE FUNCTION public.taskhub_milestone_rollup_task_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO milestone_rollup (milestone_id, cls, org_id, source_id, tasks, done) SELECT milestone_id, cls, max(org_id), max(source_id), sum(tasks), sum(done) FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.org_id, v.source_id, v.sign AS tasks, v.sign * (v.status_category = 'done')::int AS done FROM (SELECT id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM old_rows UNION ALL SELECT 1, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM new_rows) x GROUP BY id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id HAVING count(*) = 1) v JOIN task_milestone tm ON tm.task_id = v.id WHERE v.deleted_at IS NULL) x GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT (milestone_id, cls) DO UPDATE SET tasks = milestone_rollup.tasks + excluded.tasks, done = milestone_rollup.done + excluded.done;
  WITH z AS MATERIALIZED (SELECT DISTINCT milestone_id FROM (SELECT tm.milestone_id AS milestone_id, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.org_id, v.source_id, v.sign AS tasks, v.sign * (v.status_category = 'done')::int AS done FROM (SELECT id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM old_rows UNION ALL SELECT 1, id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id FROM new_rows) x GROUP BY id, status_category, type, is_milestone, archived, deleted_at, org_id, source_id HAVING count(*) = 1) v JOIN task_milestone tm ON tm.task_id = v.id WHERE v.deleted_at IS NULL) x) DELETE FROM milestone_rollup r USING z WHERE r.milestone_id = z.milestone_id AND r.tasks = 0;
  RETURN NULL;
END
$function$;

-- statement 20 (function taskhub_task_rollup_delete)
CREATE OR REPLACE FUNCTION public.taskhub_task_rollup_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  WITH d AS (SELECT o.*, CASE WHEN o.type = 'epic' OR o.is_milestone THEN 0 WHEN o.archived THEN 2 ELSE 1 END AS cls, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL) INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, d.status_category, d.cls, sum(d.s), sum(d.s * (d.estimate_points IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_points, 0)), sum(d.s * (d.estimate_seconds IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_seconds, 0)), sum(d.s * (coalesce(d.spent_seconds, d.remaining_seconds) IS NOT NULL)::int), sum(d.s * coalesce(d.spent_seconds, 0)), sum(d.s * coalesce(d.remaining_seconds, 0)), sum(d.s * (d.completed_at IS NOT NULL)::int), max(CASE WHEN d.s > 0 THEN d.remote_created_at END) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = task_rollup.n + excluded.n, pts_n = task_rollup.pts_n + excluded.pts_n, pts = task_rollup.pts + excluded.pts, sec_n = task_rollup.sec_n + excluded.sec_n, sec = task_rollup.sec + excluded.sec, time_n = task_rollup.time_n + excluded.time_n, spent = task_rollup.spent + excluded.spent, remaining = task_rollup.remaining + excluded.remaining, completed_n = task_rollup.completed_n + excluded.completed_n, created_hi = GREATEST(task_rollup.created_hi, excluded.created_hi);
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket, sum(d.s) FROM (SELECT o.*, CASE WHEN o.type = 'epic' OR o.is_milestone THEN 0 WHEN o.archived THEN 2 ELSE 1 END AS cls, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = task_day_rollup.n + excluded.n;
  DELETE FROM task_rollup r USING (SELECT DISTINCT org_id, coalesce(project_id, 0) AS project_id, source_id, status_category, cls FROM (SELECT o.*, CASE WHEN o.type = 'epic' OR o.is_milestone THEN 0 WHEN o.archived THEN 2 ELSE 1 END AS cls, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL) x WHERE s < 0) k WHERE (r.org_id, r.project_id, r.source_id, r.status_category, r.cls) = (k.org_id, k.project_id, k.source_id, k.status_category, k.cls) AND r.n = 0;
  DELETE FROM task_day_rollup r USING (SELECT DISTINCT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket FROM (SELECT o.*, CASE WHEN o.type = 'epic' OR o.is_milestone THEN 0 WHEN o.archived THEN 2 ELSE 1 END AS cls, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 AND d.s < 0) k WHERE (r.org_id, r.source_id, r.cls, r.kind, r.known, r.bucket) = (k.org_id, k.source_id, k.cls, k.kind, k.known, k.bucket) AND r.n = 0;
  RETURN NULL;
END
$function$;

-- statement 21 (function taskhub_task_rollup_insert)
CREATE OR REPLACE FUNCTION public.taskhub_task_rollup_insert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  WITH d AS (SELECT n.*, CASE WHEN n.type = 'epic' OR n.is_milestone THEN 0 WHEN n.archived THEN 2 ELSE 1 END AS cls, 1 AS s FROM new_rows n WHERE n.deleted_at IS NULL) INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, d.status_category, d.cls, sum(d.s), sum(d.s * (d.estimate_points IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_points, 0)), sum(d.s * (d.estimate_seconds IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_seconds, 0)), sum(d.s * (coalesce(d.spent_seconds, d.remaining_seconds) IS NOT NULL)::int), sum(d.s * coalesce(d.spent_seconds, 0)), sum(d.s * coalesce(d.remaining_seconds, 0)), sum(d.s * (d.completed_at IS NOT NULL)::int), max(CASE WHEN d.s > 0 THEN d.remote_created_at END) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = task_rollup.n + excluded.n, pts_n = task_rollup.pts_n + excluded.pts_n, pts = task_rollup.pts + excluded.pts, sec_n = task_rollup.sec_n + excluded.sec_n, sec = task_rollup.sec + excluded.sec, time_n = task_rollup.time_n + excluded.time_n, spent = task_rollup.spent + excluded.spent, remaining = task_rollup.remaining + excluded.remaining, completed_n = task_rollup.completed_n + excluded.completed_n, created_hi = GREATEST(task_rollup.created_hi, excluded.created_hi);
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket, sum(d.s) FROM (SELECT n.*, CASE WHEN n.type = 'epic' OR n.is_milestone THEN 0 WHEN n.archived THEN 2 ELSE 1 END AS cls, 1 AS s FROM new_rows n WHERE n.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = task_day_rollup.n + excluded.n;
  RETURN NULL;
END
$function$;

-- statement 22 (function taskhub_task_rollup_update)
CREATE OR REPLACE FUNCTION public.taskhub_task_rollup_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  WITH d AS (SELECT v.*, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at HAVING count(*) = 1) v WHERE v.deleted_at IS NULL) INSERT INTO task_rollup (org_id, project_id, source_id, status_category, cls, n, pts_n, pts, sec_n, sec, time_n, spent, remaining, completed_n, created_hi) SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, d.status_category, d.cls, sum(d.s), sum(d.s * (d.estimate_points IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_points, 0)), sum(d.s * (d.estimate_seconds IS NOT NULL)::int), sum(d.s * coalesce(d.estimate_seconds, 0)), sum(d.s * (coalesce(d.spent_seconds, d.remaining_seconds) IS NOT NULL)::int), sum(d.s * coalesce(d.spent_seconds, 0)), sum(d.s * coalesce(d.remaining_seconds, 0)), sum(d.s * (d.completed_at IS NOT NULL)::int), max(CASE WHEN d.s > 0 THEN d.remote_created_at END) FROM d GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 ON CONFLICT (org_id, project_id, source_id, status_category, cls) DO UPDATE SET n = task_rollup.n + excluded.n, pts_n = task_rollup.pts_n + excluded.pts_n, pts = task_rollup.pts + excluded.pts, sec_n = task_rollup.sec_n + excluded.sec_n, sec = task_rollup.sec + excluded.sec, time_n = task_rollup.time_n + excluded.time_n, spent = task_rollup.spent + excluded.spent, remaining = task_rollup.remaining + excluded.remaining, completed_n = task_rollup.completed_n + excluded.completed_n, created_hi = GREATEST(task_rollup.created_hi, excluded.created_hi);
  INSERT INTO task_day_rollup (org_id, source_id, cls, kind, known, bucket, n) SELECT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket, sum(d.s) FROM (SELECT v.*, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at HAVING count(*) = 1) v WHERE v.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d.s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6 ON CONFLICT (org_id, source_id, cls, kind, known, bucket) DO UPDATE SET n = task_day_rollup.n + excluded.n;
  DELETE FROM task_rollup r USING (SELECT DISTINCT org_id, coalesce(project_id, 0) AS project_id, source_id, status_category, cls FROM (SELECT v.*, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at HAVING count(*) = 1) v WHERE v.deleted_at IS NULL) x WHERE s < 0) k WHERE (r.org_id, r.project_id, r.source_id, r.status_category, r.cls) = (k.org_id, k.project_id, k.source_id, k.status_category, k.cls) AND r.n = 0;
  DELETE FROM task_day_rollup r USING (SELECT DISTINCT d.org_id, d.source_id, d.cls, k.kind, k.at IS NOT NULL AS known, coalesce(date_trunc('hour', k.at, 'UTC'), 'epoch'::timestamptz) AS bucket FROM (SELECT v.*, CASE WHEN v.type = 'epic' OR v.is_milestone THEN 0 WHEN v.archived THEN 2 ELSE 1 END AS cls, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, estimate_points, estimate_seconds, spent_seconds, remaining_seconds, remote_created_at, completed_at HAVING count(*) = 1) v WHERE v.deleted_at IS NULL) d CROSS JOIN LATERAL (VALUES ('c', d.remote_created_at, true), ('d', d.completed_at, d.status_category = 'done')) AS k(kind, at, keep) WHERE k.keep AND d.cls > 0 AND d.s < 0) k WHERE (r.org_id, r.source_id, r.cls, r.kind, r.known, r.bucket) = (k.org_id, k.source_id, k.cls, k.kind, k.known, k.bucket) AND r.n = 0;
  RETURN NULL;
END
$function$;

-- statement 23 (function taskhub_workload_rollup_link_delete)
CREATE OR REPLACE FUNCTION public.taskhub_workload_rollup_link_delete()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
DECLARE zero workload_rollup[]; z workload_rollup;
BEGIN
  PERFORM 1 FROM task t WHERE t.id IN (SELECT DISTINCT task_id FROM (SELECT task_id FROM old_rows) y) ORDER BY t.id FOR NO KEY UPDATE OF t;
  WITH x AS MATERIALIZED (SELECT DISTINCT task_id FROM (SELECT task_id FROM old_rows) y), m AS (SELECT task_id, person_id, sum(a) AS a, sum(a) - sum(n) + sum(o) AS b FROM (SELECT ta.task_id, ta.person_id, 1 AS a, 0 AS n, 0 AS o FROM x JOIN task_assignee ta ON ta.task_id = x.task_id UNION ALL SELECT task_id, person_id, 0, 0, 1 FROM old_rows) u GROUP BY task_id, person_id), w AS (SELECT m.*, (sum(a) OVER p)::int AS ka, (sum(b) OVER p)::int AS kb, row_number() OVER p AS i FROM m WINDOW p AS (PARTITION BY task_id)), e AS (SELECT task_id, person_id, ka AS k, 1 AS s FROM w WHERE a = 1 UNION ALL SELECT task_id, person_id, kb, -1 FROM w WHERE b = 1 UNION ALL SELECT task_id, 0, 1, 1 FROM w WHERE ka = 0 AND i = 1 UNION ALL SELECT task_id, 0, 1, -1 FROM w WHERE kb = 0 AND i = 1), up AS (INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT t.org_id, coalesce(t.project_id, 0), t.source_id, coalesce(t.due_date, '9999-12-31'), CASE WHEN t.archived THEN 2 ELSE 1 END, e.person_id, e.k, sum(e.s), sum(e.s * coalesce(t.estimate_points, 0)), sum(e.s * coalesce(t.estimate_seconds, 0)) FROM e JOIN task t ON t.id = e.task_id WHERE t.deleted_at IS NULL AND t.status_category <> 'done' AND t.type <> 'epic' AND NOT t.is_milestone GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(e.s) <> 0 OR sum(e.s * coalesce(t.estimate_points, 0)) <> 0 OR sum(e.s * coalesce(t.estimate_seconds, 0)) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (org_id, project_id, source_id, due_date, cls, person_id, shares) DO UPDATE SET n = workload_rollup.n + excluded.n, points = workload_rollup.points + excluded.points, seconds = workload_rollup.seconds + excluded.seconds RETURNING *) SELECT array_agg(up) INTO zero FROM up WHERE up.n = 0;
  IF zero IS NOT NULL THEN
    FOREACH z IN ARRAY zero LOOP
      DELETE FROM workload_rollup r WHERE r.org_id = z.org_id AND r.project_id = z.project_id AND r.source_id = z.source_id AND r.due_date = z.due_date AND r.cls = z.cls AND r.person_id = z.person_id AND r.shares = z.shares AND r.n = 0;
    END LOOP;
  END IF;
  RETURN NULL;
END
$function$;

-- statement 24 (function taskhub_workload_rollup_link_insert)
CREATE OR REPLACE FUNCTION public.taskhub_workload_rollup_link_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
DECLARE zero workload_rollup[]; z workload_rollup;
BEGIN
  PERFORM 1 FROM task t WHERE t.id IN (SELECT DISTINCT task_id FROM (SELECT task_id FROM new_rows) y) ORDER BY t.id FOR NO KEY UPDATE OF t;
  WITH x AS MATERIALIZED (SELECT DISTINCT task_id FROM (SELECT task_id FROM new_rows) y), m AS (SELECT task_id, person_id, sum(a) AS a, sum(a) - sum(n) + sum(o) AS b FROM (SELECT ta.task_id, ta.person_id, 1 AS a, 0 AS n, 0 AS o FROM x JOIN task_assignee ta ON ta.task_id = x.task_id UNION ALL SELECT task_id, person_id, 0, 1, 0 FROM new_rows) u GROUP BY task_id, person_id), w AS (SELECT m.*, (sum(a) OVER p)::int AS ka, (sum(b) OVER p)::int AS kb, row_number() OVER p AS i FROM m WINDOW p AS (PARTITION BY task_id)), e AS (SELECT task_id, person_id, ka AS k, 1 AS s FROM w WHERE a = 1 UNION ALL SELECT task_id, person_id, kb, -1 FROM w WHERE b = 1 UNION ALL SELECT task_id, 0, 1, 1 FROM w WHERE ka = 0 AND i = 1 UNION ALL SELECT task_id, 0, 1, -1 FROM w WHERE kb = 0 AND i = 1), up AS (INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT t.org_id, coalesce(t.project_id, 0), t.source_id, coalesce(t.due_date, '9999-12-31'), CASE WHEN t.archived THEN 2 ELSE 1 END, e.person_id, e.k, sum(e.s), sum(e.s * coalesce(t.estimate_points, 0)), sum(e.s * coalesce(t.estimate_seconds, 0)) FROM e JOIN task t ON t.id = e.task_id WHERE t.deleted_at IS NULL AND t.status_category <> 'done' AND t.type <> 'epic' AND NOT t.is_milestone GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(e.s) <> 0 OR sum(e.s * coalesce(t.estimate_points, 0)) <> 0 OR sum(e.s * coalesce(t.estimate_seconds, 0)) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (org_id, project_id, source_id, due_date, cls, person_id, shares) DO UPDATE SET n = workload_rollup.n + excluded.n, points = workload_rollup.points + excluded.points, seconds = workload_rollup.seconds + excluded.seconds RETURNING *) SELECT array_agg(up) INTO zero FROM up WHERE up.n = 0;
  IF zero IS NOT NULL THEN
    FOREACH z IN ARRAY zero LOOP
      DELETE FROM workload_rollup r WHERE r.org_id = z.org_id AND r.project_id = z.project_id AND r.source_id = z.source_id AND r.due_date = z.due_date AND r.cls = z.cls AND r.person_id = z.person_id AND r.shares = z.shares AND r.n = 0;
    END LOOP;
  END IF;
  RETURN NULL;
END
$function$;

-- statement 25 (function taskhub_workload_rollup_link_update)
CREATE OR REPLACE FUNCTION public.taskhub_workload_rollup_link_update()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
DECLARE zero workload_rollup[]; z workload_rollup;
BEGIN
  PERFORM 1 FROM task t WHERE t.id IN (SELECT DISTINCT task_id FROM (SELECT task_id FROM old_rows UNION ALL SELECT task_id FROM new_rows) y) ORDER BY t.id FOR NO KEY UPDATE OF t;
  WITH x AS MATERIALIZED (SELECT DISTINCT task_id FROM (SELECT task_id FROM old_rows UNION ALL SELECT task_id FROM new_rows) y), m AS (SELECT task_id, person_id, sum(a) AS a, sum(a) - sum(n) + sum(o) AS b FROM (SELECT ta.task_id, ta.person_id, 1 AS a, 0 AS n, 0 AS o FROM x JOIN task_assignee ta ON ta.task_id = x.task_id UNION ALL SELECT task_id, person_id, 0, 1, 0 FROM new_rows UNION ALL SELECT task_id, person_id, 0, 0, 1 FROM old_rows) u GROUP BY task_id, person_id), w AS (SELECT m.*, (sum(a) OVER p)::int AS ka, (sum(b) OVER p)::int AS kb, row_number() OVER p AS i FROM m WINDOW p AS (PARTITION BY task_id)), e AS (SELECT task_id, person_id, ka AS k, 1 AS s FROM w WHERE a = 1 UNION ALL SELECT task_id, person_id, kb, -1 FROM w WHERE b = 1 UNION ALL SELECT task_id, 0, 1, 1 FROM w WHERE ka = 0 AND i = 1 UNION ALL SELECT task_id, 0, 1, -1 FROM w WHERE kb = 0 AND i = 1), up AS (INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT t.org_id, coalesce(t.project_id, 0), t.source_id, coalesce(t.due_date, '9999-12-31'), CASE WHEN t.archived THEN 2 ELSE 1 END, e.person_id, e.k, sum(e.s), sum(e.s * coalesce(t.estimate_points, 0)), sum(e.s * coalesce(t.estimate_seconds, 0)) FROM e JOIN task t ON t.id = e.task_id WHERE t.deleted_at IS NULL AND t.status_category <> 'done' AND t.type <> 'epic' AND NOT t.is_milestone GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(e.s) <> 0 OR sum(e.s * coalesce(t.estimate_points, 0)) <> 0 OR sum(e.s * coalesce(t.estimate_seconds, 0)) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (org_id, project_id, source_id, due_date, cls, person_id, shares) DO UPDATE SET n = workload_rollup.n + excluded.n, points = workload_rollup.points + excluded.points, seconds = workload_rollup.seconds + excluded.seconds RETURNING *) SELECT array_agg(up) INTO zero FROM up WHERE up.n = 0;
  IF zero IS NOT NULL THEN
    FOREACH z IN ARRAY zero LOOP
      DELETE FROM workload_rollup r WHERE r.org_id = z.org_id AND r.project_id = z.project_id AND r.source_id = z.source_id AND r.due_date = z.due_date AND r.cls = z.cls AND r.person_id = z.person_id AND r.shares = z.shares AND r.n = 0;
    END LOOP;
  END IF;
  RETURN NULL;
END
$function$;

-- statement 26 (function taskhub_workload_rollup_task_delete)
CREATE OR REPLACE FUNCTION public.taskhub_workload_rollup_task_delete()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
BEGIN
  IF OLD.deleted_at IS NULL AND OLD.status_category <> 'done' AND OLD.type <> 'epic' AND NOT OLD.is_milestone THEN
    INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT OLD.org_id, coalesce(OLD.project_id, 0), OLD.source_id, coalesce(OLD.due_date, '9999-12-31'), CASE WHEN OLD.archived THEN 2 ELSE 1 END, coalesce(a.person_id, 0), coalesce(a.k, 1), -1, -1 * coalesce(OLD.estimate_points, 0), -1 * coalesce(OLD.estimate_seconds, 0) FROM (SELECT 1) one LEFT JOIN (SELECT person_id, count(*) OVER () AS k FROM task_assignee WHERE task_id = OLD.id) a ON true ORDER BY 6 ON CONFLICT (org_id, project_id, source_id, due_date, cls, person_id, shares) DO UPDATE SET n = workload_rollup.n + excluded.n, points = workload_rollup.points + excluded.points, seconds = workload_rollup.seconds + excluded.seconds;
    DELETE FROM workload_rollup WHERE org_id = OLD.org_id AND project_id = coalesce(OLD.project_id, 0) AND source_id = OLD.source_id AND due_date = coalesce(OLD.due_date, '9999-12-31') AND n = 0;
  END IF;
  RETURN OLD;
END
$function$;

-- statement 27 (function taskhub_workload_rollup_task_insert)
CREATE OR REPLACE FUNCTION public.taskhub_workload_rollup_task_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
DECLARE zero workload_rollup[]; z workload_rollup;
BEGIN
  WITH up AS (INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, coalesce(d.due_date, '9999-12-31'), CASE WHEN d.archived THEN 2 ELSE 1 END, coalesce(a.person_id, 0), coalesce(a.k, 1), sum(d.s), sum(d.s * coalesce(d.estimate_points, 0)), sum(d.s * coalesce(d.estimate_seconds, 0)) FROM (SELECT n.*, 1 AS s FROM new_rows n WHERE n.deleted_at IS NULL AND n.status_category <> 'done' AND n.type <> 'epic' AND NOT n.is_milestone) d LEFT JOIN (SELECT NULL::int AS person_id, NULL::int AS k) a ON true GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (org_id, project_id, source_id, due_date, cls, person_id, shares) DO UPDATE SET n = workload_rollup.n + excluded.n, points = workload_rollup.points + excluded.points, seconds = workload_rollup.seconds + excluded.seconds RETURNING *) SELECT array_agg(up) INTO zero FROM up WHERE up.n = 0;
  IF zero IS NOT NULL THEN
    FOREACH z IN ARRAY zero LOOP
      DELETE FROM workload_rollup r WHERE r.org_id = z.org_id AND r.project_id = z.project_id AND r.source_id = z.source_id AND r.due_date = z.due_date AND r.cls = z.cls AND r.person_id = z.person_id AND r.shares = z.shares AND r.n = 0;
    END LOOP;
  END IF;
  RETURN NULL;
END
$function$;

-- statement 28 (function taskhub_workload_rollup_task_update)
CREATE OR REPLACE FUNCTION public.taskhub_workload_rollup_task_update()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
DECLARE zero workload_rollup[]; z workload_rollup;
BEGIN
  WITH up AS (INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT d.org_id, coalesce(d.project_id, 0), d.source_id, coalesce(d.due_date, '9999-12-31'), CASE WHEN d.archived THEN 2 ELSE 1 END, coalesce(a.person_id, 0), coalesce(a.k, 1), sum(d.s), sum(d.s * coalesce(d.estimate_points, 0)), sum(d.s * coalesce(d.estimate_seconds, 0)) FROM (SELECT v.*, v.sign AS s FROM (SELECT id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, due_date, estimate_points, estimate_seconds, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, due_date, estimate_points, estimate_seconds FROM old_rows UNION ALL SELECT 1, id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, due_date, estimate_points, estimate_seconds FROM new_rows) x GROUP BY id, org_id, project_id, source_id, status_category, type, is_milestone, archived, deleted_at, due_date, estimate_points, estimate_seconds HAVING count(*) = 1) v WHERE v.deleted_at IS NULL AND v.status_category <> 'done' AND v.type <> 'epic' AND NOT v.is_milestone) d LEFT JOIN LATERAL (SELECT person_id, count(*) OVER () AS k FROM task_assignee WHERE task_id = d.id) a ON true GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (org_id, project_id, source_id, due_date, cls, person_id, shares) DO UPDATE SET n = workload_rollup.n + excluded.n, points = workload_rollup.points + excluded.points, seconds = workload_rollup.seconds + excluded.seconds RETURNING *) SELECT array_agg(up) INTO zero FROM up WHERE up.n = 0;
  IF zero IS NOT NULL THEN
    FOREACH z IN ARRAY zero LOOP
      DELETE FROM workload_rollup r WHERE r.org_id = z.org_id AND r.project_id = z.project_id AND r.source_id = z.source_id AND r.due_date = z.due_date AND r.cls = z.cls AND r.person_id = z.person_id AND r.shares = z.shares AND r.n = 0;
    END LOOP;
  END IF;
  RETURN NULL;
END
$function$;

-- statement 29 (function taskhub_worklog_day_rate_delete)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_day_rate_delete()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
BEGIN
  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT org_id AS o FROM (SELECT org_id, person_id FROM old_rows) c ORDER BY 1) x;
  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM old_rows) c) AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NULL;
END
$function$;

-- statement 30 (function taskhub_worklog_day_rate_insert)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_day_rate_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
BEGIN
  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT org_id AS o FROM (SELECT org_id, person_id FROM new_rows) c ORDER BY 1) x;
  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM new_rows) c) AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NULL;
END
$function$;

-- statement 31 (function taskhub_worklog_day_rate_update)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_day_rate_update()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
BEGIN
  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT org_id AS o FROM (SELECT org_id, person_id FROM old_rows UNION SELECT org_id, person_id FROM new_rows) c ORDER BY 1) x;
  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM old_rows UNION SELECT org_id, person_id FROM new_rows) c) AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NULL;
END
$function$;

-- statement 32 (function taskhub_worklog_day_row)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_day_row()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(2003592289, mod(NEW.org_id, 2147483648)::int);
  SELECT (NEW.started_at AT TIME ZONE o.timezone)::date INTO NEW.started_day FROM organization o WHERE o.id = NEW.org_id;
  NEW.author_rate := (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = NEW.person_id AND r.effective_from <= NEW.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NEW;
END
$function$;

-- statement 33 (function taskhub_worklog_day_zone)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_day_zone()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  PERFORM pg_advisory_xact_lock(2003592289, mod(NEW.id, 2147483648)::int);
  UPDATE worklog w SET started_day = (w.started_at AT TIME ZONE NEW.timezone)::date WHERE w.org_id = NEW.id AND w.started_day IS DISTINCT FROM (w.started_at AT TIME ZONE NEW.timezone)::date;
  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.org_id = NEW.id AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NULL;
END
$function$;

-- statement 34 (function taskhub_worklog_rollup_delete)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_rollup_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO worklog_rollup (org_id, day, project_id, source_id, n, seconds, rated, unrated, started_hi) SELECT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id, sum(d.s), sum(d.s * d.seconds), sum(d.s * CASE WHEN d.author_rate IS NULL THEN 0.0 ELSE d.seconds * d.author_rate END), sum(d.s * CASE WHEN d.author_rate IS NULL THEN d.seconds ELSE 0 END), max(CASE WHEN d.s > 0 THEN d.started_at END) FROM (SELECT o.*, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL AND o.task_id IS NOT NULL AND o.task_deleted_at IS NULL AND o.started_day IS NOT NULL) d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 ON CONFLICT (org_id, day, project_id, source_id) DO UPDATE SET n = worklog_rollup.n + excluded.n, seconds = worklog_rollup.seconds + excluded.seconds, rated = worklog_rollup.rated + excluded.rated, unrated = worklog_rollup.unrated + excluded.unrated, started_hi = GREATEST(worklog_rollup.started_hi, excluded.started_hi);
  DELETE FROM worklog_rollup r USING (SELECT DISTINCT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id FROM (SELECT o.*, -1 AS s FROM old_rows o WHERE o.deleted_at IS NULL AND o.task_id IS NOT NULL AND o.task_deleted_at IS NULL AND o.started_day IS NOT NULL) d WHERE d.s < 0) k (org_id, day, project_id, source_id) WHERE (r.org_id, r.day, r.project_id, r.source_id) = (k.org_id, k.day, k.project_id, k.source_id) AND r.n = 0;
  RETURN NULL;
END
$function$;

-- statement 35 (function taskhub_worklog_rollup_insert)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_rollup_insert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO worklog_rollup (org_id, day, project_id, source_id, n, seconds, rated, unrated, started_hi) SELECT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id, sum(d.s), sum(d.s * d.seconds), sum(d.s * CASE WHEN d.author_rate IS NULL THEN 0.0 ELSE d.seconds * d.author_rate END), sum(d.s * CASE WHEN d.author_rate IS NULL THEN d.seconds ELSE 0 END), max(CASE WHEN d.s > 0 THEN d.started_at END) FROM (SELECT n.*, 1 AS s FROM new_rows n WHERE n.deleted_at IS NULL AND n.task_id IS NOT NULL AND n.task_deleted_at IS NULL AND n.started_day IS NOT NULL) d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 ON CONFLICT (org_id, day, project_id, source_id) DO UPDATE SET n = worklog_rollup.n + excluded.n, seconds = worklog_rollup.seconds + excluded.seconds, rated = worklog_rollup.rated + excluded.rated, unrated = worklog_rollup.unrated + excluded.unrated, started_hi = GREATEST(worklog_rollup.started_hi, excluded.started_hi);
  RETURN NULL;
END
$function$;

-- statement 36 (function taskhub_worklog_rollup_update)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_rollup_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  INSERT INTO worklog_rollup (org_id, day, project_id, source_id, n, seconds, rated, unrated, started_hi) SELECT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id, sum(d.s), sum(d.s * d.seconds), sum(d.s * CASE WHEN d.author_rate IS NULL THEN 0.0 ELSE d.seconds * d.author_rate END), sum(d.s * CASE WHEN d.author_rate IS NULL THEN d.seconds ELSE 0 END), max(CASE WHEN d.s > 0 THEN d.started_at END) FROM (SELECT v.*, v.sign AS s FROM (SELECT id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate FROM old_rows UNION ALL SELECT 1, id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate FROM new_rows) x GROUP BY id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate HAVING count(*) = 1) v WHERE v.deleted_at IS NULL AND v.task_id IS NOT NULL AND v.task_deleted_at IS NULL AND v.started_day IS NOT NULL) d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 ON CONFLICT (org_id, day, project_id, source_id) DO UPDATE SET n = worklog_rollup.n + excluded.n, seconds = worklog_rollup.seconds + excluded.seconds, rated = worklog_rollup.rated + excluded.rated, unrated = worklog_rollup.unrated + excluded.unrated, started_hi = GREATEST(worklog_rollup.started_hi, excluded.started_hi);
  DELETE FROM worklog_rollup r USING (SELECT DISTINCT d.org_id, d.started_day, coalesce(d.task_project_id, 0), d.source_id FROM (SELECT v.*, v.sign AS s FROM (SELECT id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM (SELECT 0 AS side, id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate FROM old_rows UNION ALL SELECT 1, id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate FROM new_rows) x GROUP BY id, org_id, source_id, task_id, task_project_id, task_deleted_at, deleted_at, started_at, started_day, seconds, author_rate HAVING count(*) = 1) v WHERE v.deleted_at IS NULL AND v.task_id IS NOT NULL AND v.task_deleted_at IS NULL AND v.started_day IS NOT NULL) d WHERE d.s < 0) k (org_id, day, project_id, source_id) WHERE (r.org_id, r.day, r.project_id, r.source_id) = (k.org_id, k.day, k.project_id, k.source_id) AND r.n = 0;
  RETURN NULL;
END
$function$;

-- statement 37 (function taskhub_worklog_task_row)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_task_row()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  SELECT t.id, t.project_id, t.deleted_at INTO NEW.task_id, NEW.task_project_id, NEW.task_deleted_at FROM task t WHERE t.source_id = NEW.source_id AND t.external_id = NEW.task_external_id FOR SHARE;
  IF NOT FOUND THEN
    -- a task of this key may be in an insert not yet committed: wait for those of the source
    PERFORM pg_advisory_xact_lock(2003596385, mod(NEW.source_id, 2147483648)::int);
    SELECT t.id, t.project_id, t.deleted_at INTO NEW.task_id, NEW.task_project_id, NEW.task_deleted_at FROM task t WHERE t.source_id = NEW.source_id AND t.external_id = NEW.task_external_id FOR SHARE;
  END IF;
  RETURN NEW;
END
$function$;

-- statement 38 (function taskhub_worklog_task_task_delete)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_task_task_delete()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
BEGIN
  UPDATE worklog w SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL FROM old_rows o WHERE w.source_id = o.source_id AND w.task_external_id = o.external_id AND w.task_id = o.id AND EXISTS (SELECT 1 FROM source s WHERE s.id = o.source_id);
  RETURN NULL;
END
$function$;

-- statement 39 (function taskhub_worklog_task_task_insert)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_task_task_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(2003596385, mod(s, 2147483648)::int) FROM (SELECT DISTINCT source_id AS s FROM new_rows ORDER BY 1) x;
  UPDATE worklog w SET task_id = n.id, task_project_id = n.project_id, task_deleted_at = n.deleted_at FROM new_rows n WHERE w.source_id = n.source_id AND w.task_external_id = n.external_id;
  RETURN NULL;
END
$function$;

-- statement 40 (function taskhub_worklog_task_task_update)
CREATE OR REPLACE FUNCTION public.taskhub_worklog_task_task_update()
 RETURNS trigger
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
BEGIN
  UPDATE worklog w SET task_id = NULL, task_project_id = NULL, task_deleted_at = NULL FROM (SELECT id, source_id, external_id FROM (SELECT 0 AS side, id, source_id, external_id, project_id, deleted_at FROM old_rows UNION ALL SELECT 1, id, source_id, external_id, project_id, deleted_at FROM new_rows) x GROUP BY 1, 2, 3 HAVING count(*) = 1 AND max(side) = 0) o WHERE w.source_id = o.source_id AND w.task_external_id = o.external_id AND w.task_id = o.id;
  UPDATE worklog w SET task_id = n.id, task_project_id = n.project_id, task_deleted_at = n.deleted_at FROM (SELECT id, source_id, external_id, project_id, deleted_at FROM (SELECT 0 AS side, id, source_id, external_id, project_id, deleted_at FROM old_rows UNION ALL SELECT 1, id, source_id, external_id, project_id, deleted_at FROM new_rows) x GROUP BY 1, 2, 3, 4, 5 HAVING count(*) = 1 AND min(side) = 1) n WHERE w.source_id = n.source_id AND w.task_external_id = n.external_id;
  RETURN NULL;
END
$function$;

-- statement 41 (trigger worklog_day_zone ON organization)
CREATE TRIGGER worklog_day_zone AFTER UPDATE OF timezone ON public.organization FOR EACH ROW WHEN (((old.timezone)::text IS DISTINCT FROM (new.timezone)::text)) EXECUTE FUNCTION taskhub_worklog_day_zone();

-- statement 42 (trigger worklog_day_rate_delete ON person_rate)
CREATE TRIGGER worklog_day_rate_delete AFTER DELETE ON public.person_rate REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_delete();

-- statement 43 (trigger worklog_day_rate_insert ON person_rate)
CREATE TRIGGER worklog_day_rate_insert AFTER INSERT ON public.person_rate REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_insert();

-- statement 44 (trigger worklog_day_rate_update ON person_rate)
CREATE TRIGGER worklog_day_rate_update AFTER UPDATE ON public.person_rate REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_update();

-- statement 45 (trigger milestone_rollup_task_delete ON task)
CREATE TRIGGER milestone_rollup_task_delete BEFORE DELETE ON public.task FOR EACH ROW EXECUTE FUNCTION taskhub_milestone_rollup_task_delete();

-- statement 46 (trigger milestone_rollup_task_update ON task)
CREATE TRIGGER milestone_rollup_task_update AFTER UPDATE ON public.task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_task_update();

-- statement 47 (trigger task_rollup_delete ON task)
CREATE TRIGGER task_rollup_delete AFTER DELETE ON public.task REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_task_rollup_delete();

-- statement 48 (trigger task_rollup_insert ON task)
CREATE TRIGGER task_rollup_insert AFTER INSERT ON public.task REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_task_rollup_insert();

-- statement 49 (trigger task_rollup_update ON task)
CREATE TRIGGER task_rollup_update AFTER UPDATE ON public.task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_task_rollup_update();

-- statement 50 (trigger workload_rollup_task_delete ON task)
CREATE TRIGGER workload_rollup_task_delete BEFORE DELETE ON public.task FOR EACH ROW EXECUTE FUNCTION taskhub_workload_rollup_task_delete();

-- statement 51 (trigger workload_rollup_task_insert ON task)
CREATE TRIGGER workload_rollup_task_insert AFTER INSERT ON public.task REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_task_insert();

-- statement 52 (trigger workload_rollup_task_update ON task)
CREATE TRIGGER workload_rollup_task_update AFTER UPDATE ON public.task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_task_update();

-- statement 53 (trigger worklog_task_task_delete ON task)
CREATE TRIGGER worklog_task_task_delete AFTER DELETE ON public.task REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_delete();

-- statement 54 (trigger worklog_task_task_insert ON task)
CREATE TRIGGER worklog_task_task_insert AFTER INSERT ON public.task REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_insert();

-- statement 55 (trigger worklog_task_task_update ON task)
CREATE TRIGGER worklog_task_task_update AFTER UPDATE ON public.task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_task_task_update();

-- statement 56 (trigger workload_rollup_link_delete ON task_assignee)
CREATE TRIGGER workload_rollup_link_delete AFTER DELETE ON public.task_assignee REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_link_delete();

-- statement 57 (trigger workload_rollup_link_insert ON task_assignee)
CREATE TRIGGER workload_rollup_link_insert AFTER INSERT ON public.task_assignee REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_link_insert();

-- statement 58 (trigger workload_rollup_link_update ON task_assignee)
CREATE TRIGGER workload_rollup_link_update AFTER UPDATE ON public.task_assignee REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_link_update();

-- statement 59 (trigger milestone_rollup_link_delete ON task_milestone)
CREATE TRIGGER milestone_rollup_link_delete AFTER DELETE ON public.task_milestone REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_link_delete();

-- statement 60 (trigger milestone_rollup_link_insert ON task_milestone)
CREATE TRIGGER milestone_rollup_link_insert AFTER INSERT ON public.task_milestone REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_milestone_rollup_link_insert();

-- statement 61 (trigger worklog_day_price ON worklog)
CREATE TRIGGER worklog_day_price BEFORE INSERT ON public.worklog FOR EACH ROW EXECUTE FUNCTION taskhub_worklog_day_row();

-- statement 62 (trigger worklog_day_reprice ON worklog)
CREATE TRIGGER worklog_day_reprice BEFORE UPDATE OF org_id, started_at, person_id ON public.worklog FOR EACH ROW WHEN (((old.org_id IS DISTINCT FROM new.org_id) OR (old.started_at IS DISTINCT FROM new.started_at) OR (old.person_id IS DISTINCT FROM new.person_id))) EXECUTE FUNCTION taskhub_worklog_day_row();

-- statement 63 (trigger worklog_rollup_delete ON worklog)
CREATE TRIGGER worklog_rollup_delete AFTER DELETE ON public.worklog REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_rollup_delete();

-- statement 64 (trigger worklog_rollup_insert ON worklog)
CREATE TRIGGER worklog_rollup_insert AFTER INSERT ON public.worklog REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_rollup_insert();

-- statement 65 (trigger worklog_rollup_update ON worklog)
CREATE TRIGGER worklog_rollup_update AFTER UPDATE ON public.worklog REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_rollup_update();

-- statement 66 (trigger worklog_task_link ON worklog)
CREATE TRIGGER worklog_task_link BEFORE INSERT ON public.worklog FOR EACH ROW EXECUTE FUNCTION taskhub_worklog_task_row();

-- statement 67 (trigger worklog_task_relink ON worklog)
CREATE TRIGGER worklog_task_relink BEFORE UPDATE OF source_id, task_external_id ON public.worklog FOR EACH ROW WHEN (((old.source_id IS DISTINCT FROM new.source_id) OR ((old.task_external_id)::text IS DISTINCT FROM (new.task_external_id)::text))) EXECUTE FUNCTION taskhub_worklog_task_row();
