"""The event types taskhub sends, each with its version and the model of its ``data``.

One registry drives validation in ``emit`` (a payload that does not fit its model is a programming
error, raised at once in the sender's transaction) and the OpenAPI document's ``webhooks`` section.
Payloads are thin, as the issue asks: ids, the figures that changed, and links to API resources
that hold the rest; a subscriber fetches more when it needs it.

Adding a type: define its data model and ``register()`` it here, or in a module of this package
that ``service/events/__init__.py`` imports (``state_types``): the catalog must be complete once
the package is imported, because the OpenAPI document (``service.events.openapi``) and ``emit``
read it. (Importing that module from here instead would make the two import each other.)
Changing a type's data incompatibly: bump its version (sent in the payload's ``version``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """Base of every ``data`` model: unknown fields are refused so the documented schema stays true."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    data: type[EventData]
    summary: str


_REGISTRY: dict[str, EventType] = {}


def register(event_type: EventType) -> EventType:
    """Add a type to the catalog; a second, different definition of one name is refused."""
    known = _REGISTRY.get(event_type.name)
    if known is not None and known != event_type:
        raise ValueError(f"event type {event_type.name!r} is already defined")
    _REGISTRY[event_type.name] = event_type
    return event_type


def get(name: str) -> EventType:
    """The type called ``name``; a name outside the catalog is a programming error (``KeyError``)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown event type {name!r}; register it in service.events.catalog") from None


def all_types() -> list[EventType]:
    return sorted(_REGISTRY.values(), key=lambda t: t.name)


def is_known_pattern(pattern: str) -> bool:
    """Whether an endpoint's subscription names something that exists: ``*``, a known type, or a
    family ``x.*`` with at least one known type in it."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        return any(name.startswith(prefix) for name in _REGISTRY)
    return pattern in _REGISTRY


def matches(pattern: str, name: str) -> bool:
    """Whether a subscription pattern (exact, ``family.*`` or ``*``) covers the type ``name``."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return pattern == name


def validate_data(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` checked against the type's model and turned into JSON-ready values."""
    return get(name).data.model_validate(data).model_dump(mode="json")


# --- types ------------------------------------------------------------------------------------------
# Placeholders for the types whose emission is built elsewhere (service.events.emitters*) may be
# refined there; keep the field names stable once an endpoint can have seen them.


class TaskData(EventData):
    task_id: int
    source_id: int
    external_id: str
    project_id: int | None = None
    links: dict[str, str] = {}


class FieldChange(EventData):
    old: Any = None
    new: Any = None


class TaskUpdatedData(TaskData):
    changed: dict[str, FieldChange]


class SourceHealthData(EventData):
    source_id: int
    status: str
    previous_status: str | None = None
    reason: str | None = None
    links: dict[str, str] = {}


class SourceSyncedData(EventData):
    source_id: int
    mode: str
    items_seen: int
    items_changed: int
    sync_run_id: int | None = None
    # The task events the run did not send, by kind (created, updated, deleted).
    tasks: dict[str, int] = {}
    links: dict[str, str] = {}


class WebhookTestData(EventData):
    endpoint_id: int
    message: str


class ReportReadyData(EventData):
    """A status report was published (``service.reports``): what it covers and where to fetch it."""

    report_id: int
    scope: str  # portfolio | project
    scope_id: int
    scope_name: str
    week: str  # ISO week, e.g. 2026-W11
    week_start: str  # its Monday, in the organization's time zone
    published_at: str
    published_by: str | None = None
    links: dict[str, str] = {}


for _t in (
    EventType("task.created", 1, TaskData, "A task appeared in a synced source."),
    EventType("task.updated", 1, TaskUpdatedData, "A task's fields changed (old and new values of each)."),
    EventType("task.deleted", 1, TaskData, "A task was deleted in its source or lost from its scope."),
    EventType("source.degraded", 1, SourceHealthData, "A source's health left ok."),
    EventType("source.recovered", 1, SourceHealthData, "A source's health is ok again."),
    EventType("source.synced", 1, SourceSyncedData, "A backfill or first sync finished (no per-task events)."),
    EventType("webhook.test", 1, WebhookTestData, "Sent on request to check an endpoint."),
    EventType("report.ready", 1, ReportReadyData,
              "A weekly status report was published; its HTML and PDF are at the links (issue 23)."),
):
    register(_t)
