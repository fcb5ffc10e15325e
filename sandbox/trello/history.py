"""One card's back-dated life, recorded as the actions Trello would have logged.

The generator decides where a card ends up (its list, due date, hours); this module
plays the way there, in time order, through the ordinary mutations so every action
has Trello's shape (``realdata/trello-rest/ruby-trello/can_get_actions_of_board``
and the captured webhooks):

- ``createCard`` by a team member;
- list moves (``updateCard`` with ``listBefore``/``listAfter``) forward through the
  workflow, some of them sent back a list and forward again (a review that failed,
  a done card reopened);
- due dates added, moved or removed later (``updateCard`` with ``data.old.due``),
  ``dueComplete`` ticked when the card reaches Done;
- the hours field (``updateCustomFieldItem``, ``data.old.value``) filled in over
  weeks by different members: going up, sometimes down (a correction), sometimes
  removed and entered again, or entered and removed for good;
- archiving (``updateCard`` with ``data.old.closed``), now and then undone.

It draws from its own random stream, so the board's final state is the same as
without history; only the log differs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.trello import mutations as m
from sandbox.trello.ids import iso, parse_iso
from sandbox.trello.records import Card, CustomField, TList
from sandbox.trello.state import TrelloState

__all__ = ["CardLife", "hours_path"]

DAY = 86_400.0
DOING = 2  # index of the first in-progress list in the generator's workflow
_BOUNCE = 0.2  # share of moves into Doing or later that go back a list and forward again
_DUE_CHANGED = 0.35  # share of cards with a due date that got it (or its value) later
_DUE_DROPPED = 0.05  # share of cards without a due date that had one and lost it
_REOPENED = 0.02  # share of open cards that were archived once and sent back


def hours_path(rng: random.Random, final: float | None) -> list[float | None]:
    """The successive values of an hours field that ends at ``final`` (None: empty).

    Half-hour steps going up, sometimes past ``final`` and back down (a correction),
    sometimes removed on the way and entered again. ``final`` None gives a value
    entered and later removed.
    """
    if final is None:
        first = rng.choice((0.5, 1.0, 2.0, 3.0, 4.0))
        path: list[float | None] = [first]
        if rng.random() < 0.5:
            path.append(first + rng.choice((0.5, 1.0, 2.0)))
        return [*path, None]
    grid = [x / 2 for x in range(1, int(final * 2))]  # half hours below the final value
    path = [*sorted(rng.sample(grid, min(len(grid), rng.randint(0, 3)))), final]
    if rng.random() < 0.3:
        path.insert(len(path) - 1, final + rng.choice((0.5, 1.0, 2.0)))  # then corrected down
    if len(path) >= 2 and rng.random() < 0.12:
        path.insert(rng.randint(1, len(path) - 1), None)  # removed, then entered again
    out: list[float | None] = []
    for value in path:
        if not out or out[-1] != value:
            out.append(value)
    return out


@dataclass
class CardLife:
    """The history of one card, planned from the generator's decisions and then played.

    Build it before the card exists (``creator`` and ``initial_due`` are needed to
    create it), then ``play`` it once the card is there.
    """

    rng: random.Random
    created: float
    now: float
    team: Sequence[str]
    assignees: Sequence[str]
    creator: str = ""
    _due_plan: tuple[str | None, str | None] | None = None  # (at creation, final)
    _events: list[tuple[float, int, str, Any, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.creator = self.rng.choice(list(self.team))

    def initial_due(self, final: str | None) -> str | None:
        """The due date the card is created with; a later change brings it to ``final``."""
        rng = self.rng
        if final is not None and rng.random() < _DUE_CHANGED:
            first = (
                None
                if rng.random() < 0.5
                else iso(parse_iso(final) - rng.choice((2, 3, 5, 7, 14)) * DAY)
            )
            self._due_plan = (first, final)
            return first
        if final is None and rng.random() < _DUE_DROPPED:
            first = iso(self.created + rng.uniform(5, 30) * DAY)
            self._due_plan = (first, None)
            return first
        return final

    def play(
        self,
        state: TrelloState,
        card: Card,
        lists: Sequence[TList],
        moves: Sequence[tuple[int, float]],
        *,
        due_complete: bool,
        hours_field: CustomField,
        hours: float | None,
        closed_at: float | None,
    ) -> None:
        """Record the card's life: ``moves`` are (list index, time) of its forward walk;
        ``hours`` its final hours value; ``closed_at`` when it was archived for good."""
        rng = self.rng
        stop = min(self.now - 60, closed_at - 1) if closed_at is not None else self.now - 60
        last = moves[-1][1] if moves else self.created
        for i, (target, ts) in enumerate(moves):
            self._add(ts, "move", lists[target].id)
            if target >= DOING and rng.random() < _BOUNCE:
                hi = moves[i + 1][1] if i + 1 < len(moves) else min(stop, ts + 10 * DAY)
                if hi - ts > 120:
                    back, forth = sorted(rng.uniform(ts + 1, hi - 1) for _ in range(2))
                    self._add(back, "move", lists[target - 1].id)
                    self._add(forth, "move", lists[target].id)
        if self._due_plan is not None:
            cap = min(stop, self.created + 21 * DAY, last if due_complete else stop)
            self._add(self._between(self.created + 1, cap), "due", self._due_plan[1])
        if due_complete:
            self._add(min(stop, last + rng.uniform(60, 2 * DAY)), "dueComplete", True)
        doing = next((ts for target, ts in moves if target >= DOING), None)
        if doing is not None and (hours is not None or rng.random() < 0.25):
            path = hours_path(rng, hours)
            end = stop if moves[-1][0] < len(lists) - 1 else min(stop, last + 2 * DAY)
            for ts, value in zip(
                sorted(self._between(min(doing + 60, end), end) for _ in path), path, strict=True
            ):
                self._add(ts, "hours", value)
        if closed_at is not None:
            self._add(closed_at, "closed", True)
        elif rng.random() < _REOPENED:
            archived, restored = sorted(self._between(self.created + 1, stop) for _ in range(2))
            self._add(archived, "closed", True)
            self._add(restored, "closed", False)
        for ts, _seq, kind, value, by in sorted(self._events, key=lambda e: (e[0], e[1])):
            if kind == "move":
                m.move_card(state, card.id, value, ts=ts, by=by)
            elif kind == "hours":
                m.set_custom_field(state, card.id, hours_field.id, value, ts=ts, by=by)
            elif kind == "closed":
                m.set_card_closed(state, card.id, value, ts=ts, by=by)
            else:  # due, dueComplete
                m.update_card(state, card.id, {kind: value}, ts=ts, by=by)
        self._events.clear()

    def _add(self, ts: float, kind: str, value: Any) -> None:
        by = self.rng.choice(list(self.assignees or self.team))
        if kind == "hours" and self.rng.random() < 0.5:
            by = self.rng.choice(list(self.team))  # a lead or a colleague books time too
        self._events.append((ts, len(self._events), kind, value, by))

    def _between(self, lo: float, hi: float) -> float:
        return self.rng.uniform(lo, max(lo, hi))
