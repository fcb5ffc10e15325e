"""A Trello board's action history, read once: the change history and the hours worklogs
from the board's whole life (or from the source's ``scope.history_since``), then the
cards' started/completed times and carried-in hours derived from it.

Reference: https://developer.atlassian.com/cloud/trello/rest/api-group-boards/#api-boards-id-actions-get
(``GET /boards/{id}/actions``: newest first, ``limit`` ≤ 1000, ``before``/``since`` an
action id or a date, ``filter`` a comma-separated list of types) and METRICS.md
"Worklogs from Trello".

The read is resumable: after every page, in the page's own transaction, the stream
``history:<board id>`` in ``sync_state`` records the oldest action id read (``before``
for the next page), the newest action id at the start (``top``) and the horizon; a run
killed mid-history continues from there, and ``done`` says the board's history was read
(sources synced before the history existed get theirs read once on their next sync).

Derived per card (``settle``):

- ``started_at``: its first entry into an in-progress list, ``completed_at`` (a card done
  now): its last entry into a done list, from the stored change rows;
- the carried-in entry: its hours minus what its stored hours-change worklogs explain,
  both as of the newest action read (``Seen``): every action after the last one known
  before the card list was fetched (the history's start, the actions cursor) is read and
  stored first — the history itself, or its head (``read_head``: a resumed history, a full
  sync, a run that died after its history, the census) — so a change made before or after
  the card fetch, whether or not Trello moved the card's ``dateLastActivity``, is a worklog
  and never also carried in. One worklog at the horizon with no author, replaced by its
  external id when the card's hours and its worklogs disagree (a census, a full re-read),
  deleted when nothing is left to carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa

from connectors.trello.client import TrelloClient
from mappings.model import (
    Change,
    Effect,
    StatusCategory,
    TaskDelete,
    TaskPatch,
    TaskUpsert,
    WorklogDelete,
    WorklogUpsert,
)
from mappings.profile import MappingProfile
from mappings.trello import (
    CARRIED_IN_SUFFIX,
    BoardContext,
    card_hours_seconds,
    carried_in_worklog,
    default_horizon,
    hours_after,
    map_action,
    worklog_effects,
)
from mappings.trello.values import as_dict
from service import store
from service.db import Database
from service.store.tasks import change_rows, insert_changes
from service.sync.state import all_cursors, set_cursor
from service.sync.trello_boards import card_upserts, moves_kept
from service.tables import Change as ChangeRow
from service.tables import Worklog as WorklogRow
from service.tables import table, utcnow

__all__ = [
    "HISTORY_FILTER",
    "HistoryState",
    "Seen",
    "history_stream",
    "load_history",
    "horizon_for",
    "history_effects",
    "CardScope",
    "BoardHistory",
]

# One filter for every type the mapping reads, so the whole history is one paged stream.
# Whole ``updateCard``: list moves, archives, due dates and dueComplete are all in it, and
# only ``updateCard:idList|closed|name|desc`` are documented shortcuts (VENDOR_FACTS B5).
HISTORY_FILTER = ",".join(
    (
        "createCard",
        "copyCard",
        "convertToCardFromCheckItem",
        "emailCard",
        "moveCardToBoard",
        "updateCard",
        "addMemberToCard",
        "removeMemberFromCard",
        "updateCustomFieldItem",
        # where a card went: its rows are kept unless it was deleted or left the mirrored boards
        "deleteCard",
        "moveCardFromBoard",
    )
)
C, W = table(ChangeRow), table(WorklogRow)


@dataclass
class CardScope:
    """Whose rows a board's history keeps: every card that was on the board, wherever it is
    now — on this board, or moved to another board the source mirrors (its history here is
    its history) — except the cards the history saw deleted or moved to a board the source
    does not mirror (``gone``, noted as pages are read, newest first: a card's fate comes
    before its older actions). ``mirrored`` None: every board counts as mirrored."""

    current: set[str]
    mirrored: set[str] | None = None
    gone: set[str] = field(default_factory=set)
    kept: set[str] = field(default_factory=set)  # the cards whose rows were kept

    def elsewhere(self) -> set[str]:
        """Cards with rows kept that are not on the board now (moved to a mirrored board)."""
        return self.kept - self.current - self.gone

    def note(self, action: dict[str, Any]) -> None:
        kind = action.get("type")
        if kind not in ("deleteCard", "moveCardFromBoard"):
            return
        data = as_dict(action.get("data"))
        card = as_dict(data.get("card")).get("id")
        if not isinstance(card, str) or card in self.current:
            return
        target = as_dict(data.get("boardTarget")).get("id")
        if kind == "deleteCard" or (self.mirrored is not None and target not in self.mirrored):
            self.gone.add(card)

    def keeps(self, card_id: str) -> bool:
        if card_id in self.gone:
            return False
        self.kept.add(card_id)
        return True


@dataclass
class Seen:
    """What a run read of a board's actions, for settling a card list against it.

    ``floor``: the card list holds every change up to this action id (it was read before
    the cards were fetched); every action after it, up to ``newest``, was read in this run
    and its worklogs and change rows stored (those up to ``floor`` were stored before).
    ``hours``: per card, its hours value right after its newest hours change in
    (``floor``, ``newest``], with that change's id. So a card's hours as of ``newest`` are
    ``hours`` where it has an entry, else the card list's value, and the worklogs that
    explain them are those with an id up to ``newest`` — whatever Trello does to a card's
    ``dateLastActivity``, and whether a change came before or after the card fetch.
    """

    floor: str | None
    newest: str | None = None
    hours: dict[str, tuple[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.newest = self.newest or self.floor

    def note(self, actions: Iterable[dict[str, Any]], ctx: BoardContext, profile: MappingProfile) -> None:
        for action in actions:
            action_id = action.get("id") if isinstance(action, dict) else None
            if not isinstance(action_id, str) or (self.floor is not None and action_id <= self.floor):
                continue
            if self.newest is None or action_id > self.newest:
                self.newest = action_id
            after = hours_after(action, ctx, profile)
            if after is not None:
                card, seconds = after
                known = self.hours.get(card)
                if known is None or action_id > known[0]:
                    self.hours[card] = (action_id, seconds)


def history_stream(board_id: str) -> str:
    return f"history:{board_id}"


@dataclass
class HistoryState:
    """Where a board's history read stands (the ``history:<board>`` cursor, as JSON)."""

    horizon: str  # ISO timestamp: actions before it are not read
    top: str | None = None  # the newest action id when the read began
    before: str | None = None  # the oldest action id read: the next page is older
    done: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @property
    def horizon_at(self) -> datetime:
        return datetime.fromisoformat(self.horizon)


