"""Jira sync: backfill, incremental polling, worklog feeds, versions, census.

Issues: JQL ``<scope> AND updated >= "<cursor − overlap>" ORDER BY updated ASC``,
the date formatted in the API user's time zone (``/myself``) because Jira reads
quoted JQL dates in that zone. Each page is stored with its cursor in one
transaction, so a killed sync resumes from the last stored page. Worklogs come
from ``/worklog/updated`` and ``/worklog/deleted`` (+ ``/worklog/list``); a
no-change poll makes two requests (``serverInfo`` from the library's
constructor and one search page) — the feeds run when issues changed or every
``FEED_INTERVAL``. Versions are refreshed per project every ``VERSIONS_INTERVAL``.
Status history (the site's status catalogue, truncated changelogs completed, stored rows
re-categorized, the one-time history re-read): ``service.sync.jira_history``.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from connectors.errors import NotFound
from connectors.jira.client import Deployment, JiraAuth, JiraClient, clause_names
from mappings.jira import (
    History,
    JiraFieldIds,
    build_issue_upsert,
    discover_fields,
    last_move_after,
    map_version,
    map_worklog,
)
from mappings.model import (
    DeletedReason,
    MilestoneDelete,
    MilestoneUpsert,
    TaskDelete,
    TaskUpsert,
    WorklogDelete,
    WorklogUpsert,
)
from service import store
from service.settings import Settings
from service.sources import SourceSecrets
from service.sync.jira_history import StatusHistory, site_catalogue
from service.sync.runner import SyncContext, register_syncer
from service.sync.state import PlannerStats, all_cursors, save_site_info, set_cursor
from service.tables import Milestone, Project, Source, Task, stored_id, table, utcnow

__all__ = ["JiraSyncer", "make_jira_client", "jql_datetime", "site_catalogue", "site_fields"]

log = logging.getLogger("taskhub.sync.jira")

OVERLAP = timedelta(minutes=2)
FEED_INTERVAL = timedelta(minutes=15)
VERSIONS_INTERVAL = timedelta(minutes=30)
SITE_INFO_TTL = timedelta(hours=24)
BASE_FIELDS = [
    "summary", "issuetype", "status", "priority", "assignee", "labels", "parent", "fixVersions", "duedate",
    "created", "updated", "resolutiondate", "timetracking", "timeoriginalestimate", "timeestimate", "timespent",
    "project", "statuscategorychangedate", "issuelinks", "versions",
]


def make_jira_client(settings: Settings, source: Source, secrets: SourceSecrets, **kw: Any) -> JiraClient:
    """The source's client, for its sync and its webhook handler; ``kw`` go to ``JiraClient``."""
    creds = secrets.credentials
    deployment: Deployment
    if creds.get("type") == "jira_datacenter":
        auth, deployment = JiraAuth.dc(creds["personal_access_token"]), "datacenter"
    else:
        auth, deployment = JiraAuth.cloud(creds["email"], creds["api_token"]), "cloud"
    return JiraClient(source.base_url or "", auth, deployment=deployment, outbound=settings.outbound_policy, **kw)


def jql_datetime(at: datetime, tz: str) -> str:
    """A JQL date literal for ``at`` in the API user's zone, floored to the minute (JQL's granularity)."""
    return at.astimezone(ZoneInfo(tz)).strftime("%Y/%m/%d %H:%M")


def site_fields(site_info: dict[str, Any] | None) -> JiraFieldIds | None:
    data = (site_info or {}).get("fields")
    return JiraFieldIds(**data) if isinstance(data, dict) else None


