"""Small, forgiving parsers for the scalar values Trello sends.

Reference: https://developer.atlassian.com/cloud/trello/rest/ (cards, custom fields).
Every parser here returns ``None`` on input it cannot read instead of raising: one
malformed value on a card must never stop the card from being mapped.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "created_at_from_id",
    "is_board_id",
    "parse_datetime",
    "local_date",
    "zone",
    "short_link_of",
    "parse_decimal",
    "as_dict",
    "as_list",
    "as_str",
]

_SHORT_LINK = re.compile(r"/c/([A-Za-z0-9]+)")
_ID_PREFIX = re.compile(r"[0-9a-fA-F]{8}")


_FULL_ID = re.compile(r"[0-9a-fA-F]{24}")


def is_board_id(value: Any) -> bool:
    """A full Trello id (24 hex digits), not a short link (8 letters and digits, which may
    happen to be hex: ``created_at_from_id`` would read a time from one)."""
    return isinstance(value, str) and _FULL_ID.fullmatch(value) is not None


def created_at_from_id(trello_id: str) -> datetime:
    """Creation time of any Trello object: its id's first 8 hex digits are Unix seconds.

    Trello ids are MongoDB ObjectIds (VENDOR_FACTS B2). Raises ``ValueError`` for an
    id that does not start with 8 hex digits.
    """
    if not isinstance(trello_id, str) or not _ID_PREFIX.match(trello_id):
        raise ValueError(f"not a Trello id (expected 8+ hex digits): {trello_id!r}")
    return datetime.fromtimestamp(int(trello_id[:8], 16), tz=UTC)


def parse_datetime(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (Trello uses ``2019-09-16T16:19:17.156Z``) as aware UTC.

    A value without an offset is taken as UTC; anything unreadable gives ``None``.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name (cached); raises ``ValueError`` if unknown."""
    try:
        return ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError on malformed keys
        raise ValueError(f"unknown time zone {name!r}") from exc


def local_date(value: Any, tz: str) -> date | None:
    """The calendar date of a Trello timestamp as seen in the organization's zone.

    Trello stores a due "date" as an instant (the user's local end-of-day or chosen
    time, in UTC), so ``2024-03-01T02:00:00Z`` is 29 February in Los Angeles.
    """
    moment = parse_datetime(value)
    if moment is None:
        return None
    return moment.astimezone(zone(tz)).date()


def short_link_of(card: dict[str, Any]) -> str | None:
    """The card's short link: ``shortLink``, else parsed from ``shortUrl``/``url``."""
    link = card.get("shortLink")
    if isinstance(link, str) and link:
        return link
    for key in ("shortUrl", "url"):
        url = card.get(key)
        if isinstance(url, str):
            match = _SHORT_LINK.search(url)
            if match:
                return match.group(1)
    return None


def parse_decimal(value: Any) -> Decimal | None:
    """A finite number from Trello's string-typed values (``"42"``, ``" 1.5 "``), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a dict, else an empty one (nested keys may be absent or null)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
