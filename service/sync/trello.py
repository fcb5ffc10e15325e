"""Trello sync: per-board snapshot, then the board's action log as the change feed.

Backfill per board: the newest action id (the cursor to start from), the board
with lists / custom field definitions / labels / members nested, and every card
(``/cards/all`` with ``customFieldItems``) — three requests — then the board's action
history back to its horizon, one filtered 1,000-action page a request, resumable
(``service/sync/trello_history.py``): the change history and the hours worklogs, from
which the cards' started/completed times and carried-in hours come. A backfill whose history
is already read (a full sync) and the census read the actions since the last poll first (one
filtered request, normally), so hours changed since are worklogs, not carried-in hours. A
board synced before the history existed gets it read once, after its next poll. Incremental: the
board's actions since the cursor (one request when nothing changed), the set of
cards they touch re-fetched through ``/batch`` (10 per call) or the whole card
list when most changed; ``deleteCard`` tombstones; structural actions (list
renamed, fields or labels changed) refresh the board context and re-map the
board's cards from their stored raw JSON without calling Trello.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from connectors.errors import Fatal
from connectors.trello.client import BATCH_SIZE, TrelloClient
from mappings.model import DeletedReason, Effect, TaskDelete
from mappings.trello import BoardContext, is_board_id, parse_datetime
from service import store
from service.settings import Settings
from service.sources import SourceSecrets
from service.sync.runner import SyncContext, register_syncer
from service.sync.state import PlannerStats, all_cursors, save_site_info, set_cursor
from service.sync.trello_boards import (
    STRUCTURAL,
    card_upserts,
    gc_paused,
    load_board_context,
    merge_refetched,
    mirrored_boards,
    plan_actions,
    remap_stored,
    save_board_context,
)
from service.sync.trello_history import (
    BoardHistory,
    CardScope,
    HistoryState,
    Seen,
    horizon_for,
    load_history,
)
from service.tables import Source, Task, stored_id, table, utcnow

__all__ = [
    "TrelloSyncer",
    "make_trello_client",
    "use_card_list",
    # shared with the webhook handler; defined in service.sync.trello_boards
    "STRUCTURAL",
    "card_upserts",
    "gc_paused",
    "load_board_context",
    "merge_refetched",
    "mirrored_boards",
    "plan_actions",
    "remap_stored",
    "save_board_context",
]

log = logging.getLogger("taskhub.sync.trello")
TRELLO_API = "https://api.trello.com/1"


def make_trello_client(
    settings: Settings, source: Source, secrets: SourceSecrets, **kw: Any
) -> TrelloClient:
    """The source's client, for its sync and its webhook handler; ``kw`` go to ``TrelloClient``."""
    creds = secrets.credentials
    return TrelloClient(
        creds["api_key"],
        creds["token"],
        base_url=source.base_url or TRELLO_API,
        outbound=settings.outbound_policy,
        **kw,
    )


