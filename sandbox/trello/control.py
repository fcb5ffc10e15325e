"""The sandbox's own control API under ``/_sandbox`` (not part of Trello).

Tests, the demo and benchmarks use it to change the world the way people change
Trello (each change records the action Trello would record and fires webhooks),
to seed data, to switch limits and faults, and to read request counters.
No auth: the sandbox only ever listens on loopback.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from sandbox.trello import mutations as m
from sandbox.trello.errors import ApiError
from sandbox.trello.generator import generate
from sandbox.trello.serialize import (
    board_json,
    card_json,
    checklist_json,
    custom_field_json,
    label_json,
    list_json,
    member_json,
)
from sandbox.trello.state import TrelloState

__all__ = ["build_control_router"]

JsonBody = dict[str, Any]


def build_control_router(state: TrelloState) -> APIRouter:  # noqa: C901 - a flat list of small routes
    r = APIRouter(prefix="/_sandbox", include_in_schema=False)

    def card_out(card_id: str) -> dict[str, Any]:
        with state.lock:
            card = state.cards.get(card_id)
            if card is None:
                raise ApiError.not_found()
            return card_json(state, card, custom_field_items=True, checklists=True)

    # -- counters, config, faults ---------------------------------------------------
    @r.get("/stats")
    def stats() -> dict[str, Any]:
        return state.stats.snapshot()

    @r.post("/stats/reset")
    def reset_stats() -> dict[str, Any]:
        state.stats.reset()
        state.rate_limits.reset()
        return state.stats.snapshot()

    @r.get("/config")
    def get_config() -> dict[str, Any]:
        return {**vars(state.config), "app_secret": state.app_secret, "api_key": state.api_key}

    @r.put("/config")
    def put_config(body: JsonBody = Body(...)) -> dict[str, Any]:
        values = dict(body)
        with state.lock:
            if "app_secret" in values:
                state.app_secret = str(values.pop("app_secret"))
            try:
                state.config.update(values)
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
        return get_config()

    @r.get("/apps")
    def get_apps() -> dict[str, Any]:
        """API key -> the secret of the application that owns it (signs its webhooks' deliveries)."""
        with state.lock:
            return {"apps": dict(state.apps), "default": state.api_key}

    @r.put("/apps/{api_key}")
    def put_app(api_key: str, body: JsonBody = Body(...)) -> dict[str, Any]:
        """Accept another application's key (or give one a new secret): ``{"app_secret": "..."}``."""
        secret = body.get("app_secret")
        if not isinstance(secret, str) or not secret:
            raise ApiError(400, "app_secret must be a non-empty string")
        state.set_app(api_key, secret)
        return get_apps()

    @r.post("/faults/storm")
    def storm(body: JsonBody = Body(...)) -> dict[str, Any]:
        with state.lock:
            state.config.storm_remaining = int(body.get("count", 0))
            state.config.storm_error = str(body.get("error", "API_TOKEN_LIMIT_EXCEEDED"))
        return get_config()

    @r.post("/seed")
    def seed(body: JsonBody = Body(default={})) -> dict[str, Any]:
        ids = generate(
            state,
            boards=int(body.get("boards", 4)),
            cards_per_board=int(body.get("cards_per_board", 60)),
            seed=int(body.get("seed", 0)),
        )
        return {"boards": ids}

    @r.post("/tokens")
    def add_token(body: JsonBody = Body(...)) -> dict[str, Any]:
        state.add_token(str(body["token"]), body.get("idMember"))
        return {"token": body["token"], "idMember": state.tokens[str(body["token"])]}

    # -- deliveries -----------------------------------------------------------------
    @r.get("/deliveries")
    def deliveries() -> dict[str, Any]:
        delivery = state.delivery()
        return {"pending": delivery.pending(), "log": list(delivery.log)}

    @r.post("/deliveries/wait")
    def wait(body: JsonBody = Body(default={})) -> dict[str, Any]:
        return {"idle": state.wait_deliveries(float(body.get("timeout", 5.0)))}

    # -- members, boards, lists -----------------------------------------------------
    @r.post("/members")
    def add_member(body: JsonBody = Body(...)) -> dict[str, Any]:
        username = str(body["username"])
        full_name = str(body.get("fullName") or username)
        member = state.add_member(username, full_name, email=body.get("email"))
        return member_json(state, member)

    @r.post("/boards")
    def create_board(body: JsonBody = Body(...)) -> dict[str, Any]:
        board = m.create_board(
            state, body["name"], desc=body.get("desc", ""), member_ids=body.get("idMembers", [])
        )
        with state.lock:
            return board_json(state, board)

    @r.post("/boards/{board_id}/members/{member_id}")
    def add_board_member(board_id: str, member_id: str) -> dict[str, Any]:
        m.add_board_member(state, board_id, member_id)
        with state.lock:
            return board_json(state, state.boards[board_id])

    @r.post("/boards/{board_id}/lists")
    def create_list(board_id: str, body: JsonBody = Body(...)) -> dict[str, Any]:
        return list_json(m.create_list(state, board_id, body["name"]))

    @r.post("/boards/{board_id}/labels")
    def create_label(board_id: str, body: JsonBody = Body(...)) -> dict[str, Any]:
        return label_json(m.create_label(state, board_id, body.get("name", ""), body.get("color")))

    @r.post("/boards/{board_id}/customFields")
    def create_custom_field(board_id: str, body: JsonBody = Body(...)) -> dict[str, Any]:
        cf = m.create_custom_field(
            state, board_id, body["name"], body["type"], options=body.get("options", [])
        )
        return custom_field_json(cf)

    @r.put("/lists/{list_id}")
    def rename_list(list_id: str, body: JsonBody = Body(...)) -> dict[str, Any]:
        return list_json(m.rename_list(state, list_id, body["name"]))

    # -- cards ----------------------------------------------------------------------
    @r.post("/cards")
    def create_card(body: JsonBody = Body(...)) -> dict[str, Any]:
        card = m.create_card(
            state,
            body["idList"],
            body["name"],
            desc=body.get("desc", ""),
            due=body.get("due"),
            start=body.get("start"),
            due_complete=bool(body.get("dueComplete", False)),
            id_members=body.get("idMembers", []),
            id_labels=body.get("idLabels", []),
        )
        return card_out(card.id)

    @r.put("/cards/{card_id}")
    def update_card(card_id: str, body: JsonBody = Body(...)) -> dict[str, Any]:
        changes = dict(body)
        if "idList" in changes:
            m.move_card(state, card_id, changes.pop("idList"))
        if "closed" in changes:
            m.set_card_closed(state, card_id, bool(changes.pop("closed")))
        if changes:
            m.update_card(state, card_id, changes)
        return card_out(card_id)

    @r.post("/cards/{card_id}/move")
    def move_card(card_id: str, body: JsonBody = Body(...)) -> dict[str, Any]:
        m.move_card(state, card_id, body["idList"])
        return card_out(card_id)

    @r.post("/cards/{card_id}/archive")
    def archive(card_id: str) -> dict[str, Any]:
        m.set_card_closed(state, card_id, True)
        return card_out(card_id)

    @r.post("/cards/{card_id}/unarchive")
    def unarchive(card_id: str) -> dict[str, Any]:
        m.set_card_closed(state, card_id, False)
        return card_out(card_id)

    @r.delete("/cards/{card_id}")
    def delete(card_id: str) -> dict[str, Any]:
        m.delete_card(state, card_id)
        return {"_value": None}

    @r.post("/cards/{card_id}/members/{member_id}")
    def add_member_to_card(card_id: str, member_id: str) -> dict[str, Any]:
        m.add_card_member(state, card_id, member_id)
        return card_out(card_id)

    @r.delete("/cards/{card_id}/members/{member_id}")
    def remove_member_from_card(card_id: str, member_id: str) -> dict[str, Any]:
        m.remove_card_member(state, card_id, member_id)
        return card_out(card_id)

    @r.post("/cards/{card_id}/labels/{label_id}")
    def add_label(card_id: str, label_id: str) -> dict[str, Any]:
        m.add_card_label(state, card_id, label_id)
        return card_out(card_id)

    @r.delete("/cards/{card_id}/labels/{label_id}")
    def remove_label(card_id: str, label_id: str) -> dict[str, Any]:
        m.remove_card_label(state, card_id, label_id)
        return card_out(card_id)

    @r.put("/cards/{card_id}/customField/{custom_field_id}")
    def set_custom_field(
        card_id: str, custom_field_id: str, body: JsonBody = Body(...)
    ) -> dict[str, Any]:
        value = body.get("idValue", body.get("value"))
        m.set_custom_field(state, card_id, custom_field_id, value or None)
        return card_out(card_id)

    @r.post("/cards/{card_id}/checklists")
    def add_checklist(card_id: str, body: JsonBody = Body(...)) -> dict[str, Any]:
        items = [
            i if isinstance(i, str) else (i["name"], i.get("state", "incomplete"))
            for i in body.get("items", [])
        ]
        return checklist_json(m.add_checklist(state, card_id, body.get("name", "Checklist"), items))

    @r.put("/cards/{card_id}/checkItem/{check_item_id}")
    def set_check_item(
        card_id: str, check_item_id: str, body: JsonBody = Body(...)
    ) -> dict[str, Any]:
        m.set_check_item_state(state, card_id, check_item_id, body["state"])
        return card_out(card_id)

    return r
