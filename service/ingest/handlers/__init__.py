"""Inbox handlers, one per source kind, registered in one plain dict."""

from __future__ import annotations

from service.ingest.handlers import jira, trello
from service.ingest.inbox import Handler

__all__ = ["HANDLERS"]

HANDLERS: dict[str, Handler] = {"jira": jira.handle, "trello": trello.handle}
