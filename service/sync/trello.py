"""Trello sync: per-board snapshot, then the board's action log as the change feed.

Backfill per board: the newest action id (the cursor to start from), the board
with lists / custom field definitions / labels / members nested, and every card
(``/cards/all`` with ``customFieldItems``) — three requests. Incremental: the
board's actions since the cursor (one request when nothing changed), the set of
cards they touch re-fetched through ``/batch`` (10 per call) or the whole card
list when most changed; ``deleteCard`` tombstones; structural actions (list
renamed, fields or labels changed) refresh the board context and re-map the
board's cards from their stored raw JSON without calling Trello.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa

from connectors.trello.client import TrelloApi
from mappings.model import DeletedReason, Effect, Ignored, TaskDelete, TaskPatch, TaskUpsert
from mappings.trello import BoardContext, map_action, map_card
from service import store
from service.db import Database
from service.sync.runner import SyncContext
from service.sync.state import all_cursors, set_cursor, set_source_status
from service.tables import Task, utcnow

__all__ = ["TrelloSyncer", "make_trello_client", "load_board_context", "save_board_context", "STRUCTURAL"]

log = logging.getLogger("taskhub.sync.trello")
TRELLO_API = "https://api.trello.com/1"
# Actions that change how cards map (list names, custom field definitions, labels, members).
STRUCTURAL = {
    "updateList", "createList", "moveListToBoard", "moveListFromBoard", "updateBoard", "createCustomField",
    "updateCustomField", "deleteCustomField", "createLabel", "updateLabel", "deleteLabel", "addMemberToBoard",
    "makeNormalMemberOfBoard", "removeMemberFromBoard",
}
_CONTEXT_KEYS = ("id", "name", "url", "shortUrl", "lists", "labels", "members", "customFields")


def make_trello_client(ctx: SyncContext, **kw: Any) -> TrelloApi:
    creds = ctx.secrets.credentials
    return TrelloApi(creds["api_key"], creds["token"], base_url=ctx.source.base_url or TRELLO_API,
                     sleep=ctx.sleep, **kw)


def _stream(board_id: str) -> str:
    return f"board:{board_id}"


def save_board_context(conn: Any, source_id: int, board: dict[str, Any], ctx: BoardContext) -> None:
    subset = {k: board[k] for k in _CONTEXT_KEYS if k in board}
    set_cursor(conn, source_id, _stream(ctx.board_id), json.dumps({"board": subset, "milestones": ctx.milestones}))


def load_board_context(db: Database, source_id: int, board_id: str, *, timezone: str,
                       milestone_label: str) -> BoardContext | None:
    raw = all_cursors(db, source_id).get(_stream(board_id))
    if not raw:
        return None
    data = json.loads(raw)
    ctx = BoardContext.from_board_json(data["board"], timezone=timezone, milestone_label=milestone_label)
    ctx.milestones.update(data.get("milestones") or {})
    return ctx


def card_upserts(cards: list[dict[str, Any]], ctx: BoardContext, profile: Any, source_id: int) -> list[Effect]:
    out: list[Effect] = []
    for card in cards:
        for e in map_card(card, ctx, profile, source_id=source_id):
            if isinstance(e, TaskUpsert):
                e.raw = card
            out.append(e)
    return out


class TrelloSyncer:
    def __init__(self, ctx: SyncContext, client: TrelloApi | None = None) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.api = client or make_trello_client(ctx)
        self.cursors = all_cursors(ctx.db, ctx.source.id)  # type: ignore[arg-type]
        self.profile = ctx.profile
        self.tz = ctx.profile.timezone
        self.label = ctx.profile.trello.milestone_label

    def run(self, mode: str) -> None:
        start_calls = self.api.api_calls
        try:
            for i, board_id in enumerate(self._boards()):
                cursor = None if mode == "full" else self.cursors.get(f"actions:{board_id}")
                if mode == "census":
                    self._census(board_id)
                elif cursor is None:
                    self._backfill(board_id)
                else:
                    self._incremental(board_id, cursor)
                self.ctx.progress("boards", i + 1, len(self._boards()))
                self.ctx.renew()
        finally:
            self.ctx.recorder.api_calls += self.api.api_calls - start_calls

    def _boards(self) -> list[str]:
        scope = self.source.scope or {}
        if scope.get("boards"):
            return list(scope["boards"])
        site = dict(self.source.site_info or {})
        if not site.get("boards"):
            site["boards"] = [b["id"] for b in self.api.boards("open")]
            set_source_status(self.ctx.db, self.source.id, self.source.status, self.source.status_reason,  # type: ignore[arg-type]
                              site_info=site)
            self.source.site_info = site
        return list(site["boards"])

    # --- backfill -------------------------------------------------------------------------
    def _backfill(self, board_id: str) -> None:
        newest = self.api.actions(board_id, limit=1)
        board = self.api.board(board_id)
        cards = self.api.cards(board_id, "all")
        ctx = BoardContext.from_board_json({**board, "cards": cards}, timezone=self.tz, milestone_label=self.label)
        effects = card_upserts(cards, ctx, self.profile, self.source.id)  # type: ignore[arg-type]
        self._apply(board_id, board, ctx, effects, newest[0]["id"] if newest else "")
        self.ctx.recorder.items_seen += len(cards)
        self.ctx.progress(f"cards {board.get('name') or board_id}", len(cards), len(cards))

    # --- incremental ------------------------------------------------------------------------
    def _incremental(self, board_id: str, since: str) -> None:
        actions = self.api.iter_actions_since(board_id, since or None)
        if not actions:
            return
        ctx = load_board_context(self.ctx.db, self.source.id, board_id, timezone=self.tz,  # type: ignore[arg-type]
                                 milestone_label=self.label)
        board: dict[str, Any] | None = None
        if ctx is None or any(a.get("type") in STRUCTURAL for a in actions):
            board = self.api.board(board_id)
            ctx = BoardContext.from_board_json(board, timezone=self.tz, milestone_label=self.label)
            old = load_board_context(self.ctx.db, self.source.id, board_id, timezone=self.tz,  # type: ignore[arg-type]
                                     milestone_label=self.label)
            if old is not None:
                ctx.milestones.update(old.milestones)
        effects, refetch = plan_actions(actions, ctx, self.profile)
        effects += self._refetch(board_id, refetch, ctx)
        if board is not None:
            effects += self._remap_stored(board_id, ctx, exclude=set(refetch))
        self._apply(board_id, board, ctx, effects, actions[-1]["id"])
        self.ctx.recorder.items_seen += len(actions)

    def _refetch(self, board_id: str, refetch: dict[str, list[Any]], ctx: BoardContext) -> list[Effect]:
        if not refetch:
            return []
        stored = self._stored_count(board_id)
        if len(refetch) > 30 and len(refetch) * 2 > stored:
            cards = {c["id"]: c for c in self.api.cards(board_id, "all")}
            fetched: dict[str, dict[str, Any] | None] = {cid: cards.get(cid) for cid in refetch}
        else:
            fetched = self.api.cards_batch(list(refetch))
        return merge_refetched(fetched, refetch, ctx, self.profile, self.source.id)  # type: ignore[arg-type]

    def _stored_count(self, board_id: str) -> int:
        T = Task.__table__
        with self.ctx.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(
                T.c.source_id == self.source.id, T.c.raw["idBoard"].as_string() == board_id)).scalar() or 0)

    def _remap_stored(self, board_id: str, ctx: BoardContext, exclude: set[str]) -> list[Effect]:
        """Re-map the board's stored cards from raw JSON (list renamed, fields redefined)."""
        T = Task.__table__
        with self.ctx.db.read() as conn:
            raws = conn.execute(sa.select(T.c.raw).where(
                T.c.source_id == self.source.id, T.c.deleted_at.is_(None),
                T.c.raw["idBoard"].as_string() == board_id)).scalars().all()
        cards = [r for r in raws if isinstance(r, dict) and r.get("id") not in exclude]
        return card_upserts(cards, ctx, self.profile, self.source.id)  # type: ignore[arg-type]

    def _apply(self, board_id: str, board: dict[str, Any] | None, ctx: BoardContext, effects: list[Effect],
               cursor: str) -> None:
        sid, org = self.source.id, self.source.org_id
        with self.ctx.db.write() as conn:
            if board is not None:
                store.upsert_projects(conn, org, sid, [(board_id, None, board.get("name"))])  # type: ignore[arg-type]
            stats = store.apply_effects(conn, org, sid, effects)  # type: ignore[arg-type]
            if board is not None:
                save_board_context(conn, sid, board, ctx)  # type: ignore[arg-type]
            set_cursor(conn, sid, f"actions:{board_id}", cursor)  # type: ignore[arg-type]
        self.ctx.recorder.items_changed += stats.changed + stats.deleted

    # --- census -----------------------------------------------------------------------------
    def _census(self, board_id: str) -> None:
        live = {c["id"] for c in self.api.cards(board_id, "all")}
        T = Task.__table__
        with self.ctx.db.read() as conn:
            stored = set(conn.execute(sa.select(T.c.external_id).where(
                T.c.source_id == self.source.id, T.c.deleted_at.is_(None),
                T.c.raw["idBoard"].as_string() == board_id)).scalars())
        missing = sorted(stored - live)
        found = self.api.cards_batch(missing) if missing else {}
        deletes = [TaskDelete(external_id=cid, at=utcnow(),
                              reason=DeletedReason.deleted if found.get(cid) is None else DeletedReason.out_of_scope)
                   for cid in missing]
        with self.ctx.db.write() as conn:
            stats = store.apply_task_deletes(conn, self.source.org_id, self.source.id, deletes)  # type: ignore[arg-type]
        self.ctx.recorder.items_seen += len(live)
        self.ctx.recorder.items_changed += stats.deleted