def load_history(cursors: dict[str, str | None], board_id: str) -> HistoryState | None:
    raw = cursors.get(history_stream(board_id))
    if not raw:
        return None
    data = json.loads(raw)
    return HistoryState(
        horizon=data["horizon"], top=data.get("top"), before=data.get("before"), done=bool(data.get("done"))
    )


def horizon_for(scope: dict[str, Any] | None, board_id: str) -> tuple[datetime, bool]:
    """The board's history horizon and whether it is the board's whole life: the source's
    ``scope.history_since`` (a date is its start, UTC) when later than the board's creation,
    else the creation."""
    born = default_horizon(board_id)
    since = (scope or {}).get("history_since")
    if not since:
        return born, True
    value = since if isinstance(since, (date, datetime)) else _parse_since(str(since))
    at = value if isinstance(value, datetime) else datetime.combine(value, time.min, tzinfo=UTC)
    at = at.astimezone(UTC)
    return (born, True) if at <= born else (at, False)


def _parse_since(text: str) -> date | datetime:
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def history_effects(
    actions: Iterable[dict[str, Any]],
    ctx: BoardContext,
    profile: MappingProfile,
    source_id: int,
    cards: CardScope | None,
) -> tuple[list[Change], list[WorklogUpsert]]:
    """The change rows and hours worklogs of a page of history (newest first), for the cards
    ``cards`` keeps (None: any). Card fields the actions tell are not applied: the card list
    is the truth for them; only what happened, and when, is kept."""
    changes: list[Change] = []
    worklogs: list[WorklogUpsert] = []
    for action in actions:
        if not isinstance(action, dict):
            continue
        if cards is not None:
            cards.note(action)
        if action.get("type") == "updateCustomFieldItem":  # a worklog at most; its patch asks for a re-fetch
            for effect in worklog_effects(action, ctx, profile, source_id=source_id):
                if not isinstance(effect, WorklogUpsert):
                    continue
                if cards is None or cards.keeps(effect.worklog.task_external_id):
                    worklogs.append(effect)
        else:  # any other card action: its change rows (a card's entry onto the board included)
            for effect in map_action(action, ctx, profile):
                if isinstance(effect, TaskPatch) and (cards is None or cards.keeps(effect.external_id)):
                    changes.extend(effect.changes)
                elif (isinstance(effect, TaskDelete) and effect.changes
                      and (cards is None or cards.keeps(effect.external_id))):
                    # a move to a board the source does not mirror, of a card that came back
                    changes.extend(moves_kept(effect.changes, cards.mirrored if cards else None))
    return changes, worklogs


