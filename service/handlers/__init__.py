"""Inbox handlers, one per source kind, registered in one plain dict."""

from __future__ import annotations

from service.inbox import Handler

__all__ = ["HANDLERS"]


def _jira(ctx, events):  # type: ignore[no-untyped-def]
    from service.handlers.jira import handle

    return handle(ctx, events)


def _trello(ctx, events):  # type: ignore[no-untyped-def]
    from service.handlers.trello import handle

    return handle(ctx, events)


HANDLERS: dict[str, Handler] = {"jira": _jira, "trello": _trello}
