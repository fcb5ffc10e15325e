"""Whole Trello documents → effects: webhook payloads, and whatever
``taskhub normalize trello PATH|-`` is given.

Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/
A webhook POST is ``{action, model, webhook?}``: ``action`` is the change, ``model``
the watched object's current state (a board for board webhooks, a card for card
webhooks).
"""

from __future__ import annotations

from typing import Any

from mappings.model import Effect, Ignored, TaskDelete
from mappings.profile import MappingProfile
from mappings.trello.actions import map_action
from mappings.trello.cards import map_card
from mappings.trello.context import BoardContext, ListInfo
from mappings.trello.values import as_dict, as_str

__all__ = ["effects_from_webhook", "effects_from_document", "context_from_action"]


def effects_from_webhook(
    payload: dict[str, Any], ctx: BoardContext | None, profile: MappingProfile
) -> list[Effect]:
    """Effects of one webhook delivery. Without a board context a minimal one is built
    from the action (board and list names) and the model when it is a board.

    When the model is the card the action is about (a card webhook), its current
    state is mapped as well, after the action's own effects.
    """
    if not isinstance(payload, dict):
        return [Ignored(reason="Trello webhook payload is not a JSON object")]
    action = payload.get("action")
    if not isinstance(action, dict):
        return [Ignored(reason="Trello webhook payload has no 'action'")]
    model = as_dict(payload.get("model"))
    if ctx is None:
        ctx = context_from_action(action, profile, model=model)
    effects = map_action(action, ctx, profile)
    card_id = as_str(as_dict(as_dict(action.get("data")).get("card")).get("id"))
    if (
        _is_card(model)
        and model.get("id") == card_id
        and not any(isinstance(e, TaskDelete | Ignored) for e in effects)
    ):
        effects.extend(map_card(model, ctx, profile))
    return effects


def context_from_action(
    action: dict[str, Any], profile: MappingProfile, *, model: dict[str, Any] | None = None
) -> BoardContext:
    """A minimal board context from what an action names: its board and lists."""
    data = as_dict(action.get("data"))
    board = as_dict(data.get("board"))
    model = model or {}
    is_board_model = bool(model) and not _is_card(model) and "idBoard" not in model
    board_id = (
        as_str(board.get("id"))
        or (as_str(model.get("id")) if is_board_model else None)
        or as_str(model.get("idBoard"))
        or ""
    )
    ctx = BoardContext.minimal(
        board_id, board_name=as_str(board.get("name")), timezone=profile.timezone
    )
    if is_board_model and model.get("id") == board_id:
        ctx.board_name = ctx.board_name or as_str(model.get("name"))
        ctx.board_url = as_str(model.get("url")) or as_str(model.get("shortUrl"))
    for key in ("list", "listBefore", "listAfter"):
        lst = as_dict(data.get(key))
        list_id, name = as_str(lst.get("id")), as_str(lst.get("name"))
        if list_id and name:
            ctx.lists[list_id] = ListInfo(name=name, closed=bool(lst.get("closed", False)))
    return ctx


def effects_from_document(
    doc: Any, *, profile: MappingProfile, ctx: BoardContext | None = None
) -> list[Effect]:
    """Map any Trello JSON document a person may hand to ``taskhub normalize``.

    Accepted: a webhook payload (``action`` [+ ``model``]), a bare action (``type``,
    ``data``, ``date``), a REST card (``idList`` and ``idBoard``), a board with nested
    ``cards``, or a list of cards and/or actions. Anything else raises ``ValueError``
    saying what was expected.
    """
    if isinstance(doc, list):
        effects: list[Effect] = []
        for index, item in enumerate(doc):
            kind = _kind(item)
            if kind not in ("card", "action"):
                raise ValueError(
                    f"item {index} of the list is not a Trello card or action: {_describe(item)}"
                )
            effects.extend(effects_from_document(item, profile=profile, ctx=ctx))
        return effects
    kind = _kind(doc)
    if kind == "webhook":
        return effects_from_webhook(doc, ctx, profile)
    if kind == "action":
        return map_action(doc, ctx or context_from_action(doc, profile), profile)
    if kind == "card":
        card_ctx = ctx or BoardContext.minimal(doc["idBoard"], timezone=profile.timezone)
        return map_card(doc, card_ctx, profile)
    if kind == "board":
        board_ctx = ctx or BoardContext.from_board_json(
            doc, timezone=profile.timezone, milestone_label=profile.trello.milestone_label
        )
        return [
            effect
            for card in doc["cards"]
            if isinstance(card, dict)
            for effect in map_card(card, board_ctx, profile)
        ]
    raise ValueError(
        "not a Trello document: expected a webhook payload {action, model}, an action "
        "{type, data, date}, a card {idList, idBoard, ...}, a board with nested 'cards', "
        f"or a list of cards; got {_describe(doc)}"
    )


def _kind(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("action"), dict):
        return "webhook"
    if isinstance(doc.get("type"), str) and isinstance(doc.get("data"), dict) and "date" in doc:
        return "action"
    if _is_card(doc):
        return "card"
    if as_str(doc.get("id")) and isinstance(doc.get("cards"), list):
        return "board"
    return None


def _is_card(doc: dict[str, Any]) -> bool:
    return bool(as_str(doc.get("id")) and as_str(doc.get("idList")) and as_str(doc.get("idBoard")))


def _describe(doc: Any) -> str:
    if isinstance(doc, dict):
        keys = sorted(str(k) for k in doc)[:12]
        return f"an object with keys {keys}" if keys else "an empty object"
    return f"a JSON {type(doc).__name__}"
