"""Trello board contexts and the effects around re-fetched cards, shared by the sync
(``service/sync/trello.py``) and the webhook handler (``service/ingest/handlers/trello.py``).

Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/action-types/
A board's context (lists, labels, members, custom field definitions, milestone cards) is
kept per source in ``sync_state`` (stream ``board:<id>``); actions are planned into
effects to apply as they are and cards to re-fetch; re-fetched cards become upserts or
tombstones depending on where Trello says they are now.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from mappings.model import (
    Change,
    DeletedReason,
    Effect,
    Ignored,
    StatusCategory,
    TaskDelete,
    TaskPatch,
    TaskUpsert,
)
from mappings.model import Task as TaskModel
from mappings.trello import LEFT_SUFFIX, BoardContext, map_action, map_card, worklog_effects
from service.db import Database
from service.sync.state import all_cursors, set_cursor
from service.tables import Task, table, utcnow

__all__ = [
    "STRUCTURAL",
    "gc_paused",
    "mirrored_boards",
    "remap_stored",
    "board_context_cursor",
    "save_board_context",
    "load_board_context",
    "card_upserts",
    "plan_actions",
    "merge_refetched",
    "moves_kept",
]

# Actions that change how cards map (list names, custom field definitions, labels, members).
STRUCTURAL = {
    "updateList",
    "createList",
    "moveListToBoard",
    "moveListFromBoard",
    "updateBoard",
    "createCustomField",
    "updateCustomField",
    "deleteCustomField",
    "createLabel",
    "updateLabel",
    "deleteLabel",
    "addMemberToBoard",
    "makeNormalMemberOfBoard",
    "removeMemberFromBoard",
}
_CONTEXT_KEYS = ("id", "name", "url", "shortUrl", "lists", "labels", "members", "customFields")


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around one board's bulk work.

    A board's card list is 1,000s of fresh dicts, parsed, mapped and written in one go;
    the collector's young-generation passes keep walking them (10-30 % of a backfill's
    CPU, measured with bench/trello_sync.py) though reference counting frees them all.
    Nested and concurrent uses share one pause: the first in turns it off (if it was on),
    the last out turns it back on.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


def mirrored_boards(source: Any) -> set[str] | None:
    """The boards this source mirrors: its scope, else the boards found at the first sync;
    None when not known yet (then every board the token sees counts as mirrored)."""
    scope = source.scope or {}
    site = source.site_info or {}
    if scope.get("boards"):  # a board named by its short link: the id the sync resolved it to
        ids = site.get("board_ids") or {}
        return {str(b) for b in scope["boards"]} | {ids[b] for b in scope["boards"] if b in ids}
    return set(site["boards"]) if site.get("boards") else None


def remap_stored(
    db: Database, source_id: int, board_id: str, ctx: BoardContext, profile: Any, exclude: set[str]
) -> list[Effect]:
    """Re-map the board's stored cards from their raw JSON (list renamed, fields redefined),
    without calling Trello. Same ``dateLastActivity``, so no observed change rows."""
    T = table(Task)
    with db.read() as conn:
        raws = (
            conn.execute(
                sa.select(T.c.raw).where(
                    T.c.source_id == source_id,
                    T.c.deleted_at.is_(None),
                    T.c.raw["idBoard"].as_string() == board_id,
                )
            )
            .scalars()
            .all()
        )
    cards = [r for r in raws if isinstance(r, dict) and r.get("id") not in exclude]
    return card_upserts(cards, ctx, profile, source_id)


def _stream(board_id: str) -> str:
    return f"board:{board_id}"


def board_context_cursor(board: dict[str, Any], ctx: BoardContext) -> tuple[str, str]:
    """The ``sync_state`` (stream, cursor) a board's context is kept in: the board JSON's
    context keys and the milestone cards seen on it."""
    subset = {k: board[k] for k in _CONTEXT_KEYS if k in board}
    return _stream(ctx.board_id), json.dumps({"board": subset, "milestones": ctx.milestones})


def save_board_context(conn: Any, source_id: int, board: dict[str, Any], ctx: BoardContext) -> None:
    stream, cursor = board_context_cursor(board, ctx)
    set_cursor(conn, source_id, stream, cursor)


def load_board_context(
    db: Database, source_id: int, board_id: str, *, timezone: str, milestone_label: str
) -> BoardContext | None:
    raw = all_cursors(db, source_id).get(_stream(board_id))
    if not raw:
        return None
    data = json.loads(raw)
    ctx = BoardContext.from_board_json(
        data["board"], timezone=timezone, milestone_label=milestone_label
    )
    ctx.milestones.update(data.get("milestones") or {})
    return ctx


def card_upserts(
    cards: list[dict[str, Any]], ctx: BoardContext, profile: Any, source_id: int
) -> list[Effect]:
    out: list[Effect] = []
    for card in cards:
        for e in map_card(card, ctx, profile, source_id=source_id):
            if isinstance(e, TaskUpsert):
                e.raw = card
            out.append(e)
    return out


def plan_actions(
    actions: list[dict[str, Any]], ctx: BoardContext, profile: Any
) -> tuple[list[Effect], dict[str, list[Any]]]:
    """Split actions into effects to apply as they are (deletes, worklogs, ignored) and cards to
    re-fetch (with the changes the actions recorded, so the history keeps every transition).

    A change of a card's hours field is also a worklog (METRICS.md "Worklogs from Trello";
    ``mappings.trello.worklog_effects``): (new − old) hours by the member, at the action's time.

    A card that left the board (``moveCardFromBoard``) is re-fetched rather than tombstoned:
    where it went (a board this source also mirrors, or not) decides what it becomes.
    """
    effects: list[Effect] = []
    refetch: dict[str, list[Any]] = {}
    deleted: set[str] = set()
    for action in actions:
        for e in [*map_action(action, ctx, profile), *worklog_effects(action, ctx, profile)]:
            if isinstance(e, TaskDelete) and e.reason is DeletedReason.out_of_scope:
                if e.external_id not in deleted:  # the move out (kept or not: merge_refetched)
                    refetch.setdefault(e.external_id, []).extend(e.changes)
            elif isinstance(e, TaskDelete):
                deleted.add(e.external_id)
                refetch.pop(e.external_id, None)
                effects.append(e)
            elif isinstance(e, TaskPatch):
                if e.external_id not in deleted:
                    refetch.setdefault(e.external_id, []).extend(e.changes)
            elif isinstance(e, TaskUpsert):
                refetch.setdefault(e.task.external_id, []).extend(e.changes)
            elif not isinstance(e, Ignored):
                effects.append(e)
    return effects, refetch


def merge_refetched(
    fetched: dict[str, dict[str, Any] | None],
    refetch: dict[str, list[Any]],
    context_for: Callable[[str | None], BoardContext | None],
    profile: Any,
    source_id: int,
    mirrored: set[str] | None,
) -> list[Effect]:
    """Re-fetched cards → effects. Not found → tombstone (deleted). On a board ``context_for``
    gives a context for → upsert, with the actions' changes as history. On a board this
    source does not mirror → tombstone (out of scope); on another mirrored board → nothing
    (that board's own pass maps it)."""
    out: list[Effect] = []
    for cid, recorded in refetch.items():
        # A move seen from the board the card left (moveCardFromBoard) is kept only when it went
        # to a board this source does not mirror: moveCardToBoard on a mirrored one records it.
        changes = moves_kept(recorded, mirrored)
        card = fetched.get(cid)
        if card is None:
            out.append(TaskDelete(external_id=cid, reason=DeletedReason.deleted, at=utcnow()))
            continue
        board_id = card.get("idBoard")
        ctx = context_for(board_id)
        if ctx is None:
            if mirrored is not None and board_id not in mirrored:
                moves = [c for c in changes if c.field == "project"]
                # Out of scope since it left, when an action says when (the last move): the views
                # as of a date between the move and this sync no longer count it in its old board.
                left = max((c.changed_at for c in moves if c.changed_at is not None), default=None)
                out.append(TaskDelete(external_id=cid, reason=DeletedReason.out_of_scope, at=left or utcnow(),
                                      changes=moves))
            continue
        for e in card_upserts([card], ctx, profile, source_id):
            if isinstance(e, TaskUpsert):
                e.changes = [*changes, *e.changes]
                _dates_from_changes(e.task, changes)
            out.append(e)
    return out


def moves_kept(changes: list[Any], mirrored: set[str] | None) -> list[Any]:
    """``changes`` without the moves recorded from the board a card left (moveCardFromBoard) to a
    board the source mirrors (None: every board counts as mirrored): that board's
    moveCardToBoard records the same move. A move to a board it does not mirror is kept (the
    only record of it)."""
    return [
        c for c in changes
        if not (isinstance(c, Change) and c.field == "project" and (c.external_id or "").endswith(LEFT_SUFFIX)
                and (mirrored is None or c.to_id in mirrored))
    ]


def _dates_from_changes(task: TaskModel, changes: list[Any]) -> None:
    """The times the actions tell: entering an in-progress list started the card (the store
    keeps the earliest start it knows), its last entry into a done list completed a card
    that is done — rather than the card's last activity."""
    moves = sorted(
        (c for c in changes if isinstance(c, Change) and c.field == "status"), key=lambda c: c.changed_at
    )
    started = next((c.changed_at for c in moves if c.to_category is StatusCategory.in_progress), None)
    if started is not None and (task.started_at is None or started < task.started_at):
        task.started_at = started
    done = [c.changed_at for c in moves if c.to_category is StatusCategory.done]
    if done and task.status_category is StatusCategory.done:
        task.completed_at = done[-1]
