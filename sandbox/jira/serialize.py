"""Jira JSON shapes of the building blocks (users, statuses, versions, sprints, histories,
worklogs, server info), built on demand from the compact records. Issues: ``fields.py``.

Shapes follow Jira Cloud REST v3 (https://developer.atlassian.com/cloud/jira/platform/rest/v3/)
and the captured responses in /work/shared/realdata/jira-rest/. Quirks reproduced on purpose:

- ids are strings, except status-category and sprint ids (ints);
- datetimes look like ``2024-01-02T03:04:05.000+0000``; dates (duedate, releaseDate) ``2024-01-02``;
- v3 rich text is an ADF document, v2 (and Data Center) a wiki-markup string;
- Cloud users carry ``accountId`` only; Data Center users ``name``/``key``;
- a Cloud user's ``emailAddress`` is there only when the user's profile visibility shows it
  (``User.email_visible``; most users hide it) or the user is the caller: the key is left out,
  as captured (realdata/jira-webhooks/pinpoint: no Cloud user object has it); Data Center always
  shows it;
- the Cloud sprint field is a list of objects, the Data Center one a list of
  ``com.atlassian.greenhopper.service.sprint.Sprint@...[id=..,state=ACTIVE,...]`` strings;
- ``timetracking`` is ``{}`` when nothing is tracked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.jira.records import (
    ISSUE_TYPES,
    PRIORITIES,
    STATUS_CATEGORIES,
    STATUSES,
    History,
    Project,
    Sprint,
    User,
    Version,
    WorklogRec,
)
from sandbox.jira.state import JiraState

__all__ = [
    "Ctx",
    "ISSUE_EXPAND",
    "fmt_dt",
    "fmt_duration",
    "adf",
    "rich_text",
    "tz_of",
    "render_user",
    "render_status",
    "site_statuses",
    "render_issuetype",
    "render_priority",
    "render_project",
    "render_version",
    "render_sprint",
    "render_history",
    "render_worklog",
    "server_info",
    "myself",
]

ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


@dataclass(frozen=True)
class Ctx:
    """What a rendering depends on: the site, the REST version, the base URL."""

    state: JiraState
    api: str  # "2" or "3"
    base: str

    @property
    def dc(self) -> bool:
        return not self.state.config.is_cloud

    @property
    def rich(self) -> bool:
        """ADF documents (Cloud v3) instead of wiki strings."""
        return self.api == "3" and not self.dc

    def rest(self, path: str) -> str:
        return f"{self.base}/rest/api/{self.api}/{path}"


def fmt_dt(ms: int | None, tz: str = "UTC") -> str | None:
    """Jira's datetime format: ``2024-01-02T03:04:05.000+0000``."""
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, _zone(tz))
    text = dt.isoformat(timespec="milliseconds")  # ...05.000+00:00
    return text[:-3] + text[-2:]


@lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def _iso_z(ms: int | None) -> str | None:
    """Agile API datetimes (sprints): ``2024-01-02T03:04:05.000Z``."""
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def fmt_duration(seconds: int | None) -> str | None:
    """Jira's duration text with 8h days and 5d weeks: 12000 -> ``3h 20m``."""
    if seconds is None:
        return None
    parts = []
    rest = int(seconds)
    for unit, size in (("w", 5 * 8 * 3600), ("d", 8 * 3600), ("h", 3600), ("m", 60)):
        n, rest = divmod(rest, size)
        if n:
            parts.append(f"{n}{unit}")
    return " ".join(parts) or "0m"


def adf(text: str | None) -> dict[str, Any] | None:
    """A plain text as an Atlassian Document Format document (one paragraph per line)."""
    if not text:
        return None
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in text.split("\n")
        ],
    }


def rich_text(ctx: Ctx, text: str | None) -> Any:
    return adf(text) if ctx.rich else (text or None)


@lru_cache(maxsize=4096)
def _avatars(seed: str) -> dict[str, str]:  # shared, read-only
    url = f"https://avatar-management.example.net/initials/{seed}.png"
    return {f"{n}x{n}": f"{url}?size={n}" for n in (48, 24, 16, 32)}


