"""The sandbox's in-memory Trello objects: compact slotted records, serialized on demand.

Field names follow our Python style; ``serialize.py`` turns them into Trello's JSON
shapes. References that many actions share (``{"id", "name", "shortLink"}`` of a
board, list or card) are kept as small dicts that are *replaced*, never mutated,
when a name changes, so old actions keep the names they were recorded with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Member",
    "Label",
    "CustomFieldOption",
    "CustomField",
    "CustomFieldItem",
    "CheckItem",
    "Checklist",
    "Card",
    "TList",
    "Board",
    "Action",
    "Webhook",
]


@dataclass(slots=True)
class Member:
    id: str
    username: str
    full_name: str
    email: str | None = None

    @property
    def initials(self) -> str:
        parts = [p for p in self.full_name.split() if p]
        return "".join(p[0].upper() for p in parts[:3]) or self.username[:1].upper()


@dataclass(slots=True)
class Label:
    id: str
    id_board: str
    name: str
    color: str | None


@dataclass(slots=True)
class CustomFieldOption:
    id: str
    text: str
    color: str
    pos: int


@dataclass(slots=True)
class CustomField:
    id: str
    id_board: str
    name: str
    type: str  # text | number | date | checkbox | list
    pos: int
    field_group: str
    options: list[CustomFieldOption] = field(default_factory=list)


@dataclass(slots=True)
class CustomFieldItem:
    """A card's value for one custom field: ``kind``/``text`` for scalars, ``id_value`` for lists.

    Trello stores every scalar as a string (``{"number": "42"}``); we keep the two
    strings instead of a dict to stay small at 50,000 cards.
    """

    id: str
    id_custom_field: str
    kind: str | None = None  # number | text | date | checked
    text: str | None = None
    id_value: str | None = None

    @property
    def value(self) -> dict[str, str] | None:
        return None if self.kind is None or self.text is None else {self.kind: self.text}


@dataclass(slots=True)
class CheckItem:
    id: str
    name: str
    state: str  # complete | incomplete
    pos: int


@dataclass(slots=True)
class Checklist:
    id: str
    id_card: str
    id_board: str
    name: str
    pos: int
    items: list[CheckItem] = field(default_factory=list)


@dataclass(slots=True)
class Card:
    id: str
    id_board: str
    id_list: str
    name: str
    id_short: int
    short_link: str
    pos: float
    last_activity: float  # Unix seconds; serialized as dateLastActivity
    desc: str = ""
    closed: bool = False
    due: str | None = None
    start: str | None = None
    due_complete: bool = False
    id_members: list[str] = field(default_factory=list)
    id_labels: list[str] = field(default_factory=list)
    custom: dict[str, CustomFieldItem] = field(default_factory=dict)
    checklists: list[Checklist] = field(default_factory=list)
    ref: dict[str, Any] = field(default_factory=dict)  # {"id","name","idShort","shortLink"}


@dataclass(slots=True)
class TList:
    id: str
    id_board: str
    name: str
    pos: int
    closed: bool = False
    ref: dict[str, Any] = field(default_factory=dict)  # {"id","name"}


@dataclass(slots=True)
class Board:
    id: str
    name: str
    short_link: str
    last_activity: float  # Unix seconds; serialized as dateLastActivity
    id_organization: str
    desc: str = ""
    closed: bool = False
    lists: dict[str, TList] = field(default_factory=dict)
    cards: dict[str, Card] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    custom_fields: dict[str, CustomField] = field(default_factory=dict)
    member_ids: list[str] = field(default_factory=list)
    admin_ids: set[str] = field(default_factory=set)
    membership_ids: dict[str, str] = field(default_factory=dict)  # idMember -> membership id
    actions: list[Action] = field(default_factory=list)  # sorted by id (= by time)
    next_id_short: int = 1
    ref: dict[str, Any] = field(default_factory=dict)  # {"id","name","shortLink"}


@dataclass(slots=True)
class Action:
    """One entry of a board's activity log, stored compactly (there may be 100,000s).

    ``data`` is assembled on demand from shared refs plus the per-action parts. A
    single-field ``updateCard`` keeps ``field``/``old_value``/``new_value`` (shown as
    ``data.old`` and on ``data.card``); a list move also keeps ``list_before``/``list_after``;
    anything else goes to ``raw_old``/``raw_extra``.
    """

    id: str
    type: str
    ts: float
    id_member_creator: str
    board: dict[str, Any]
    card: dict[str, Any] | None = None
    list: dict[str, Any] | None = None
    field: str | None = None
    old_value: Any = None
    new_value: Any = None
    list_before: dict[str, Any] | None = None
    list_after: dict[str, Any] | None = None
    raw_old: dict[str, Any] | None = None
    raw_extra: dict[str, Any] | None = None
    member_id: str | None = None  # the top-level "member" object (add/removeMemberToCard)
    id_card: str | None = None  # for card-scoped queries, also after deletion

    @property
    def date(self) -> str:
        from sandbox.trello.ids import iso

        return iso(self.ts)

    @property
    def old(self) -> dict[str, Any] | None:
        return {self.field: self.old_value} if self.field is not None else self.raw_old

    @property
    def card_extra(self) -> dict[str, Any] | None:
        return {self.field: self.new_value} if self.field is not None else None

    @property
    def extra(self) -> dict[str, Any] | None:
        if self.list_before is None:
            return self.raw_extra
        return {
            **(self.raw_extra or {}),
            "listBefore": self.list_before,
            "listAfter": self.list_after,
        }

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        old = self.old
        if old is not None:
            data["old"] = old
        if self.card is not None:
            card_extra = self.card_extra
            data["card"] = {**card_extra, **self.card} if card_extra else self.card
        data["board"] = self.board
        if self.list is not None:
            data["list"] = self.list
        extra = self.extra
        if extra:
            data.update(extra)
        return data


@dataclass(slots=True)
class Webhook:
    id: str
    token: str
    id_model: str
    callback_url: str
    description: str
    active: bool = True
    consecutive_failures: int = 0
    first_consecutive_fail_date: str | None = None
    api_key: str = ""  # the application that created it: its secret signs the deliveries
