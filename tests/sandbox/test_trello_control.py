"""The ``/_sandbox`` control API changes the world like a person in Trello would: every change is
visible through the ``/1`` API and recorded as the action Trello would record."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.trello import TrelloState


def control(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.request(method, f"{url}/_sandbox{path}", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def last_action(url: str, http: requests.Session, board: str) -> dict[str, Any]:
    return http.get(f"{url}/1/boards/{board}/actions", params={"limit": 1}).json()[0]  # type: ignore[no-any-return]


def test_a_card_lifecycle_through_the_control_api(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    url, http = trello_url, trello_http
    member = control(url, "POST", "/members", {"username": "newbie", "fullName": "New Bie"})
    board = control(url, "POST", "/boards", {"name": "Control board", "idMembers": [member["id"]]})
    todo = control(url, "POST", f"/boards/{board['id']}/lists", {"name": "To Do"})
    done = control(url, "POST", f"/boards/{board['id']}/lists", {"name": "Done"})
    estimate = control(
        url, "POST", f"/boards/{board['id']}/customFields", {"name": "Estimate", "type": "number"}
    )
    card = control(url, "POST", "/cards", {"idList": todo["id"], "name": "Write docs"})
    assert last_action(url, http, board["id"])["type"] == "createCard"

    control(url, "POST", f"/cards/{card['id']}/move", {"idList": done["id"]})
    moved = last_action(url, http, board["id"])
    assert moved["data"]["listBefore"]["name"] == "To Do"
    assert moved["data"]["listAfter"]["name"] == "Done"

    control(
        url, "PUT", f"/cards/{card['id']}", {"due": "2031-01-02T03:04:05Z", "dueComplete": True}
    )
    control(url, "POST", f"/cards/{card['id']}/members/{member['id']}")
    label = next(lb for lb in http.get(f"{url}/1/boards/{board['id']}/labels").json())
    control(url, "POST", f"/cards/{card['id']}/labels/{label['id']}")
    control(
        url, "PUT", f"/cards/{card['id']}/customField/{estimate['id']}", {"value": {"number": 5}}
    )
    checklist = control(url, "POST", f"/cards/{card['id']}/checklists", {"items": ["a", "b"]})
    item = checklist["checkItems"][0]["id"]
    control(url, "PUT", f"/cards/{card['id']}/checkItem/{item}", {"state": "complete"})

    seen = http.get(
        f"{url}/1/cards/{card['id']}", params={"customFieldItems": "true", "checklists": "all"}
    ).json()
    assert seen["idList"] == done["id"]
    assert (seen["due"], seen["dueComplete"]) == ("2031-01-02T03:04:05.000Z", True)
    assert seen["idMembers"] == [member["id"]] and seen["idLabels"] == [label["id"]]
    assert seen["customFieldItems"][0]["value"] == {"number": "5"}
    assert seen["badges"]["checkItemsChecked"] == 1

    types = [
        a["type"]
        for a in http.get(
            f"{url}/1/boards/{board['id']}/actions", params={"limit": 9, "filter": "all"}
        ).json()
    ]
    assert types == [
        "updateCheckItemStateOnCard",
        "addChecklistToCard",
        "updateCustomFieldItem",
        "addLabelToCard",
        "addMemberToCard",
        "updateCard",  # dueComplete
        "updateCard",  # due
        "updateCard",  # idList
        "createCard",
    ]

    control(url, "POST", f"/cards/{card['id']}/archive")
    assert http.get(f"{url}/1/cards/{card['id']}").json()["closed"] is True
    control(url, "POST", f"/cards/{card['id']}/unarchive")
    control(url, "DELETE", f"/cards/{card['id']}/labels/{label['id']}")
    control(url, "DELETE", f"/cards/{card['id']}/members/{member['id']}")
    control(url, "PUT", f"/cards/{card['id']}/customField/{estimate['id']}", {"value": None})
    assert http.get(f"{url}/1/cards/{card['id']}/customFieldItems").json() == []
    control(url, "PUT", f"/lists/{todo['id']}", {"name": "Backlog"})
    assert last_action(url, http, board["id"])["data"]["old"] == {"name": "To Do"}
    control(url, "DELETE", f"/cards/{card['id']}")
    assert http.get(f"{url}/1/cards/{card['id']}").status_code == 404
    assert last_action(url, http, board["id"])["type"] == "deleteCard"


def test_control_errors_are_plain_text_with_the_right_status(trello_url: str) -> None:
    missing = requests.post(f"{trello_url}/_sandbox/cards/{'0' * 24}/archive", timeout=5)
    assert (missing.status_code, missing.text) == (404, "The requested resource was not found.")
    bad_field = requests.put(f"{trello_url}/_sandbox/config", json={"nope": 1}, timeout=5)
    assert bad_field.status_code == 400 and "unknown config keys: nope" in bad_field.text


def test_config_and_app_secret_are_settable(trello_state: TrelloState, trello_url: str) -> None:
    config = control(trello_url, "PUT", "/config", {"app_secret": "s3cret", "token_limit": 7})
    assert (config["app_secret"], config["token_limit"]) == ("s3cret", 7)
    assert trello_state.app_secret == "s3cret" and trello_state.config.token_limit == 7


def test_seed_adds_boards_the_token_can_see(trello_url: str, trello_http: requests.Session) -> None:
    before = len(trello_http.get(f"{trello_url}/1/members/me/boards").json())
    seeded = control(trello_url, "POST", "/seed", {"boards": 2, "cards_per_board": 5, "seed": 9})
    assert len(seeded["boards"]) == 2
    assert len(trello_http.get(f"{trello_url}/1/members/me/boards").json()) == before + 2


def test_config_values_of_the_wrong_type_are_refused_with_400(trello_url: str) -> None:
    bad = requests.put(f"{trello_url}/_sandbox/config", json={"token_limit": "many"}, timeout=5)
    assert bad.status_code == 400 and "token_limit must be a int" in bad.text
    bad_flag = requests.put(
        f"{trello_url}/_sandbox/config", json={"limits_enabled": "no"}, timeout=5
    )
    assert bad_flag.status_code == 400
