"""Pure mappings from Jira (Cloud REST v3/v2, Data Center v2, webhooks) to the common model.

Jira REST API: https://developer.atlassian.com/cloud/jira/platform/rest/v3/
Webhooks: https://developer.atlassian.com/cloud/jira/platform/webhooks/

No I/O here. Modules by role: ``values`` (dates, numbers, people), ``fields``
(custom field discovery, sprint values), ``status`` (status categories),
``catalogue`` (the site's statuses; transitions categorized by status id),
``changelog`` (history -> changes), ``issue`` (issue -> task), ``records``
(versions, worklogs), ``webhook`` (event table), ``document`` (CLI detection and
JSON output).
"""

from mappings.jira.catalogue import (
    CatalogueStatus,
    Recategorized,
    StatusCatalogue,
    recategorize_changes,
    status_catalogue,
    unknown_status_ids,
)
from mappings.jira.changelog import (
    History,
    changelog_truncated,
    histories_from_bulk_changelog,
    last_move_after,
    normalize_field,
)
from mappings.jira.documents import EXPECTED_DOCUMENTS, effect_to_json, effects_from_document
from mappings.jira.fields import (
    FALLBACK_EPIC_LINK_FIELDS,
    FALLBACK_SPRINT_FIELDS,
    FALLBACK_STORY_POINTS_FIELDS,
    JiraFieldIds,
    discover_fields,
    parse_sprint_string,
    sprint_name,
)
from mappings.jira.issue import build_issue_upsert, map_issue
from mappings.jira.records import map_version, map_worklog
from mappings.jira.status import category_of_status
from mappings.jira.values import parse_jira_date, parse_jira_datetime, parse_jira_duration
from mappings.jira.webhook import (
    COMMENT_REASON,
    IGNORED_EVENT_PREFIXES,
    IGNORED_EVENTS,
    SUPPORTED_EVENTS,
    effects_from_webhook,
)

__all__ = [
    "JiraFieldIds",
    "discover_fields",
    "FALLBACK_STORY_POINTS_FIELDS",
    "FALLBACK_SPRINT_FIELDS",
    "FALLBACK_EPIC_LINK_FIELDS",
    "map_issue",
    "build_issue_upsert",
    "last_move_after",
    "map_version",
    "map_worklog",
    "effects_from_webhook",
    "effects_from_document",
    "effect_to_json",
    "EXPECTED_DOCUMENTS",
    "SUPPORTED_EVENTS",
    "IGNORED_EVENTS",
    "IGNORED_EVENT_PREFIXES",
    "COMMENT_REASON",
    "parse_jira_datetime",
    "parse_jira_date",
    "parse_jira_duration",
    "parse_sprint_string",
    "sprint_name",
    "category_of_status",
    "CatalogueStatus",
    "StatusCatalogue",
    "status_catalogue",
    "recategorize_changes",
    "Recategorized",
    "unknown_status_ids",
    "History",
    "changelog_truncated",
    "histories_from_bulk_changelog",
    "normalize_field",
]
