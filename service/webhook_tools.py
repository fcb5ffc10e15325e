"""What taskhub registers as webhooks in each tool, and the calls that do it (issue 21).

One small adapter per tool, behind the same three calls (``targets``, ``register``,
``remove``) and a ``check`` for the ping, so ``service.webhook_registration`` keeps one
reconcile loop for both. Every request goes through the source's connector client, i.e.
through the outbound guard, with a short timeout and one attempt (``REQUEST_TIMEOUT``):
registration runs inside an API request.

- **Trello** (VENDOR_FACTS B8): one webhook per board in scope, ``idModel`` = the board id.
  Trello HEADs the callback URL before creating it and refuses (400) unless it answers 200.
  The ping's handshake uses that: a throw-away webhook on the callback URL with a
  ``?taskhub_ping=<nonce>`` query, deleted at once, proves Trello reaches taskhub now.
- **Jira** (VENDOR_FACTS A14): one admin webhook for the site, ``POST /rest/webhooks/1.0/webhook``
  with the events the handler maps and the scope's JQL. Only a Jira administrator may: a 401/403
  makes the registration ``manual`` and the API shows what to paste into *System → WebHooks*.
  Jira has no test delivery, so its ping checks the webhook is still there and enabled.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.errors import ConnectorError, Unauthorized
from connectors.jira import JiraClient
from connectors.trello import TrelloClient
from mappings.jira.webhook import DC_WORKLOG_EVENT, SUPPORTED_EVENTS
from mappings.trello.values import is_board_id
from service.settings import Settings
from service.sources import SourceSecrets
from service.sync.jira import make_jira_client
from service.sync.trello import make_trello_client
from service.tables import Source, stored_id

__all__ = [
    "JIRA_SITE",
    "JIRA_WEBHOOK_PAGE",
    "REQUEST_TIMEOUT",
    "ToolWebhooks",
    "jira_events",
    "jira_jql",
    "tool_for",
    "webhook_name",
]

REQUEST_TIMEOUT = 5.0  # seconds per request: registration runs inside an API request
JIRA_SITE = "site"  # the target of a Jira source's one webhook
JIRA_WEBHOOK_PAGE = "Jira settings → System → WebHooks (Jira administrators only) → Create a WebHook"
PING_QUERY = "taskhub_ping"


def webhook_name(source: Source) -> str:
    """The name shown in the tool's webhook list: says who registered it and for which source."""
    return f"taskhub: {source.name} (source {stored_id(source)})"


def jira_events(deployment: str | None) -> list[str]:
    """The events the Jira handler maps (``mappings.jira.webhook``). Data Center announces a
    worklog change as ``jira:worklog_updated``; Cloud has ``worklog_*`` and no such event."""
    wanted = SUPPORTED_EVENTS if deployment == "datacenter" else SUPPORTED_EVENTS - {DC_WORKLOG_EVENT}
    return sorted(wanted)


def jira_jql(scope: dict[str, Any] | None) -> str | None:
    """The webhook's JQL filter: the scope's JQL, else its projects, else none (the whole site),
    as the sync reads them (``service.sync.jira``)."""
    scope = scope or {}
    if scope.get("jql"):
        return str(scope["jql"])
    keys = scope.get("projects") or []
    return "project in (" + ", ".join(f'"{k}"' for k in keys) + ")" if keys else None


class ToolWebhooks(Protocol):
    kind: str

    def targets(self) -> list[str]: ...

    def register(self, target: str, url: str) -> str: ...

    def remove(self, remote_id: str) -> None: ...

    def check(self, target: str, remote_id: str | None, url: str) -> str: ...

    def refusal(self, exc: ConnectorError, url: str) -> tuple[str, str]: ...


