"""Mapping profiles: how one organization's tools map onto the common model.

A profile is data (YAML or JSON), validated here. Defaults live in
``mappings/profiles/*.yaml``; a source may carry its own profile which is merged
over the default for its kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mappings.model import StatusCategory

__all__ = [
    "JiraProfile",
    "TrelloProfile",
    "MappingProfile",
    "load_default_profile",
    "merge_profile",
]

_PROFILE_DIR = Path(__file__).parent / "profiles"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JiraProfile(_Strict):
    # Field ids are per site: discovered from /field; these override discovery.
    story_points_fields: list[str] = Field(
        default_factory=list,
        description="Custom field ids holding story points; empty means discover by name.",
    )
    story_points_names: list[str] = Field(
        default_factory=lambda: ["Story Points", "Story point estimate"]
    )
    sprint_field: str | None = None
    epic_link_field: str | None = None
    cost_field: str | None = Field(default=None, description="Custom field id with a money amount.")
    status_overrides: dict[str, StatusCategory] = Field(
        default_factory=dict,
        description="Status name -> category, for statuses whose Jira category is misleading.",
    )
    type_map: dict[str, str] = Field(default_factory=dict)
    blocking_links: list[str] = Field(
        default_factory=lambda: ["Blocks"],
        description=(
            "Issue link types that block, each a link type name or one of its phrases (\"Blocks\", "
            "\"is blocked by\"), compared case-insensitively. A link whose type name, inward phrase or "
            "outward phrase is listed blocks as Jira's Blocks type does: the issue on its outward side "
            "(\"blocks\") blocks the one on its inward side (\"is blocked by\"); the inward holder's role "
            "is blocked_by, the outward holder's blocks. Every other link's role is other."
        ),
    )
    flagged_field: str | None = Field(
        default=None,
        description=(
            "Custom field id of Jira's Flagged field; empty means discover the field named "
            "\"Flagged\" from /field. A task is flagged while the field holds any option."
        ),
    )


TrelloCustomField = Literal["estimate_points", "estimate_hours", "spent_hours", "cost"]


def _default_custom_fields() -> dict[TrelloCustomField, list[str]]:
    return {
        "estimate_points": ["Points", "Story Points"],
        "estimate_hours": ["Estimate", "Estimate (h)"],
        "spent_hours": ["Hours spent", "Spent"],
        "cost": ["Cost"],
    }


class TrelloProfile(_Strict):
    list_map: dict[str, StatusCategory] = Field(
        default_factory=dict, description="List id or exact list name -> category."
    )
    done_patterns: list[str] = Field(
        default_factory=lambda: [r"done|complete|shipped|released|closed"]
    )
    in_progress_patterns: list[str] = Field(
        default_factory=lambda: [r"doing|progress|review|testing|wip"]
    )
    due_complete_means_done: bool = False
    archived_as_done: bool = False
    milestone_label: str = "Milestone"
    bug_labels: list[str] = Field(
        default_factory=lambda: ["Bug", "Defect"],
        description="Label names (case-insensitive) that make a card a bug (task type bug).",
    )
    blocked_labels: list[str] = Field(
        default_factory=lambda: ["Blocked"],
        description="Label names (case-insensitive) that mark a card blocked (flagged).",
    )
    custom_fields: dict[TrelloCustomField, list[str]] = Field(
        default_factory=_default_custom_fields,
        description="Model field -> custom field names (first match wins).",
    )

    @field_validator("done_patterns", "in_progress_patterns")
    @classmethod
    def _compile(cls, v: list[str]) -> list[str]:
        import re

        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {p!r}: {exc}") from exc
        return v


class MappingProfile(_Strict):
    name: str = "default"
    timezone: str = Field(default="UTC", description="Organization time zone for dates.")
    jira: JiraProfile = Field(default_factory=JiraProfile)
    trello: TrelloProfile = Field(default_factory=TrelloProfile)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


def merge_profile(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` onto ``base`` (dicts merge, everything else replaces)."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_profile(out[k], v)
        else:
            out[k] = v
    return out


def load_default_profile(override: dict[str, Any] | None = None) -> MappingProfile:
    data = yaml.safe_load((_PROFILE_DIR / "default.yaml").read_text()) or {}
    if override:
        data = merge_profile(data, override)
    return MappingProfile.model_validate(data)
