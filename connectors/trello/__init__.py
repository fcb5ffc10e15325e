"""Trello connector: a paced, classified REST client on py-trello's ``fetch_json``; webhooks."""

from __future__ import annotations

from connectors.trello.client import TrelloClient
from connectors.trello.pages import ActionsPage
from connectors.trello.ratelimit import (
    RateLimiter,
    SlidingBucket,
    default_limiter,
    set_default_limiter,
)
from connectors.trello.session import TrelloSession
from connectors.trello.webhooks import dedupe_key, sign, verify_signature

__all__ = [
    "TrelloClient",
    "ActionsPage",
    "TrelloSession",
    "RateLimiter",
    "SlidingBucket",
    "default_limiter",
    "set_default_limiter",
    "sign",
    "verify_signature",
    "dedupe_key",
]
