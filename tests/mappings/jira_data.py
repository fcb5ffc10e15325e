"""Loaders for the recorded Jira payloads, shared by the Jira mapping tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mappings.profile import MappingProfile, load_default_profile
from tests.realdata import REALDATA

WEBHOOKS = REALDATA / "jira-webhooks"
REST = REALDATA / "jira-rest"
SITE = "https://example.atlassian.net"


def webhook(name: str) -> dict[str, Any]:
    """A webhook payload by ``<origin>/<file stem>``, e.g. ``pinpoint/jira__issue_created``."""
    return json.loads((WEBHOOKS / f"{name}.json").read_text())


def rest(path: str) -> Any:
    """A REST response body by path under ``jira-rest`` (with ``.json``)."""
    return json.loads((REST / path).read_text())


def webhook_files() -> list[Path]:
    return sorted(WEBHOOKS.rglob("*.json"))


def profile(**jira: Any) -> MappingProfile:
    return load_default_profile({"jira": jira} if jira else None)
