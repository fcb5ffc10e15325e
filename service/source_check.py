"""Verify a source before it is stored (issue 21): can taskhub reach it, are the credentials
accepted, who is the API user, and can that user read every project or board in the scope?

Without it, a mistyped URL or token was accepted with ``status: ok`` and the first failure
surfaced in ``/sync-runs`` minutes later. Here each step is one request through the
source's own client (so through the outbound guard, like every request to a tenant URL),
with a short timeout and no retries: a registration answers in seconds, and a failure is
a 422 naming the step, the host tried and the cause ("jira.acme.test:8443: connection
refused", "board 5f…: HTTP 404 not found"). Nothing is stored then.

The caller may skip this (``?verify=false``: a site not reachable yet, an offline setup);
that never skips the outbound guard, which checks every request the sync makes.

Trello's app secret cannot be checked here: no Trello request takes it. A wrong one shows
as deliveries refused with 401 (the inbox's reason names the signature).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from connectors.errors import ConnectorError
from connectors.failure import describe_failure
from service import errors
from service.settings import Settings
from service.sources import source_secrets
from service.sync.jira import make_jira_client
from service.sync.trello import TRELLO_API, make_trello_client
from service.tables import Source

__all__ = ["VERIFY_TIMEOUT", "verify_source"]

VERIFY_TIMEOUT = 5.0  # seconds per request; one attempt each
_ONE_TRY: dict[str, Any] = {"timeout": VERIFY_TIMEOUT, "max_attempts": 1}


class _Failed(Exception):
    """A verification step failed: ``message`` is the 422's detail, ``field`` the part to blame."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def _step(what: str, field: str, base_url: str | None, call: Callable[[], Any]) -> Any:
    """``call()``, or ``_Failed`` naming ``what`` was checked, the host and the cause."""
    try:
        return call()
    except ConnectorError as exc:
        raise _Failed(f"could not verify {what}: {describe_failure(exc, base_url)}", field) from exc


def _check_user(user: Any, what: str) -> str:
    """The API user's display name; an inactive or unnamed user fails the check."""
    if not isinstance(user, dict):
        raise _Failed(f"could not verify {what}: the answer is not a user", "credentials")
    if user.get("active") is False:
        raise _Failed(f"the API user {user.get('displayName') or user.get('name')!r} is inactive", "credentials")
    return str(user.get("displayName") or user.get("fullName") or user.get("emailAddress")
               or user.get("username") or user.get("name") or "?")


def _verify_jira(settings: Settings, src: Source) -> None:
    client = make_jira_client(settings, src, source_secrets(settings, src), **_ONE_TRY)
    base = src.base_url
    user = _check_user(_step("the site and the credentials (GET myself)", "credentials", base, client.myself),
                       "the API user")
    scope = src.scope or {}
    for key in scope.get("projects") or []:
        _step(f"project {key}, as {user}", "scope", base, partial(client.project_versions, key))
    if scope.get("jql"):
        _step(f"the scope's JQL, as {user}", "scope", base,
              lambda: client.search_page(scope["jql"], fields="id", max_results=1))


def _verify_trello(settings: Settings, src: Source) -> None:
    client = make_trello_client(settings, src, source_secrets(settings, src), **_ONE_TRY)
    base = src.base_url or TRELLO_API
    user = _check_user(_step("the API key and token (GET members/me)", "credentials", base, client.myself),
                       "the token's member")
    # Only the board itself: its lists, fields and members are the sync's business.
    bare = {"lists": None, "customFields": None, "labels": None, "members": None}
    for board in (src.scope or {}).get("boards") or []:
        _step(f"board {board}, as {user}", "scope", base, partial(client.board, board, **bare))


def verify_source(settings: Settings, src: Source) -> None:
    """``errors.Invalid`` (422, rule ``source_verification``) unless ``src`` — built or changed,
    not yet committed — answers as a working source would."""
    if not source_secrets(settings, src).credentials:  # a row made outside the API (tests, imports)
        raise errors.Invalid("the source has no stored credentials to verify: give them (credentials) or "
                             "skip verification (?verify=false)", field="credentials", rule="source_verification")
    check = _verify_jira if src.kind == "jira" else _verify_trello
    try:
        check(settings, src)
    except _Failed as failed:
        raise errors.Invalid(failed.message, field=failed.field, rule="source_verification") from None
