"""Any saved Jira JSON document -> effects, for ``taskhub normalize jira PATH|-``.

Recognises, in this order: a webhook delivery (``webhookEvent``, or ``issue`` +
``timestamp``), a REST issue (``fields`` + ``id``/``key``), a search response
(``issues``: old ``/search`` with ``total`` or ``/search/jql`` with
``nextPageToken``/``isLast``), a worklog page (``worklogs``), a single worklog,
a project with its ``versions``, a version page (``values``), a single version,
and lists of issues, worklogs or versions. Anything else raises ``ValueError``
with a message saying what was expected. ``effect_to_json`` (shared with the
Trello mapping, ``mappings.effects_json``) is re-exported here.
"""

from __future__ import annotations

from typing import Any

from mappings.effects_json import effect_to_json
from mappings.jira.catalogue import StatusCatalogue
from mappings.jira.fields import JiraFieldIds, discover_fields
from mappings.jira.issue import map_issue
from mappings.jira.records import map_version, worklog_upsert
from mappings.jira.values import opt_str
from mappings.jira.webhook import effects_from_webhook
from mappings.model import Effect, Ignored, MilestoneUpsert
from mappings.profile import MappingProfile

__all__ = ["effects_from_document", "effect_to_json", "EXPECTED_DOCUMENTS"]

EXPECTED_DOCUMENTS = (
    "a webhook payload (webhookEvent), an issue (fields + id/key), a search response "
    "(issues), a worklog page (worklogs), a worklog, a version, a list of versions or "
    "a project with versions"
)


def _is_issue(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("fields"), dict) and ("id" in d or "key" in d)


def _is_worklog(d: Any) -> bool:
    return (
        isinstance(d, dict)
        and "id" in d
        and ("timeSpentSeconds" in d or "timeSpent" in d)
        and ("started" in d or "issueId" in d)
    )


def _is_version(d: Any) -> bool:
    return (
        isinstance(d, dict)
        and "id" in d
        and isinstance(d.get("name"), str)
        and "fields" not in d
        # Components share id/name/projectId/archived; only versions have these.
        and any(k in d for k in ("released", "releaseDate", "userReleaseDate"))
    )


def _names_fields(doc: dict[str, Any], profile: MappingProfile) -> JiraFieldIds | None:
    """Field ids from an ``expand=names,schema`` response, when it carries them."""
    names = doc.get("names")
    if not isinstance(names, dict) or not names:
        return None
    raw_schema = doc.get("schema")
    schema: dict[str, Any] = raw_schema if isinstance(raw_schema, dict) else {}
    listing = [
        {"id": k, "name": v, "schema": schema.get(k), "custom": k.startswith("customfield_")}
        for k, v in names.items()
        if isinstance(k, str) and isinstance(v, str)
    ]
    return discover_fields(listing, profile.jira)


def _issue_effects(
    issue: dict[str, Any],
    site_url: str,
    profile: MappingProfile,
    fields: JiraFieldIds | None,
    catalogue: StatusCatalogue | None = None,
) -> list[Effect]:
    label = issue.get("key") or issue.get("id")
    if not isinstance(issue.get("fields"), dict):
        # search/jql returns ids only unless fields are requested; nothing to map.
        return [
            Ignored(
                reason=f"issue {label} has no 'fields' object (an id-only search result "
                "or a board listing): nothing to map"
            )
        ]
    try:
        upsert = map_issue(
            issue, site_url=site_url, profile=profile, fields=fields, catalogue=catalogue
        )
    except ValueError as exc:
        return [Ignored(reason=f"issue {label} could not be mapped: {exc}")]
    out: list[Effect] = [upsert]
    # Issues fetched with the worklog field embed their first page of worklogs.
    embedded = issue["fields"].get("worklog")
    worklogs = embedded.get("worklogs") if isinstance(embedded, dict) else embedded
    for worklog in worklogs if isinstance(worklogs, list) else []:
        found = worklog_upsert(worklog, issue_id=upsert.task.external_id)
        if found is not None:
            out.append(found)
    return out


