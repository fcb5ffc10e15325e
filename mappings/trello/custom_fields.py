"""Trello custom field items → task fields, by field NAME through the mapping profile.

Reference: https://developer.atlassian.com/cloud/trello/rest/api-group-customfields/
Definitions are board-level (``{id, name, type, options}``); a card's items are
``{idCustomField, value: {number|text|date|checked: "<string>"}}``, or for the
``list`` type ``{idCustomField, idValue: <option id>}`` with no ``value`` at all
(VENDOR_FACTS B3). Every scalar arrives as a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP
from typing import Any

from mappings.profile import MappingProfile
from mappings.trello.values import as_dict, as_list, parse_decimal

__all__ = [
    "item_text",
    "values_by_name",
    "model_field_for",
    "field_id_for",
    "convert",
    "custom_field_updates",
]

# profile key -> Task field it fills
_TARGETS: dict[str, str] = {
    "estimate_points": "estimate_points",
    "estimate_hours": "estimate_seconds",
    "spent_hours": "spent_seconds",
    "cost": "cost",
}

Definitions = Mapping[str, Mapping[str, Any]]


def item_text(item: Mapping[str, Any], definition: Mapping[str, Any] | None) -> str | None:
    """The value of one item as the text Trello shows, or None when empty/unknown.

    A ``list`` item's ``idValue`` is looked up in the definition's ``options``
    (``id``, or ``_id`` as ``/customfields/{id}/options`` returns them).
    """
    id_value = item.get("idValue")
    if id_value:
        for option in as_list((definition or {}).get("options")):
            if isinstance(option, dict) and id_value in (option.get("id"), option.get("_id")):
                return _first_scalar(as_dict(option.get("value")))
        return None
    return _first_scalar(as_dict(item.get("value")))


def _first_scalar(value: Mapping[str, Any]) -> str | None:
    for key in ("number", "text", "date", "checked"):
        raw = value.get(key)
        if raw is not None and str(raw).strip() != "":
            return str(raw).strip()
    return None


def values_by_name(items: Any, definitions: Definitions) -> dict[str, str | None]:
    """Case-folded field name -> text value, for the items whose definition is known."""
    out: dict[str, str | None] = {}
    for item in as_list(items):
        if not isinstance(item, dict):
            continue
        definition = definitions.get(item.get("idCustomField") or "")
        name = str((definition or {}).get("name") or "").strip()
        if name:
            out[name.casefold()] = item_text(item, definition)
    return out


def model_field_for(field_name: str, profile: MappingProfile) -> str | None:
    """The Task field a custom field of this name fills, if the profile maps it."""
    wanted = field_name.strip().casefold()
    for key, names in profile.trello.custom_fields.items():
        if any(n.strip().casefold() == wanted for n in names):
            return _TARGETS.get(key)
    return None


def field_id_for(key: str, definitions: Definitions, profile: MappingProfile) -> str | None:
    """The board's field for a profile key (``spent_hours``…): the first name of the
    profile's list that names a custom field of the board (case-insensitive), else None.
    One field a board, whatever a card holds: a card's hours (``spent_seconds``) and the
    changes that are its worklogs are read from the same field."""
    by_name: dict[str, str] = {}
    for field_id, definition in definitions.items():
        name = str(definition.get("name") or "").strip().casefold()
        if name:
            by_name.setdefault(name, field_id)
    names = [n for k, listed in profile.trello.custom_fields.items() if k == key for n in listed]
    for name in names:
        found = by_name.get(name.strip().casefold())
        if found is not None:
            return found
    return None


def convert(task_field: str, text: str | None) -> Any:
    """Parse a value for ``task_field``; None for empty, malformed or negative amounts."""
    number = parse_decimal(text)
    if number is None:
        return None
    if task_field == "cost":
        return number
    if number < 0:
        return None
    if task_field == "estimate_points":
        return float(number)
    # hours -> whole seconds, in exact decimal arithmetic (1.1 h is 3960 s, not 3959)
    return int((number * 3600).to_integral_value(rounding=ROUND_HALF_UP))


def custom_field_updates(
    items: Any,
    definitions: Definitions,
    profile: MappingProfile,
    *,
    by_name: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Task fields filled from custom field items; the first listed name with a usable
    value wins for each profile key. Malformed numbers are skipped, never raised.
    ``by_name``: ``values_by_name(items, definitions)`` when the caller has it already."""
    if by_name is None:
        by_name = values_by_name(items, definitions)
    out: dict[str, Any] = {}
    for key, names in profile.trello.custom_fields.items():
        target = _TARGETS.get(key)
        if target is None:
            continue
        for name in names:
            value = convert(target, by_name.get(name.strip().casefold()))
            if value is not None:
                out[target] = value
                break
    return out
