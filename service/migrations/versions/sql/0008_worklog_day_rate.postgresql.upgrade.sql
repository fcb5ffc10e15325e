-- Migration 0008_worklog_day_rate, upgrade, postgresql: the statements it executed through the store code
-- (service.store.worklog_day.install, service.store.worklog_day.rebuild) as of commit 7f1dcc5, frozen by
-- service/migrations/freeze.py. Executed in order, one statement each (the text after a
-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.

-- statement 1 (service.store.worklog_day.rebuild)
UPDATE worklog AS w SET started_day = (SELECT (w.started_at AT TIME ZONE o.timezone)::date FROM organization o WHERE o.id = w.org_id) WHERE w.started_day IS DISTINCT FROM (SELECT (w.started_at AT TIME ZONE o.timezone)::date FROM organization o WHERE o.id = w.org_id);

-- statement 2 (service.store.worklog_day.rebuild)
UPDATE worklog AS w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);

-- statement 3 (service.store.worklog_day.install)
CREATE FUNCTION taskhub_worklog_day_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(2003592289, mod(NEW.org_id, 2147483648)::int);
  SELECT (NEW.started_at AT TIME ZONE o.timezone)::date INTO NEW.started_day FROM organization o WHERE o.id = NEW.org_id;
  NEW.author_rate := (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = NEW.person_id AND r.effective_from <= NEW.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NEW;
END
$fn$;

-- statement 4 (service.store.worklog_day.install)
CREATE FUNCTION taskhub_worklog_day_rate_insert() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT org_id AS o FROM (SELECT org_id, person_id FROM new_rows) c ORDER BY 1) x;
  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM new_rows) c) AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NULL;
END
$fn$;

-- statement 5 (service.store.worklog_day.install)
CREATE FUNCTION taskhub_worklog_day_rate_update() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT org_id AS o FROM (SELECT org_id, person_id FROM old_rows UNION SELECT org_id, person_id FROM new_rows) c ORDER BY 1) x;
  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM old_rows UNION SELECT org_id, person_id FROM new_rows) c) AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NULL;
END
$fn$;

-- statement 6 (service.store.worklog_day.install)
CREATE FUNCTION taskhub_worklog_day_rate_delete() RETURNS trigger LANGUAGE plpgsql SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(2003592289, mod(o, 2147483648)::int) FROM (SELECT DISTINCT org_id AS o FROM (SELECT org_id, person_id FROM old_rows) c ORDER BY 1) x;
  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.person_id IN (SELECT person_id FROM (SELECT org_id, person_id FROM old_rows) c) AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NULL;
END
$fn$;

-- statement 7 (service.store.worklog_day.install)
CREATE FUNCTION taskhub_worklog_day_zone() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(2003592289, mod(NEW.id, 2147483648)::int);
  UPDATE worklog w SET started_day = (w.started_at AT TIME ZONE NEW.timezone)::date WHERE w.org_id = NEW.id AND w.started_day IS DISTINCT FROM (w.started_at AT TIME ZONE NEW.timezone)::date;
  UPDATE worklog w SET author_rate = (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1) WHERE w.org_id = NEW.id AND w.author_rate IS DISTINCT FROM (SELECT r.hourly_rate FROM person_rate r WHERE r.person_id = w.person_id AND r.effective_from <= w.started_day ORDER BY r.effective_from DESC LIMIT 1);
  RETURN NULL;
END
$fn$;

-- statement 8 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_price BEFORE INSERT ON worklog FOR EACH ROW EXECUTE FUNCTION taskhub_worklog_day_row();

-- statement 9 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_reprice BEFORE UPDATE OF org_id, started_at, person_id ON worklog FOR EACH ROW WHEN (OLD.org_id IS DISTINCT FROM NEW.org_id OR OLD.started_at IS DISTINCT FROM NEW.started_at OR OLD.person_id IS DISTINCT FROM NEW.person_id) EXECUTE FUNCTION taskhub_worklog_day_row();

-- statement 10 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_rate_insert AFTER INSERT ON person_rate REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_insert();

-- statement 11 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_rate_update AFTER UPDATE ON person_rate REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_update();

-- statement 12 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_rate_delete AFTER DELETE ON person_rate REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION taskhub_worklog_day_rate_delete();

-- statement 13 (service.store.worklog_day.install)
CREATE TRIGGER worklog_day_zone AFTER UPDATE OF timezone ON organization FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION taskhub_worklog_day_zone();
