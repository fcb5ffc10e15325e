"""Jira admin webhooks: signature check and dedupe key, on the raw request bytes.

Atlassian: https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks
- An admin webhook registered with a secret carries ``X-Hub-Signature: sha256=<hex>``, the
  HMAC-SHA256 of the **raw body** under the secret (not ``X-Hub-Signature-256``).
- ``X-Atlassian-Webhook-Identifier`` is unique per delivery and unchanged across retries
  (``X-Atlassian-Webhook-Retry: n``), so it is the dedupe key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from connectors.signatures import same_signature

__all__ = [
    "SIGNATURE_HEADER",
    "IDENTIFIER_HEADER",
    "RETRY_HEADER",
    "sign",
    "verify_signature",
    "dedupe_key",
]

SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
RETRY_HEADER = "X-Atlassian-Webhook-Retry"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str | None, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret``.

    An empty or missing secret returns False: with no secret there is nothing to verify,
    and whether to accept unsigned deliveries (or disable the endpoint) is the caller's
    decision, never an implicit "accept all".
    """
    if not secret or not header:
        return False
    algo, _, received = header.strip().partition("=")
    if algo.lower() != "sha256" or not received:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return same_signature(expected, received.strip().lower())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def dedupe_key(headers: Mapping[str, str], body: bytes) -> str:
    """``X-Atlassian-Webhook-Identifier`` when present, else ``sha256:<hex of body>``."""
    identifier = _header(headers, IDENTIFIER_HEADER)
    if identifier and identifier.strip():
        return identifier.strip()
    return "sha256:" + hashlib.sha256(body).hexdigest()
