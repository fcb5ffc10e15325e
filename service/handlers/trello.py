"""Trello webhook events in the inbox → effects, with re-fetches coalesced.

A Trello delivery carries an action and a partial card. Per batch of events
for one source: ``deleteCard`` tombstones at once; every card touched by the
other actions is re-fetched once (``/batch``, 10 cards per call), however many
events name it; a card whose stored version (``dateLastActivity``) is already
at or past an action's date needs no fetch for that action — its state was
read after the action happened. The actions' changes (list moves, archive, due
date) are kept as history either way. Structural actions (list renamed, fields
redefined) refresh the board context first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from mappings.model import Effect, Ignored
from mappings.trello import BoardContext, context_from_action
from service.inbox import ClaimedEvent, HandlerContext, Outcome
from service.sources import source_secrets
from service.store.tasks import _change_rows, insert_changes
from service.sync.runner import SyncContext, source_profile
from service.sync.trello import (
    STRUCTURAL,
    load_board_context,
    make_trello_client,
    merge_refetched,
    plan_actions,
    save_board_context,
)
from service.tables import Organization, Task

__all__ = ["handle"]


def _client(ctx: HandlerContext) -> Any:
    sctx = SyncContext(db=ctx.db, settings=ctx.settings, source=ctx.source,
                       secrets=source_secrets(ctx.settings, ctx.source), profile=source_profile(ctx.source),
                       recorder=None, renew=lambda: None)  # type: ignore[arg-type]
    return make_trello_client(sctx, max_attempts=4, max_wait=20.0)


def _stored_versions(ctx: HandlerContext, ids: list[str]) -> dict[str, datetime | None]:
    T = Task.__table__
    with ctx.db.read() as conn:
        return dict(conn.execute(sa.select(T.c.external_id, T.c.remote_updated_at).where(
            T.c.source_id == ctx.source.id, T.c.external_id.in_(ids))).all())


def handle(ctx: HandlerContext, events: Sequence[ClaimedEvent]) -> list[Outcome]:
    source = ctx.source
    with ctx.db.session() as s:
        org = s.get(Organization, source.org_id)
    profile = source_profile(source, org.timezone if org else "UTC")
    label = profile.trello.milestone_label
    api: Any = None
    contexts: dict[str, BoardContext] = {}
    boards_json: dict[str, dict[str, Any]] = {}
    parsed: list[dict[str, Any] | None] = []
    for ev in events:
        try:
            payload = orjson.loads(ev.body)
        except orjson.JSONDecodeError:
            payload = None
        parsed.append(payload if isinstance(payload, dict) and isinstance(payload.get("action"), dict) else None)

    def board_ctx(action: dict[str, Any]) -> BoardContext:
        nonlocal api
        board_id = ((action.get("data") or {}).get("board") or {}).get("id")
        if not board_id:
            return context_from_action(action, profile)
        if board_id not in contexts:
            stored = load_board_context(ctx.db, source.id, board_id, timezone=profile.timezone,  # type: ignore[arg-type]
                                        milestone_label=label)
            if stored is None or action.get("type") in STRUCTURAL:
                api = api or _client(ctx)
                board = api.board(board_id)
                fresh = BoardContext.from_board_json(board, timezone=profile.timezone, milestone_label=label)
                if stored is not None:
                    fresh.milestones.update(stored.milestones)
                boards_json[board_id] = board
                stored = fresh
            contexts[board_id] = stored
        return contexts[board_id]

    per_event: list[tuple[list[Effect], dict[str, list[Any]], dict[str, datetime | None]]] = []
    for payload in parsed:
        if payload is None:
            per_event.append(([Ignored(reason="delivery has no 'action' object")], {}, {}))
            continue
        action = payload["action"]
        effects, refetch = plan_actions([action], board_ctx(action), profile)
        when = _date(action.get("date"))
        per_event.append((effects, refetch, {cid: when for cid in refetch}))

    # Which cards really need a fetch: an action newer than the stored card state.
    wanted: dict[str, list[Any]] = {}
    for _, refetch, dates in per_event:
        for cid, changes in refetch.items():
            wanted.setdefault(cid, []).extend(changes)
    stored = _stored_versions(ctx, list(wanted)) if wanted else {}
    need = {cid for _, refetch, dates in per_event for cid in refetch
            if stored.get(cid) is None or dates[cid] is None or dates[cid] > stored[cid]}  # type: ignore[operator]
    fetched_effects: list[Effect] = []
    if need:
        api = api or _client(ctx)
        fetched = api.cards_batch(sorted(need))
        by_board: dict[str, dict[str, list[Any]]] = {}
        for cid in need:
            card = fetched.get(cid)
            board_id = (card or {}).get("idBoard") or next(iter(contexts), "")
            by_board.setdefault(board_id, {})[cid] = wanted[cid]
        for board_id, group in by_board.items():
            bctx = contexts.get(board_id) or BoardContext.minimal(board_id, timezone=profile.timezone)
            fetched_effects += merge_refetched({c: fetched.get(c) for c in group}, group, bctx, profile,
                                               source.id)  # type: ignore[arg-type]
    history = [ch for cid, chs in wanted.items() if cid not in need for ch in chs]

    outcomes: list[Outcome] = []
    for i, (effects, refetch, _) in enumerate(per_event):
        own = list(effects)
        if i == 0:
            own += fetched_effects
        real = [e for e in own if not isinstance(e, Ignored)] or refetch
        if real:
            outcomes.append(Outcome("done", effects=own))
        else:
            reason = "; ".join(dict.fromkeys(e.reason for e in own if isinstance(e, Ignored))) or "no effect"
            outcomes.append(Outcome("ignored", reason=reason, effects=own))

    def extra(conn: Any) -> None:
        for board_id, board in boards_json.items():
            save_board_context(conn, source.id, board, contexts[board_id])  # type: ignore[arg-type]
        insert_changes(conn, _change_rows(source.org_id, source.id, history))  # type: ignore[arg-type]

    if outcomes:
        outcomes[0].extra = extra
    return outcomes


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
