"""What a card's mapping needs to know about its board, and list → status category.

Reference: https://developer.atlassian.com/cloud/trello/rest/api-group-boards/
(``GET /1/boards/{id}?lists=all&customFields=true&labels=all&members=all&cards=all``).
A card names its list, labels, members and custom fields only by id; the board
context turns those ids into names. Every nested key of the board may be absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mappings.model import StatusCategory
from mappings.profile import MappingProfile
from mappings.trello.values import as_list, as_str, zone

__all__ = ["ListInfo", "BoardContext", "list_category", "label_names_of"]


@dataclass(frozen=True)
class ListInfo:
    name: str
    closed: bool = False
    pos: float | None = None


@dataclass
class BoardContext:
    """One board's lookup tables, built from the board JSON (or nearly empty)."""

    board_id: str
    board_name: str | None = None
    board_url: str | None = None
    lists: dict[str, ListInfo] = field(default_factory=dict)
    custom_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    milestones: dict[str, str] = field(default_factory=dict)  # lower-case name -> card id
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        zone(self.timezone)  # fail at construction, not on the first due date

    @classmethod
    def minimal(
        cls, board_id: str, *, board_name: str | None = None, timezone: str = "UTC"
    ) -> BoardContext:
        """A context for when nothing but the board id (and maybe its name) is known."""
        return cls(board_id=board_id, board_name=board_name, timezone=timezone)

    @classmethod
    def from_board_json(
        cls,
        board: dict[str, Any],
        *,
        timezone: str = "UTC",
        milestone_label: str = "Milestone",
    ) -> BoardContext:
        """Build from a board response with any of ``lists``, ``customFields``,
        ``labels``, ``members`` and ``cards`` nested (each may be missing)."""
        board_id = as_str(board.get("id"))
        if board_id is None:
            raise ValueError("board JSON has no 'id'")
        lists = {
            lst["id"]: ListInfo(
                name=str(lst.get("name") or ""),
                closed=bool(lst.get("closed", False)),
                pos=_number(lst.get("pos")),
            )
            for lst in as_list(board.get("lists"))
            if isinstance(lst, dict) and as_str(lst.get("id"))
        }
        labels = _by_id(board.get("labels"))
        ctx = cls(
            board_id=board_id,
            board_name=as_str(board.get("name")),
            board_url=as_str(board.get("url")) or as_str(board.get("shortUrl")),
            lists=lists,
            custom_fields=_by_id(board.get("customFields")),
            labels=labels,
            members=_by_id(board.get("members")),
            timezone=timezone,
        )
        marker = milestone_label.strip().casefold()
        for card in as_list(board.get("cards")):
            if not isinstance(card, dict) or not as_str(card.get("id")):
                continue
            names = {n.casefold() for n in label_names_of(card, ctx)}
            title = str(card.get("name") or "").strip()
            if marker in names and title:
                ctx.milestones[title.casefold()] = card["id"]
        return ctx

    def list_name(self, list_id: str | None) -> str | None:
        info = self.lists.get(list_id) if list_id else None
        return info.name if info else None

    def member_name(self, member_id: str) -> str | None:
        member = self.members.get(member_id, {})
        return as_str(member.get("fullName")) or as_str(member.get("username"))


def label_names_of(card: dict[str, Any], ctx: BoardContext) -> list[str]:
    """Names of a card's labels: ``labels`` objects, else ``idLabels`` through the board.

    Colour-only labels (empty name) carry no name and are left out. The official
    OpenAPI types ``labels`` items as ids (VENDOR_FACTS B10), so bare strings are
    resolved like ``idLabels``.
    """
    raw = card.get("labels")
    items: list[Any] = raw if isinstance(raw, list) else as_list(card.get("idLabels"))
    names: list[str] = []
    for item in items:
        label = item if isinstance(item, dict) else ctx.labels.get(item, {})
        name = str(label.get("name") or "").strip()
        if name and name not in names:
            names.append(name)
    return names


def list_category(
    list_id: str | None,
    ctx: BoardContext,
    profile: MappingProfile,
    *,
    name: str | None = None,
) -> StatusCategory:
    """The status category of a list.

    Order: ``profile.trello.list_map`` by list id, then by exact list name; then the
    ``done_patterns`` and ``in_progress_patterns`` (case-insensitive search in the
    name); else ``todo``. ``name`` is the list's name as the caller knows it (an
    action names its lists as they were then); by default the board context's.
    """
    rules = profile.trello
    list_name = name or ctx.list_name(list_id)
    if list_id and list_id in rules.list_map:
        return rules.list_map[list_id]
    if list_name is not None and list_name in rules.list_map:
        return rules.list_map[list_name]
    if list_name:
        if _matches(rules.done_patterns, list_name):
            return StatusCategory.done
        if _matches(rules.in_progress_patterns, list_name):
            return StatusCategory.in_progress
    return StatusCategory.todo


def _matches(patterns: list[str], text: str) -> bool:
    return _matches_cached(tuple(patterns), text)


@lru_cache(maxsize=4096)
def _matches_cached(patterns: tuple[str, ...], text: str) -> bool:
    # Every card of a list asks the same question: a board sync maps 1,000s of cards on ~5 lists.
    return any(re.search(p, text, re.IGNORECASE) for p in patterns)


def _by_id(items: Any) -> dict[str, dict[str, Any]]:
    return {
        item["id"]: item
        for item in as_list(items)
        if isinstance(item, dict) and as_str(item.get("id"))
    }


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
