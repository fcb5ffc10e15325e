"""Jira status history kept right: the site's status catalogue, truncated changelogs completed,
stored status changes re-categorized when the catalogue changes, and one history re-read for
sources synced before status ids were kept (issue 19; VENDOR_FACTS A5, A12).

- **The catalogue** (``GET /rest/api/3/status``, Data Center ``/rest/api/2/status``: one
  request) is cached in the source's ``site_info["statuses"]`` beside the field catalogue and
  loaded with the site info (daily). A changelog naming a status id the cache lacks reloads it,
  at most once per run; ids still unknown after that (a deleted status) are remembered until
  the next daily load, so they cost no request per poll.
- **Truncated changelogs**: search/jql embeds only an issue's latest 20 histories. The
  truncated issues of a page are completed together: one ``POST /changelog/bulkfetch`` on
  Cloud (1000 issues a request, as many pages as their histories fill), one paged
  ``/issue/{id}/changelog`` per truncated issue on Data Center (no bulk endpoint there).
- **Re-categorizing** (a load that changes any status id's category, or adds or drops an id):
  the source's stored changelog status rows are read in pages, ``recategorize_changes`` gives
  their categories under the new catalogue and the profile's overrides, the rows that differ
  are updated and their tasks' started/completed times recomputed (``work_dates``, the
  mapping's one definition) through the store. No request to Jira. Resumable: the
  ``statuses`` stream holds the last row id done.
- **The history re-read** of a source synced before this code (its change rows hold no status
  ids, and its changelogs were cut at 20 on Cloud): it runs by itself at the end of the next
  sync — nobody has to know to ask for it, it needs the sync's lease anyway, and a source is
  only wrong until it ran. Every alive task's whole history is read again (Cloud: bulkfetch,
  1000 issues a request, no request per issue; Data Center: ``/issue/{id}/changelog`` per
  issue), its change rows take their ids and categories, the missing ones are added and the
  task's times recomputed. The ``history`` stream holds how far it got (last task id, done,
  total), saved with each batch, so an interrupted sync resumes there; progress is reported as
  the ``history`` phase. A source first synced by this code marks it finished at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.errors import Fatal, NotFound
from mappings.jira import (
    CatalogueStatus,
    History,
    changelog_truncated,
    histories_from_bulk_changelog,
    recategorize_changes,
    status_catalogue,
    unknown_status_ids,
)
from mappings.jira.changelog import histories_from_issue
from mappings.jira.issue import work_dates
from mappings.model import StatusCategory, TaskUpsert
from service.db import Database
from service.store.history import (
    recategorize_rows,
    rewrite_changes,
    set_work_dates,
    settle_work_dates,
    status_change_page,
    stored_histories,
)
from service.store.rollups import lock_sources
from service.store.tasks import change_rows
from service.sync.state import set_cursor
from service.tables import Task, table, utcnow

if TYPE_CHECKING:
    from connectors.jira.client import JiraClient
    from service.sync.runner import SyncContext

__all__ = [
    "HISTORY_STREAM",
    "STATUSES_STREAM",
    "StatusHistory",
    "catalogue_json",
    "recategorize_source",
    "recompute_work_dates",
    "site_catalogue",
]

log = logging.getLogger("taskhub.sync.jira")

STATUSES_STREAM = "statuses"
HISTORY_STREAM = "history"
RECATEGORIZE_PAGE = 5000
REREAD_BATCH = {True: 1000, False: 100}  # issues per stored batch: Cloud (one bulkfetch), Data Center

Mapper = Callable[[dict[str, Any], Sequence[History]], TaskUpsert]


def catalogue_json(catalogue: Mapping[str, CatalogueStatus]) -> dict[str, list[str | None]]:
    """The catalogue as ``site_info`` keeps it: ``{id: [name, category, project id]}``."""
    return {k: [s.name, s.category.value, s.project_id] for k, s in sorted(catalogue.items())}


def site_catalogue(site_info: Mapping[str, Any] | None) -> dict[str, CatalogueStatus] | None:
    """The cached status catalogue of a source (``None`` before it was first loaded)."""
    data = (site_info or {}).get("statuses")
    if not isinstance(data, dict):
        return None
    out: dict[str, CatalogueStatus] = {}
    for ident, value in data.items():
        try:
            name, category, *rest = value
            out[str(ident)] = CatalogueStatus(str(name), StatusCategory(category), rest[0] if rest else None)
        except (TypeError, ValueError):
            continue  # a row written by other code: left out, the next daily load replaces it
    return out


def _categories(catalogue: Mapping[str, CatalogueStatus] | None) -> dict[str, StatusCategory]:
    return {k: s.category for k, s in (catalogue or {}).items()}


def _cursor(raw: str | None) -> dict[str, Any]:
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


class StatusHistory:
    """One sync run's status-history work for a Jira source.

    ``site`` is the syncer's cached site info (shared, updated in place); ``save_site`` stores
    it; ``cursors`` are the source's sync-state cursors as the run started."""

    def __init__(self, ctx: SyncContext, client: JiraClient, source_id: int, site: dict[str, Any],
                 save_site: Callable[[], None], cursors: Mapping[str, str | None]) -> None:
        self.ctx = ctx
        self.client = client
        self.source_id = source_id
        self.site = site
        self.save_site = save_site
        self.cursors = cursors
        self.reloaded = False  # the catalogue was loaded in this run
        self.no_bulk = False  # changelog/bulkfetch answered 404 in this run
        self.requests = 0  # requests this work added: catalogue loads, bulk and per-issue changelog reads
        self._catalogue = site_catalogue(site)

    @property
    def catalogue(self) -> dict[str, CatalogueStatus]:
        return self._catalogue or {}

    @property
    def loaded(self) -> bool:
        return self._catalogue is not None

    @property
    def cached(self) -> dict[str, CatalogueStatus] | None:
        """The catalogue as cached (``None`` before the first load)."""
        return self._catalogue

    # --- the catalogue ---------------------------------------------------------------
    def fetch(self) -> dict[str, list[str | None]]:
        """Load the catalogue from Jira (one request); returns it in ``site_info``'s form."""
        before = self.client.api_calls
        try:
            found = status_catalogue(self.client.statuses())
        except NotFound:  # not on this site (or hidden from the API user): names categorize alone
            log.warning("jira.statuses_not_found source=%s: categorizing transitions by name", self.source_id)
            found = {}
        finally:
            self.requests += self.client.api_calls - before
        self.reloaded = True
        self._catalogue = found
        return catalogue_json(found)

    def reload(self, unknown: Iterable[str] = ()) -> None:
        """Load the catalogue again and store it in the site info; re-categorize if it changed."""
        previous = self._catalogue
        self.site["statuses"] = self.fetch()
        still = set(self.site.get("statuses_unknown") or ()) | set(unknown)
        self.site["statuses_unknown"] = sorted(still - self.catalogue.keys())
        self.save_site()
        self.loaded_after(previous)

    def loaded_after(self, previous: Mapping[str, CatalogueStatus] | None) -> None:
        """Re-categorize the stored rows when a load changed a category (not on the first load:
        rows stored before the catalogue existed are the history re-read's)."""
        if previous is None or _categories(previous) == _categories(self._catalogue):
            return
        with self.ctx.db.write() as conn:
            set_cursor(conn, self.source_id, STATUSES_STREAM, json.dumps({"after": 0, "started_at": _now()}))
        self.cursors = {**self.cursors, STATUSES_STREAM: json.dumps({"after": 0})}
        self.recategorize()

    def check_unknown(self, upserts: Sequence[TaskUpsert]) -> bool:
        """Reload the catalogue when these changes name status ids it lacks (once per run);
        True when the reloaded one knows some of them (map again)."""
        if self.reloaded:
            return False
        ignored = set(self.site.get("statuses_unknown") or ())
        unknown = unknown_status_ids((c for u in upserts for c in u.changes), self.catalogue) - ignored
        if not unknown:
            return False
        log.info("jira.statuses_reload source=%s unknown=%s", self.source_id, ",".join(sorted(unknown)[:10]))
        self.reload(unknown)
        return bool(unknown & self.catalogue.keys())

    # --- whole histories -------------------------------------------------------------
    def complete(self, issues: Sequence[dict[str, Any]]) -> dict[str, list[History]]:
        """The whole histories of the issues of a page whose embedded changelog is truncated."""
        truncated = [str(i["id"]) for i in issues if i.get("id") is not None and changelog_truncated(i)]
        return self.read(truncated) if truncated else {}

    def read(self, issue_ids: Sequence[str]) -> dict[str, list[History]]:
        """``{issue id: every history}``: bulkfetch on Cloud, one paged read per issue on DC."""
        before = self.client.api_calls
        try:
            return self._read(issue_ids)
        finally:
            self.requests += self.client.api_calls - before

    def _read(self, issue_ids: Sequence[str]) -> dict[str, list[History]]:
        out: dict[str, list[History]] = {}
        if self.client.is_cloud and not self.no_bulk:
            try:
                for page in self.client.bulk_changelog(issue_ids):
                    try:
                        found = histories_from_bulk_changelog(page)
                    except ValueError as exc:
                        raise Fatal(f"Jira changelog/bulkfetch answered a page of another shape: {exc}") from None
                    for issue_id, histories in found.items():
                        out.setdefault(issue_id, []).extend(histories)
                return out
            except NotFound:  # a site without the endpoint: read each issue's changelog, as on DC
                log.warning("jira.bulk_changelog_not_found source=%s: reading changelogs per issue", self.source_id)
                self.no_bulk = True
                out = {}
        for issue_id in issue_ids:
            try:
                values = self.client.issue_changelog(issue_id)
            except NotFound:  # deleted since it was listed: the census tombstones it
                continue
            out[issue_id] = histories_from_issue({"changelog": {"values": values}})
            self.ctx.renew()
        return out

    # --- stored rows -----------------------------------------------------------------
    def resume(self) -> None:
        """Finish a re-categorization an earlier run left half done."""
        if _cursor(self.cursors.get(STATUSES_STREAM)).get("after") is not None:
            self.recategorize()

    def recategorize(self) -> None:
        """Re-categorize the source's stored changelog status rows under the current catalogue,
        saving how far it got with each page (the ``statuses`` stream)."""
        state = _cursor(self.cursors.get(STATUSES_STREAM))
        before = int(state.get("changed") or 0)
        sid = self.source_id

        def page_done(conn: Connection, after: int, seen: int, changed: int) -> None:
            set_cursor(conn, sid, STATUSES_STREAM, json.dumps({"after": after, "changed": before + changed}))
            self.ctx.progress("statuses", seen, None)

        seen, changed = recategorize_source(
            self.ctx.db, sid, self.catalogue, self.ctx.profile.jira.status_overrides,
            after=int(state.get("after") or 0), page_done=page_done, renew=self.ctx.renew)
        with self.ctx.db.write() as conn:
            set_cursor(conn, sid, STATUSES_STREAM, json.dumps(
                {"after": None, "finished_at": _now(), "changed": before + changed}))
        self.cursors = {**self.cursors, STATUSES_STREAM: None}

    # --- the one-time history re-read ---------------------------------------------------
    def reread_needed(self, *, had_issues: bool) -> bool:
        """Whether this source's stored history predates status ids (see the module's notes): it
        had issues stored and no finished re-read. A new source, read by this code from the
        start, is marked done at once. (A ``full`` sync does not make it unneeded: it re-reads the
        issues, but a stored change row is only inserted once, so old rows would keep no ids.)"""
        if _cursor(self.cursors.get(HISTORY_STREAM)).get("finished"):
            return False
        if had_issues:
            return True
        with self.ctx.db.write() as conn:
            set_cursor(conn, self.source_id, HISTORY_STREAM, json.dumps(
                {"finished": True, "finished_at": _now(), "reason": "read whole by this code"}))
        return False

    def reread(self, mapper: Mapper) -> None:
        """Read every alive task's whole history again and rewrite its stored history."""
        state = _cursor(self.cursors.get(HISTORY_STREAM))
        after, done = int(state.get("after") or 0), int(state.get("done") or 0)
        T = table(Task)
        sid, org = self.source_id, self.ctx.source.org_id
        alive = sa.and_(T.c.source_id == sid, T.c.raw.is_not(None), T.c.deleted_at.is_(None))
        with self.ctx.db.read() as conn:
            total = done + int(conn.execute(sa.select(sa.func.count()).where(alive, T.c.id > after)).scalar() or 0)
        batch = REREAD_BATCH[self.client.is_cloud]
        log.info("jira.history_reread source=%s from_task_id=%s done=%s total=%s", sid, after, done, total)
        while True:
            with self.ctx.db.read() as conn:
                rows = conn.execute(sa.select(T.c.id, T.c.external_id, T.c.raw).where(alive, T.c.id > after)
                                    .order_by(T.c.id).limit(batch)).all()
            if not rows:
                break
            histories = self.read([r.external_id for r in rows])
            upserts = self._mapped(mapper, rows, histories)
            if self.check_unknown(upserts):
                upserts = self._mapped(mapper, rows, histories)
            changes = change_rows(org, sid, [c for u in upserts for c in u.changes])
            after, done = rows[-1].id, done + len(rows)
            with self.ctx.db.write() as conn:
                lock_sources(conn, [sid])
                rewrite_changes(conn, changes)
                recompute_work_dates(conn, sid, [r.external_id for r in rows])
                set_cursor(conn, sid, HISTORY_STREAM, json.dumps({"after": after, "done": done, "total": total}))
            self.ctx.progress("history", done, total)
            self.ctx.renew()
        with self.ctx.db.write() as conn:
            set_cursor(conn, sid, HISTORY_STREAM, json.dumps(
                {"finished": True, "finished_at": _now(), "done": done, "total": total}))

    def _mapped(self, mapper: Mapper, rows: Sequence[Any], histories: Mapping[str, list[History]]
                ) -> list[TaskUpsert]:
        out = []
        for r in rows:
            try:
                out.append(mapper(r.raw, histories.get(r.external_id, [])))
            except ValueError as exc:  # a stored raw without an id: nothing to re-read it into
                log.warning("jira.history_unmappable task=%s: %s", r.external_id, exc)
        return out


