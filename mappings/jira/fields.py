"""Which custom fields hold story points, sprint, epic link, cost: discovery and sprint values.

Custom field ids differ per Jira site, so they are discovered from
``GET /rest/api/{2|3}/field`` (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-fields/#api-rest-api-3-field-get)
by name and schema type; a mapping profile can pin them.

When no field list is known, the mapper falls back to ids that are common on
Jira Cloud sites (``FALLBACK_*`` below). They are guesses, nothing more: a value
read through a guessed id must also *look* right (a sprint must parse as a
sprint, an epic link as an issue key) before it is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mappings.profile import JiraProfile

__all__ = [
    "JiraFieldIds",
    "discover_fields",
    "FALLBACK_STORY_POINTS_FIELDS",
    "FALLBACK_SPRINT_FIELDS",
    "FALLBACK_EPIC_LINK_FIELDS",
    "SPRINT_SCHEMA",
    "EPIC_LINK_SCHEMA",
    "parse_sprint_string",
    "sprint_name",
    "looks_like_sprint_value",
    "looks_like_issue_key",
    "FALLBACK_FLAGGED_FIELD",
    "flag_set",
    "looks_like_flagged_value",
]

SPRINT_SCHEMA = "com.pyxis.greenhopper.jira:gh-sprint"
EPIC_LINK_SCHEMA = "com.pyxis.greenhopper.jira:gh-epic-link"
# Team-managed projects' "Story point estimate" field.
STORY_POINTS_SCHEMA = "com.pyxis.greenhopper.jira:jsw-story-points"

# Fallback ids, used only when no /field list is available (see module docstring).
FALLBACK_STORY_POINTS_FIELDS: tuple[str, ...] = (
    "customfield_10016",  # "Story point estimate" on many Cloud sites
    "customfield_10026",  # "Story Points" on many Cloud sites
    "customfield_10002",  # "Story Points" on older Server/Cloud sites
)
FALLBACK_SPRINT_FIELDS: tuple[str, ...] = ("customfield_10020", "customfield_10007")
FALLBACK_EPIC_LINK_FIELDS: tuple[str, ...] = ("customfield_10014", "customfield_10008")
# Jira Software's "Flagged" field on many Cloud sites (a checkbox field with the one option
# "Impediment"); read through this id only when its value looks like Flagged's.
FALLBACK_FLAGGED_FIELD = "customfield_10021"

_START_DATE_NAMES = ("start date",)


@dataclass
class JiraFieldIds:
    """Custom field ids of one Jira site, as discovered (or pinned by the profile)."""

    story_points: list[str] = field(default_factory=list)
    sprint: str | None = None
    epic_link: str | None = None
    cost: str | None = None
    start_date: str | None = None  # optional "Start date" style field
    flagged: str | None = None  # Jira Software's "Flagged" (issue 23)


def _schema_custom(entry: dict[str, Any]) -> str | None:
    schema = entry.get("schema")
    if isinstance(schema, dict) and isinstance(schema.get("custom"), str):
        return schema["custom"]
    return None


def _entries(field_list: Any) -> list[dict[str, Any]]:
    # /field answers a bare list; /field/search pages it under "values".
    if isinstance(field_list, dict):
        field_list = field_list.get("values", [])
    if not isinstance(field_list, list):
        return []
    return [e for e in field_list if isinstance(e, dict) and isinstance(e.get("id"), str)]


def _name(entry: dict[str, Any]) -> str:
    name = entry.get("name")
    return name.strip().casefold() if isinstance(name, str) else ""


def _first(entries: Iterable[dict[str, Any]]) -> str | None:
    for entry in entries:
        return str(entry["id"])
    return None


def discover_fields(field_list: list[dict[str, Any]], profile: JiraProfile) -> JiraFieldIds:
    """Find the site's story points / sprint / epic link / start date fields.

    Story points: every field whose name is in ``profile.story_points_names``
    (case-insensitive, in the profile's order), plus the team-managed
    story-points schema type. Sprint: the ``gh-sprint`` schema type, else the
    name "Sprint". Epic link: the ``gh-epic-link`` type, else "Epic Link".
    ``profile.story_points_fields`` / ``sprint_field`` / ``epic_link_field`` /
    ``cost_field`` override whatever discovery finds. Flagged: the custom field named
    "Flagged", unless ``profile.flagged_field`` pins it.
    """
    entries = _entries(field_list)

    points: list[str] = []
    for wanted in profile.story_points_names:
        key = wanted.strip().casefold()
        points += [e["id"] for e in entries if _name(e) == key and e["id"] not in points]
    points += [
        e["id"]
        for e in entries
        if _schema_custom(e) == STORY_POINTS_SCHEMA and e["id"] not in points
    ]

    sprint = _first(e for e in entries if _schema_custom(e) == SPRINT_SCHEMA) or _first(
        e for e in entries if _name(e) == "sprint"
    )
    epic = _first(e for e in entries if _schema_custom(e) == EPIC_LINK_SCHEMA) or _first(
        e for e in entries if _name(e) == "epic link"
    )
    start = _first(e for e in entries if _name(e) in _START_DATE_NAMES and e.get("custom"))
    flagged = _first(e for e in entries if _name(e) == "flagged" and e.get("custom") is not False)

    return JiraFieldIds(
        story_points=list(profile.story_points_fields) or points,
        sprint=profile.sprint_field or sprint,
        epic_link=profile.epic_link_field or epic,
        cost=profile.cost_field,
        start_date=start,
        flagged=profile.flagged_field or flagged,
    )


# --- sprint values ---------------------------------------------------------------------

# Server/DC (and Cloud before 2020) serialise each sprint as a Java toString():
# "com.atlassian.greenhopper.service.sprint.Sprint@1a2b[id=1,rapidViewId=1,state=ACTIVE,
# name=Sprint 1,goal=,startDate=<null>,...]". Keys come in any order; values are not
# quoted, so a comma only ends a value when another "key=" follows.
_SPRINT_STRING = re.compile(
    r"^\s*com\.atlassian\.greenhopper\.service\.sprint\.Sprint@\w*\[(.*)\]\s*$", re.S
)
_SPRINT_SPLIT = re.compile(r",(?=[A-Za-z][A-Za-z0-9]*=)")
_SPRINT_STATES = {"active", "closed", "future"}


def parse_sprint_string(text: str) -> dict[str, str | None] | None:
    """Parse one Server-style sprint string into its key/value pairs (``<null>`` -> None)."""
    match = _SPRINT_STRING.match(text) if isinstance(text, str) else None
    if not match:
        return None
    out: dict[str, str | None] = {}
    for part in _SPRINT_SPLIT.split(match.group(1)):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = None if value == "<null>" else value
    return out


def _sprint_entry(item: Any) -> tuple[str, str] | None:
    """(name, state) of one sprint value item, or None when it is not a sprint."""
    if isinstance(item, str):
        parsed = parse_sprint_string(item)
        if parsed and parsed.get("name"):
            return str(parsed["name"]), (parsed.get("state") or "").casefold()
        return None
    if isinstance(item, dict) and isinstance(item.get("name"), str) and "id" in item:
        state = item.get("state")
        return item["name"], state.casefold() if isinstance(state, str) else ""
    return None


def sprint_name(value: Any) -> str | None:
    """The sprint an issue is in: the active one, else the last one listed.

    Accepts a Cloud list of sprint objects, a Server list of sprint strings, or
    the single ``sprint`` object of the Agile API. Anything else gives ``None``.
    """
    items = value if isinstance(value, list) else [value]
    sprints = [s for s in (_sprint_entry(i) for i in items) if s is not None]
    if not sprints:
        return None
    active = [name for name, state in sprints if state == "active"]
    return active[-1] if active else sprints[-1][0]


def looks_like_sprint_value(value: Any) -> bool:
    """True only for values that cannot be anything but sprints (used to sniff the field)."""
    if not isinstance(value, list) or not value:
        return False
    for item in value:
        if isinstance(item, str):
            if parse_sprint_string(item) is None:
                return False
        elif isinstance(item, dict):
            state = item.get("state")
            if not ("id" in item and isinstance(item.get("name"), str)):
                return False
            if not (isinstance(state, str) and state.casefold() in _SPRINT_STATES):
                return False
        else:
            return False
    return True


_ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$")


def looks_like_issue_key(value: Any) -> bool:
    return isinstance(value, str) and bool(_ISSUE_KEY.match(value.strip()))


# --- Flagged ---------------------------------------------------------------------------


def flag_set(value: Any) -> bool:
    """Whether a Flagged field's value sets the flag: any option chosen (Cloud and Data Center
    send ``[{"self": …, "value": "Impediment", "id": "10019"}]``; unset is null or ``[]``)."""
    if isinstance(value, list):
        return any(item not in (None, "", {}) for item in value)
    if isinstance(value, dict):
        return bool(value.get("value") or value.get("id"))
    return isinstance(value, str) and bool(value.strip())


def looks_like_flagged_value(value: Any) -> bool:
    """True only for a value shaped like Flagged's (to trust the fallback id): a list of
    options each with a ``value`` of "Impediment"."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(item, dict)
            and isinstance(item.get("value"), str)
            and item["value"].strip().casefold() == "impediment"
            for item in value
        )
    )