class BoardHistory:
    """Reads boards' histories into the store and settles cards against them."""

    def __init__(
        self,
        db: Database,
        client: TrelloClient,
        *,
        org_id: int,
        source_id: int,
        profile: MappingProfile,
        progress: Callable[[str, int, int | None], None],
        renew: Callable[[], None],
    ) -> None:
        self.db, self.client, self.org_id, self.source_id = db, client, org_id, source_id
        self.profile, self.progress, self.renew = profile, progress, renew
        self.actions_read = 0

    def state(self, board_id: str) -> HistoryState | None:
        return load_history(all_cursors(self.db, self.source_id), board_id)

    def read(
        self,
        board_id: str,
        ctx: BoardContext,
        state: HistoryState,
        cards: CardScope | None,
        label: str,
        seen: Seen | None = None,
    ) -> HistoryState:
        """Read (or go on reading) the board's history back to the horizon, one filtered
        1,000-action page a request, storing each page's changes and worklogs with the
        stream's new position (noted in ``seen``). Returns the final state (``done``)."""
        since = self._since(board_id, state)
        pages = self.client.iter_actions(board_id, since, filter=HISTORY_FILTER, before=state.before)
        read = 0
        for p in pages:
            if state.top is None and p.actions:
                state.top = p.actions[0]["id"]
            if seen is not None:
                seen.note(p.actions, ctx, self.profile)
            changes, worklogs = history_effects(p.actions, ctx, self.profile, self.source_id, cards)
            state.before = p.before or state.before
            state.done = p.is_last
            with self.db.write() as conn:
                insert_changes(conn, change_rows(self.org_id, self.source_id, changes))
                store.upsert_worklogs(conn, self.org_id, self.source_id, worklogs)
                set_cursor(conn, self.source_id, history_stream(board_id), state.to_json())
            read += len(p.actions)
            self.actions_read += len(p.actions)
            self.progress(f"history {label}", read, None)
            self.renew()
        return state

    def read_head(
        self,
        board_id: str,
        ctx: BoardContext,
        state: HistoryState,
        seen: Seen,
        cards: CardScope | None,
    ) -> None:
        """Read the board's actions after ``seen.floor`` (normally one filtered request) and
        store their changes and worklogs, as the history does: what came after the history's
        start or the last poll is known before cards are settled against it (a poll reading
        the same actions later stores each row once)."""
        since = seen.floor or self._since(board_id, state)
        for p in self.client.iter_actions(board_id, since, filter=HISTORY_FILTER):
            seen.note(p.actions, ctx, self.profile)
            changes, worklogs = history_effects(p.actions, ctx, self.profile, self.source_id, cards)
            with self.db.write() as conn:
                insert_changes(conn, change_rows(self.org_id, self.source_id, changes))
                store.upsert_worklogs(conn, self.org_id, self.source_id, worklogs)
            self.actions_read += len(p.actions)
            self.renew()

    @staticmethod
    def _since(board_id: str, state: HistoryState) -> str | None:
        return None if state.horizon_at <= default_horizon(board_id) else _iso_z(state.horizon_at)

    # --- settling cards against the stored history ----------------------------------------
    def settle(
        self,
        cards: list[dict[str, Any]],
        ctx: BoardContext,
        state: HistoryState | None,
        *,
        seen: Seen,
        upserts: bool = True,
    ) -> list[Effect]:
        """The cards' upserts with ``started_at``/``completed_at`` from the stored history
        (``upserts``), and their carried-in entries where they disagree with what is stored;
        nothing from the history while the board's history is not read (``state`` not done).
        ``seen``: what was read around the card list (``Seen``)."""
        effects = card_upserts(cards, ctx, self.profile, self.source_id) if upserts else []
        if state is None or not state.done:
            return effects
        ids = [c["id"] for c in cards if isinstance(c, dict) and isinstance(c.get("id"), str)]
        dates = self._dates(ids) if upserts else {}
        for e in effects:
            if isinstance(e, TaskUpsert) and e.task.external_id in dates:
                started, completed = dates[e.task.external_id]
                if started is not None:
                    e.task.started_at = started
                if completed is not None and e.task.status_category is StatusCategory.done:
                    e.task.completed_at = completed
        return effects + self._carried_in(cards, ctx, state.horizon_at, ids, seen)

    def _dates(self, ids: list[str]) -> dict[str, tuple[datetime | None, datetime | None]]:
        is_status = C.c.field == "status"
        first_wip = sa.func.min(sa.case((sa.and_(is_status, C.c.to_category == "in_progress"), C.c.changed_at)))
        last_done = sa.func.max(sa.case((sa.and_(is_status, C.c.to_category == "done"), C.c.changed_at)))
        out: dict[str, tuple[datetime | None, datetime | None]] = {}
        with self.db.read() as conn:
            for part in _chunks(ids):
                q = (
                    sa.select(C.c.task_external_id, first_wip, last_done)
                    .where(C.c.source_id == self.source_id, C.c.task_external_id.in_(part), is_status)
                    .group_by(C.c.task_external_id)
                )
                for ext, started, done in conn.execute(q):
                    out[ext] = (_aware(started), _aware(done))
        return out

    def _carried_in(
        self,
        cards: list[dict[str, Any]],
        ctx: BoardContext,
        horizon: datetime,
        ids: list[str],
        seen: Seen,
    ) -> list[Effect]:
        upto = seen.newest
        logged: dict[str, int] = {}
        carried: dict[str, int] = {}
        with self.db.read() as conn:
            for part in _chunks(ids):
                q = sa.select(W.c.task_external_id, W.c.external_id, W.c.seconds, W.c.carried_in).where(
                    W.c.source_id == self.source_id, W.c.task_external_id.in_(part), W.c.deleted_at.is_(None)
                )
                for ext, wid, seconds, is_carried in conn.execute(q):
                    if is_carried or wid.endswith(CARRIED_IN_SUFFIX):
                        carried[ext] = carried.get(ext, 0) + int(seconds)
                    elif upto is None or wid <= upto:
                        # an hours change up to what was read (a worklog's id is its action's);
                        # one from before the horizon too (read on another mirrored board the
                        # card was on): it is counted, so it explains part of the card's hours
                        logged[ext] = logged.get(ext, 0) + int(seconds)
        out: list[Effect] = []
        now = utcnow()
        for card in cards:
            card_id = card.get("id") if isinstance(card, dict) else None
            if not isinstance(card_id, str):
                continue
            explained = logged.get(card_id, 0)
            # the card's hours as of ``upto``: after its newest change read, else the card list's
            known = seen.hours.get(card_id)
            hours = known[1] if known is not None else card_hours_seconds(card, ctx, self.profile)
            if hours - explained == carried.get(card_id, 0):
                continue  # the card's hours and its worklogs agree
            entry = carried_in_worklog(card_id, hours, explained, horizon, source_id=self.source_id, as_of=now)
            if entry is not None:
                out.append(WorklogUpsert(worklog=entry))
            else:
                out.append(WorklogDelete(external_id=card_id + CARRIED_IN_SUFFIX, task_external_id=card_id))
        return out


def _chunks(ids: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso_z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
