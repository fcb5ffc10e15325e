"""Trello time as dated, attributed worklogs. Pure: no I/O.

Trello has no worklogs (METRICS.md "Worklogs from Trello"). Each change of a card's
hours custom field — the field the profile maps to ``spent_hours``, read with the
same rules as the card's ``spent_seconds`` — is an ``updateCustomFieldItem`` action
carrying the old and the new value::

    {"id": "<action id>", "type": "updateCustomFieldItem", "date": "...Z",
     "idMemberCreator": "...", "memberCreator": {...},
     "data": {"old": {"value": null | {"number": "2"}},
              "customField": {"id", "name", "type"},
              "customFieldItem": {"id", "value": null | {"number": "3.5"},
                                  "idCustomField", "idModel", "modelType": "card"},
              "board": {...}, "card": {"id", ...}}}

(``realdata/trello-rest/ruby-trello/can_get_actions_of_board.1.GET.json``.) It is a
worklog of (new − old) hours by the member who made the change, started at the
action's time; a decrease is a negative correction; an empty value counts as 0
(so are a malformed or negative one, as for ``spent_seconds``). Hours a card
already had at the history horizon — its value now minus what the history after
the horizon explains — are one worklog at the horizon, no author, ``carried_in``.
So a card's worklogs always add up to its hours field.

Hours are turned into seconds value by value, with the card mapping's rounding, and
each worklog is the difference: the sum telescopes exactly to the card's seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mappings.model import Effect, Ignored, Worklog, WorklogUpsert
from mappings.profile import MappingProfile
from mappings.trello.actions import action_author
from mappings.trello.context import BoardContext
from mappings.trello.custom_fields import convert, field_id_for, item_text, model_field_for
from mappings.trello.values import as_dict, as_list, as_str, created_at_from_id, parse_datetime

__all__ = [
    "CARRIED_IN_SUFFIX",
    "hours_field_id",
    "is_hours_change",
    "hours_seconds",
    "worklog_from_action",
    "hours_after",
    "worklog_effects",
    "worklogs_from_history",
    "card_hours_seconds",
    "explained_seconds",
    "default_horizon",
    "carried_in_worklog",
    "carried_in_worklogs",
]

CARRIED_IN_SUFFIX = ":carried_in"  # external id of a card's carried-in entry: <card id> + this
_SPENT = "spent_seconds"


def hours_field_id(ctx: BoardContext, profile: MappingProfile) -> str | None:
    """The id of the board's hours field: the first name of the profile's ``spent_hours``
    list that names a custom field of the board (case-insensitive), else None. The card
    mapping reads ``spent_seconds`` from the same field (``custom_fields.field_id_for``)."""
    return field_id_for("spent_hours", ctx.custom_fields, profile)


def is_hours_change(action: Any, ctx: BoardContext, profile: MappingProfile) -> bool:
    """True for an ``updateCustomFieldItem`` on the board's hours field.

    With the board's field definitions known, the field is matched by id (a field
    deleted and created again under the same name is another field); without them
    (a minimal context), by the name the action gives.
    """
    if not isinstance(action, dict) or action.get("type") != "updateCustomFieldItem":
        return False
    data = as_dict(action.get("data"))
    declared = as_dict(data.get("customField"))
    field_id = as_str(declared.get("id")) or as_str(
        as_dict(data.get("customFieldItem")).get("idCustomField")
    )
    if ctx.custom_fields:
        return field_id is not None and field_id == hours_field_id(ctx, profile)
    return model_field_for(str(declared.get("name") or ""), profile) == _SPENT


def hours_seconds(item: Mapping[str, Any], definition: Mapping[str, Any] | None = None) -> int:
    """Seconds of one hours value (``{"value": {"number": "1.5"}}`` or a list field's
    ``{"idValue": ...}``); 0 when empty, malformed or negative."""
    seconds = convert(_SPENT, item_text(item, definition))
    return seconds if isinstance(seconds, int) else 0


def worklog_from_action(
    action: dict[str, Any],
    ctx: BoardContext,
    profile: MappingProfile,
    *,
    source_id: int | None = None,
) -> Worklog | None:
    """The worklog of one hours change; None when the action is not one
    (``is_hours_change``) or leaves the hours as they were.

    Raises ``ValueError`` naming what is missing when an hours change lacks its id,
    date, card id or ``data.old``.
    """
    if not is_hours_change(action, ctx, profile):
        return None
    data = as_dict(action.get("data"))
    action_id = as_str(action.get("id"))
    at = parse_datetime(action.get("date"))
    card_id = as_str(as_dict(data.get("card")).get("id")) or as_str(
        as_dict(data.get("customFieldItem")).get("idModel")
    )
    has_old = isinstance(data.get("old"), dict)
    missing = [
        name
        for name, value in (("id", action_id), ("date", at), ("data.card.id", card_id))
        if value is None
    ]
    if not has_old:
        missing.append("data.old")
    if missing:
        raise ValueError(
            f"Trello updateCustomFieldItem {action_id or '(no id)'} on the hours field "
            f"lacks {', '.join(missing)}"
        )
    assert action_id is not None and at is not None and card_id is not None
    definition = _definition(data, ctx)
    before = hours_seconds(as_dict(data.get("old")), definition)
    after = hours_seconds(as_dict(data.get("customFieldItem")), definition)
    if after == before:
        return None
    return Worklog(
        source_id=source_id,
        external_id=action_id,
        task_external_id=card_id,
        author=action_author(action),
        started_at=at,
        seconds=after - before,
        created_at=at,
        updated_at=at,  # actions never change: the action's time is the version
    )


def hours_after(action: Any, ctx: BoardContext, profile: MappingProfile) -> tuple[str, int] | None:
    """``(card id, seconds)``: the card's hours value right after an hours change (0 when it
    was emptied); None for any other action or one that names no card."""
    if not is_hours_change(action, ctx, profile):
        return None
    data = as_dict(action.get("data"))
    card_id = as_str(as_dict(data.get("card")).get("id")) or as_str(
        as_dict(data.get("customFieldItem")).get("idModel")
    )
    if card_id is None:
        return None
    return card_id, hours_seconds(as_dict(data.get("customFieldItem")), _definition(data, ctx))


def worklog_effects(
    action: dict[str, Any],
    ctx: BoardContext,
    profile: MappingProfile,
    *,
    source_id: int | None = None,
) -> list[Effect]:
    """``[WorklogUpsert]`` for an hours change, ``[]`` for any other action (or an hours
    change that changed nothing), ``[Ignored]`` saying what is missing for a broken one.
    Meant to be added to ``map_action``'s effects by whoever reads actions."""
    try:
        worklog = worklog_from_action(action, ctx, profile, source_id=source_id)
    except ValueError as exc:
        return [Ignored(reason=str(exc))]
    return [] if worklog is None else [WorklogUpsert(worklog=worklog)]