@contextmanager
def fewer_gc_passes(gen0: int = 20_000) -> Iterator[None]:
    """Keep CPython's cyclic collector out of a sync's way.

    A sync allocates millions of short-lived, acyclic containers (decoded pages, mapped
    models, row dicts) that reference counting frees; each young-generation pass still
    rescans the survivors and every full pass the whole heap (SQLAlchemy, the jira
    library, pydantic schemas). Freezing what exists at the start and collecting the
    young generation less often cut a full sync's CPU by about a tenth. Restored after.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], gen0), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def stored_raw(issue: dict[str, Any]) -> dict[str, Any]:
    """What is kept of an issue for ``taskhub remap``: its id, key and mapped fields.

    The changelog is already stored as change rows, and ``self``/``expand`` are noise;
    leaving them out halves the bytes written per issue.
    """
    return {k: issue[k] for k in ("id", "key", "fields") if k in issue}


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


class JiraSyncer:
    def __init__(self, ctx: SyncContext, client: JiraClient | None = None) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.source_id = stored_id(ctx.source)
        self.client = client or make_jira_client(ctx.settings, ctx.source, ctx.secrets, sleep=ctx.sleep)
        self.site_url = (ctx.source.base_url or "").rstrip("/")
        self.cursors = all_cursors(ctx.db, self.source_id)
        self.run_started = utcnow()
        self.site: dict[str, Any] = dict(ctx.source.site_info or {})
        self.statuses = StatusHistory(ctx, self.client, self.source_id, self.site, self._save_site, self.cursors)

    # --- entry ------------------------------------------------------------------------
    def run(self, mode: str) -> None:
        with fewer_gc_passes():
            self._run(mode)

    def _run(self, mode: str) -> None:
        self.client.connect()
        had_issues = bool(self.cursors.get("issues"))
        full = mode in ("full", "backfill") or not had_issues
        self._refresh_site(force=mode == "full")
        if mode == "census":
            self._census()
            return
        self.statuses.resume()
        reread = self.statuses.reread_needed(had_issues=had_issues)
        changed = self._issues(from_scratch=mode == "full")
        self._worklogs(force=full or changed > 0, from_scratch=mode == "full")
        self._versions(force=full)
        if reread:
            self.statuses.reread(self._map)
        if self.statuses.requests:
            log.info("jira.status_history source=%s requests=%s (catalogue, changelog reads)", self.source_id,
                     self.statuses.requests)

    # --- site info: deployment, user time zone, custom field ids ---------------------
    def _refresh_site(self, force: bool) -> None:
        fetched = self.site.get("refreshed_at")
        fresh = fetched and datetime.fromisoformat(fetched) > utcnow() - SITE_INFO_TTL
        if fresh and not force:
            self.client.prime_field_names(self.site.get("clause_names") or {})
            if not self.statuses.loaded:  # site info cached before the status catalogue was kept
                self.statuses.reload()
            return
        previous = self.statuses.cached
        me = self.client.myself()
        field_list = self.client.fields()
        fields = discover_fields(field_list, self.ctx.profile.jira)
        scope = self.source.scope or {}
        projects = [] if scope.get("jql") or scope.get("projects") else [
            p["key"] for p in self.client.projects() if p.get("key")]
        statuses = self.statuses.fetch()
        self.site.clear()  # the same dict the status history holds
        self.site.update({
            "deployment": "cloud" if self.client.is_cloud else "datacenter",
            "projects": projects,
            "timezone": str(me.get("timeZone") or "UTC"),
            "fields": asdict(fields),
            "clause_names": clause_names(field_list),
            "statuses": statuses,
            "statuses_unknown": [],
            "refreshed_at": _iso(utcnow()),
        })
        self._save_site()
        self.statuses.loaded_after(previous)

    def _save_site(self) -> None:
        save_site_info(self.ctx.db, self.source_id, self.site)

    @property
    def fields(self) -> JiraFieldIds | None:
        return site_fields(self.site)

    def _field_list(self) -> list[str]:
        f = self.fields
        optional = (f.sprint, f.epic_link, f.cost, f.start_date, f.flagged) if f else ()
        extra = [*(f.story_points if f else []), *(x for x in optional if x)]
        return BASE_FIELDS + list(dict.fromkeys(extra))

    def _scope_jql(self) -> str:
        scope = self.source.scope or {}
        if scope.get("jql"):
            return f"({scope['jql']})"
        keys = scope.get("projects") or self.site.get("projects") or []
        if not keys:
            raise NotFound("this Jira source sees no projects: set scope.projects or scope.jql")
        return "project in (" + ", ".join(f'"{k}"' for k in keys) + ")"

    # --- issues ------------------------------------------------------------------------
    def _issues(self, *, from_scratch: bool) -> int:
        state = json.loads(self.cursors.get("issues") or "{}") if not from_scratch else {}
        since = datetime.fromisoformat(state["updated"]) if state.get("updated") else None
        scope = self._scope_jql()
        if since is None:
            jql = f"{scope} ORDER BY updated ASC"
        else:
            tz = self.site.get("timezone") or "UTC"
            jql = f'{scope} AND updated >= "{jql_datetime(since - OVERLAP, tz)}" ORDER BY updated ASC'
        changed = seen = 0
        planner = PlannerStats(self.ctx.db)
        org, sid = self.source.org_id, self.source_id
        for page in self.client.iter_search(jql, fields=self._field_list(), expand="changelog"):
            whole = self.statuses.complete(page.issues)  # truncated changelogs, in one go per page
            upserts = self._map_page(page.issues, whole)
            if self.statuses.check_unknown(upserts):
                upserts = self._map_page(page.issues, whole)
            for u, raw in zip(upserts, page.issues, strict=True):
                u.raw = stored_raw(raw)
            newest = max((u.task.updated_at for u in upserts if u.task.updated_at), default=None)
            if newest is not None:
                since = min(max(since, newest) if since else newest, self.run_started)
            with self.ctx.db.write() as conn:
                stats = store.upsert_tasks(conn, org, sid, upserts)
                if since is not None:
                    set_cursor(conn, sid, "issues", json.dumps({"updated": _iso(since)}))
            seen += len(upserts)
            changed += stats.changed
            self.ctx.recorder.items_seen += len(upserts)
            self.ctx.recorder.items_changed += stats.changed
            self.ctx.progress("issues", seen, page.total)
            self.ctx.renew()
            planner.stored(seen)
        if since is None:  # nothing in scope yet: start incremental from now
            with self.ctx.db.write() as conn:
                set_cursor(conn, sid, "issues", json.dumps({"updated": _iso(self.run_started)}))
        return changed

    def _map(self, issue: dict[str, Any], extra: Sequence[History] = ()) -> TaskUpsert:
        return build_issue_upsert(issue, site_url=self.site_url, profile=self.ctx.profile, fields=self.fields,
                                  source_id=self.source_id, catalogue=self.statuses.catalogue, extra_histories=extra)

    def _map_page(self, issues: Sequence[dict[str, Any]], whole: dict[str, list[History]]) -> list[TaskUpsert]:
        return [self._map(i, whole.get(str(i.get("id")), ())) for i in issues]

    # --- worklogs ------------------------------------------------------------------------
    def _worklogs(self, *, force: bool, from_scratch: bool) -> None:
        state = json.loads(self.cursors.get("worklogs") or "{}") if not from_scratch else {}
        last_ran = datetime.fromisoformat(state["ran_at"]) if state.get("ran_at") else None
        if not force and last_ran and last_ran > utcnow() - FEED_INTERVAL:
            return
        org, sid = self.source.org_id, self.source_id
        updated_since = int(state.get("updated_since", 0))
        deleted_since = int(state.get("deleted_since", 0))
        done = 0
        for page in self.client.worklogs_updated_since(updated_since):
            ids = [v["worklogId"] for v in page.values if "worklogId" in v]
            items = []
            for raw in self.client.worklog_list(ids) if ids else []:
                try:
                    items.append(WorklogUpsert(worklog=map_worklog(raw, source_id=sid)))
                except ValueError as exc:
                    log.warning("jira.worklog_unmappable id=%s: %s", raw.get("id"), exc)
            updated_since = page.until
            with self.ctx.db.write() as conn:
                stats = store.upsert_worklogs(conn, org, sid, items)
                set_cursor(conn, sid, "worklogs", json.dumps({
                    "updated_since": updated_since, "deleted_since": deleted_since, "ran_at": state.get("ran_at")}))
            done += len(items)
            self.ctx.recorder.items_changed += stats.changed
            self.ctx.progress("worklogs", done, None)
            self.ctx.renew()
        for page in self.client.worklogs_deleted_since(deleted_since):
            deletes = [WorklogDelete(external_id=str(v["worklogId"])) for v in page.values if "worklogId" in v]
            deleted_since = page.until
            with self.ctx.db.write() as conn:
                store.delete_worklogs(conn, sid, deletes)
        with self.ctx.db.write() as conn:
            set_cursor(conn, sid, "worklogs", json.dumps({
                "updated_since": updated_since, "deleted_since": deleted_since, "ran_at": _iso(utcnow())}))

    # --- versions ------------------------------------------------------------------------
    def _project_keys(self) -> dict[str, str]:
        """``{key: external id}`` of the projects this source has stored."""
        P = table(Project)
        with self.ctx.db.read() as conn:
            rows = conn.execute(sa.select(P.c.key, P.c.external_id).where(P.c.source_id == self.source_id)).all()
        keys = {k: e for k, e in rows if k}
        for k in (self.source.scope or {}).get("projects", []):
            keys.setdefault(k, "")
        return keys

    def _versions(self, *, force: bool) -> None:
        state = json.loads(self.cursors.get("versions") or "{}")
        last = datetime.fromisoformat(state["ran_at"]) if state.get("ran_at") else None
        if not force and last and last > utcnow() - VERSIONS_INTERVAL:
            return
        org, sid = self.source.org_id, self.source_id
        M = table(Milestone)
        for key, project_ext in self._project_keys().items():
            try:
                versions = self.client.project_versions(key)
            except NotFound:
                continue
            upserts = [
                MilestoneUpsert(milestone=map_version(
                    v, project_external_id=str(v.get("projectId") or project_ext) or None, source_id=sid), raw=v)
                for v in versions
            ]
            live = {u.milestone.external_id for u in upserts}
            with self.ctx.db.write() as conn:
                store.upsert_milestones(conn, org, sid, upserts)
                project_ids = {u.milestone.project_external_id for u in upserts if u.milestone.project_external_id}
                if project_ext:
                    project_ids.add(project_ext)
                P = table(Project)
                stored = conn.execute(
                    sa.select(M.c.external_id).select_from(M.join(P, M.c.project_id == P.c.id))
                    .where(M.c.source_id == sid, M.c.deleted_at.is_(None), P.c.external_id.in_(project_ids))
                ).scalars().all() if project_ids else []
                gone = [MilestoneDelete(external_id=e) for e in stored if e not in live]
                store.delete_milestones(conn, sid, gone)
        with self.ctx.db.write() as conn:
            set_cursor(conn, sid, "versions", json.dumps({"ran_at": _iso(utcnow())}))

    # --- census: what vanished ------------------------------------------------------------
    def _census(self) -> None:
        org, sid = self.source.org_id, self.source_id
        in_scope = set(self.client.issue_ids(self._scope_jql()))
        T = table(Task)
        with self.ctx.db.read() as conn:
            stored = {r.external_id: r for r in conn.execute(sa.select(
                T.c.external_id, T.c.key, T.c.remote_updated_at).where(
                T.c.source_id == sid, T.c.deleted_at.is_(None)))}
        missing = sorted(set(stored) - in_scope)
        deletes = []
        for ext in missing:
            at = utcnow()
            try:
                # Its history too (the same one request): an issue moved to another project since
                # it was last seen left the scope then, not at this census.
                found = self.client.issue(ext, expand="changelog", fields="id")
                reason = DeletedReason.out_of_scope
                at = last_move_after(found, stored[ext].remote_updated_at, stored[ext].key) or at
            except NotFound:
                reason = DeletedReason.deleted
            deletes.append(TaskDelete(external_id=ext, reason=reason, at=at))
            self.ctx.renew()
        with self.ctx.db.write() as conn:
            stats = store.apply_task_deletes(conn, org, sid, deletes)
            set_cursor(conn, sid, "census", json.dumps({"ran_at": _iso(utcnow()), "missing": len(missing)}))
        for reason in DeletedReason:
            self.ctx.recorder.tombstoned(reason.value, [d.external_id for d in deletes if d.reason is reason])
        self.ctx.recorder.items_seen += len(in_scope)
        self.ctx.recorder.items_changed += stats.deleted


register_syncer("jira", JiraSyncer)
