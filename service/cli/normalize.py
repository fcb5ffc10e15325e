"""``taskhub normalize``: vendor JSON in, effect JSON lines out (no database, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from mappings.effects_json import effect_to_json
from mappings.profile import load_default_profile

__all__ = ["normalize_document"]


def _profile(profile_path: Path | None, timezone: str | None) -> Any:
    override: dict[str, Any] = {}
    if profile_path is not None:
        try:
            loaded = yaml.safe_load(profile_path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read mapping profile {profile_path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"mapping profile {profile_path} must be a mapping")
        override = loaded
    if timezone:
        override["timezone"] = timezone
    try:
        return load_default_profile(override)
    except Exception as exc:  # pydantic ValidationError: name the problem
        raise ValueError(f"invalid mapping profile: {exc}") from exc


def normalize_document(kind: str, text: str, *, site_url: str, profile_path: Path | None = None,
                       timezone: str | None = None) -> list[str]:
    """Return the effect lines for one document; ``ValueError`` says what is wrong with it."""
    if not text.strip():
        raise ValueError("input is empty; expected a JSON document")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    profile = _profile(profile_path, timezone)
    # One vendor's mappings per run (~0.1 s each to import), loaded when asked for.
    if kind == "jira":
        from mappings.jira import effects_from_document

        effects = effects_from_document(doc, site_url=site_url, profile=profile)
    else:
        from mappings.trello import effects_from_document as trello_effects

        effects = trello_effects(doc, profile=profile)
    return [orjson.dumps(effect_to_json(e)).decode() for e in effects]
