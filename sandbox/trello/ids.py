"""Trello-style identifiers and timestamps.

Trello ids are MongoDB ObjectIds: 24 hex characters whose first 8 are the Unix
second of creation (py-trello reads ``card.created_date`` from them, and the
``since``/``before`` action filters compare them). We build them the same way:
``<8 hex seconds><10 hex machine><6 hex counter>``, so ids sort by creation
time, and within one second by creation order.

Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/object-definitions/
"""

from __future__ import annotations

import random
import re
import string
import time
from datetime import UTC, datetime

__all__ = ["IdFactory", "ID_RE", "iso", "parse_iso", "id_seconds", "slugify"]

ID_RE = re.compile(r"^[0-9a-f]{24}$")
_SHORT_ALPHABET = string.ascii_letters + string.digits


class IdFactory:
    """Deterministic ids for one sandbox state (same seed, same call order → same ids)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._machine = f"{self._rng.getrandbits(40):010x}"
        self._counter = 0

    def new(self, ts: float) -> str:
        """A fresh id whose first 8 hex chars encode ``ts`` (Unix seconds)."""
        self._counter = (self._counter + 1) & 0xFFFFFF
        second = round(ts * 1000) // 1000  # the same rounding as iso(), so id and date agree
        return f"{second:08x}{self._machine}{self._counter:06x}"

    def short_link(self) -> str:
        """An 8-character short link like ``Q5kgH5LT``."""
        n = self._rng.getrandbits(48)
        chars = []
        for _ in range(8):
            n, r = divmod(n, 62)
            chars.append(_SHORT_ALPHABET[r])
        return "".join(chars)

    def secret_hash(self) -> str:
        """64 hex chars, used for ``fieldGroup`` and similar opaque values."""
        return f"{self._rng.getrandbits(256):064x}"


def iso(ts: float) -> str:
    """Trello's date-time form: ``2020-04-12T13:18:36.661Z`` (UTC, milliseconds, ``Z``)."""
    millis = round(ts * 1000)
    sec, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ms:03d}Z"


def parse_iso(value: str) -> float:
    """Seconds since the epoch for an ISO date or date-time (``Z`` or offset; naive = UTC)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def id_seconds(object_id: str) -> int:
    """The creation second encoded in an id."""
    return int(object_id[:8], 16)


def slugify(name: str) -> str:
    """The URL slug Trello appends to card and board URLs."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "card"