def worklogs_from_history(
    actions: Iterable[Any],
    ctx: BoardContext,
    profile: MappingProfile,
    *,
    source_id: int | None = None,
) -> list[WorklogUpsert]:
    """The worklogs of a board's action history (any order, pages may overlap): one
    per hours change, oldest first. Broken hours changes are skipped; use
    ``worklog_effects`` per action to see why."""
    found: dict[str, Worklog] = {}
    for action in actions:
        try:
            worklog = worklog_from_action(action, ctx, profile, source_id=source_id)
        except ValueError:
            continue
        if worklog is not None:
            found[worklog.external_id] = worklog
    ordered = sorted(found.values(), key=lambda w: (w.started_at, w.external_id))
    return [WorklogUpsert(worklog=w) for w in ordered]


def card_hours_seconds(card: Any, ctx: BoardContext, profile: MappingProfile) -> int:
    """The card's hours field now, in seconds, from a card fetched with
    ``customFieldItems=true``; 0 when the board has no hours field or the card no value."""
    field_id = hours_field_id(ctx, profile)
    if field_id is None or not isinstance(card, dict):
        return 0
    for item in as_list(card.get("customFieldItems")):
        if isinstance(item, dict) and item.get("idCustomField") == field_id:
            return hours_seconds(item, ctx.custom_fields.get(field_id))
    return 0


