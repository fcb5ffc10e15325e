"""Trello webhook signatures and dedupe keys (pure functions, no I/O).

Trello signs each delivery with header ``X-Trello-Webhook`` =
base64(HMAC-SHA1(key=application secret, msg=raw body + callbackURL)). Quirk: the
callback URL is part of the signed message, and it must be **exactly** the URL the
webhook was registered with (scheme, host, path and query, as Trello knows it —
not as a proxy rewrote it). The key is the app's OAuth 1.0 secret, not the token.
Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from connectors.signatures import same_signature

__all__ = ["sign", "verify_signature", "dedupe_key", "SIGNATURE_HEADER"]

SIGNATURE_HEADER = "X-Trello-Webhook"


def sign(secret: str, body: bytes, callback_url: str) -> str:
    """The ``X-Trello-Webhook`` value Trello sends for ``body`` delivered to ``callback_url``."""
    digest = hmac.new(secret.encode(), body + callback_url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(secret: str, body: bytes, callback_url: str, header: str | None) -> bool:
    """True only when ``header`` is Trello's signature of the raw ``body`` + ``callback_url``.

    An empty secret verifies nothing (the endpoint is disabled, never open).
    """
    if not secret or not header:
        return False
    expected = sign(secret, body, callback_url)
    return same_signature(expected, header.strip())


def dedupe_key(payload: bytes | str | Mapping[str, Any]) -> str:
    """``action.id`` of a webhook payload, else ``sha256:<hex>`` of the body.

    Trello may deliver the same action twice (retries); its id is the natural key.
    """
    raw: bytes | None = None
    document: Any = payload
    if isinstance(payload, bytes | str):
        raw = payload.encode() if isinstance(payload, str) else payload
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
    if isinstance(document, Mapping):
        action = document.get("action")
        if isinstance(action, Mapping) and isinstance(action.get("id"), str) and action["id"]:
            return str(action["id"])
        if raw is None:
            raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(raw or b"").hexdigest()
