"""The Trello sandbox answers in Trello's shapes: captured ruby-trello responses, OpenAPI spec.

The official spec is sparse and partly wrong (VENDOR_FACTS B10), so a type mismatch
with the spec is accepted only where a captured real response has the same type
as ours (the real API is the arbiter).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
import requests

from sandbox.trello import TrelloState
from tests.realdata import REALDATA

RUBY = REALDATA / "trello-rest" / "ruby-trello"
SPEC = REALDATA / "openapi" / "trello-2026-02.json"


def captured(name: str) -> Any:
    return json.loads((RUBY / name).read_text())["body"]


@cache
def spec_schemas() -> dict[str, Any]:
    return json.loads(SPEC.read_text())["components"]["schemas"]  # type: ignore[no-any-return]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec_schemas()[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    for name, kind in (("number", float), ("string", str), ("array", list), ("object", dict)):
        if isinstance(value, kind):
            return name
    raise TypeError(type(value))


def type_ok(value: Any, expected: str) -> bool:
    actual = json_type(value)
    return actual == expected or (expected == "number" and actual == "integer")


def spec_mismatches(obj: dict[str, Any], schema_name: str, real: dict[str, Any]) -> list[str]:
    """Top-level properties whose type contradicts the spec *and* the captured real object."""
    props = _resolve(spec_schemas()[schema_name]).get("properties", {})
    problems = []
    for key, value in obj.items():
        expected = _resolve(props[key]).get("type") if key in props else None
        if expected is None or value is None or type_ok(value, expected):
            continue
        if real.get(key) is not None and json_type(real[key]) == json_type(value):
            continue  # the spec is wrong here; Trello itself answers like we do
        problems.append(f"{schema_name}.{key}: spec {expected}, ours {json_type(value)}")
    return problems


def same_types(ours: dict[str, Any], real: dict[str, Any]) -> list[str]:
    return [
        f"{k}: real {json_type(real[k])}, ours {json_type(ours[k])}"
        for k in real
        if k in ours
        and real[k] is not None
        and ours[k] is not None
        and json_type(real[k]) != json_type(ours[k])
        and {json_type(real[k]), json_type(ours[k])} != {"integer", "number"}
    ]


@pytest.fixture
def some(trello_state: TrelloState) -> dict[str, str]:
    board = next(iter(trello_state.boards.values()))
    card = next(c for c in board.cards.values() if c.custom and c.checklists)
    return {"board": board.id, "card": card.id, "list": card.id_list}


def test_card_has_every_key_of_a_captured_card_with_the_same_types(
    trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    real = captured("card_find_with_id_and_get_all_fields.0.GET.json")
    ours = trello_http.get(f"{trello_url}/1/cards/{some['card']}").json()
    assert set(real) - set(ours) == set()
    assert same_types(ours, real) == []
    assert set(real["badges"]) - set(ours["badges"]) == set()
    assert spec_mismatches(ours, "Card", real) == []


def test_board_default_fields_match_a_captured_board(
    trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    real = captured("board_find_with_id_and_get_all_fields.0.GET.json")
    ours = trello_http.get(f"{trello_url}/1/boards/{some['board']}").json()
    assert set(ours) == set(real)
    assert same_types(ours, real) == []
    assert spec_mismatches(ours, "Board", real) == []


def test_member_boards_carry_all_board_fields(
    trello_url: str, trello_http: requests.Session
) -> None:
    real = captured("get_boards_of_member.1.GET.json")[0]
    boards = trello_http.get(f"{trello_url}/1/members/me/boards").json()
    assert isinstance(boards, list) and len(boards) == 3
    assert set(real) - set(boards[0]) == set()
    assert same_types(boards[0], real) == []


def test_lists_labels_custom_fields_and_members_are_bare_arrays_in_trello_shape(
    trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    base = f"{trello_url}/1/boards/{some['board']}"
    cases = [
        ("lists", "get_lists.1.GET.json", "TrelloList"),
        ("labels", "can_get_labels_of_board.1.GET.json", "Label"),
        ("customFields", "can_get_custom_fields_of_board.1.GET.json", "CustomField"),
        ("members", "can_get_members_of_board.1.GET.json", "Member"),
    ]
    for path, capture, schema in cases:
        ours = trello_http.get(f"{base}/{path}").json()
        real = captured(capture)[0]
        assert isinstance(ours, list) and ours, path
        assert set(real) - set(ours[0]) == set(), path
        assert same_types(ours[0], real) == [], path
        assert spec_mismatches(ours[0], schema, real) == [], path


def test_card_nested_custom_field_items_and_checklists_match_captures(
    trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    card = trello_http.get(
        f"{trello_url}/1/cards/{some['card']}",
        params={"customFieldItems": "true", "checklists": "all"},
    ).json()
    real_item = captured("get_custom_field_items_of_card.1.GET.json")[0]
    real_checklist = captured("get_checklists_of_card.1.GET.json")[0]
    scalar = next(i for i in card["customFieldItems"] if "value" in i)
    assert set(real_item) == set(scalar)
    kind, text = next(iter(scalar["value"].items()))
    assert isinstance(text, str), "Trello stores custom field scalars as strings"
    assert set(real_checklist) == set(card["checklists"][0])
    assert set(real_checklist["checkItems"][0]) == set(card["checklists"][0]["checkItems"][0])
    assert card["badges"]["checkItems"] == sum(len(c["checkItems"]) for c in card["checklists"])


def test_board_actions_have_the_captured_keys_and_are_newest_first(
    trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    real = captured("can_get_actions_of_board.1.GET.json")[0]
    actions = trello_http.get(
        f"{trello_url}/1/boards/{some['board']}/actions", params={"limit": 20}
    ).json()
    assert len(actions) == 20
    assert set(real) - set(actions[0]) == set()
    assert set(real["memberCreator"]) == set(actions[0]["memberCreator"])
    assert [a["id"] for a in actions] == sorted((a["id"] for a in actions), reverse=True)
    assert spec_mismatches(actions[0], "Action", real) == []


def test_ids_are_24_hex_and_encode_their_creation_second(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    from datetime import datetime

    actions = trello_http.get(
        f"{trello_url}/1/boards/{some['board']}/actions", params={"limit": 50}
    ).json()
    for action in actions:
        assert len(action["id"]) == 24 and int(action["id"], 16) >= 0
        created = datetime.fromisoformat(action["date"].replace("Z", "+00:00")).timestamp()
        assert int(action["id"][:8], 16) == int(created)


def test_nested_board_read_returns_everything_in_one_call(
    trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    params = {
        "lists": "all",
        "customFields": "true",
        "labels": "all",
        "members": "all",
        "checklists": "all",
        "cards": "all",
        "card_customFieldItems": "true",
        "fields": "name,closed",
    }
    board = trello_http.get(f"{trello_url}/1/boards/{some['board']}", params=params).json()
    assert {
        "id",
        "name",
        "closed",
        "lists",
        "customFields",
        "labels",
        "members",
        "checklists",
        "cards",
    } == set(board)
    assert [lst["name"] for lst in board["lists"]] == [
        "Backlog",
        "To Do",
        "Doing",
        "Review",
        "Done",
    ]
    assert {cf["name"] for cf in board["customFields"]} == {
        "Estimate",
        "Points",
        "Hours spent",
        "Cost",
        "Priority",
    }
    assert "Milestone" in {lb["name"] for lb in board["labels"]}
    assert len(board["cards"]) == 30 and all("customFieldItems" in c for c in board["cards"])


def test_unknown_card_is_404_with_trellos_text_and_bad_id_is_400(
    trello_url: str, trello_http: requests.Session
) -> None:
    missing = trello_http.get(f"{trello_url}/1/cards/{'0' * 24}")
    assert (missing.status_code, missing.text) == (404, "The requested resource was not found.")
    assert missing.headers["content-type"].startswith("text/plain")
    bad = trello_http.get(f"{trello_url}/1/cards/nope!")
    assert (bad.status_code, bad.text) == (400, "invalid id")


def test_card_filters_select_open_closed_and_all(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    board = trello_state.boards[some["board"]]
    closed = {c.id for c in board.cards.values() if c.closed}
    base = f"{trello_url}/1/boards/{some['board']}/cards"
    all_ids = {c["id"] for c in trello_http.get(f"{base}/all").json()}
    open_ids = {c["id"] for c in trello_http.get(base).json()}
    closed_ids = {c["id"] for c in trello_http.get(f"{base}/closed").json()}
    assert all_ids == set(board.cards)
    assert open_ids == all_ids - closed and closed_ids == closed
    narrow = trello_http.get(f"{base}/all", params={"fields": "name,idList"}).json()
    assert set(narrow[0]) == {"id", "name", "idList"}
    assert trello_http.get(f"{base}/bogus").status_code == 400


def test_batch_answers_one_status_keyed_object_per_route(
    trello_url: str, trello_http: requests.Session, some: dict[str, str]
) -> None:
    urls = ",".join(
        [
            f"/cards/{some['card']}?customFieldItems=true",
            f"/cards/{'0' * 24}",
            f"/boards/{some['board']}/lists?fields=name,closed",
        ]
    )
    answer = trello_http.get(f"{trello_url}/1/batch", params={"urls": urls}).json()
    assert [list(a) for a in answer] == [["200"], ["404"], ["200"]]
    assert answer[0]["200"]["id"] == some["card"] and "customFieldItems" in answer[0]["200"]
    assert set(answer[2]["200"][0]) == {
        "id",
        "name",
        "closed",
    }  # the comma inside a route's query survives
    too_many = ",".join([f"/cards/{some['card']}"] * 11)
    assert trello_http.get(f"{trello_url}/1/batch", params={"urls": too_many}).status_code == 400
