"""The ``Connector`` protocol: what the sync needs from every tool's client.

``connectors.jira.JiraClient`` and ``connectors.trello.TrelloClient`` implement it
structurally (no base class: each keeps its own transport, the ``jira`` library or
py-trello), and ``service.sync.runner`` depends on this protocol, never on a tool's
module. What a sync reads (Jira's searches and worklog feeds, Trello's boards, cards
and action pages) is the tool's own vocabulary and stays on the tool's syncer; what
every connector offers in the same words is here:

- ``api_calls``: the HTTP requests sent so far, every attempt (retries included)
  counted; the runner records the difference over a run on the run's record.
- ``register_webhook(url, ...)``: register a webhook delivering to ``url`` and return
  the tool's answer. One attempt, never retried (a duplicate registration is worse
  than a failed one). What the webhook watches is the tool's: Jira takes the
  ``events`` (and an optional ``secret``, ``name`` and ``jql``), Trello the id of the
  model (board) to watch and a description.

Both raise only ``connectors.errors`` classes.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Connector"]


@runtime_checkable
class Connector(Protocol):
    @property
    def api_calls(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""
        ...

    def register_webhook(self, url: str, /, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Register a webhook delivering to ``url``; the other arguments are the tool's."""
        ...
