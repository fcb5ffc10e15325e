"""Loaders for the recorded Trello payloads, shared by the Trello mapping tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mappings.profile import MappingProfile, load_default_profile
from tests.realdata import REALDATA

WEBHOOKS = REALDATA / "trello-webhooks"
REST = REALDATA / "trello-rest" / "ruby-trello"


def webhook(name: str) -> dict[str, Any]:
    """A webhook payload by ``<origin>/<file stem>``, e.g. ``ringcentral/createCard``."""
    return json.loads((WEBHOOKS / f"{name}.json").read_text())


def rest_body(stem: str) -> Any:
    """The response body of a recorded ruby-trello interaction (file stem)."""
    return json.loads((REST / f"{stem}.json").read_text())["body"]


def webhook_files() -> list[Path]:
    return sorted(WEBHOOKS.rglob("*.json"))


def rest_cards() -> list[tuple[str, dict[str, Any]]]:
    """Every card in the recorded REST responses: single cards and card lists."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(REST.glob("*.json")):
        body = json.loads(path.read_text())["body"]
        for index, item in enumerate(body if isinstance(body, list) else [body]):
            if isinstance(item, dict) and "idList" in item and "idBoard" in item:
                found.append((f"{path.stem}[{index}]", item))
    return found


def rest_actions() -> list[tuple[str, dict[str, Any]]]:
    """Every action in the recorded REST responses (``/actions`` lists, ``/actions/{id}``);
    notifications share the shape but are not actions and are left out."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(REST.glob("*.json")):
        if "notification" in path.stem:
            continue
        body = json.loads(path.read_text())["body"]
        for index, item in enumerate(body if isinstance(body, list) else [body]):
            if isinstance(item, dict) and {"type", "data", "date"} <= item.keys():
                found.append((f"{path.stem}[{index}]", item))
    return found


def profile(timezone: str = "UTC", **trello: Any) -> MappingProfile:
    """The default profile with ``trello`` settings overridden."""
    return load_default_profile({"timezone": timezone, "trello": trello})
