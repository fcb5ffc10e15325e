"""Card details: members, labels, custom field values, checklists and check items."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.trello.errors import ApiError
from sandbox.trello.ids import iso, parse_iso
from sandbox.trello.mutations._base import (
    act,
    get_card,
    touch,
    ts_or_now,
)
from sandbox.trello.records import (
    Card,
    CheckItem,
    Checklist,
    CustomField,
    CustomFieldItem,
)
from sandbox.trello.state import TrelloState


def add_card_member(
    state: TrelloState,
    card_id: str,
    member_id: str,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    return _card_member(state, card_id, member_id, True, ts, by)


def remove_card_member(
    state: TrelloState,
    card_id: str,
    member_id: str,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    return _card_member(state, card_id, member_id, False, ts, by)


def _card_member(
    state: TrelloState, card_id: str, member_id: str, add: bool, ts: float | None, by: str | None
) -> Card:
    with state.lock:
        card, board = get_card(state, card_id)
        member = state.members.get(member_id)
        if member is None or member_id not in board.member_ids:
            raise ApiError(400, "member is not a member of the board")
        if (member_id in card.id_members) == add:
            return card
        card.id_members.append(member_id) if add else card.id_members.remove(member_id)
        t = ts_or_now(state, ts)
        touch(card, t)
        act(
            state,
            board,
            "addMemberToCard" if add else "removeMemberFromCard",
            t,
            by,
            card=card.ref,
            member_id=member_id,
            id_card=card.id,
            raw_extra={
                "idMember": member_id,
                "member": {"id": member_id, "name": member.full_name},
            },
        )
        return card


def add_card_label(
    state: TrelloState,
    card_id: str,
    label_id: str,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    return _card_label(state, card_id, label_id, True, ts, by)


def remove_card_label(
    state: TrelloState,
    card_id: str,
    label_id: str,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    return _card_label(state, card_id, label_id, False, ts, by)


def _card_label(
    state: TrelloState, card_id: str, label_id: str, add: bool, ts: float | None, by: str | None
) -> Card:
    with state.lock:
        card, board = get_card(state, card_id)
        label = board.labels.get(label_id)
        if label is None:
            raise ApiError(400, "invalid value for value")
        if (label_id in card.id_labels) == add:
            return card
        card.id_labels.append(label_id) if add else card.id_labels.remove(label_id)
        t = ts_or_now(state, ts)
        touch(card, t)
        ref = {"id": label.id, "name": label.name, "color": label.color}
        act(
            state,
            board,
            "addLabelToCard" if add else "removeLabelFromCard",
            t,
            by,
            card=card.ref,
            id_card=card.id,
            raw_extra={"value": label.color, "text": label.name, "label": ref},
        )
        return card


def set_custom_field(
    state: TrelloState,
    card_id: str,
    custom_field_id: str,
    value: Any,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    """Set a card's custom field; ``None`` clears it. Scalars are stored as strings, like Trello."""
    with state.lock:
        card, board = get_card(state, card_id)
        cf = board.custom_fields.get(custom_field_id)
        if cf is None:
            raise ApiError(400, "invalid value for idCustomField")
        t = ts_or_now(state, ts)
        previous = card.custom.get(cf.id)
        old: dict[str, Any] = (
            {"idValue": previous.id_value if previous else None}
            if cf.type == "list"
            else {"value": previous.value if previous else None}
        )
        if value is None or value == "":
            if previous is None:
                return card
            del card.custom[cf.id]
            item = CustomFieldItem(previous.id, cf.id)
        else:
            item = CustomFieldItem(previous.id if previous else state.ids.new(t), cf.id)
            assign_custom_value(cf, item, value)
            card.custom[cf.id] = item
        touch(card, t)
        item_json: dict[str, Any] = {"id": item.id}
        item_json.update({"idValue": item.id_value} if cf.type == "list" else {"value": item.value})
        item_json.update({"idCustomField": cf.id, "idModel": card.id, "modelType": "card"})
        act(
            state,
            board,
            "updateCustomFieldItem",
            t,
            by,
            card=card.ref,
            raw_old=old,
            id_card=card.id,
            raw_extra={
                "customField": {"id": cf.id, "name": cf.name, "type": cf.type},
                "customFieldItem": item_json,
            },
        )
        return card


def assign_custom_value(cf: CustomField, item: CustomFieldItem, value: Any) -> None:
    if cf.type == "list":
        text = str(value)
        for option in cf.options:
            if text in (option.id, option.text):
                item.id_value = option.id
                return
        raise ApiError(400, f"invalid value for {cf.name}: no option {text!r}")
    if isinstance(value, dict):  # already Trello-shaped, e.g. {"number": "5"}
        if len(value) != 1:
            raise ApiError(400, "invalid value: expected one of number, text, date, checked")
        ((item.kind, raw),) = value.items()
        item.text = str(raw)
        return
    if cf.type == "number":
        number = float(value)
        item.kind, item.text = "number", str(int(number)) if number.is_integer() else str(number)
    elif cf.type == "checkbox":
        item.kind, item.text = "checked", "true" if value in (True, "true") else "false"
    elif cf.type == "date":
        item.kind, item.text = "date", iso(parse_iso(str(value)))
    else:
        item.kind, item.text = "text", str(value)


def add_checklist(
    state: TrelloState,
    card_id: str,
    name: str,
    items: Iterable[tuple[str, str] | str] = (),
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Checklist:
    """Add a checklist with items (``"name"`` or ``("name", "complete"|"incomplete")``)."""
    with state.lock:
        card, board = get_card(state, card_id)
        t = ts_or_now(state, ts)
        checklist = Checklist(
            state.ids.new(t), card.id, board.id, name, 16384 * (len(card.checklists) + 1)
        )
        for i, entry in enumerate(items):
            item_name, item_state = (entry, "incomplete") if isinstance(entry, str) else entry
            item = CheckItem(state.ids.new(t), item_name, item_state, 16384 * (i + 1))
            checklist.items.append(item)
            state.check_items[item.id] = (checklist, item)
        card.checklists.append(checklist)
        state.checklists[checklist.id] = checklist
        touch(card, t)
        act(
            state,
            board,
            "addChecklistToCard",
            t,
            by,
            card=card.ref,
            id_card=card.id,
            raw_extra={"checklist": {"id": checklist.id, "name": name}},
        )
        return checklist


def set_check_item_state(
    state: TrelloState,
    card_id: str,
    check_item_id: str,
    item_state: str,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    if item_state not in ("complete", "incomplete"):
        raise ApiError(400, "invalid value for state")
    with state.lock:
        card, board = get_card(state, card_id)
        found = state.check_items.get(check_item_id)
        if found is None or found[0].id_card != card.id:
            raise ApiError.not_found()
        checklist, item = found
        if item.state == item_state:
            return card
        item.state = item_state
        t = ts_or_now(state, ts)
        touch(card, t)
        act(
            state,
            board,
            "updateCheckItemStateOnCard",
            t,
            by,
            card=card.ref,
            id_card=card.id,
            raw_extra={
                "checklist": {"id": checklist.id, "name": checklist.name},
                "checkItem": {"id": item.id, "name": item.name, "state": item_state},
            },
        )
        return card