def explained_seconds(
    worklogs: Iterable[Worklog | WorklogUpsert], *, horizon: datetime | None = None
) -> dict[str, int]:
    """Per card (task external id): the seconds the history explains — the sum of its
    hours-change worklogs (``carried_in`` entries left out), those started before
    ``horizon`` left out as well."""
    out: dict[str, int] = {}
    for entry in worklogs:
        worklog = entry.worklog if isinstance(entry, WorklogUpsert) else entry
        if worklog.carried_in or (horizon is not None and worklog.started_at < horizon):
            continue
        out[worklog.task_external_id] = out.get(worklog.task_external_id, 0) + worklog.seconds
    return out


def default_horizon(board_id: str) -> datetime:
    """The horizon of a board's whole life: its creation, read from its id."""
    return created_at_from_id(board_id)


def carried_in_worklog(
    card_id: str,
    card_seconds: int,
    explained: int,
    horizon: datetime,
    *,
    source_id: int | None = None,
    as_of: datetime | None = None,
) -> Worklog | None:
    """The hours a card had at the history horizon: ``card_seconds`` (its hours field
    now) minus ``explained`` (what its hours changes after the horizon add up to).

    One worklog with no author (the budget costs it at the project's default rate),
    ``carried_in=True``, started at the horizon — or at the card's creation when the
    card is younger (a copied card brings its values without an action). External id
    ``<card id>:carried_in``: recomputing replaces it. Negative when the history
    explains more than the card holds (e.g. a value set on a field since deleted).
    None when there is nothing to carry in. ``as_of`` is when ``card_seconds`` was
    read (the version for the store's guard; default: the start).
    """
    if horizon.tzinfo is None:
        raise ValueError("horizon must be timezone-aware (UTC)")
    seconds = card_seconds - explained
    if seconds == 0:
        return None
    started = horizon
    try:
        started = max(horizon, created_at_from_id(card_id))
    except ValueError:
        pass
    return Worklog(
        source_id=source_id,
        external_id=card_id + CARRIED_IN_SUFFIX,
        task_external_id=card_id,
        author=None,
        started_at=started,
        seconds=seconds,
        carried_in=True,
        updated_at=as_of or started,
    )


def carried_in_worklogs(
    cards: Iterable[Any],
    history: Iterable[Worklog | WorklogUpsert],
    ctx: BoardContext,
    profile: MappingProfile,
    horizon: datetime,
    *,
    source_id: int | None = None,
    as_of: datetime | None = None,
) -> list[WorklogUpsert]:
    """``carried_in_worklog`` for each card of a board (REST cards with
    ``customFieldItems``), given the worklogs of the board's history after ``horizon``."""
    explained = explained_seconds(history, horizon=horizon)
    out: list[WorklogUpsert] = []
    for card in cards:
        card_id = as_str(card.get("id")) if isinstance(card, dict) else None
        if card_id is None:
            continue
        worklog = carried_in_worklog(
            card_id,
            card_hours_seconds(card, ctx, profile),
            explained.get(card_id, 0),
            horizon,
            source_id=source_id,
            as_of=as_of,
        )
        if worklog is not None:
            out.append(WorklogUpsert(worklog=worklog))
    return out


def _definition(data: dict[str, Any], ctx: BoardContext) -> Mapping[str, Any]:
    declared = as_dict(data.get("customField"))
    known = ctx.custom_fields.get(as_str(declared.get("id")) or "")
    return known or declared
