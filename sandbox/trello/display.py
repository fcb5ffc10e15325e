"""The ``display`` block Trello adds to actions in webhook payloads.

Modelled on ``realdata/trello-webhooks/ringcentral/*.json``: a ``translationKey``
naming what happened and ``entities`` describing the objects in it.
"""

from __future__ import annotations

from typing import Any

from sandbox.trello.records import Action, Member

__all__ = ["display_json", "translation_key"]

_SIMPLE_KEYS = {
    "createCard": "action_create_card",
    "deleteCard": "action_delete_card",
    "addLabelToCard": "action_add_label_to_card",
    "removeLabelFromCard": "action_remove_label_from_card",
    "addChecklistToCard": "action_add_checklist_to_card",
    "removeChecklistFromCard": "action_remove_checklist_from_card",
    "updateCustomFieldItem": "action_update_custom_field_item",
    "createList": "action_added_list_to_board",
    "createBoard": "action_create_board",
    "addMemberToBoard": "action_added_member_to_board",
    "addMemberToCard": "action_added_member_to_card",
    "removeMemberFromCard": "action_removed_member_from_card",
}


def translation_key(action: Action) -> str:
    old = action.old or {}
    card_extra = action.card_extra or {}
    if action.type == "updateCard":
        if "idList" in old:
            return "action_move_card_from_list_to_list"
        if "closed" in old:
            return (
                "action_archived_card" if card_extra.get("closed") else "action_sent_card_to_board"
            )
        if "name" in old:
            return "action_renamed_card"
        if "desc" in old:
            return "action_changed_description_of_card"
        if "due" in old:
            if old["due"] is None:
                return "action_added_a_due_date"
            return (
                "action_removed_a_due_date"
                if card_extra.get("due") is None
                else "action_changed_a_due_date"
            )
        if "start" in old:
            return "action_changed_a_start_date"
        if "dueComplete" in old:
            if card_extra.get("dueComplete"):
                return "action_marked_the_due_date_complete"
            return "action_marked_the_due_date_incomplete"
        return "action_update_card"
    if action.type == "updateList":
        return "action_renamed_list" if "name" in old else "action_update_list"
    if action.type == "updateCheckItemStateOnCard":
        state = (action.extra or {}).get("checkItem", {}).get("state")
        return (
            "action_completed_checkitem"
            if state == "complete"
            else "action_marked_checkitem_incomplete"
        )
    if (
        action.type in ("addMemberToCard", "removeMemberFromCard")
        and action.member_id == action.id_member_creator
    ):
        return (
            "action_member_joined_card"
            if action.type == "addMemberToCard"
            else "action_member_left_card"
        )
    return _SIMPLE_KEYS.get(action.type, f"action_{action.type}")


def display_json(action: Action, creator: Member | None) -> dict[str, Any]:
    entities: dict[str, Any] = {}
    if action.card is not None:
        entities["card"] = {
            "type": "card",
            **(action.card_extra or {}),
            "id": action.card["id"],
            "shortLink": action.card.get("shortLink"),
            "text": action.card.get("name"),
        }
    extra = action.extra or {}
    for name in ("listBefore", "listAfter"):
        if name in extra:
            entities[name] = {"type": "list", "id": extra[name]["id"], "text": extra[name]["name"]}
    list_ref = action.list if action.type in ("createCard", "createList") else extra.get("list")
    if list_ref is not None:
        entities["list"] = {"type": "list", "id": list_ref["id"], "text": list_ref.get("name")}
    old = action.old or {}
    if "name" in old:  # a rename shows the previous name
        entities["name"] = {"type": "text", "text": old["name"]}
    new_due = (action.card_extra or {}).get("due")
    if "due" in old and new_due is not None:
        entities["date"] = {"type": "date", "date": new_due}
    if "label" in extra:
        label = extra["label"]
        entities["label"] = {
            "type": "label",
            "color": label.get("color"),
            "text": label.get("name"),
        }
    if "checklist" in extra:
        entities["checklist"] = {
            "type": "checklist",
            "id": extra["checklist"]["id"],
            "text": extra["checklist"]["name"],
        }
    if "checkItem" in extra:
        item = extra["checkItem"]
        entities["checkitem"] = {
            "type": "checkItem",
            "nameHtml": item["name"],
            "id": item["id"],
            "state": item["state"],
            "text": item["name"],
        }
    if "member" in extra:
        entities["member"] = {
            "type": "member",
            "id": extra["member"]["id"],
            "text": extra["member"]["name"],
        }
    if creator is not None:
        entities["memberCreator"] = {
            "type": "member",
            "id": creator.id,
            "username": creator.username,
            "text": creator.full_name,
        }
    return {"translationKey": translation_key(action), "entities": entities}