def plan_actions(actions: list[dict[str, Any]], ctx: BoardContext, profile: Any) -> tuple[list[Effect], dict[str, list[Any]]]:
    """Split actions into effects to apply as they are (deletes, ignored) and cards to re-fetch
    (with the changes the actions recorded, so the history keeps every transition)."""
    effects: list[Effect] = []
    refetch: dict[str, list[Any]] = {}
    deleted: set[str] = set()
    for action in actions:
        for e in map_action(action, ctx, profile):
            if isinstance(e, TaskDelete):
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


def merge_refetched(fetched: dict[str, dict[str, Any] | None], refetch: dict[str, list[Any]], ctx: BoardContext,
                    profile: Any, source_id: int) -> list[Effect]:
    out: list[Effect] = []
    for cid, changes in refetch.items():
        card = fetched.get(cid)
        if card is None:
            out.append(TaskDelete(external_id=cid, reason=DeletedReason.deleted, at=utcnow()))
            continue
        if card.get("idBoard") and card["idBoard"] != ctx.board_id:
            out.append(TaskDelete(external_id=cid, reason=DeletedReason.out_of_scope, at=utcnow()))
            continue
        for e in card_upserts([card], ctx, profile, source_id):
            if isinstance(e, TaskUpsert):
                e.changes = [*changes, *e.changes]
            out.append(e)
    return out