def render_user(ctx: Ctx, user: User | None, *, full: bool = False) -> dict[str, Any] | None:
    if user is None:
        return None
    initials = "".join(w[0] for w in user.display_name.split()[:2]).upper()
    if ctx.dc:
        out: dict[str, Any] = {
            "self": f"{ctx.rest('user')}?username={user.name}",
            "name": user.name,
            "key": user.key,
            "emailAddress": user.email,
            "avatarUrls": _avatars(initials),
            "displayName": user.display_name,
            "active": user.active,
            "timeZone": user.time_zone,
        }
    else:
        out = {"self": f"{ctx.rest('user')}?accountId={user.account_id}", "accountId": user.account_id}
        if user.email_visible or user.account_id == ctx.state.myself_id:
            out["emailAddress"] = user.email
        out.update(
            {
                "avatarUrls": _avatars(initials),
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.time_zone,
                "accountType": "atlassian",
            }
        )
    if full:
        out["locale"] = "en_US"
        out["groups"] = {"size": 1, "items": []}
        out["applicationRoles"] = {"size": 1, "items": []}
        out["expand"] = "groups,applicationRoles"
    return out


def render_status(ctx: Ctx, status_id: str, *, listing: bool = False) -> dict[str, Any]:
    """A status (``StatusDetails``) as in an issue's ``fields.status``, or as
    ``GET /status`` lists it (``listing``: with ``untranslatedName`` on Cloud, as captured
    in realdata/jira-rest/jirametrics/testdata/sample_statuses.json). A team-managed
    project's status carries ``scope: {type: PROJECT, project: {id}}``."""
    st = STATUSES[status_id]
    cat = STATUS_CATEGORIES[st.category]
    out: dict[str, Any] = {
        "self": ctx.rest(f"status/{st.id}"),
        "description": "",
        "iconUrl": f"{ctx.base}/",
        "name": st.name,
    }
    if listing and not ctx.dc:
        out["untranslatedName"] = st.name
    out["id"] = st.id
    out["statusCategory"] = {
        "self": ctx.rest(f"statuscategory/{cat.id}"),
        "id": cat.id,
        "key": cat.key,
        "colorName": cat.color,
        "name": cat.name,
    }
    if st.project_key is not None:
        project = ctx.state.project(st.project_key)
        if project is not None:
            out["scope"] = {"type": "PROJECT", "project": {"id": str(project.id)}}
    return out


def site_statuses(ctx: Ctx) -> list[str]:
    """The ids ``GET /status`` lists: the site's statuses and, on Cloud, those of the
    team-managed projects that exist (Data Center has no team-managed projects)."""
    out = []
    for st in STATUSES.values():
        if st.project_key is None:
            out.append(st.id)
        elif not ctx.dc:
            project = ctx.state.project(st.project_key)
            if project is not None and project.team_managed:
                out.append(st.id)
    return out


def render_issuetype(ctx: Ctx, type_id: str) -> dict[str, Any]:
    t = ISSUE_TYPES[type_id]
    out = {
        "self": ctx.rest(f"issuetype/{t.id}"),
        "id": t.id,
        "description": f"A {t.name.lower()}.",
        "iconUrl": f"{ctx.base}/images/icons/issuetypes/{t.icon}",
        "name": t.name,
        "subtask": t.subtask,
    }
    if not ctx.dc:
        out["hierarchyLevel"] = t.hierarchy_level
    return out


def render_priority(ctx: Ctx, priority_id: str) -> dict[str, Any]:
    p = PRIORITIES[priority_id]
    return {
        "self": ctx.rest(f"priority/{p.id}"),
        "iconUrl": f"{ctx.base}/images/icons/priorities/{p.icon}",
        "name": p.name,
        "id": p.id,
    }


def render_project(ctx: Ctx, project: Project, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "self": ctx.rest(f"project/{project.id}"),
        "id": str(project.id),
        "key": project.key,
        "name": project.name,
        "projectTypeKey": "software",
        "simplified": project.team_managed,
        "avatarUrls": _avatars(project.key),
    }
    if full:
        out["style"] = "next-gen" if project.team_managed else "classic"
        out["isPrivate"] = False
        out["expand"] = "description,lead,issueTypes,url,projectKeys,permissions,insight"
    return out


def render_version(ctx: Ctx, version: Version, *, today: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "self": ctx.rest(f"version/{version.id}"),
        "id": str(version.id),
        "description": version.description,
        "name": version.name,
        "archived": version.archived,
        "released": version.released,
    }
    if version.start_date:
        out["startDate"] = version.start_date
    if version.release_date:
        out["releaseDate"] = version.release_date
        if today is not None and not version.released:
            out["overdue"] = version.release_date < today
        out["userReleaseDate"] = _user_date(version.release_date)
    if today is not None:
        out["projectId"] = version.project_id
    return out


