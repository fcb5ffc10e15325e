"""Effects as plain JSON: what ``taskhub normalize`` prints and tests compare.

Shared by the Jira and Trello mappings. Dates and datetimes become ISO-8601
strings, ``Decimal`` becomes a string (no float rounding), enums their values;
the raw vendor JSON kept on upserts is left out.

    {"effect": "task_upsert", "task": {...}, "changes": [...]}
    {"effect": "task_patch", "external_id": "...", "fields": {...}, ...}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

__all__ = ["effect_to_json", "effects_to_json"]


def effect_to_json(effect: BaseModel) -> dict[str, Any]:
    """One effect (any member of ``mappings.model.Effect``) as a JSON-safe dict."""
    data: dict[str, Any] = effect.model_dump(mode="json", exclude={"raw"})
    return data


def effects_to_json(effects: Iterable[BaseModel]) -> list[dict[str, Any]]:
    return [effect_to_json(e) for e in effects]
