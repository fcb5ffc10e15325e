"""Trello actions (board activity log and webhook ``action``) → task effects.

Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/action-types/
An action carries only part of a card (``data.card`` with id, name, short link and,
for ``updateCard``, the changed keys; ``data.old`` holds their previous values).
So card actions become ``TaskPatch`` effects with what the action tells, and
``deleteCard`` / ``moveCardFromBoard`` become tombstones.

``TaskPatch.fields`` contract: every key is a ``Task`` field name (values in the
``Task`` field's Python type: ``date``, ``Decimal``, ``StatusCategory``…) or one of
``TASK_PATCH_HINTS``, which the store must not write onto the task:

- ``needs_refetch`` (bool): the action does not tell the whole new state (labels,
  checklists, members, custom fields, a board move…); re-fetch the card.
- ``list_id`` (str): the card's list after the action.
- ``add_assignee`` (PersonRef as a JSON dict) / ``remove_assignee`` (member id).
- ``add_label`` / ``remove_label`` (label name).

The worker re-fetches Trello cards anyway (ARCHITECTURE "Ingest"); the deltas let a
store apply the change at once and keep history without waiting for that fetch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from mappings.model import (
    Change,
    DeletedReason,
    Effect,
    Ignored,
    PersonRef,
    StatusCategory,
    TaskDelete,
    TaskPatch,
)
from mappings.profile import MappingProfile
from mappings.trello.cards import is_blocked_label
from mappings.trello.context import BoardContext, list_category
from mappings.trello.custom_fields import convert, field_id_for, item_text, model_field_for
from mappings.trello.values import (
    as_dict,
    as_str,
    created_at_from_id,
    local_date,
    parse_datetime,
)

__all__ = [
    "TASK_PATCH_HINTS",
    "SUPPORTED_ACTIONS",
    "IGNORED_ACTIONS",
    "map_action",
    "list_renamed",
    "action_author",
    "LEFT_SUFFIX",
]

TASK_PATCH_HINTS = frozenset(
    {"needs_refetch", "list_id", "add_assignee", "remove_assignee", "add_label", "remove_label"}
)

_BOARD_LEVEL = "board-level change; the sync re-reads the board"
IGNORED_ACTIONS: dict[str, str] = {
    "commentCard": "comments are not part of the task model",
    "updateComment": "comments are not part of the task model",
    "deleteComment": "comments are not part of the task model",
    "copyCommentCard": "comments are not part of the task model",
    "addAttachmentToCard": "attachments are not part of the task model",
    "deleteAttachmentFromCard": "attachments are not part of the task model",
    "voteOnCard": "votes are not part of the task model",
    "updateCheckItem": "a check item's text changed; checklist counts did not",
    "updateChecklist": "a checklist was renamed; checklist counts did not change",
    "createList": _BOARD_LEVEL,
    "updateList": "list changes are applied by the sync (see list_renamed)",
    "moveListFromBoard": "its cards leave the board; the census tombstones them",
    "moveListToBoard": "its cards join the board; the next poll maps them",
    "createBoard": _BOARD_LEVEL,
    "updateBoard": _BOARD_LEVEL,
    "copyBoard": _BOARD_LEVEL,
    "addToOrganizationBoard": _BOARD_LEVEL,
    "removeFromOrganizationBoard": _BOARD_LEVEL,
    "addMemberToBoard": "board membership is not task assignment",
    "removeMemberFromBoard": "board membership is not task assignment",
    "makeAdminOfBoard": "board membership is not task assignment",
    "makeNormalMemberOfBoard": "board membership is not task assignment",
    "makeObserverOfBoard": "board membership is not task assignment",
    "createLabel": "label definitions are re-read by the sync",
    "updateLabel": "label definitions are re-read by the sync",
    "deleteLabel": "label definitions are re-read by the sync",
    "createCustomField": "custom field definitions are re-read by the sync",
    "updateCustomField": "custom field definitions are re-read by the sync",
    "deleteCustomField": "custom field definitions are re-read by the sync",
    "enablePlugin": _BOARD_LEVEL,
    "disablePlugin": _BOARD_LEVEL,
    "enablePowerUp": _BOARD_LEVEL,
    "disablePowerUp": _BOARD_LEVEL,
}

_NO_TIME = datetime.min.replace(tzinfo=UTC)  # placeholder; such changes are dropped


@dataclass(frozen=True)
class _Action:
    id: str | None
    type: str
    at: datetime | None
    data: dict[str, Any]
    card: dict[str, Any]
    card_id: str
    author: PersonRef | None
    raw: dict[str, Any]

    def patch(self, fields: dict[str, Any], changes: list[Change] | None = None) -> TaskPatch:
        # a change without a time cannot feed cycle times: drop it, keep the fields
        kept = (changes or []) if self.at is not None else []
        return TaskPatch(external_id=self.card_id, fields=fields, changes=kept, updated_at=self.at)

    def change(self, field: str, **values: Any) -> Change:
        return Change(
            task_external_id=self.card_id,
            external_id=self.id,
            field=field,
            changed_at=self.at or _NO_TIME,
            author=self.author,
            **values,
        )


def map_action(action: dict[str, Any], ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    """Effects of one board/webhook action. Unknown types are ``Ignored`` with a reason
    naming the type; known non-task types are ``Ignored`` with why (IGNORED_ACTIONS)."""
    if not isinstance(action, dict):
        return [Ignored(reason="Trello action is not a JSON object")]
    kind = as_str(action.get("type"))
    if kind is None:
        return [Ignored(reason="Trello action without a 'type'")]
    if kind in IGNORED_ACTIONS:
        return [Ignored(reason=f"{kind}: {IGNORED_ACTIONS[kind]}")]
    handler = _HANDLERS.get(kind)
    if handler is None:
        return [Ignored(reason=f"unsupported action type '{kind}'")]
    data = as_dict(action.get("data"))
    card = as_dict(data.get("card"))
    card_id = as_str(card.get("id"))
    if card_id is None:
        return [Ignored(reason=f"{kind}: action without data.card.id")]
    view = _Action(
        id=as_str(action.get("id")),
        type=kind,
        at=parse_datetime(action.get("date")),
        data=data,
        card=card,
        card_id=card_id,
        author=action_author(action),
        raw=action,
    )
    return handler(view, ctx, profile)


def list_renamed(action: dict[str, Any]) -> tuple[str, str] | None:
    """``(list_id, new_name)`` when the action is a list rename, else None."""
    if not isinstance(action, dict) or action.get("type") != "updateList":
        return None
    data = as_dict(action.get("data"))
    lst = as_dict(data.get("list"))
    list_id, name = as_str(lst.get("id")), lst.get("name")
    if "name" in as_dict(data.get("old")) and list_id and isinstance(name, str):
        return list_id, name
    return None


# --- handlers ------------------------------------------------------------------------


def _created(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    fields: dict[str, Any] = {"needs_refetch": True}
    if isinstance(a.card.get("name"), str):
        fields["title"] = a.card["name"]
    if as_str(a.card.get("shortLink")):
        fields["key"] = a.card["shortLink"]
    fields.update(_board_fields(a, ctx))
    fields.update(_list_fields(as_dict(a.data.get("list")), ctx, profile))
    try:
        fields["created_at"] = created_at_from_id(a.card_id)
    except ValueError:
        pass
    return [a.patch(fields, _entry(a, ctx, profile))]


def _updated(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    old = as_dict(a.data.get("old"))
    rules = profile.trello
    fields: dict[str, Any] = {}
    changes: list[Change] = []
    if "idList" in old:
        after = _list_ref(a.data.get("listAfter"), a.card.get("idList"), ctx)
        before = _list_ref(a.data.get("listBefore"), old.get("idList"), ctx)
        fields.update(_list_fields(after, ctx, profile))
        changes.append(
            a.change(
                "status",
                from_value=_list_label(before),
                to_value=_list_label(after),
                from_category=_category_of(before, ctx, profile),
                to_category=_category_of(after, ctx, profile),
                from_id=as_str(before.get("id")),
                to_id=as_str(after.get("id")),
            )
        )
        if rules.due_complete_means_done or rules.archived_as_done:
            fields["needs_refetch"] = True  # the category may also depend on the card
    if "closed" in old:
        archived = bool(a.card.get("closed"))
        fields["archived"] = archived
        changes.append(
            a.change("archived", from_value=_flag(old["closed"]), to_value=_flag(archived))
        )
        if rules.archived_as_done:
            fields["needs_refetch"] = True
    if "due" in old:
        due = local_date(a.card.get("due"), ctx.timezone)
        fields["due_date"] = due
        before_due = local_date(old.get("due"), ctx.timezone)
        changes.append(a.change("due_date", from_value=_iso(before_due), to_value=_iso(due)))
    if "start" in old:
        fields["start_date"] = local_date(a.card.get("start"), ctx.timezone)
    if "name" in old and isinstance(a.card.get("name"), str):
        fields["title"] = a.card["name"]
    if "dueComplete" in old:
        complete = bool(a.card.get("dueComplete"))
        fields["needs_refetch"] = True  # a milestone card's completion follows it
        if rules.due_complete_means_done and complete:
            fields["status_category"] = StatusCategory.done
        changes.append(
            a.change("due_complete", from_value=_flag(old["dueComplete"]), to_value=_flag(complete))
        )
    if not fields:
        untracked = ", ".join(sorted(old)) or "nothing"
        return [Ignored(reason=f"updateCard changed only untracked fields: {untracked}")]
    return [a.patch(fields, changes)]


def _deleted(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    # deleteCard is a hard delete: only data.card.id and idShort survive (VENDOR_FACTS B5)
    return [TaskDelete(external_id=a.card_id, reason=DeletedReason.deleted, at=a.at)]


def _moved_away(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    return [TaskDelete(external_id=a.card_id, reason=DeletedReason.out_of_scope, at=a.at,
                       changes=_board_left(a))]


# The external id's suffix of a move recorded from the board the card left (``moveCardFromBoard``).
LEFT_SUFFIX = ":left"


def _board_left(a: _Action) -> list[Change]:
    """The move as seen from the board the card left (``moveCardFromBoard``: ``data.board`` the old
    board, ``data.boardTarget`` the new one), external id ``<action id>:left``. The sync keeps it
    only when the new board is one the source does not mirror (``moveCardToBoard`` on a mirrored
    board records the same move): else a card moved out to such a board and back would keep only
    the move back, and read as off its board before it."""
    return _move(a, "board", "boardTarget", LEFT_SUFFIX)


def _move(a: _Action, old: str, new: str, suffix: str) -> list[Change]:
    """A ``project`` change from the board in ``data[old]`` to the one in ``data[new]`` (their ids:
    the projects' external ids), external id ``<action id><suffix>``; none without both boards."""
    source = as_str(as_dict(a.data.get(old)).get("id"))
    target = as_str(as_dict(a.data.get(new)).get("id"))
    if a.id is None or a.at is None or source is None or target is None or source == target:
        return []
    return [Change(task_external_id=a.card_id, external_id=f"{a.id}{suffix}", field="project",
                   from_value=source, to_value=target, from_id=source, to_id=target, changed_at=a.at,
                   author=a.author)]


def _moved_here(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    fields: dict[str, Any] = {"needs_refetch": True, **_board_fields(a, ctx)}
    fields.update(_list_fields(as_dict(a.data.get("list")), ctx, profile))
    return [a.patch(fields, [*_board_move(a), *_entry(a, ctx, profile)])]


def _board_move(a: _Action) -> list[Change]:
    """The move itself, as a ``project`` change from the old board's id (``data.boardSource``) to
    the new one's (``data.board``): the ids taskhub stores as the projects' external ids, so a
    view can replay which board a card was on (Jira's ``project`` items give the same shape).
    ``moveCardFromBoard`` (on the old board, with ``data.boardTarget``) is the same move seen from
    the other side, kept only when the new board is not mirrored (``_board_left``). External id
    ``<action id>:project``, the same from the history, a poll or a webhook."""
    return _move(a, "boardSource", "board", ":project")


def _entry(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Change]:
    """A card created (or moved onto the board) straight into an in-progress or done list
    entered that category then: a status change from nothing, so its cycle time is known.
    External id ``<action id>:entry``, the same from the history, a poll or a webhook."""
    lst = as_dict(a.data.get("list"))
    list_id, name = as_str(lst.get("id")), as_str(lst.get("name")) or ctx.list_name(lst.get("id"))
    if a.id is None or a.at is None or not (list_id or name):
        return []
    category = list_category(list_id, ctx, profile, name=_current_name(list_id, name, ctx))
    if category is StatusCategory.todo:
        return []
    return [
        Change(
            task_external_id=a.card_id,
            external_id=f"{a.id}:entry",
            field="status",
            to_value=name or list_id,
            to_category=category,
            to_id=list_id,
            changed_at=a.at,
            author=a.author,
        )
    ]


def _member_added(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    member_id = _member_id(a)
    if member_id is None:
        return [Ignored(reason=f"{a.type}: action without a member id")]
    full = as_dict(a.raw.get("member"))
    ref = PersonRef(
        tool="trello",
        external_id=member_id,
        display_name=ctx.member_name(member_id)
        or as_str(full.get("fullName"))
        or as_str(as_dict(a.data.get("member")).get("name"))
        or as_str(full.get("username")),
    )
    fields = {"add_assignee": ref.model_dump(mode="json"), "needs_refetch": True}
    return [a.patch(fields, [a.change("assignee", to_value=member_id)])]


def _member_removed(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    member_id = _member_id(a)
    if member_id is None:
        return [Ignored(reason=f"{a.type}: action without a member id")]
    fields = {"remove_assignee": member_id, "needs_refetch": True}
    return [a.patch(fields, [a.change("assignee", from_value=member_id)])]


def _label(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    label = as_dict(a.data.get("label"))
    known = ctx.labels.get(as_str(label.get("id")) or "", {})
    name = str(label.get("name") or known.get("name") or "").strip()
    fields: dict[str, Any] = {"needs_refetch": True}  # labels also link milestones
    changes: list[Change] = []
    if name:  # colour-only labels have no name and are not task labels
        added = a.type == "addLabelToCard"
        fields["add_label" if added else "remove_label"] = name
        if is_blocked_label(name, profile):
            # Blocked from (or until) now: the "blocked since" of the risk view. A card with two
            # blocked labels losing one is unflagged here until the re-fetch flags it again.
            fields["flagged"] = added
            changes.append(a.change("flagged", from_value=_flag(not added), to_value=_flag(added)))
    return [a.patch(fields, changes)]


def _refetch(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    return [a.patch({"needs_refetch": True})]


def _custom_field(a: _Action, ctx: BoardContext, profile: MappingProfile) -> list[Effect]:
    declared = as_dict(a.data.get("customField"))
    definition = ctx.custom_fields.get(as_str(declared.get("id")) or "") or declared
    item = as_dict(a.data.get("customFieldItem"))
    fields: dict[str, Any] = {"needs_refetch": True}
    target = model_field_for(str(definition.get("name") or ""), profile)
    if target == "spent_seconds" and ctx.custom_fields:
        # the card's hours are its board's hours field's (field_id_for), not any listed name's
        if as_str(definition.get("id")) != field_id_for("spent_hours", ctx.custom_fields, profile):
            target = None
    if target is not None:
        text = item_text(item, definition)
        if text is None and not item.get("idValue"):
            fields[target] = None  # the value was cleared
        elif (value := convert(target, text)) is not None:
            fields[target] = value
    return [a.patch(fields)]


_Handler = Callable[[_Action, BoardContext, MappingProfile], list[Effect]]
_HANDLERS: dict[str, _Handler] = {
    "createCard": _created,
    "copyCard": _created,
    "convertToCardFromCheckItem": _created,
    "emailCard": _created,
    "updateCard": _updated,
    "deleteCard": _deleted,
    "moveCardFromBoard": _moved_away,
    "moveCardToBoard": _moved_here,
    "addMemberToCard": _member_added,
    "removeMemberFromCard": _member_removed,
    "addLabelToCard": _label,
    "removeLabelFromCard": _label,
    "updateCustomFieldItem": _custom_field,
    "addChecklistToCard": _refetch,
    "removeChecklistFromCard": _refetch,
    "updateCheckItemStateOnCard": _refetch,
    "createCheckItem": _refetch,
    "deleteCheckItem": _refetch,
}
SUPPORTED_ACTIONS = frozenset(_HANDLERS)


# --- helpers -------------------------------------------------------------------------


def action_author(action: dict[str, Any]) -> PersonRef | None:
    """The member who made the action (``memberCreator``, else ``idMemberCreator``)."""
    creator = as_dict(action.get("memberCreator"))
    member_id = as_str(creator.get("id")) or as_str(action.get("idMemberCreator"))
    if member_id is None:
        return None
    username = as_str(creator.get("username"))
    name = as_str(creator.get("fullName")) or username
    return PersonRef(tool="trello", external_id=member_id, display_name=name, username=username)


def _member_id(a: _Action) -> str | None:
    return as_str(a.data.get("idMember")) or as_str(as_dict(a.data.get("member")).get("id"))


def _board_fields(a: _Action, ctx: BoardContext) -> dict[str, Any]:
    board = as_dict(a.data.get("board"))
    board_id = as_str(board.get("id"))
    if board_id is None:
        return {}
    name = as_str(board.get("name")) or (ctx.board_name if board_id == ctx.board_id else None)
    return {"project_external_id": board_id, "project_key": name or board_id}


def _list_ref(given: Any, fallback_id: Any, ctx: BoardContext) -> dict[str, Any]:
    """``{id, name}`` of a list from an action's list object, else from its id."""
    ref = dict(as_dict(given))
    ref.setdefault("id", as_str(fallback_id))
    if not as_str(ref.get("name")):
        ref["name"] = ctx.list_name(ref.get("id"))
    return ref


def _list_fields(lst: dict[str, Any], ctx: BoardContext, profile: MappingProfile) -> dict[str, Any]:
    list_id, name = as_str(lst.get("id")), as_str(lst.get("name")) or ctx.list_name(lst.get("id"))
    if list_id is None and name is None:
        return {}
    fields: dict[str, Any] = {
        "status": name or list_id,
        "status_category": list_category(list_id, ctx, profile, name=_current_name(list_id, name, ctx)),
    }
    if list_id:
        fields["list_id"] = list_id
    return fields


def _list_label(lst: dict[str, Any]) -> str | None:
    return as_str(lst.get("name")) or as_str(lst.get("id"))


def _category_of(
    lst: dict[str, Any], ctx: BoardContext, profile: MappingProfile
) -> StatusCategory | None:
    if not _list_label(lst):
        return None
    list_id = as_str(lst.get("id"))
    return list_category(list_id, ctx, profile, name=_current_name(list_id, as_str(lst.get("name")), ctx))


def _current_name(list_id: str | None, name: str | None, ctx: BoardContext) -> str | None:
    """The name a list is categorized by: its current one when the board knows the list (the
    profile's rule applies to the list the card moved into, as Jira categorizes by status id:
    a list renamed since keeps its moves in its category now), else the one the action gives.
    The change's ``to_value`` keeps the name the action gives."""
    return ctx.list_name(list_id) or name


def _flag(value: Any) -> str:
    return "true" if bool(value) else "false"


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