@lru_cache(maxsize=1024)
def _user_date(iso_date: str) -> str:
    """The instance's display format (``09/Oct/25``): clients must not parse it (A6)."""
    return datetime.strptime(iso_date, "%Y-%m-%d").strftime("%d/%b/%y")


def render_sprint(ctx: Ctx, sprint: Sprint) -> Any:
    if ctx.dc:
        return (
            f"com.atlassian.greenhopper.service.sprint.Sprint@{sprint.id * 7919:x}"
            f"[id={sprint.id},rapidViewId={sprint.board_id},state={sprint.state.upper()},"
            f"name={sprint.name},startDate={_iso_z(sprint.start_date) or '<null>'},"
            f"endDate={_iso_z(sprint.end_date) or '<null>'},"
            f"completeDate={_iso_z(sprint.complete_date) or '<null>'},"
            f"activatedDate={_iso_z(sprint.start_date) or '<null>'},sequence={sprint.id},"
            f"goal={sprint.goal},synced=false,autoStartStop=false,"
            "incompleteIssuesDestinationId=<null>]"
        )
    out: dict[str, Any] = {
        "id": sprint.id,
        "name": sprint.name,
        "state": sprint.state,
        "boardId": sprint.board_id,
        "goal": sprint.goal,
    }
    for key, ms in (
        ("startDate", sprint.start_date),
        ("endDate", sprint.end_date),
        ("completeDate", sprint.complete_date),
    ):
        if ms is not None:
            out[key] = _iso_z(ms)
    return out


def tz_of(ctx: Ctx) -> str:
    return ctx.state.config.render_time_zone


def render_history(ctx: Ctx, h: History) -> dict[str, Any]:
    items = []
    for it in h.items:
        item: dict[str, Any] = {"field": it.field, "fieldtype": it.fieldtype}
        if not ctx.dc and it.field_id:  # a "Link" item has none (captured: jirametrics SP-15)
            item["fieldId"] = it.field_id
        item.update(
            {"from": it.from_, "fromString": it.from_string, "to": it.to, "toString": it.to_string}
        )
        items.append(item)
    return {
        "id": str(h.id),
        "author": render_user(ctx, ctx.state.users.get(h.author)),
        "created": fmt_dt(h.created, tz_of(ctx)),
        "items": items,
    }


def render_worklog(ctx: Ctx, wl: WorklogRec) -> dict[str, Any]:
    users = ctx.state.users
    return {
        "self": ctx.rest(f"issue/{wl.issue_id}/worklog/{wl.id}"),
        "author": render_user(ctx, users.get(wl.author)),
        "updateAuthor": render_user(ctx, users.get(wl.update_author or wl.author)),
        "comment": rich_text(ctx, wl.comment) if ctx.rich else (wl.comment or ""),
        "created": fmt_dt(wl.created, tz_of(ctx)),
        "updated": fmt_dt(wl.updated, tz_of(ctx)),
        "started": fmt_dt(wl.started, tz_of(ctx)),
        "timeSpent": fmt_duration(wl.seconds),
        "timeSpentSeconds": wl.seconds,
        "id": str(wl.id),
        "issueId": str(wl.issue_id),
    }


def server_info(ctx: Ctx) -> dict[str, Any]:
    cfg = ctx.state.config
    version = cfg.cloud_version if cfg.is_cloud else cfg.dc_version
    numbers = [int(p) for p in version.split("-")[0].split(".")[:3]]
    return {
        "baseUrl": ctx.base,
        "version": version,
        "versionNumbers": numbers,
        "deploymentType": cfg.deployment,
        "buildNumber": 100283 if cfg.is_cloud else 9120015,
        "buildDate": "2025-11-20T00:00:00.000+0000",
        "serverTime": fmt_dt(ctx.state.now_ms(), tz_of(ctx)),
        "scmInfo": "4b6c1a0e2f3d5c7b9a8e6f4d2c0b1a3e5f7d9c8b",
        "serverTitle": "Jira",
    }


def myself(ctx: Ctx) -> dict[str, Any]:
    out = render_user(ctx, ctx.state.myself, full=True)
    assert out is not None
    return out
