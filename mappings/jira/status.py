"""Jira status -> common status category.

Progress is mapped on ``statusCategory.key``, never on status names
(https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-workflow-status-categories/):
``new`` (id 2) -> todo, ``indeterminate`` (id 4) -> in_progress, ``done`` (id 3)
-> done, ``undefined`` (id 1, "No Category") or missing -> todo. A profile's
``status_overrides`` (status name -> category) win over Jira's category.

Changelog entries name statuses only by id and name: the category of a past status
comes from the site's status catalogue (``catalogue.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mappings.model import StatusCategory

__all__ = [
    "category_from_key",
    "category_of_status",
    "override_for",
]

_BY_KEY = {
    "new": StatusCategory.todo,
    "indeterminate": StatusCategory.in_progress,
    "done": StatusCategory.done,
    "undefined": StatusCategory.todo,
    # /rest/api/3/statuses/search gives the category as TODO | IN_PROGRESS | DONE.
    "todo": StatusCategory.todo,
    "in_progress": StatusCategory.in_progress,
}
# Some payloads (the old GreenHopper board API) carry the category id only.
_BY_ID = {
    "1": StatusCategory.todo,
    "2": StatusCategory.todo,
    "3": StatusCategory.done,
    "4": StatusCategory.in_progress,
}


def category_from_key(category: Any) -> StatusCategory | None:
    """A ``statusCategory`` object (or its key) -> category; ``None`` when absent or unknown."""
    if isinstance(category, str):
        return _BY_KEY.get(category.strip().casefold())
    if isinstance(category, dict):
        key = category.get("key")
        if isinstance(key, str) and key.strip().casefold() in _BY_KEY:
            return _BY_KEY[key.strip().casefold()]
        ident = category.get("id")
        if isinstance(ident, (str, int)) and not isinstance(ident, bool):
            return _BY_ID.get(str(ident))
    return None


def override_for(
    name: str | None, overrides: Mapping[str, StatusCategory]
) -> StatusCategory | None:
    """The profile override for a status name: exact match first, then case-insensitive."""
    if not name or not overrides:
        return None
    if name in overrides:
        return StatusCategory(overrides[name])
    folded = name.strip().casefold()
    for key, value in overrides.items():
        if key.strip().casefold() == folded:
            return StatusCategory(value)
    return None


def category_of_status(
    status: Any, overrides: Mapping[str, StatusCategory] | None = None
) -> StatusCategory:
    """Category of an issue's ``fields.status`` object; missing/unknown -> todo."""
    name = status.get("name") if isinstance(status, dict) else None
    forced = override_for(name if isinstance(name, str) else None, overrides or {})
    if forced is not None:
        return forced
    if isinstance(status, dict):
        found = category_from_key(status.get("statusCategory"))
        if found is not None:
            return found
    return StatusCategory.todo
