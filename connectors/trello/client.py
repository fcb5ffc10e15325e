"""Trello REST client: py-trello 0.20.1's ``fetch_json`` over our paced, classified session.

Reference: https://developer.atlassian.com/cloud/trello/rest/ — boards, cards, actions,
batch, webhooks. Every call goes through ``trello.TrelloClient.fetch_json`` (key +
token mode: ``trello.TrelloClient(api_key=KEY, api_secret=TOKEN)``; passing ``token=``
would switch py-trello to OAuth1 signing). The session (``session.py``) rewrites the
base URL, sets the timeout, paces requests and raises ``connectors.errors``
(``translate.py`` turns every Trello failure into one of them).

Reads are retried by the shared tenacity policy (``connectors.retry.read_retry``:
only ``RateLimited``/``Transient``, exponential backoff with jitter, bounded
attempts) and every attempt still takes a bucket token, so a 429 storm cannot turn
into a retry storm. Writes (webhook create/delete) are never retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import trello
from trello.exceptions import ResourceUnavailable

from connectors.errors import ConnectorError, Fatal, classify_status
from connectors.outbound import OutboundPolicy
from connectors.retry import read_retry
from connectors.trello.pages import ActionsPage, action_pages
from connectors.trello.ratelimit import RateLimiter, default_limiter
from connectors.trello.session import TRELLO_API, TrelloSession
from connectors.trello.translate import translate_error

__all__ = ["TrelloClient", "BATCH_SIZE", "ACTIONS_PAGE", "CARD_FIELDS"]

BATCH_SIZE = 10  # Trello's /batch takes at most 10 routes
ACTIONS_PAGE = 1000  # the largest `limit` /boards/{id}/actions accepts
_CARD_PARAMS = {"customFieldItems": "true", "checklists": "all", "fields": "all"}
# The card fields the mapping reads (mappings/trello): a list of 1,000 cards is ~20 % smaller
# than with fields=all, and so is every stored raw card. Not used inside /batch: its
# ``urls`` are comma-separated, and how Trello splits a comma inside a route is undocumented.
CARD_FIELDS = (
    "id,name,desc,idBoard,idList,closed,due,start,dueComplete,idMembers,idLabels,labels,"
    "dateLastActivity,shortLink,shortUrl,url,badges"
)
_BOARD_NESTED = {"lists": "all", "customFields": "true", "labels": "all", "members": "all"}


def _flag(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class TrelloClient:
    """Paced, classified, retried reads and plain writes against one Trello key + token."""

    def __init__(
        self,
        api_key: str,
        token: str,
        *,
        base_url: str = TRELLO_API,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
        max_attempts: int = 6,
        max_wait: float = 60.0,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        """``outbound`` is the operator's allow list; None allows public addresses only."""
        self._token = token
        self.session = TrelloSession(
            base_url=base_url,
            api_key=api_key,
            token=token,
            timeout=timeout,
            limiter=limiter or default_limiter(),
            outbound=outbound,
        )
        self._client = trello.TrelloClient(
            api_key=api_key, api_secret=token, http_service=self.session
        )
        self._reads = read_retry(
            "connectors.trello", max_attempts=max_attempts, max_wait=max_wait, sleep=sleep
        )

    @property
    def api_calls(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""
        return self.session.calls

    # -- transport -----------------------------------------------------------------------
    def _fetch(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            return self._client.fetch_json(
                path, http_method=method, query_params=dict(params or {})
            )
        except ConnectorError:
            raise
        except (ResourceUnavailable, ValueError) as exc:  # a 2xx py-trello refused, or not JSON
            raise translate_error(
                exc, method=method, path=path, redact=self.session.redact
            ) from None

    def _read(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self._reads(self._fetch, "GET", path, params)

    def _write(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        return self._fetch(method, path, params)  # never retried: a duplicate write is worse

    # -- members and boards ---------------------------------------------------------
    def myself(self) -> dict[str, Any]:
        """The token's member (``/members/me``), as Jira's ``myself`` is the API user."""
        return self._read("/members/me")

    def boards(self, filter: str = "all") -> list[dict[str, Any]]:  # noqa: A002 - Trello's name
        return self._read("/members/me/boards", {"filter": filter})

    def board(self, board_id: str, **nested: Any) -> dict[str, Any]:
        """One call: the board with its lists, custom fields, labels and members nested.

        ``nested`` adds or overrides Trello's nested-resource parameters
        (``cards="all"``, ``card_customFieldItems=True``, ``lists="open"``, ``labels=None`` …).
        """
        params = {**_BOARD_NESTED, **nested}
        return self._read(
            f"/boards/{board_id}", {k: _flag(v) for k, v in params.items() if v is not None}
        )

    def lists(self, board_id: str, filter: str = "all") -> list[dict[str, Any]]:  # noqa: A002
        return self._read(f"/boards/{board_id}/lists", {"filter": filter})

    def custom_fields(self, board_id: str) -> list[dict[str, Any]]:
        return self._read(f"/boards/{board_id}/customFields")

    # -- cards ----------------------------------------------------------------------
    def cards(
        self, board_id: str, filter: str = "all", *, checklists: bool = False
    ) -> list[dict[str, Any]]:  # noqa: A002
        """The board's cards in ``filter`` (``all`` includes archived), with custom field values
        and the fields the mapping reads (``CARD_FIELDS``)."""
        params = {"customFieldItems": "true", "fields": CARD_FIELDS}
        if checklists:
            params["checklists"] = "all"
        return self._read(f"/boards/{board_id}/cards/{filter}", params)

    def card(self, card_id: str) -> dict[str, Any]:
        return self._read(f"/cards/{card_id}", dict(_CARD_PARAMS))

    def cards_batch(self, card_ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """Fetch many cards via ``/batch`` (10 per call); a deleted or hidden card maps to None."""
        ids = list(dict.fromkeys(card_ids))
        out: dict[str, dict[str, Any] | None] = {}
        query = "&".join(f"{k}={v}" for k, v in _CARD_PARAMS.items())
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            urls = ",".join(f"/cards/{cid}?{query}" for cid in chunk)
            out.update(self._reads(self._batch_chunk, chunk, urls))
        return out

    def _batch_chunk(self, chunk: list[str], urls: str) -> dict[str, dict[str, Any] | None]:
        answers = self._fetch("GET", "/batch", {"urls": urls})
        if not isinstance(answers, list) or len(answers) != len(chunk):
            raise Fatal(f"Trello /batch answered {type(answers).__name__} for {len(chunk)} routes")
        out: dict[str, dict[str, Any] | None] = {}
        for card_id, answer in zip(chunk, answers, strict=True):
            ((status, body),) = answer.items()
            if status == "200":
                out[card_id] = body
            elif status in ("404", "400"):  # deleted, never existed, or a malformed id
                out[card_id] = None
            else:  # e.g. a 429 or 5xx inside the batch: classify (and so retry) the chunk
                error = classify_status(int(status), f"Trello /batch {status} for card {card_id}")
                error.body = self.session.redact(str(body))  # not in the message: it reaches the API
                raise error
        return out

    # -- actions --------------------------------------------------------------------
    def actions(
        self,
        board_id: str,
        since: str | None = None,
        before: str | None = None,
        limit: int = ACTIONS_PAGE,
        filter: str | None = None,  # noqa: A002
    ) -> list[dict[str, Any]]:
        """One page of board actions, newest first (``since``/``before``: action id or ISO date)."""
        params = {"limit": str(limit)}
        for name, value in (("since", since), ("before", before), ("filter", filter)):
            if value:
                params[name] = value
        return self._read(f"/boards/{board_id}/actions", params)

    def iter_actions(
        self,
        board_id: str,
        since: str | None = None,
        *,
        filter: str | None = None,  # noqa: A002
        page_size: int = ACTIONS_PAGE,
        before: str | None = None,
    ) -> Iterator[ActionsPage]:
        """Every page of the board's actions after ``since`` (None: the whole log) and older
        than ``before`` (None: from the newest), newest first, paging backwards with
        ``before`` until a short page (``pages.action_pages``)."""

        def page(older_than: str | None) -> list[dict[str, Any]]:
            return self.actions(board_id, since=since, before=older_than, limit=page_size, filter=filter)

        yield from action_pages(page, since=since, page_size=page_size, board_id=board_id, before=before)

    def actions_since(
        self,
        board_id: str,
        since: str | None,
        *,
        filter: str | None = None,  # noqa: A002
        page_size: int = ACTIONS_PAGE,
    ) -> list[dict[str, Any]]:
        """Every action after ``since`` (an action id or ISO date; None: the whole log),
        **oldest first**: all of ``iter_actions``' pages, sorted by id."""
        collected = [
            action
            for page in self.iter_actions(board_id, since, filter=filter, page_size=page_size)
            for action in page.actions
        ]
        collected.sort(key=lambda a: a["id"])
        return collected

    # -- webhooks -------------------------------------------------------------------
    def register_webhook(
        self, url: str, id_model: str, description: str = "", *, active: bool = True
    ) -> dict[str, Any]:
        """``POST /1/webhooks``; Trello HEADs ``url`` first: not 200 → 400 → ``Fatal``."""
        params = {
            "callbackURL": url,
            "idModel": id_model,
            "description": description,
            "active": _flag(active),
        }
        return self._write("POST", "/webhooks", params)

    def webhooks(self) -> list[dict[str, Any]]:
        """This token's webhooks, with ``consecutiveFailures``, ``firstConsecutiveFailDate``."""
        return self._read(f"/tokens/{self._token}/webhooks")

    def delete_webhook(self, webhook_id: str) -> None:
        self._write("DELETE", f"/webhooks/{webhook_id}")
