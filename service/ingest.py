"""The webhook hot path: verify on raw bytes, dedupe, one INSERT, 202.

Signature verifiers and dedupe-key functions are registered per kind in plain
dicts. Sources are cached in-process for a few seconds (the hot path should not
pay a query to look them up); changes through the API evict the entry at once,
other processes see them within the TTL.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from service.settings import Settings
from service.tables import InboxEvent, Source

__all__ = [
    "CachedSource",
    "SourceCache",
    "VERIFIERS",
    "DEDUPE",
    "insert_event",
    "body_hash",
]

IE = InboxEvent.__table__
S = Source.__table__


@dataclass(frozen=True)
class CachedSource:
    id: int
    org_id: int
    kind: str
    enabled: bool
    webhook_secret: str | None
    callback_url: str


# (source, raw body, headers, request url) -> None when valid, else the reason for a 401.
Verifier = Callable[[CachedSource, bytes, Mapping[str, str], str], str | None]
# (parsed body, raw body, headers) -> dedupe key
DedupeFn = Callable[[Any, bytes, Mapping[str, str]], str]


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _verify_jira(src: CachedSource, body: bytes, headers: Mapping[str, str], url: str) -> str | None:
    from connectors.jira.webhooks import verify_signature

    if not src.webhook_secret:
        return "this source has no webhook secret: webhooks are disabled until one is set"
    header = headers.get("x-hub-signature")
    if not header:
        return "missing X-Hub-Signature header (sha256=<hex HMAC of the body>)"
    if not verify_signature(src.webhook_secret, body, header):
        return "X-Hub-Signature does not match the body"
    return None


def _verify_trello(src: CachedSource, body: bytes, headers: Mapping[str, str], url: str) -> str | None:
    from connectors.trello.webhooks import verify_signature

    if not src.webhook_secret:
        return "this source has no webhook secret (the Trello app secret): webhooks are disabled"
    header = headers.get("x-trello-webhook")
    if not header:
        return "missing X-Trello-Webhook header"
    # Trello signs body + the exact callback URL it was registered with; behind a proxy the
    # request URL differs, so the configured public URL is tried first.
    for candidate in dict.fromkeys((src.callback_url, url)):
        if verify_signature(src.webhook_secret, body, candidate, header):
            return None
    return "X-Trello-Webhook does not match the body and callback URL"


def _dedupe_jira(parsed: Any, body: bytes, headers: Mapping[str, str]) -> str:
    ident = headers.get("x-atlassian-webhook-identifier")
    return f"jira:{ident[:150]}" if ident else body_hash(body)


def _dedupe_trello(parsed: Any, body: bytes, headers: Mapping[str, str]) -> str:
    if isinstance(parsed, dict):
        action = parsed.get("action")
        if isinstance(action, dict) and isinstance(action.get("id"), str):
            return f"trello:{action['id'][:150]}"
    return body_hash(body)


VERIFIERS: dict[str, Verifier] = {"jira": _verify_jira, "trello": _verify_trello}
DEDUPE: dict[str, DedupeFn] = {"jira": _dedupe_jira, "trello": _dedupe_trello}


class SourceCache:
    def __init__(self, settings: Settings, ttl: float = 5.0) -> None:
        self._settings = settings
        self._ttl = ttl
        self._items: dict[int, tuple[float, CachedSource | None]] = {}

    def evict(self, source_id: int | None = None) -> None:
        if source_id is None:
            self._items.clear()
        else:
            self._items.pop(source_id, None)

    async def get(self, engine: AsyncEngine, source_id: int) -> CachedSource | None:
        now = time.monotonic()
        hit = self._items.get(source_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with engine.connect() as conn:
            row = (await conn.execute(
                sa.select(S.c.id, S.c.org_id, S.c.kind, S.c.enabled, S.c.webhook_secret_enc).where(S.c.id == source_id)
            )).first()
        cached: CachedSource | None = None
        if row is not None:
            from service.crypto import get_vault
            from service.sources import webhook_url

            secret = get_vault(self._settings).decrypt_str(row.webhook_secret_enc) if row.webhook_secret_enc else None
            stub = Source(id=row.id, org_id=row.org_id, kind=row.kind, name="")
            cached = CachedSource(row.id, row.org_id, row.kind, row.enabled, secret, webhook_url(self._settings, stub))
        self._items[source_id] = (now + self._ttl, cached)
        return cached


def _insert_stmt(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return (
        insert(IE)
        .on_conflict_do_nothing(index_elements=["source_id", "dedupe_key"])
        .returning(IE.c.id)
    )


_STMTS: dict[str, Any] = {}


async def insert_event(engine: AsyncEngine, src: CachedSource, dedupe_key: str, body: bytes,
                       headers: dict[str, str]) -> tuple[int, bool]:
    """Insert one inbox event; returns ``(id, duplicate)``. Committed before returning."""
    dialect = engine.dialect.name
    stmt = _STMTS.get(dialect)
    if stmt is None:
        stmt = _STMTS[dialect] = _insert_stmt(dialect)
    from service.tables import utcnow

    now = utcnow()
    async with engine.begin() as conn:
        new_id = (await conn.execute(stmt, {
            "org_id": src.org_id, "source_id": src.id, "kind": src.kind, "dedupe_key": dedupe_key,
            "received_at": now, "headers": headers, "body": body, "status": "pending", "attempts": 0,
            "next_attempt_at": now,
        })).scalar()
        if new_id is not None:
            return int(new_id), False
        existing = (await conn.execute(
            sa.select(IE.c.id).where(IE.c.source_id == src.id, IE.c.dedupe_key == dedupe_key)
        )).scalar_one()
        return int(existing), True


def parse_json(body: bytes) -> Any:
    return orjson.loads(body)
