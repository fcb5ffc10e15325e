"""A seeded generator of realistic Trello boards.

Each board gets the lists Backlog → To Do → Doing → Review → Done, labels (including
``Milestone``), members, the custom fields Estimate (hours), Points, Hours spent,
Cost and Priority (list) with string values as Trello stores them, checklists, due
dates (some past, some complete), milestone cards with the cards planned for them
(a label named like the milestone card: how taskhub links a card to a milestone card,
``mappings/trello/cards.py``), older cards further along the workflow than new ones,
every other board's cards all estimated, and an action history over the board's whole
life, back-dated over the last months (``history.py``): card
creation, list moves with some back and forth, due dates added and moved,
``dueComplete``, archives, and every change of the Hours spent field
(``updateCustomFieldItem``) by the member who made it. Same seed and same ``now``
→ same ids and data; how the history gets there never changes where the cards end
up (it draws from its own random stream). ``history=False`` records only creations
(in the final list) and archives. Compact enough for 50 boards × 1,000 cards: the
other custom field values and checklists are seeded without actions.

The members are the people of the Jira generator (``sandbox.jira.generator.PEOPLE``) and
others, as a real organization's tools would name them: most under the same display name,
some under a near one (a middle initial, a short first name), a few with the same username
as in Jira Data Center, so a people-link suggestion has evidence of each kind to show.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

from sandbox.trello import mutations as m
from sandbox.trello.history import CardLife
from sandbox.trello.ids import iso, parse_iso
from sandbox.trello.records import Board, Card, CheckItem, Checklist, CustomField, CustomFieldItem
from sandbox.trello.state import TrelloState

__all__ = ["generate", "LIST_NAMES", "LABELS", "CUSTOM_FIELDS", "PRIORITIES"]

DAY = 86_400.0
LIST_NAMES = ("Backlog", "To Do", "Doing", "Review", "Done")
# Where a card ends up (Backlog .. Done), by its age on the board: the oldest third is
# mostly done, the newest third mostly not started, as on a board in real use (_stage_weights).
_STAGE_WEIGHTS = ((30, 30, 20, 10, 10), (15, 25, 20, 10, 30), (5, 10, 15, 10, 60))
_COMPLETED_MILESTONE_WEIGHTS = (0, 0, 1, 1, 98)  # the cards of a completed milestone
_PAST_MILESTONE_WEIGHTS = (1, 2, 3, 4, 90)  # a milestone card made long enough ago to be past due
_MILESTONE_PAST = 80 * DAY  # (due 3 to 11 weeks after it is made: _dates)
_LINKED_SHARE = 0.8  # of the other cards: planned for a milestone (carry its label)
_ESTIMATED = (1.0, 0.75)  # share of cards with an Estimate: every other board's team estimates all
_LEAD = 7 * DAY  # a card is planned for a milestone due at least this long after it is made
_MILESTONE_COLOR = "sky"  # the labels named like milestone cards
LABELS = (
    ("Milestone", "purple"),
    ("Bug", "red"),
    ("Feature", "green"),
    ("Chore", "yellow"),
    ("Urgent", "orange"),
    ("Design", "blue"),
)
PRIORITIES = ("Low", "Medium", "High", "Critical")
CUSTOM_FIELDS = (
    ("Estimate", "number"),
    ("Points", "number"),
    ("Hours spent", "number"),
    ("Cost", "number"),
    ("Priority", "list"),
)
_PROJECTS = (
    "Website Relaunch",
    "Mobile App",
    "Data Platform",
    "Customer Portal",
    "Billing Revamp",
    "Onboarding Flow",
    "Search Upgrade",
    "Analytics Dashboard",
    "Partner API",
    "Support Tools",
    "Security Audit",
    "Infra Migration",
)
# (full name, username): the positions matter (board teams are drawn by position).
_PEOPLE = (
    ("Ada Lovelace", "adalovelace"),
    ("Grace Hopper", "grace"),  # Jira DC name "grace" too
    ("Alan Turing", "alanturing"),
    ("Edsger W. Dijkstra", "edsger"),  # a near name, Jira DC name "edsger"
    ("Barbara Liskov", "barbaraliskov"),
    ("Donald Knuth", "donaldknuth"),
    ("Margaret Hamilton", "margaret"),  # Jira DC name "margaret" too
    ("Ken Thompson", "kenthompson"),
    ("Frances Allen", "francesallen"),
    ("John Backus", "johnbackus"),
    ("Kathy Johnson", "katherine"),  # Jira's Katherine Johnson: a near name, same DC name
    ("Tim Berners-Lee", "timbernerslee"),
)
_VERBS = (
    "Design",
    "Implement",
    "Review",
    "Fix",
    "Document",
    "Test",
    "Refactor",
    "Migrate",
    "Deploy",
    "Measure",
    "Polish",
    "Automate",
)
_NOUNS = (
    "login page",
    "payment flow",
    "search index",
    "export job",
    "email templates",
    "API client",
    "permissions model",
    "dashboard charts",
    "mobile layout",
    "audit log",
    "billing report",
    "webhook handler",
    "cache layer",
    "onboarding tour",
    "settings screen",
    "error pages",
)


def generate(
    state: TrelloState,
    boards: int = 4,
    cards_per_board: int = 60,
    *,
    seed: int = 0,
    now: float | None = None,
    history: bool = True,
) -> list[str]:
    """Add ``boards`` boards of ``cards_per_board`` cards each; return the new board ids."""
    rng = random.Random(seed)
    now = state.now() if now is None else now
    with state.lock:
        people = _members(state, rng, now)
        # Teams first: who works on which board does not depend on how many cards there are.
        teams = [rng.sample(people, rng.randint(3, 6)) for _ in range(boards)]
        created: list[str] = []
        for index in range(boards):
            name = _PROJECTS[index % len(_PROJECTS)]
            if index >= len(_PROJECTS):
                name = f"{name} {index // len(_PROJECTS) + 1}"
            board = _board(state, rng, name, teams[index], now)
            _cards(state, rng, board, cards_per_board, now, history, _ESTIMATED[index % 2])
            created.append(board.id)
        for board_id in created:  # after every card: the rest of the site is as it was without them
            _blocked(state, random.Random(f"blocked:{seed}:{board_id}"), state.boards[board_id], now)
        return created


_BLOCKED_SHARE = 0.1  # of the open cards in Doing or Review


def _blocked(state: TrelloState, rng: random.Random, board: Board, now: float) -> None:
    """A "Blocked" label (the default profile's ``trello.blocked_labels``) put on some cards
    being worked on, each with its addLabelToCard action, after the card's last activity."""
    working = {lst.id for lst in board.lists.values() if lst.name in ("Doing", "Review")}
    cards = [c for c in state.cards.values()
             if c.id_board == board.id and c.id_list in working and not c.closed]
    if not cards:
        return
    t0 = min(c.last_activity for c in cards)
    label = m.create_label(state, board.id, "Blocked", "red", ts=min(t0, now - 60))
    for card in sorted(cards, key=lambda c: c.id):
        if rng.random() < _BLOCKED_SHARE and card.last_activity < now - 120:
            at = rng.uniform(card.last_activity + 1, now - 60)
            m.add_card_label(state, card.id, label.id, ts=at, by=rng.choice(board.member_ids))


def _members(state: TrelloState, rng: random.Random, now: float) -> list[str]:
    """The organization's members (their emails stay in Trello: the API returns a member's
    email to that member alone)."""
    existing = {mb.username: mb.id for mb in state.members.values()}
    ids = []
    for full, username in _PEOPLE:
        if username not in existing:
            existing[username] = state.add_member(
                username, full, email=f"{username}@example.test", ts=now - 400 * DAY
            ).id
        ids.append(existing[username])
    return ids


def _board(
    state: TrelloState, rng: random.Random, name: str, team: list[str], now: float
) -> Board:
    t0 = now - rng.uniform(90, 200) * DAY
    board = m.create_board(
        state, name, desc=f"{name}: project board", member_ids=team, ts=t0, default_labels=False
    )
    for label_name, color in LABELS:
        m.create_label(state, board.id, label_name, color, ts=t0)
    for cf_name, cf_type in CUSTOM_FIELDS:
        m.create_custom_field(
            state,
            board.id,
            cf_name,
            cf_type,
            options=PRIORITIES if cf_type == "list" else (),
            ts=t0,
        )
    for list_name in LIST_NAMES:
        m.create_list(state, board.id, list_name, ts=t0)
    return board


def _cards(
    state: TrelloState,
    rng: random.Random,
    board: Board,
    count: int,
    now: float,
    history: bool,
    estimated: float,
) -> None:
    start = int(board.id[:8], 16) + 3600  # ids encode their creation second
    lists = list(board.lists.values())
    labels = {lb.name: lb.id for lb in board.labels.values()}
    fields = {cf.name: cf for cf in board.custom_fields.values()}
    team = [mid for mid in board.member_ids if mid != state.me_id] or board.member_ids
    milestones = max(1, count // 25)
    times = sorted(rng.uniform(start, now - DAY) for _ in range(count))
    # The history draws from its own stream, so `rng` (and the final board) is the same
    # with or without it. The choice of a card's milestone has a stream of its own too, seeded
    # from `rng` (not from the board's id, which depends on how many actions came before).
    life_rng = random.Random(f"history:{board.id}")
    plan = _MilestonePlan(random.Random(rng.getrandbits(64)))
    for i, created in enumerate(times):
        is_milestone = (
            i % max(1, count // milestones) == 0 and i // max(1, count // milestones) < milestones
        )
        milestone = None if is_milestone else plan.milestone_for(created)
        weights = _stage_weights(milestone, is_milestone, created, start, now)
        stage = rng.choices(range(len(LIST_NAMES)), weights=weights)[0]
        first = min(stage, rng.choice((0, 1)))
        due, due_complete, start_date = _dates(rng, created, now, stage, is_milestone)
        card_labels = [labels["Milestone"]] if is_milestone else []
        card_labels += rng.sample(
            [labels[n] for n in ("Bug", "Feature", "Chore", "Urgent", "Design")], rng.randint(0, 2)
        )
        noun = rng.choice(_NOUNS)
        if is_milestone:
            name = f"M{len(plan.milestones) + 1}: {noun.capitalize()} ready"
            done = stage == len(LIST_NAMES) - 1
            plan.add(state, board, name, due, created, done=done, by=plan.rng.choice(team))
        else:
            name = f"{rng.choice(_VERBS)} {noun}"
            card_labels += [milestone.label] if milestone else []
        desc = rng.choice(("", "", f"Details for {name}."))
        members = rng.sample(team, rng.randint(0, min(2, len(team))))
        life = CardLife(life_rng, created, now, team, members) if history else None
        card = m.create_card(
            state,
            lists[first if history else stage].id,
            name,
            desc=desc,
            due=life.initial_due(due) if life else due,
            start=start_date,
            due_complete=due_complete and life is None,  # the history ticks it on reaching Done
            id_members=members,
            id_labels=card_labels,
            ts=created,
            by=life.creator if life else None,
        )
        t = created
        moves: list[tuple[int, float]] = []
        if history and stage > first:
            for target in range(first + 1, stage + 1):
                t = rng.uniform(t, min(now - 60, t + 12 * DAY))
                moves.append((target, t))
        values = _custom_values(rng, stage, estimated)
        hours = values.pop("Hours spent", None) if life else None
        _assign(state, card, fields, values)
        if rng.random() < 0.3:
            _checklist(state, rng, card, stage, created)
        closed_at = rng.uniform(t + 30, now - 30) if rng.random() < 0.04 else None
        if life is not None:
            life.play(
                state,
                card,
                lists,
                moves,
                due_complete=due_complete,
                hours_field=fields["Hours spent"],
                hours=hours if isinstance(hours, float) else None,
                closed_at=closed_at,
            )
        elif closed_at is not None:
            m.set_card_closed(state, card.id, True, ts=closed_at)


class _Milestone(NamedTuple):
    due: float
    label: str  # the id of the label named like the milestone card
    done: bool  # the milestone card ended in Done


class _MilestonePlan:
    """The board's milestones so far, and which one a new card is planned for.

    A milestone card gets a label of its own name (created with it), the way a team tags
    the cards of a release; a card created later is planned for one of the next two milestones
    due at least a week after its creation, or for none (nor when no milestone is due that late).
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.milestones: list[_Milestone] = []  # in creation order

    def add(
        self,
        state: TrelloState,
        board: Board,
        name: str,
        due: str | None,
        ts: float,
        *,
        done: bool,
        by: str,
    ) -> None:
        label = m.create_label(state, board.id, name, _MILESTONE_COLOR, ts=ts, by=by)
        self.milestones.append(_Milestone(parse_iso(due) if due else ts, label.id, done))

    def milestone_for(self, created: float) -> _Milestone | None:
        if not self.milestones or self.rng.random() >= _LINKED_SHARE:
            return None
        upcoming = sorted(ms for ms in self.milestones if ms.due >= created + _LEAD)
        return self.rng.choice(upcoming[:2]) if upcoming else None


def _stage_weights(
    planned_for: _Milestone | None, is_milestone: bool, created: float, start: float, now: float
) -> Sequence[int]:
    """How likely a card made at ``created`` on a board started at ``start`` ends up in each
    list. A milestone card made long ago is mostly done (it is due 3 to 11 weeks after it is
    made, ``_dates``); the cards of a completed milestone are nearly all done, those of a past
    one often; other cards go by their age on the board."""
    if is_milestone and now - created > _MILESTONE_PAST:
        return _PAST_MILESTONE_WEIGHTS
    if planned_for is not None and planned_for.done:
        return _COMPLETED_MILESTONE_WEIGHTS
    if planned_for is not None and planned_for.due < now:
        return _STAGE_WEIGHTS[1]
    age = (now - created) / max(1.0, now - start)  # 1: made when the board started
    return _STAGE_WEIGHTS[min(len(_STAGE_WEIGHTS) - 1, int(age * len(_STAGE_WEIGHTS)))]


def _dates(
    rng: random.Random, created: float, now: float, stage: int, milestone: bool
) -> tuple[str | None, bool, str | None]:
    if not milestone and rng.random() > 0.5:
        return None, False, None
    # some land in the past, some in the future; a milestone is planned three weeks ahead or more
    due = created + rng.uniform(3, 60) * DAY + (18 * DAY if milestone else 0.0)
    done = stage == len(LIST_NAMES) - 1
    due_complete = done and rng.random() < 0.85
    start_date = iso(created + rng.uniform(0, 2) * DAY) if rng.random() < 0.3 else None
    return iso(due), due_complete, start_date


def _custom_values(rng: random.Random, stage: int, estimated: float) -> dict[str, object]:
    estimate = rng.choice((1, 2, 3, 4, 6, 8, 12, 16, 24))
    values: dict[str, object] = {}
    if rng.random() < estimated:
        values["Estimate"] = estimate
    if rng.random() < 0.6:
        values["Points"] = rng.choice((1, 2, 3, 5, 8, 13))
    if stage >= 2 and rng.random() < 0.8:
        spent = round(estimate * rng.uniform(0.3, 1.4) * 2) / 2
        values["Hours spent"] = spent
        if rng.random() < 0.35:
            values["Cost"] = round(spent * rng.choice((60, 75, 90, 120)), 2)
    if rng.random() < 0.7:
        values["Priority"] = rng.choices(PRIORITIES, weights=(3, 5, 3, 1))[0]
    return values


def _assign(
    state: TrelloState, card: Card, fields: dict[str, CustomField], values: dict[str, object]
) -> None:
    """Set custom field values without recording actions (seeded as if always there)."""
    for name, value in values.items():
        cf = fields[name]
        item = CustomFieldItem(state.ids.new(int(card.id[:8], 16)), cf.id)
        m.assign_custom_value(cf, item, value)
        card.custom[cf.id] = item


def _checklist(
    state: TrelloState, rng: random.Random, card: Card, stage: int, created: float
) -> None:
    checklist = Checklist(state.ids.new(created), card.id, card.id_board, "Tasks", 16384)
    n = rng.randint(2, 6)
    done = n if stage == len(LIST_NAMES) - 1 else rng.randint(0, n) if stage >= 2 else 0
    for j in range(n):
        item = CheckItem(
            state.ids.new(created),
            f"Step {j + 1}",
            "complete" if j < done else "incomplete",
            16384 * (j + 1),
        )
        checklist.items.append(item)
        state.check_items[item.id] = (checklist, item)
    card.checklists.append(checklist)
    state.checklists[checklist.id] = checklist
