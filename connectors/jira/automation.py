"""Jira Automation "Send web request" bodies → the issue webhook payload taskhub already maps.

A project admin (no Jira admin rights) can add a rule action "Send web request" with a URL,
custom headers and a body (VENDOR_FACTS A13). Two of its bodies carry the issue:

- **Issue data (Automation format)**: the issue object at the top level — ``self``, ``id``
  (a JSON *number* here, a string in REST), ``key``, ``changelog`` (``histories: null``),
  ``fields``; nested objects carry their ids as numbers too, plus ``namedValue`` keys.
- **Issue data (Jira format)**: ``{"issue": {...}}``, the shape of legacy automation and
  most of Jira Cloud (it may carry ``timestamp`` and ``user`` beside it).

Neither names an event nor is signed (the action cannot compute an HMAC; the request is
authenticated by the ``X-Taskhub-Secret`` header, ``service.ingest.receive``). Both are turned
here, in one place, into ``{"webhookEvent": "jira:issue_updated", "issue": {...}}`` with the
ids as REST strings, which the issue-webhook mapping (``mappings.jira.webhook``) and handler
(``service.ingest.handlers.jira``) take as they are. ``jira:issue_updated`` and
``jira:issue_created`` map the same way (an upsert under the ``fields.updated`` guard); a
deletion cannot be told from these bodies, so it is left to the census, as a missed webhook's.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["AUTOMATION_EVENT", "AutomationBodyError", "to_webhook_payload"]

AUTOMATION_EVENT = "jira:issue_updated"
Format = Literal["automation", "jira"]

_EXPECTED = ('expected the "Issue data (Automation format)" body (the issue object at the top level: '
             'id, key, fields) or "Issue data (Jira format)" ({"issue": {id, key, fields}})')


class AutomationBodyError(ValueError):
    """The body is not one of the two issue-data bodies; the message names what is missing."""


def _issue_of(body: Any) -> tuple[dict[str, Any], Format]:
    if not isinstance(body, dict):
        raise AutomationBodyError(f"body is a JSON {type(body).__name__}, not an object: {_EXPECTED}")
    if "issue" in body:
        if not isinstance(body["issue"], dict):
            raise AutomationBodyError(f"'issue' is not an object: {_EXPECTED}")
        return body["issue"], "jira"
    if "id" in body or "fields" in body:
        return body, "automation"
    raise AutomationBodyError(f"neither 'issue' nor a top-level 'id' and 'fields': {_EXPECTED}")


def _issue_id(value: Any, where: str) -> str:
    """The issue id as REST gives it (ASCII digits, a 64-bit id); a number in the Automation format."""
    if type(value) is int and 0 < value < 2**63:
        return str(value)
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 18:
        return value
    if value is None:
        raise AutomationBodyError(f"missing '{where}id': {_EXPECTED}")
    raise AutomationBodyError(f"'{where}id' is {value!r}: expected a Jira issue id (a positive integer)")


# An issue's data nests a dozen levels at most; orjson parses up to 1,024 and writes up to 254, and
# the copy below recurses: deeper is a 422, not a RecursionError (a 500).
MAX_DEPTH = 64


def _string_ids(value: Any, depth: int = 0) -> Any:
    """A copy with every numeric ``"id"`` as a string, as the REST shapes the mapping reads carry them."""
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise AutomationBodyError(f"the body nests deeper than {MAX_DEPTH} levels: {_EXPECTED}")
    if isinstance(value, dict):
        return {k: (str(v) if k == "id" and type(v) is int else _string_ids(v, depth + 1)) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_ids(v, depth + 1) for v in value]
    return value


def to_webhook_payload(body: Any) -> tuple[dict[str, Any], Format]:
    """``(issue webhook payload, which body it was)``; ``AutomationBodyError`` naming what is missing."""
    issue, fmt = _issue_of(body)
    where = "issue." if fmt == "jira" else ""
    ident = _issue_id(issue.get("id"), where)
    key = issue.get("key")
    if not isinstance(key, str) or not key:
        raise AutomationBodyError(f"missing '{where}key' (the issue key, like PROJ-12): {_EXPECTED}")
    if not isinstance(issue.get("fields"), dict):
        raise AutomationBodyError(f"missing '{where}fields' (an object): {_EXPECTED}")
    payload: dict[str, Any] = {"webhookEvent": AUTOMATION_EVENT, "issue": {**_string_ids(issue), "id": ident}}
    if fmt == "jira":
        # The Jira format's own event time and actor, when the rule sends them, as a webhook's.
        if type(body.get("timestamp")) is int and 0 <= body["timestamp"] < 2**62:
            payload["timestamp"] = body["timestamp"]
        if isinstance(body.get("user"), dict):
            payload["user"] = _string_ids(body["user"])
    return payload, fmt
