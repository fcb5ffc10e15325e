"""Inbox handlers, one per source kind, registered in one plain dict."""

from __future__ import annotations

from collections.abc import Sequence

from service.ingest.inbox import ClaimedEvent, Handler, HandlerContext, Outcome

__all__ = ["HANDLERS"]


def _jira(ctx: HandlerContext, events: Sequence[ClaimedEvent]) -> list[Outcome]:
    from service.ingest.handlers.jira import handle

    return handle(ctx, events)


def _trello(ctx: HandlerContext, events: Sequence[ClaimedEvent]) -> list[Outcome]:
    from service.ingest.handlers.trello import handle

    return handle(ctx, events)


HANDLERS: dict[str, Handler] = {"jira": _jira, "trello": _trello}
