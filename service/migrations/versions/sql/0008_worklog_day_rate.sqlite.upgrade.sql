-- Migration 0008_worklog_day_rate, upgrade, sqlite: the statements it executed through the store code
-- (service.store.worklog_day.install, service.store.worklog_day.rebuild) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_day.rebuild)
UPDATE worklog AS w SET started_day = (SELECT taskhub_local_day(w.started_at, o.timezone) FROM organization o WHERE o.id = w.org_id) WHERE w.started_day IS NOT (SELECT taskhub_local_day(w.started_at, o.timezone) FROM organization o WHERE o.id = w.org_id);

-- statement 2 (service.store.worklog_day.rebuild)
UPDATE worklog AS w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.author_rate IS NOT (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);

-- statement 3 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_price AFTER INSERT ON worklog BEGIN
  UPDATE worklog SET (started_day, author_rate) = (SELECT x.d, (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = new.person_id AND r.effective_from <= x.d ORDER BY r.effective_from DESC LIMIT 1) FROM (SELECT taskhub_local_day(new.started_at, o.timezone) AS d FROM organization o WHERE o.id = new.org_id) AS x) WHERE id = new.id;
END;

-- statement 4 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_reprice AFTER UPDATE OF org_id, started_at, person_id ON worklog WHEN old.org_id IS NOT new.org_id OR old.started_at IS NOT new.started_at OR old.person_id IS NOT new.person_id BEGIN
  UPDATE worklog SET (started_day, author_rate) = (SELECT x.d, (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = new.person_id AND r.effective_from <= x.d ORDER BY r.effective_from DESC LIMIT 1) FROM (SELECT taskhub_local_day(new.started_at, o.timezone) AS d FROM organization o WHERE o.id = new.org_id) AS x) WHERE id = new.id;
END;

-- statement 5 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_rate_insert AFTER INSERT ON person_rate BEGIN
  UPDATE worklog SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = worklog.person_id AND r.effective_from <= worklog.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE person_id = new.person_id AND author_rate IS NOT (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = worklog.person_id AND r.effective_from <= worklog.started_day ORDER BY r.effective_from DESC LIMIT 1);
END;

-- statement 6 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_rate_update AFTER UPDATE ON person_rate BEGIN
  UPDATE worklog SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = worklog.person_id AND r.effective_from <= worklog.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE person_id IN (old.person_id, new.person_id) AND author_rate IS NOT (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = worklog.person_id AND r.effective_from <= worklog.started_day ORDER BY r.effective_from DESC LIMIT 1);
END;

-- statement 7 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_rate_delete AFTER DELETE ON person_rate BEGIN
  UPDATE worklog SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = worklog.person_id AND r.effective_from <= worklog.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE person_id = old.person_id AND author_rate IS NOT (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = worklog.person_id AND r.effective_from <= worklog.started_day ORDER BY r.effective_from DESC LIMIT 1);
END;

-- statement 8 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_zone AFTER UPDATE OF timezone ON organization WHEN old.timezone IS NOT new.timezone BEGIN
  UPDATE worklog SET started_day = taskhub_local_day(started_at, new.timezone) WHERE org_id = new.id AND started_day IS NOT taskhub_local_day(started_at, new.timezone);
  UPDATE worklog SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = worklog.person_id AND r.effective_from <= worklog.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE org_id = new.id AND author_rate IS NOT (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = worklog.person_id AND r.effective_from <= worklog.started_day ORDER BY r.effective_from DESC LIMIT 1);
END;
