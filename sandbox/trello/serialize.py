"""Trello's JSON shapes for the sandbox records.

Shapes follow the captured responses in ``realdata/trello-rest/ruby-trello`` (card,
board, list, label, custom field, checklist, action, webhook) and the webhook
payloads in ``realdata/trello-webhooks``. Reference:
https://developer.atlassian.com/cloud/trello/guides/rest-api/object-definitions/
"""

from __future__ import annotations

from typing import Any

from sandbox.trello.ids import iso, slugify
from sandbox.trello.records import (
    Action,
    Board,
    Card,
    Checklist,
    CustomField,
    CustomFieldItem,
    Label,
    Member,
    TList,
    Webhook,
)
from sandbox.trello.state import TrelloState

__all__ = [
    "select_fields",
    "board_json",
    "list_json",
    "card_json",
    "label_json",
    "member_json",
    "member_short_json",
    "member_creator_json",
    "custom_field_json",
    "custom_field_item_json",
    "checklist_json",
    "action_json",
    "webhook_json",
    "BOARD_DEFAULT_FIELDS",
]

LABEL_COLORS = (
    "green",
    "yellow",
    "orange",
    "red",
    "purple",
    "blue",
    "sky",
    "lime",
    "pink",
    "black",
)

_PREFS: dict[str, Any] = {
    "permissionLevel": "org",
    "hideVotes": False,
    "voting": "disabled",
    "comments": "members",
    "invitations": "members",
    "selfJoin": True,
    "cardCovers": True,
    "isTemplate": False,
    "cardAging": "regular",
    "calendarFeedEnabled": False,
    "background": "blue",
    "backgroundImage": None,
    "backgroundImageScaled": None,
    "backgroundTile": False,
    "backgroundBrightness": "dark",
    "backgroundColor": "#0079BF",
    "backgroundBottomColor": "#0079BF",
    "backgroundTopColor": "#0079BF",
    "canBePublic": True,
    "canBeEnterprise": True,
    "canBeOrg": True,
    "canBePrivate": True,
    "canInvite": True,
}

# GET /boards/{id} answers these by default; /members/{id}/boards answers all fields.
BOARD_DEFAULT_FIELDS = (
    "id name desc descData closed idOrganization idEnterprise pinned url shortUrl prefs labelNames"
).split()


def select_fields(
    obj: dict[str, Any], fields: str | None, default: list[str] | None = None
) -> dict[str, Any]:
    """Apply Trello's ``fields=``: ``all``, a comma list (``id`` always kept), or the default."""
    if fields is None or fields == "":
        if default is None:
            return obj
        wanted = default
    elif fields == "all":
        return obj
    else:
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
    out = {"id": obj["id"]} if "id" in obj else {}
    for name in wanted:
        if name in obj:
            out[name] = obj[name]
    return out


def board_json(state: TrelloState, board: Board) -> dict[str, Any]:
    """Every field of a board (callers narrow it with ``select_fields``)."""
    label_names = dict.fromkeys(LABEL_COLORS, "")
    for label in board.labels.values():
        if label.color in label_names and not label_names[label.color]:
            label_names[label.color] = label.name
    return {
        "id": board.id,
        "name": board.name,
        "desc": board.desc,
        "descData": None,
        "closed": board.closed,
        "dateClosed": None,
        "idOrganization": board.id_organization,
        "idEnterprise": None,
        "limits": None,
        "pinned": False,
        "shortLink": board.short_link,
        "powerUps": [],
        "dateLastActivity": iso(board.last_activity),
        "idTags": [],
        "datePluginDisable": None,
        "creationMethod": None,
        "ixUpdate": None,
        "enterpriseOwned": False,
        "idBoardSource": None,
        "idMemberCreator": board.member_ids[0] if board.member_ids else None,
        "starred": False,
        "url": f"https://trello.com/b/{board.short_link}/{slugify(board.name)}",
        "shortUrl": f"https://trello.com/b/{board.short_link}",
        "prefs": _PREFS,
        "subscribed": False,
        "labelNames": label_names,
        "dateLastView": iso(board.last_activity),
        "templateGallery": None,
        "premiumFeatures": [],
        "memberships": [
            {
                "id": board.membership_ids.get(mid, mid),
                "idMember": mid,
                "memberType": "admin" if mid in board.admin_ids else "normal",
                "unconfirmed": False,
                "deactivated": False,
            }
            for mid in board.member_ids
        ],
    }


def list_json(tlist: TList) -> dict[str, Any]:
    return {
        "id": tlist.id,
        "name": tlist.name,
        "closed": tlist.closed,
        "pos": tlist.pos,
        "softLimit": None,
        "idBoard": tlist.id_board,
        "subscribed": False,
    }


def label_json(label: Label) -> dict[str, Any]:
    return {"id": label.id, "idBoard": label.id_board, "name": label.name, "color": label.color}


def member_short_json(member: Member) -> dict[str, Any]:
    """The shape of ``GET /boards/{id}/members``."""
    return {"id": member.id, "username": member.username, "fullName": member.full_name}


def member_creator_json(member: Member) -> dict[str, Any]:
    """The ``memberCreator`` object embedded in actions."""
    return {
        "id": member.id,
        "username": member.username,
        "activityBlocked": False,
        "avatarHash": None,
        "avatarUrl": None,
        "fullName": member.full_name,
        "idMemberReferrer": None,
        "initials": member.initials,
        "nonPublic": {},
        "nonPublicAvailable": True,
    }


