"""The paginators of connectors/<tool>/pages.py, without HTTP: what they ask for next, when
they stop, and that a stream which does not advance is a Fatal error, not an endless loop."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.errors import Fatal
from connectors.jira.pages import (
    SearchPage,
    bulk_changelog_pages,
    offset_pages,
    search_pages,
    worklog_feed_pages,
)
from connectors.trello.pages import action_pages


def _ids(*numbers: int) -> list[dict[str, Any]]:
    return [{"id": f"{n:024x}"} for n in numbers]


def test_action_pages_ask_under_the_oldest_id_until_a_short_page() -> None:
    log = _ids(*range(10, 0, -1))  # newest first, as Trello answers
    asked: list[str | None] = []

    def page(before: str | None) -> list[dict[str, Any]]:
        asked.append(before)
        older = [a for a in log if before is None or a["id"] < before]
        return older[:4]

    pages = list(action_pages(page, since=None, page_size=4, board_id="b"))
    assert [len(p.actions) for p in pages] == [4, 4, 2]
    assert [p.is_last for p in pages] == [False, False, True]
    assert asked == [None, log[3]["id"], log[7]["id"]]
    assert [a["id"] for p in pages for a in p.actions] == [a["id"] for a in log]


def test_action_pages_drop_repeats_and_what_is_not_newer_than_an_id_since() -> None:
    answers = iter([_ids(9, 8, 7), _ids(7, 6, 5), _ids(5)])
    pages = list(action_pages(lambda before: next(answers), since=f"{5:024x}", page_size=3, board_id="b"))
    assert [[int(a["id"], 16) for a in p.actions] for p in pages] == [[9, 8, 7], [6], []]


def test_action_pages_that_do_not_advance_are_fatal() -> None:
    same = _ids(3, 2)
    with pytest.raises(Fatal, match="did not advance on board b"):
        list(action_pages(lambda before: same, since=None, page_size=2, board_id="b"))


def test_search_pages_follow_the_token_and_refuse_a_repeated_one() -> None:
    chain = {None: "t1", "t1": "t2", "t2": None}

    def page(token: str | None, start_at: int) -> SearchPage:
        following = chain[token]
        return SearchPage([{"id": token or "first"}], following, None, following is None)

    assert [p.issues[0]["id"] for p in search_pages(page, token=None, start_at=0, what="q")] == ["first", "t1", "t2"]

    def looping(token: str | None, start_at: int) -> SearchPage:
        return SearchPage([], "again", None, False)

    with pytest.raises(Fatal, match="paging loops"):
        list(search_pages(looping, token=None, start_at=0, what="q"))


def test_search_pages_on_data_center_follow_start_at() -> None:
    starts: list[int] = []

    def page(token: str | None, start_at: int) -> SearchPage:
        starts.append(start_at)
        following = start_at + 2
        return SearchPage([{}, {}], None, None if following >= 5 else following, following >= 5, 5)

    assert len(list(search_pages(page, token=None, start_at=0, what="q"))) == 3
    assert starts == [0, 2, 4]


def test_worklog_feed_pages_resume_from_until_and_refuse_a_feed_that_stands_still() -> None:
    answers = iter([
        {"values": [{"worklogId": 1}], "until": 200, "lastPage": False},
        {"values": [{"worklogId": 2}], "until": 300, "lastPage": True},
    ])
    asked: list[dict[str, Any]] = []

    def get(path: str, params: dict[str, Any]) -> Any:
        asked.append({"path": path, **params})
        return next(answers)

    pages = list(worklog_feed_pages(get, "updated", 100))
    assert [(p.since, p.until, p.last_page) for p in pages] == [(100, 200, False), (200, 300, True)]
    assert asked == [{"path": "worklog/updated", "since": 100}, {"path": "worklog/updated", "since": 200}]

    with pytest.raises(Fatal, match="does not advance"):
        list(worklog_feed_pages(lambda path, params: {"values": [{}], "until": 100, "lastPage": False},
                                "deleted", 100))


def test_offset_pages_end_on_is_last_or_on_total() -> None:
    asked: list[int] = []

    def bean(path: str, params: dict[str, Any]) -> Any:
        asked.append(params["startAt"])
        return {"values": [{"n": params["startAt"]}] * 2, "isLast": params["startAt"] >= 2}

    assert [len(p) for p in offset_pages(bean, "project/search", page_size=2)] == [2, 2]
    assert asked == [0, 2]

    def worklogs(path: str, params: dict[str, Any]) -> Any:
        return {"worklogs": [{}, {}, {}][: 5 - params["startAt"]], "total": 5}

    assert [len(p) for p in offset_pages(worklogs, "issue/1/worklog", page_size=3, items="worklogs",
                                         ends_by="total")] == [3, 2]
    # a PageBean without isLast is one page; an empty page ends any list
    assert list(offset_pages(lambda path, params: {"values": [{}]}, "x", page_size=1)) == [[{}]]
    assert list(offset_pages(lambda path, params: {"worklogs": [], "total": 9}, "x", page_size=1,
                             items="worklogs", ends_by="total")) == [[]]


def test_bulk_changelog_pages_send_1000_ids_a_batch_and_follow_each_batch_token() -> None:
    asked: list[dict[str, Any]] = []

    def post(path: str, body: dict[str, Any]) -> Any:
        assert path == "changelog/bulkfetch"
        asked.append(body)
        first = body["issueIdsOrKeys"][0]
        if body.get("nextPageToken") is None and first == "0":
            return {"issueChangeLogs": [{"issueId": "0", "changeHistories": []}], "nextPageToken": "p2"}
        return {"issueChangeLogs": [], "nextPageToken": None}

    ids = [str(n) for n in range(2500)] + ["7"]  # a repeated id is asked once
    pages = list(bulk_changelog_pages(post, ids, field_ids=["status"]))
    assert len(pages) == 4  # batch 1: two pages; batches 2 and 3: one each
    assert [len(b["issueIdsOrKeys"]) for b in asked] == [1000, 1000, 1000, 500]
    assert [b.get("nextPageToken") for b in asked] == [None, "p2", None, None]
    assert all(b["fieldIds"] == ["status"] and b["maxResults"] == 10000 for b in asked)
    assert list(bulk_changelog_pages(post, [])) == []


def test_bulk_changelog_pages_that_loop_or_answer_no_object_are_fatal() -> None:
    with pytest.raises(Fatal, match="paging loops"):
        list(bulk_changelog_pages(lambda path, body: {"issueChangeLogs": [], "nextPageToken": "same"}, ["1"]))
    with pytest.raises(Fatal, match="JSON object"):
        list(bulk_changelog_pages(lambda path, body: [], ["1"]))
    with pytest.raises(ValueError, match="1 to 1000"):
        list(bulk_changelog_pages(lambda path, body: {}, ["1"], batch=1001))
