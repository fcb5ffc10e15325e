-- Migration 0011_workload_rollup, upgrade, postgresql: the statements it executed through the store code
-- (service.store.workload_rollup.install, service.store.workload_rollup.rebuild) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.workload_rollup.install)
CREATE FUNCTION taskhub_workload_rollup_task_insert() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
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
$fn$;

-- statement 2 (service.store.workload_rollup.install)
CREATE TRIGGER workload_rollup_task_insert AFTER INSERT ON task REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_task_insert();

-- statement 3 (service.store.workload_rollup.install)
CREATE FUNCTION taskhub_workload_rollup_task_update() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
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
$fn$;

-- statement 4 (service.store.workload_rollup.install)
CREATE TRIGGER workload_rollup_task_update AFTER UPDATE ON task REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_task_update();

-- statement 5 (service.store.workload_rollup.install)
CREATE FUNCTION taskhub_workload_rollup_task_delete() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  IF OLD.deleted_at IS NULL AND OLD.status_category <> 'done' AND OLD.type <> 'epic' AND NOT OLD.is_milestone THEN
    INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT OLD.org_id, coalesce(OLD.project_id, 0), OLD.source_id, coalesce(OLD.due_date, '9999-12-31'), CASE WHEN OLD.archived THEN 2 ELSE 1 END, coalesce(a.person_id, 0), coalesce(a.k, 1), -1, -1 * coalesce(OLD.estimate_points, 0), -1 * coalesce(OLD.estimate_seconds, 0) FROM (SELECT 1) one LEFT JOIN (SELECT person_id, count(*) OVER () AS k FROM task_assignee WHERE task_id = OLD.id) a ON true ORDER BY 6 ON CONFLICT (org_id, project_id, source_id, due_date, cls, person_id, shares) DO UPDATE SET n = workload_rollup.n + excluded.n, points = workload_rollup.points + excluded.points, seconds = workload_rollup.seconds + excluded.seconds;
    DELETE FROM workload_rollup WHERE org_id = OLD.org_id AND project_id = coalesce(OLD.project_id, 0) AND source_id = OLD.source_id AND due_date = coalesce(OLD.due_date, '9999-12-31') AND n = 0;
  END IF;
  RETURN OLD;
END
$fn$;

-- statement 6 (service.store.workload_rollup.install)
CREATE TRIGGER workload_rollup_task_delete BEFORE DELETE ON task FOR EACH ROW EXECUTE FUNCTION taskhub_workload_rollup_task_delete();

-- statement 7 (service.store.workload_rollup.install)
CREATE FUNCTION taskhub_workload_rollup_link_insert() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
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
$fn$;

-- statement 8 (service.store.workload_rollup.install)
CREATE TRIGGER workload_rollup_link_insert AFTER INSERT ON task_assignee REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_link_insert();

-- statement 9 (service.store.workload_rollup.install)
CREATE FUNCTION taskhub_workload_rollup_link_update() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
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
$fn$;

-- statement 10 (service.store.workload_rollup.install)
CREATE TRIGGER workload_rollup_link_update AFTER UPDATE ON task_assignee REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_link_update();

-- statement 11 (service.store.workload_rollup.install)
CREATE FUNCTION taskhub_workload_rollup_link_delete() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
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
$fn$;

-- statement 12 (service.store.workload_rollup.install)
CREATE TRIGGER workload_rollup_link_delete AFTER DELETE ON task_assignee REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_workload_rollup_link_delete();

-- statement 13 (service.store.workload_rollup.rebuild)
DELETE FROM workload_rollup;

-- statement 14 (service.store.workload_rollup.rebuild)
INSERT INTO workload_rollup (org_id, project_id, source_id, due_date, cls, person_id, shares, n, points, seconds) SELECT t.org_id, coalesce(t.project_id, 0), t.source_id, coalesce(t.due_date, '9999-12-31'), CASE WHEN t.archived THEN 2 ELSE 1 END, coalesce(a.person_id, 0), coalesce(a.k, 1), sum(1), sum(1 * coalesce(t.estimate_points, 0)), sum(1 * coalesce(t.estimate_seconds, 0)) FROM task t LEFT JOIN (SELECT task_id, person_id, count(*) OVER (PARTITION BY task_id) AS k FROM task_assignee) a ON a.task_id = t.id WHERE t.deleted_at IS NULL AND t.status_category <> 'done' AND t.type <> 'epic' AND NOT t.is_milestone GROUP BY 1, 2, 3, 4, 5, 6, 7;