def member_json(state: TrelloState, member: Member) -> dict[str, Any]:
    """``GET /members/{id}`` (and ``/members/me``)."""
    return {
        **member_creator_json(member),
        "bio": "",
        "bioData": None,
        "confirmed": True,
        "memberType": "normal",
        "email": member.email,
        "idBoards": [b.id for b in state.boards.values() if member.id in b.member_ids],
        "idOrganizations": [state.id_organization],
        "idEnterprise": None,
        "url": f"https://trello.com/{member.username}",
        "status": "disconnected",
        "avatarSource": "none",
        "gravatarHash": None,
        "uploadedAvatarHash": None,
        "uploadedAvatarUrl": None,
        "prefs": {"timezone": "UTC", "locale": "en-US", "colorBlind": False},
        "premiumFeatures": [],
        "products": [],
        "loginTypes": ["password"],
        "limits": {},
        "trophies": [],
    }


def custom_field_json(cf: CustomField) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": cf.id,
        "idModel": cf.id_board,
        "modelType": "board",
        "fieldGroup": cf.field_group,
        "display": {"cardFront": True},
        "name": cf.name,
        "pos": cf.pos,
        "type": cf.type,
    }
    if cf.type == "list":
        out["options"] = [
            {
                "id": o.id,
                "idCustomField": cf.id,
                "value": {"text": o.text},
                "color": o.color,
                "pos": o.pos,
            }
            for o in cf.options
        ]
    return out


def custom_field_item_json(card: Card, item: CustomFieldItem) -> dict[str, Any]:
    # Trello quirk: scalar values are strings ({"number": "42"}); list fields carry idValue.
    out: dict[str, Any] = {"id": item.id}
    if item.id_value is not None:
        out["idValue"] = item.id_value
    else:
        out["value"] = item.value
    out.update({"idCustomField": item.id_custom_field, "idModel": card.id, "modelType": "card"})
    return out


def checklist_json(checklist: Checklist) -> dict[str, Any]:
    return {
        "id": checklist.id,
        "name": checklist.name,
        "idCard": checklist.id_card,
        "pos": checklist.pos,
        "idBoard": checklist.id_board,
        "checkItems": [
            {
                "idChecklist": checklist.id,
                "state": item.state,
                "idMember": None,
                "id": item.id,
                "name": item.name,
                "nameData": None,
                "pos": item.pos,
                "due": None,
            }
            for item in checklist.items
        ],
    }


def card_json(
    state: TrelloState,
    card: Card,
    *,
    fields: str | None = None,
    custom_field_items: bool = False,
    checklists: bool = False,
) -> dict[str, Any]:
    """A card in the default/``all`` field set, optionally with nested items and checklists."""
    items = [i for cl in card.checklists for i in cl.items]
    checked = sum(1 for i in items if i.state == "complete")
    labels = [label_json(state.labels[lid]) for lid in card.id_labels if lid in state.labels]
    full: dict[str, Any] = {
        "id": card.id,
        "address": None,
        "badges": {
            "attachmentsByType": {"trello": {"board": 0, "card": 0}},
            "location": False,
            "votes": 0,
            "viewingMemberVoted": False,
            "subscribed": False,
            "fogbugz": "",
            "checkItems": len(items),
            "checkItemsChecked": checked,
            "checkItemsEarliestDue": None,
            "comments": 0,
            "attachments": 0,
            "description": bool(card.desc),
            "due": card.due,
            "dueComplete": card.due_complete,
            "start": card.start,
        },
        "checkItemStates": [],
        "closed": card.closed,
        "dueComplete": card.due_complete,
        "dateLastActivity": iso(card.last_activity),
        "desc": card.desc,
        "descData": None,
        "due": card.due,
        "dueReminder": None,
        "email": None,
        "idBoard": card.id_board,
        "idChecklists": [cl.id for cl in card.checklists],
        "idList": card.id_list,
        "idMembers": list(card.id_members),
        "idMembersVoted": [],
        "idShort": card.id_short,
        "idAttachmentCover": None,
        "idLabels": list(card.id_labels),
        "labels": labels,
        "manualCoverAttachment": False,
        "name": card.name,
        "pos": card.pos,
        "shortLink": card.short_link,
        "shortUrl": f"https://trello.com/c/{card.short_link}",
        "start": card.start,
        "subscribed": False,
        "url": f"https://trello.com/c/{card.short_link}/{card.id_short}-{slugify(card.name)}",
        "cover": {
            "idAttachment": None,
            "color": None,
            "idUploadedBackground": None,
            "size": "normal",
            "brightness": "light",
        },
        "isTemplate": False,
        "cardRole": None,
    }
    out = select_fields(full, fields)
    if custom_field_items:
        out["customFieldItems"] = [custom_field_item_json(card, i) for i in card.custom.values()]
    if checklists:
        out["checklists"] = [checklist_json(cl) for cl in card.checklists]
    return out


def action_json(state: TrelloState, action: Action, *, display: bool = False) -> dict[str, Any]:
    """An action as ``/boards/{id}/actions`` lists it; webhooks add ``display``, ``appCreator``."""
    creator = state.members.get(action.id_member_creator)
    out: dict[str, Any] = {
        "id": action.id,
        "idMemberCreator": action.id_member_creator,
        "data": action.data(),
        "type": action.type,
        "date": action.date,
        "limits": {},
    }
    if display:
        from sandbox.trello.display import display_json

        out["appCreator"] = None
        out["display"] = display_json(action, creator)
    if action.member_id and action.member_id in state.members:
        out["member"] = member_creator_json(state.members[action.member_id])
    if creator is not None:
        out["memberCreator"] = member_creator_json(creator)
    return out


def webhook_json(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "description": hook.description,
        "idModel": hook.id_model,
        "callbackURL": hook.callback_url,
        "active": hook.active,
        "consecutiveFailures": hook.consecutive_failures,
        "firstConsecutiveFailDate": hook.first_consecutive_fail_date,
    }
