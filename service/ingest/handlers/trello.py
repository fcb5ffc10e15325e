"""Trello webhook events in the inbox → effects, with re-fetches coalesced.

Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/
A Trello delivery carries an action and a partial card. Per batch of events
for one source: ``deleteCard`` tombstones at once; every card touched by the
other actions is re-fetched once (``/batch``, 10 cards per call), however many
events name it; a card whose stored version (``dateLastActivity``) is already
at or past an action's date needs no fetch for that action — its state was
read after the action happened (so late and out-of-order deliveries cost
nothing and change nothing but history). The actions' changes (list moves,
archive, due date) are kept as history either way. Structural actions (list
renamed, fields redefined) refresh the board context and re-map the board's
stored cards from their raw JSON.

What Trello no longer knows is settled, never retried: a card it answers 404 for
is tombstoned (``deleted``), a board it answers 404 for is mapped from what the
action names, and events from boards this source does not mirror are ignored
with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from connectors.errors import Fatal, NotFound, Unauthorized
from connectors.trello.client import TrelloClient
from mappings.model import Effect, Ignored
from mappings.profile import MappingProfile
from mappings.trello import BoardContext, context_from_action
from service.ingest.inbox import ClaimedEvent, HandlerContext, Outcome, StateWrite
from service.sources import source_secrets
from service.sync.runner import source_profile
from service.sync.trello import make_trello_client
from service.sync.trello_boards import (
    STRUCTURAL,
    board_context_cursor,
    load_board_context,
    merge_refetched,
    mirrored_boards,
    moves_kept,
    plan_actions,
    remap_stored,
)
from service.tables import Organization, Task, stored_id, table

__all__ = ["handle"]


def _client(ctx: HandlerContext) -> TrelloClient:
    secrets = source_secrets(ctx.settings, ctx.source)
    return make_trello_client(ctx.settings, ctx.source, secrets, max_attempts=4, max_wait=20.0)


def _stored_versions(ctx: HandlerContext, ids: list[str]) -> dict[str, datetime | None]:
    T = table(Task)
    with ctx.db.read() as conn:
        return dict(
            conn.execute(
                sa.select(T.c.external_id, T.c.remote_updated_at).where(
                    T.c.source_id == ctx.source.id, T.c.external_id.in_(ids)
                )
            ).all()
        )


class _Boards:
    """Board contexts for one batch: stored ones, fetched once when missing or stale."""

    def __init__(self, hctx: HandlerContext, profile: MappingProfile) -> None:
        self.hctx = hctx
        self.profile = profile
        self.label = profile.trello.milestone_label
        self.contexts: dict[str, BoardContext] = {}
        self.fetched: dict[str, dict[str, Any]] = {}  # board JSON to save with the batch
        self.refreshed: set[str] = set()  # boards whose stored cards must be re-mapped
        self._api: TrelloClient | None = None

    @property
    def api(self) -> TrelloClient:
        if self._api is None:
            self._api = _client(self.hctx)
        return self._api

    def get(
        self, board_id: str, *, refresh: bool = False, action: dict[str, Any] | None = None
    ) -> BoardContext:
        if board_id in self.contexts and (not refresh or board_id in self.fetched):
            return self.contexts[board_id]
        stored = load_board_context(
            self.hctx.db,
            stored_id(self.hctx.source),
            board_id,
            timezone=self.profile.timezone,
            milestone_label=self.label,
        )
        ctx = stored
        if stored is None or refresh:
            try:
                board = self.api.board(board_id)
            except (NotFound, Unauthorized, Fatal):
                # Gone, hidden from this token, or not a board id (Trello: 400 "invalid id"):
                # map from what the action names; the cards' own fetch settles them.
                board = None
            if board is not None:
                ctx = BoardContext.from_board_json(
                    board, timezone=self.profile.timezone, milestone_label=self.label
                )
                if stored is not None:
                    ctx.milestones.update(stored.milestones)
                self.fetched[board_id] = board
                if refresh and stored is not None:
                    self.refreshed.add(board_id)
        if ctx is None:
            ctx = (
                context_from_action(action, self.profile)
                if action is not None
                else BoardContext.minimal(board_id, timezone=self.profile.timezone)
            )
        self.contexts[board_id] = ctx
        return ctx


def _board_of(action: dict[str, Any]) -> str | None:
    board = (
        ((action.get("data") or {}).get("board") or {})
        if isinstance(action.get("data"), dict)
        else {}
    )
    value = board.get("id") if isinstance(board, dict) else None
    return value if isinstance(value, str) and value else None


def _needs_fetch(when: datetime | None, stored: datetime | None) -> bool:
    """Is an action at ``when`` newer than the stored card state (``dateLastActivity``)?"""
    return stored is None or when is None or when > stored


def handle(ctx: HandlerContext, events: Sequence[ClaimedEvent]) -> list[Outcome]:
    source = ctx.source
    source_id = stored_id(source)
    with ctx.db.session() as s:
        org = s.get(Organization, source.org_id)
    profile = source_profile(source, org.timezone if org else "UTC")
    mirrored = mirrored_boards(source)
    boards = _Boards(ctx, profile)

    per_event: list[tuple[list[Effect], dict[str, list[Any]], datetime | None]] = []
    for ev in events:
        try:
            payload = orjson.loads(ev.body)
        except orjson.JSONDecodeError:
            payload = None
        action = payload.get("action") if isinstance(payload, dict) else None
        if not isinstance(action, dict):
            per_event.append(([Ignored(reason="delivery has no 'action' object")], {}, None))
            continue
        board_id = _board_of(action)
        if board_id is not None and mirrored is not None and board_id not in mirrored:
            reason = f"{action.get('type')}: board {board_id} is not mirrored by this source"
            per_event.append(([Ignored(reason=reason)], {}, None))
            continue
        bctx = (
            boards.get(board_id, refresh=action.get("type") in STRUCTURAL, action=action)
            if board_id
            else context_from_action(action, profile)
        )
        effects, refetch = plan_actions([action], bctx, profile)
        per_event.append((effects, refetch, _date(action.get("date"))))

    # Which cards really need a fetch: one named by an action newer than the stored card state.
    wanted: dict[str, list[Any]] = {}
    for _, refetch, _ in per_event:
        for cid, changes in refetch.items():
            wanted.setdefault(cid, []).extend(changes)
    stored = _stored_versions(ctx, list(wanted)) if wanted else {}
    need = {
        cid
        for _, refetch, when in per_event
        for cid in refetch
        if _needs_fetch(when, stored.get(cid))
    }
    fetched_effects: list[Effect] = []
    if need:
        fetched = boards.api.cards_batch(sorted(need))

        def context_for(board_id: str | None) -> BoardContext | None:
            if board_id is None or (mirrored is not None and board_id not in mirrored):
                return None
            return boards.get(board_id)

        fetched_effects = merge_refetched(
            fetched,
            {cid: wanted[cid] for cid in sorted(need)},
            context_for,
            profile,
            source_id,
            mirrored,
        )
    for board_id in sorted(boards.refreshed):
        fetched_effects += remap_stored(
            ctx.db,
            source_id,
            board_id,
            boards.contexts[board_id],
            profile,
            exclude=need,
        )
    outcomes: list[Outcome] = []
    for i, (effects, refetch, _) in enumerate(per_event):
        own = list(effects)
        if i == 0:
            own += fetched_effects
        # The changes an action recorded on a card whose stored state is already newer: kept as
        # history (no fetch, nothing to upsert).
        history = [ch for cid, chs in refetch.items() if cid not in need for ch in moves_kept(chs, mirrored)]
        real = [e for e in own if not isinstance(e, Ignored)] or refetch
        if real:
            outcomes.append(Outcome("done", effects=own, changes=history))
        else:
            reason = (
                "; ".join(dict.fromkeys(e.reason for e in own if isinstance(e, Ignored)))
                or "no effect"
            )
            outcomes.append(Outcome("ignored", reason=reason, effects=own))
    if outcomes:  # the board contexts fetched for the batch, saved with it
        outcomes[0].state = [
            StateWrite(*board_context_cursor(board, boards.contexts[board_id]))
            for board_id, board in boards.fetched.items()
        ]
    return outcomes


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
