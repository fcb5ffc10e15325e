"""What a declared source changes in a stored one: the ``SourceUpdate`` of the differing fields.

Used where a whole source is stated at once — the dashboard's edit form (every field shown,
prefilled) and ``taskhub apply`` files (the file says how the source should be). Sending
only what differs matters: ``update_source`` verifies the source with the tool and
re-registers its webhooks whenever the update carries credentials, a base URL or a scope,
so an unchanged file applied again, or a form that only renames, calls no tool at all.
"""

from __future__ import annotations

from typing import Any

from service.schemas import JiraScope, SourceUpdate, TrelloScope
from service.settings import Settings
from service.sources import _plain_credentials, source_secrets
from service.tables import Source

__all__ = ["source_changes"]


def _scope_json(src: Source, scope: JiraScope | TrelloScope) -> tuple[dict[str, Any], dict[str, Any]]:
    """The wanted and the stored scope in one shape (JSON values, no nulls) to compare."""
    model = JiraScope if src.kind == "jira" else TrelloScope
    stored = model.model_validate(src.scope or {}).model_dump(mode="json", exclude_none=True)
    return scope.model_dump(mode="json", exclude_none=True), stored


def _differs(settings: Settings, src: Source, body: SourceUpdate, name: str) -> bool:
    value = getattr(body, name)
    if value is None:  # not stated: kept
        return False
    if name == "base_url":
        return str(value).rstrip("/") != src.base_url
    if name == "scope":
        want, stored = _scope_json(src, value)
        return want != stored
    if name == "credentials":
        return _plain_credentials(value) != source_secrets(settings, src).credentials
    return bool(value != getattr(src, name))


def source_changes(settings: Settings, src: Source, want: dict[str, Any]) -> SourceUpdate:
    """``want`` (raw values of name, base_url, scope, credentials, poll_interval_seconds,
    enabled; absent or ``None``: keep) validated as a ``SourceUpdate`` holding only the fields
    that differ from ``src``. Raises pydantic's ``ValidationError`` for a bad value."""
    body = SourceUpdate.model_validate(want)
    changed = [n for n in sorted(body.model_fields_set) if _differs(settings, src, body, n)]
    return SourceUpdate.model_validate({n: want[n] for n in changed})