def _value(category: StatusCategory | None) -> str | None:
    return category.value if category is not None else None


def _now() -> str:
    return utcnow().isoformat()


def recompute_work_dates(conn: Connection, source_id: int, external_ids: Sequence[str]) -> int:
    """Recompute these tasks' started/completed times from their stored history (``work_dates``,
    the mapping's definition, then the store's fallbacks), in the caller's write transaction;
    returns how many moved."""
    dates = {}
    for ext, task in stored_histories(conn, source_id, external_ids).items():
        started, completed = settle_work_dates(task, *work_dates(task.category, task.fields, task.changes))
        if (started, completed) != (task.started_at, task.completed_at):
            dates[ext] = (started, completed)
    return set_work_dates(conn, source_id, dates)


def recategorize_source(
    db: Database,
    source_id: int,
    catalogue: Mapping[str, CatalogueStatus],
    overrides: Mapping[str, StatusCategory],
    *,
    after: int = 0,
    page_done: Callable[[Connection, int, int, int], None] | None = None,
    renew: Callable[[], None] = lambda: None,
) -> tuple[int, int]:
    """Re-categorize a Jira source's stored changelog status rows (``id > after``) under
    ``catalogue`` and the profile's ``overrides``, without calling Jira: a page of rows per
    transaction, the rows whose categories differ updated and their tasks' times recomputed.
    ``page_done(conn, last id, rows seen, rows changed)`` runs inside each page's transaction.
    Returns ``(rows seen, rows changed)``."""
    seen = changed = moved = 0
    while True:
        with db.write() as conn:
            lock_sources(conn, [source_id])
            rows = status_change_page(conn, source_id, after=after, limit=RECATEGORIZE_PAGE)
            if not rows:
                break
            tasks = {r["id"]: r["task_external_id"] for r in rows}
            updates = [(r.key, _value(r.from_category), _value(r.to_category))
                       for r in recategorize_changes(rows, catalogue, overrides=overrides) if r.changed]
            recategorize_rows(conn, updates)
            moved += recompute_work_dates(conn, source_id, sorted({tasks[u[0]] for u in updates}))
            after = rows[-1]["id"]
            seen += len(rows)
            changed += len(updates)
            if page_done is not None:
                page_done(conn, after, seen, changed)
        renew()
    log.info("jira.recategorized source=%s rows=%s changed=%s tasks_moved=%s", source_id, seen, changed, moved)
    return seen, changed