def _worklog_effects(worklogs: list[Any], issue_id: str | None = None) -> list[Effect]:
    out: list[Effect] = []
    for worklog in worklogs:
        found = worklog_upsert(worklog, issue_id=issue_id) if isinstance(worklog, dict) else None
        label = worklog.get("id") if isinstance(worklog, dict) else worklog
        out.append(found or Ignored(reason=f"worklog {label!r} has no id or start time"))
    return out


def _version_effects(versions: list[Any], project_id: str | None = None) -> list[Effect]:
    out: list[Effect] = []
    for version in versions:
        if _is_version(version) or (isinstance(version, dict) and "id" in version):
            try:
                milestone = map_version(version, project_external_id=project_id)
            except ValueError as exc:
                out.append(Ignored(reason=f"version could not be mapped: {exc}"))
                continue
            out.append(MilestoneUpsert(milestone=milestone, raw=version))
        else:
            out.append(Ignored(reason=f"not a Jira version: {version!r:.80}"))
    return out


def _list_effects(
    doc: list[Any],
    site_url: str,
    profile: MappingProfile,
    fields: JiraFieldIds | None,
    catalogue: StatusCatalogue | None = None,
) -> list[Effect]:
    if not doc:
        return []
    if all(_is_issue(d) for d in doc):
        return [e for d in doc for e in _issue_effects(d, site_url, profile, fields, catalogue)]
    if all(_is_worklog(d) for d in doc):
        return _worklog_effects(doc)
    if all(_is_version(d) for d in doc):
        return _version_effects(doc)
    kinds = sorted({type(d).__name__ for d in doc})
    raise ValueError(
        f"unrecognised Jira list (items: {', '.join(kinds)}); expected a list of issues, "
        f"worklogs or versions, or {EXPECTED_DOCUMENTS}"
    )


def effects_from_document(
    doc: dict[str, Any] | list[Any],
    *,
    site_url: str,
    profile: MappingProfile,
    fields: JiraFieldIds | None = None,
    catalogue: StatusCatalogue | None = None,
) -> list[Effect]:
    """Detect what a saved Jira JSON document is and map it; ``ValueError`` if unknown.

    ``catalogue``: the site's statuses (``status_catalogue``) for categorizing history."""
    if isinstance(doc, list):
        return _list_effects(doc, site_url, profile, fields, catalogue)
    if not isinstance(doc, dict):
        raise ValueError(
            f"unrecognised Jira document ({type(doc).__name__}); expected {EXPECTED_DOCUMENTS}"
        )
    if "webhookEvent" in doc or ("issue" in doc and "timestamp" in doc):
        return effects_from_webhook(
            doc, site_url=site_url, profile=profile, fields=fields, catalogue=catalogue
        )
    fields = fields or _names_fields(doc, profile)
    if _is_issue(doc):
        return _issue_effects(doc, site_url, profile, fields, catalogue)
    if isinstance(doc.get("issues"), list):
        return [
            e
            for issue in doc["issues"]
            for e in (
                _issue_effects(issue, site_url, profile, fields, catalogue)
                if isinstance(issue, dict)
                else [Ignored(reason=f"search result item is not an issue: {issue!r:.80}")]
            )
        ]
    if isinstance(doc.get("worklogs"), list):
        return _worklog_effects(doc["worklogs"])
    if _is_worklog(doc):
        return _worklog_effects([doc])
    if isinstance(doc.get("versions"), list) and "key" in doc:  # a project with versions
        return _version_effects(doc["versions"], project_id=opt_str(doc.get("id")))
    if isinstance(doc.get("values"), list) and all(_is_version(v) for v in doc["values"]):
        return _version_effects(doc["values"])
    if _is_version(doc):
        return _version_effects([doc])
    if "errorMessages" in doc or "errors" in doc:
        raise ValueError(f"this is a Jira error response, not data: {doc!r:.200}")
    keys = ", ".join(sorted(map(str, doc))[:12]) or "none"
    raise ValueError(f"unrecognised Jira document (keys: {keys}); expected {EXPECTED_DOCUMENTS}")