class TrelloSyncer:
    def __init__(self, ctx: SyncContext, client: TrelloClient | None = None) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.source_id = stored_id(ctx.source)
        self.client = client or make_trello_client(
            ctx.settings, ctx.source, ctx.secrets, sleep=ctx.sleep
        )
        self.cursors = all_cursors(ctx.db, self.source_id)
        self.profile = ctx.profile
        self.tz = ctx.profile.timezone
        self.label = ctx.profile.trello.milestone_label
        self.mirrored: set[str] = set()
        self.history = BoardHistory(
            ctx.db,
            self.client,
            org_id=ctx.source.org_id,
            source_id=self.source_id,
            profile=ctx.profile,
            progress=ctx.progress,
            renew=ctx.renew,
        )

    def run(self, mode: str) -> None:
        boards = self._boards()
        self.mirrored = set(boards)
        planner = PlannerStats(self.ctx.db)
        for i, board_id in enumerate(boards):
            cursor = None if mode == "full" else self.cursors.get(f"actions:{board_id}")
            with gc_paused():
                if mode == "census":
                    self._census(board_id)
                elif cursor is None:
                    self._backfill(board_id)
                else:
                    self._incremental(board_id, cursor)
                if mode != "full" and cursor is not None:
                    self._catch_up_history(board_id)
            self.ctx.progress("boards", i + 1, len(boards))
            self.ctx.renew()
            planner.stored(self.ctx.recorder.items_seen)

    def _boards(self) -> list[str]:
        scope = self.source.scope or {}
        if scope.get("boards"):
            return self._board_ids([str(b) for b in scope["boards"]])
        site = dict(self.source.site_info or {})
        if not site.get("boards"):
            site["boards"] = [b["id"] for b in self.client.boards("open")]
            save_site_info(self.ctx.db, self.source_id, site)
            self.source.site_info = site
        return list(site["boards"])

    def _board_ids(self, named: list[str]) -> list[str]:
        """The full ids of the scope's boards: a board may be named by its 8-character short
        link (its URL's), but the horizon is read from the full id and the streams, the cards'
        ``idBoard`` and the webhooks' actions use it. A short link is resolved once (one board
        request) and kept in ``site_info["board_ids"]``, where the webhook handler's
        ``mirrored_boards`` finds it; streams a sync kept under the short link move to the id."""
        site = dict(self.source.site_info or {})
        known: dict[str, str] = dict(site.get("board_ids") or {})
        missing = [b for b in named if not is_board_id(b) and b not in known]
        for short in missing:
            board = self.client.board(short, lists=None, customFields=None, labels=None, members=None)
            if not is_board_id(board.get("id")):
                raise Fatal(f"Trello board {short!r} answered without a board id")
            known[short] = board["id"]
        if missing:
            site["board_ids"] = known
            save_site_info(self.ctx.db, self.source_id, site)
            self.source.site_info = site
            self._rekey_streams({s: known[s] for s in missing})
        return list(dict.fromkeys(known.get(b, b) for b in named))

    def _rekey_streams(self, ids: dict[str, str]) -> None:
        moved: dict[str, str | None] = {}
        for short, full in ids.items():
            for kind in ("actions", "board", "history"):
                old, new = f"{kind}:{short}", f"{kind}:{full}"
                if self.cursors.get(old) and not self.cursors.get(new):
                    moved[new] = self.cursors[old]
        if moved:
            with self.ctx.db.write() as conn:
                for stream, cursor in moved.items():
                    set_cursor(conn, self.source_id, stream, cursor)
            self.cursors.update(moved)

    def _only(self, board_id: str, ctx: BoardContext) -> Any:
        # The context for a re-fetched card: this board's; a card now on another mirrored
        # board is left to that board's own pass (None), one elsewhere is out of scope.
        return lambda card_board: ctx if card_board in (board_id, None) else None

    # --- backfill -------------------------------------------------------------------------
    def _backfill(self, board_id: str) -> None:
        state = load_history(self.cursors, board_id)
        resuming = state is not None and not state.done and bool(state.top)
        if resuming:
            assert state is not None and state.top
            top = state.top  # resuming a history: what came after its start is read as its head
        else:
            newest = self.client.actions(board_id, limit=1)
            top = newest[0]["id"] if newest else ""
        board = self.client.board(board_id)
        cards = self.client.cards(board_id, "all")
        ctx = BoardContext.from_board_json(
            {**board, "cards": cards}, timezone=self.tz, milestone_label=self.label
        )
        name = board.get("name") or board_id
        self.ctx.recorder.items_seen += len(cards)
        ids = self._scope({c["id"] for c in cards})
        if state is None or not state.done:
            # a fresh read starts at the newest action (after the card fetch); a resumed one
            # goes on with the older pages, then reads what came after its start
            seen = Seen(floor=top or None)
            state = self.history.read(
                board_id, ctx, state or self._new_history(board_id, top), ids, name, seen
            )
            if resuming:
                self.history.read_head(board_id, ctx, state, seen, ids)
        else:
            # the history was read by an earlier run (a full sync, or a run that died after
            # it): what happened since the last poll, or the history's start, is read first,
            # or a member's hours changes there would only show as carried-in hours
            since = self.cursors.get(f"actions:{board_id}") or state.top
            seen = Seen(floor=since or None)
            self.history.read_head(board_id, ctx, state, seen, ids)
        effects = self.history.settle(cards, ctx, state, seen=seen)
        self._apply(board_id, board, ctx, effects, top)
        self._settle_elsewhere(board_id, ids)
        self.ctx.progress(f"cards {name}", len(cards), len(cards))

    def _scope(self, current: set[str]) -> CardScope:
        # a card moved to another mirrored board keeps its history from this one
        return CardScope(current=current, mirrored=self.mirrored or None)

    def _new_history(self, board_id: str, top: str | None) -> HistoryState:
        horizon, _ = horizon_for(self.source.scope, board_id)
        return HistoryState(horizon=horizon.isoformat(), top=top or None)

    def _catch_up_history(self, board_id: str) -> None:
        """A board synced before histories were read: read its history once, then settle its
        stored cards against it (started/completed times, carried-in hours)."""
        state = load_history(self.cursors, board_id)
        if state is not None and state.done:
            return
        cursor = all_cursors(self.ctx.db, self.source_id).get(f"actions:{board_id}") or None
        ctx = self._context(board_id)
        cards = self._stored_cards(board_id)
        seen = Seen(floor=cursor)  # the stored cards hold what the polls read, up to the cursor
        scope = self._scope({c["id"] for c in cards})
        state = self.history.read(
            board_id,
            ctx,
            state or self._new_history(board_id, cursor),
            scope,
            ctx.board_name or board_id,
            seen,
        )
        effects = self.history.settle(cards, ctx, state, seen=seen)
        with self.ctx.db.write() as conn:
            stats = store.apply_effects(conn, self.source.org_id, self.source_id, effects)
        self.ctx.recorder.items_changed += stats.changed + stats.deleted
        self._settle_elsewhere(board_id, scope)

    def _settle_elsewhere(self, board_id: str, scope: CardScope) -> None:
        """Cards this board's history saw that are on another mirrored board now, settled
        there again when that board's history was read before this one's (an earlier board of
        the run): their start and their carried-in hours come from both boards' rows."""
        others = sorted(scope.elsewhere())
        if not others:
            return
        T = table(Task)
        by_board: dict[str, list[dict[str, Any]]] = {}
        with self.ctx.db.read() as conn:
            for i in range(0, len(others), 500):
                for raw in conn.execute(
                    sa.select(T.c.raw).where(
                        T.c.source_id == self.source_id,
                        T.c.deleted_at.is_(None),
                        T.c.external_id.in_(others[i : i + 500]),
                    )
                ).scalars():
                    other = raw.get("idBoard") if isinstance(raw, dict) else None
                    if isinstance(other, str) and other != board_id and other in self.mirrored:
                        by_board.setdefault(other, []).append(raw)
        if not by_board:
            return
        cursors = all_cursors(self.ctx.db, self.source_id)
        for other, cards in by_board.items():
            state = load_history(cursors, other)
            if state is None or not state.done:
                continue  # that board's own read settles them
            # the stored cards hold what the polls read, up to that board's cursor
            seen = Seen(floor=cursors.get(f"actions:{other}") or state.top)
            effects = self.history.settle(cards, self._context(other), state, seen=seen)
            with self.ctx.db.write() as conn:
                stats = store.apply_effects(conn, self.source.org_id, self.source_id, effects)
            self.ctx.recorder.items_changed += stats.changed + stats.deleted

    def _stored_cards(self, board_id: str) -> list[dict[str, Any]]:
        T = table(Task)
        with self.ctx.db.read() as conn:
            raws = conn.execute(
                sa.select(T.c.raw).where(
                    T.c.source_id == self.source_id,
                    T.c.deleted_at.is_(None),
                    T.c.raw["idBoard"].as_string() == board_id,
                )
            ).scalars()
            return [r for r in raws if isinstance(r, dict) and isinstance(r.get("id"), str)]

    # --- incremental ------------------------------------------------------------------------
    def _incremental(self, board_id: str, since: str) -> None:
        actions = self.client.actions_since(board_id, since or None)
        if not actions:
            return
        stored = load_board_context(
            self.ctx.db,
            self.source_id,
            board_id,
            timezone=self.tz,
            milestone_label=self.label,
        )
        ctx = stored
        board: dict[str, Any] | None = None
        if stored is None or any(a.get("type") in STRUCTURAL for a in actions):
            board = self.client.board(board_id)
            ctx = BoardContext.from_board_json(board, timezone=self.tz, milestone_label=self.label)
            if stored is not None:
                ctx.milestones.update(stored.milestones)
        assert ctx is not None
        effects, refetch = plan_actions(actions, ctx, self.profile)
        effects += self._refetch(board_id, refetch, ctx)
        if board is not None:
            effects += remap_stored(
                self.ctx.db,
                self.source_id,
                board_id,
                ctx,
                self.profile,
                exclude=set(refetch),
            )
        self._apply(board_id, board, ctx, effects, actions[-1]["id"])
        self.ctx.recorder.items_seen += len(actions)

    def _refetch(
        self, board_id: str, refetch: dict[str, list[Any]], ctx: BoardContext
    ) -> list[Effect]:
        if not refetch:
            return []
        if use_card_list(len(refetch), self._stored_count(board_id)):
            cards = {c["id"]: c for c in self.client.cards(board_id, "all")}
            fetched: dict[str, dict[str, Any] | None] = {cid: cards.get(cid) for cid in refetch}
            gone = [cid for cid, card in fetched.items() if card is None]
            if gone:  # not on this board any more: deleted, or moved to another board?
                fetched.update(self.client.cards_batch(gone))
        else:
            fetched = self.client.cards_batch(list(refetch))
        return merge_refetched(
            fetched,
            refetch,
            self._only(board_id, ctx),
            self.profile,
            self.source_id,
            self.mirrored,
        )

    def _stored_count(self, board_id: str) -> int:
        T = table(Task)
        with self.ctx.db.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        T.c.source_id == self.source_id,
                        T.c.deleted_at.is_(None),
                        T.c.raw["idBoard"].as_string() == board_id,
                    )
                ).scalar()
                or 0
            )

    def _apply(
        self,
        board_id: str,
        board: dict[str, Any] | None,
        ctx: BoardContext,
        effects: list[Effect],
        cursor: str,
    ) -> None:
        sid, org = self.source_id, self.source.org_id
        with self.ctx.db.write() as conn:
            if board is not None:
                store.upsert_projects(conn, org, sid, [(board_id, None, board.get("name"))])
            stats = store.apply_effects(conn, org, sid, effects)
            if board is not None:
                save_board_context(conn, sid, board, ctx)
            set_cursor(conn, sid, f"actions:{board_id}", cursor)
        self.ctx.recorder.items_changed += stats.changed + stats.deleted

    # --- census -----------------------------------------------------------------------------
    def _census(self, board_id: str) -> None:
        """Reconcile the board with its whole card list (one request), whatever the action
        log said: stored cards Trello no longer lists here are tombstoned (404 → deleted, on
        a board we do not mirror → out of scope, on another mirrored board → mapped there);
        listed cards we lack or hold in another version are upserted."""
        cards = self.client.cards(board_id, "all")
        live = {c["id"]: c for c in cards}
        T = table(Task)
        with self.ctx.db.read() as conn:
            stored = dict(
                conn.execute(
                    sa.select(T.c.external_id, T.c.remote_updated_at).where(
                        T.c.source_id == self.source_id,
                        T.c.deleted_at.is_(None),
                        T.c.raw["idBoard"].as_string() == board_id,
                    )
                ).all()
            )
        missing = sorted(set(stored) - set(live))
        found = self.client.cards_batch(missing) if missing else {}
        effects: list[Effect] = []
        elsewhere: dict[str, list[dict[str, Any]]] = {}
        for cid in missing:
            card = found.get(cid)
            if card is None:
                effects.append(
                    TaskDelete(external_id=cid, at=utcnow(), reason=DeletedReason.deleted)
                )
            elif card.get("idBoard") not in self.mirrored:
                effects.append(
                    TaskDelete(external_id=cid, at=utcnow(), reason=DeletedReason.out_of_scope)
                )
            else:
                elsewhere.setdefault(card["idBoard"], []).append(card)
        for other, moved in elsewhere.items():
            octx = self._context(other)
            effects += card_upserts(moved, octx, self.profile, self.source_id)
        stale = [
            c
            for cid, c in live.items()
            if cid not in stored
            or _utc(parse_datetime(c.get("dateLastActivity"))) != _utc(stored[cid])
        ]
        if stale:
            effects += card_upserts(stale, self._context(board_id), self.profile, self.source_id)
        state = load_history(self.cursors, board_id)
        if state is not None and state.done:  # a card's hours its worklogs do not explain
            # what happened since the last poll is read first (normally one request; the poll
            # reads it again and stores each row once), or an hours change not polled yet
            # would be carried in here and logged again by the poll
            ctx = self._context(board_id)
            seen = Seen(floor=self.cursors.get(f"actions:{board_id}") or state.top)
            self.history.read_head(board_id, ctx, state, seen, self._scope(set(live)))
            effects += self.history.settle(cards, ctx, state, seen=seen, upserts=False)
        with self.ctx.db.write() as conn:
            stats = store.apply_effects(conn, self.source.org_id, self.source_id, effects)
        self.ctx.recorder.items_seen += len(live)
        self.ctx.recorder.items_changed += stats.changed + stats.deleted
        for reason in DeletedReason:
            self.ctx.recorder.tombstoned(
                reason.value, [e.external_id for e in effects if isinstance(e, TaskDelete) and e.reason is reason])

    def _context(self, board_id: str) -> BoardContext:
        ctx = load_board_context(
            self.ctx.db,
            self.source_id,
            board_id,
            timezone=self.tz,
            milestone_label=self.label,
        )
        if ctx is None:
            board = self.client.board(board_id)
            ctx = BoardContext.from_board_json(board, timezone=self.tz, milestone_label=self.label)
            with self.ctx.db.write() as conn:
                save_board_context(conn, self.source_id, board, ctx)
        return ctx


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None and value.tzinfo else value


def use_card_list(changed: int, stored: int) -> bool:
    """Re-read the board's whole card list instead of ``/batch`` (10 cards a call)?

    Requests are what Trello rations (100 / 10 s per token), so the one-request card
    list wins as soon as batching needs more than one call and most of the board
    changed, or when batching would take 10+ calls whatever the board size.
    """
    calls = math.ceil(changed / BATCH_SIZE)
    return calls > 1 and (changed * 2 > stored or calls >= 10)


register_syncer("trello", TrelloSyncer)