@dataclass
class JiraWebhooks:
    client: JiraClient
    source: Source
    secret: str | None
    kind: str = "jira"

    def targets(self) -> list[str]:
        return [JIRA_SITE]

    def register(self, target: str, url: str) -> str:
        hook = self.client.register_webhook(
            url, events=jira_events(self.source.deployment), secret=self.secret,
            name=webhook_name(self.source), jql=jira_jql(self.source.scope))
        return str(hook.get("self", "")).rstrip("/").rsplit("/", 1)[-1]

    def remove(self, remote_id: str) -> None:
        self.client.delete_webhook(remote_id)

    def check(self, target: str, remote_id: str | None, url: str) -> str:
        """Jira offers no test delivery: say whether the webhook is still there and enabled."""
        mine = [h for h in self.client.webhooks() if str(h.get("self", "")).rsplit("/", 1)[-1] == remote_id]
        if not mine:
            return "not found in Jira any more (deleted there?): POST …/webhooks/register to register it again"
        if mine[0].get("enabled") is False:
            return "registered in Jira but disabled there: enable it on Jira's WebHooks page"
        if mine[0].get("url") != url:
            return f"registered in Jira for another URL ({mine[0].get('url')}): POST …/webhooks/register"
        return "registered and enabled in Jira; Jira has no test delivery: any change in scope sends one"

    def refusal(self, exc: ConnectorError, url: str) -> tuple[str, str]:
        if isinstance(exc, Unauthorized):
            return "manual", (
                f"Jira refused ({exc.status}): only a Jira administrator can register webhooks through "
                "REST. Paste the webhook shown under 'paste' into Jira's WebHooks page, or give the "
                "source a Jira administrator's credentials and POST …/webhooks/register.")
        return "failed", f"{exc}. POST …/webhooks/register to try again."


@dataclass
class TrelloWebhooks:
    client: TrelloClient
    source: Source
    kind: str = "trello"

    def targets(self) -> list[str]:
        """The boards in scope by id (a short link resolved by one read, as the sync does), else
        the boards the first sync found, else the token's open boards."""
        scope = self.source.scope or {}
        site = self.source.site_info or {}
        if scope.get("boards"):
            known = dict(site.get("board_ids") or {})
            return list(dict.fromkeys(b if is_board_id(b) else known.get(b) or self._board_id(b)
                                      for b in map(str, scope["boards"])))
        if site.get("boards"):
            return [str(b) for b in site["boards"]]
        return [str(b["id"]) for b in self.client.boards("open")]

    def _board_id(self, short_link: str) -> str:
        board = self.client.board(short_link, lists=None, customFields=None, labels=None, members=None)
        return str(board["id"])

    def register(self, target: str, url: str) -> str:
        return str(self.client.register_webhook(url, target, webhook_name(self.source))["id"])

    def remove(self, remote_id: str) -> None:
        self.client.delete_webhook(remote_id)

    def check(self, target: str, remote_id: str | None, url: str) -> str:
        """The handshake: a throw-away webhook on ``url?taskhub_ping=…`` makes Trello HEAD taskhub
        now; created means Trello reached us (then it is deleted). Trello's failure count of the
        real webhook says whether its deliveries were accepted lately."""
        probe = f"{url}?{PING_QUERY}={secrets.token_hex(8)}"
        self.remove(self.register(target, probe))
        mine = next((h for h in self.client.webhooks() if h.get("id") == remote_id), None)
        if mine is None:
            return "Trello reached taskhub (HEAD answered 200), but this webhook is gone: POST …/webhooks/register"
        failures = int(mine.get("consecutiveFailures") or 0)
        if failures:
            return (f"Trello reached taskhub (HEAD answered 200), but its last {failures} deliveries failed "
                    f"since {mine.get('firstConsecutiveFailDate')}: check the app secret and the URL")
        return "Trello reached taskhub (HEAD answered 200); no failed delivery recorded by Trello"

    def refusal(self, exc: ConnectorError, url: str) -> tuple[str, str]:
        if exc.status == 400:
            return "failed", (
                f"{exc}. Trello creates a webhook only when its HEAD to {url} answers 200, and refuses a "
                "board the token cannot see: check that the URL is reachable from the internet "
                "(TASKHUB_PUBLIC_BASE_URL) and the board id, then POST …/webhooks/register.")
        return "failed", f"{exc}. POST …/webhooks/register to try again."


def tool_for(settings: Settings, source: Source, found: SourceSecrets) -> ToolWebhooks:
    """The source's adapter, its client behind the outbound guard, one attempt per request."""
    if source.kind == "jira":
        client = make_jira_client(settings, source, found, timeout=REQUEST_TIMEOUT, max_attempts=1)
        return JiraWebhooks(client, source, found.webhook_secret)
    trello = make_trello_client(settings, source, found, timeout=REQUEST_TIMEOUT, max_attempts=1)
    return TrelloWebhooks(trello, source)
