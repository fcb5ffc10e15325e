"""Jira value readers: date-times, dates, durations, people."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.jira import parse_jira_date, parse_jira_datetime, parse_jira_duration
from mappings.jira.values import opt_datetime, opt_decimal, opt_float, person_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-06-24T19:24:50.000+0000", datetime(2023, 6, 24, 19, 24, 50, tzinfo=UTC)),
        ("2023-06-24T19:24:50.000-0330", datetime(2023, 6, 24, 22, 54, 50, tzinfo=UTC)),
        ("2019-08-14T11:03:02.179+0800", datetime(2019, 8, 14, 3, 3, 2, 179000, tzinfo=UTC)),
        ("2015-04-11T15:22:00.000+10:00", datetime(2015, 4, 11, 5, 22, tzinfo=UTC)),
        ("2019-09-16T16:19:17.156Z", datetime(2019, 9, 16, 16, 19, 17, 156000, tzinfo=UTC)),
        ("2019-09-16T16:19:17Z", datetime(2019, 9, 16, 16, 19, 17, tzinfo=UTC)),
        ("2019-09-16T16:19:17+0000", datetime(2019, 9, 16, 16, 19, 17, tzinfo=UTC)),
        ("2019-08-27 19:43:24.193", datetime(2019, 8, 27, 19, 43, 24, 193000, tzinfo=UTC)),
        ("2019-05-11", datetime(2019, 5, 11, tzinfo=UTC)),
        (1595886387039, datetime(2020, 7, 27, 21, 46, 27, 39000, tzinfo=UTC)),
    ],
)
def test_parse_jira_datetime_gives_aware_utc(text: object, expected: datetime) -> None:
    parsed = parse_jira_datetime(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_parse_jira_datetime_empty_is_none(empty: object) -> None:
    assert parse_jira_datetime(empty) is None


@pytest.mark.parametrize("garbage", ["yesterday", "2019-13-45T00:00:00Z", {"a": 1}, True, [1]])
def test_parse_jira_datetime_rejects_garbage(garbage: object) -> None:
    with pytest.raises(ValueError):
        parse_jira_datetime(garbage)
    assert opt_datetime(garbage) is None


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_jira_formatted_datetimes_round_trip(naive: datetime, offset_minutes: int) -> None:
    moment = naive.replace(microsecond=naive.microsecond // 1000 * 1000)
    local = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    sign = "+" if offset_minutes >= 0 else "-"
    hh, mm = divmod(abs(offset_minutes), 60)
    text = (
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{local.microsecond // 1000:03d}{sign}{hh:02d}{mm:02d}"
    )
    assert parse_jira_datetime(text) == local


def test_parse_jira_date() -> None:
    assert parse_jira_date("2019-05-11") == date(2019, 5, 11)
    assert parse_jira_date("2019-05-11T23:00:00.000-0800") == date(2019, 5, 11)  # as written
    assert parse_jira_date(None) is None
    with pytest.raises(ValueError):
        parse_jira_date("11/May/19")  # a display format (userReleaseDate), never parsed


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3h 20m", 12000),
        ("18w 2d", (18 * 5 + 2) * 8 * 3600),
        ("1d", 8 * 3600),
        ("45m", 2700),
        ("1.5h", 5400),
    ],
)
def test_parse_jira_duration_uses_default_working_time(text: str, seconds: int) -> None:
    assert parse_jira_duration(text) == seconds


def test_parse_jira_duration_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_jira_duration("three hours")


def test_numbers_are_forgiving() -> None:
    assert opt_float("3.0") == 3.0 and opt_float(5) == 5.0
    assert opt_float("NaN") is None and opt_float(True) is None and opt_float({"v": 1}) is None
    assert str(opt_decimal(12.5)) == "12.5" and opt_decimal("x") is None


def test_person_ref_prefers_cloud_account_id() -> None:
    both = {"name": "admin", "key": "admin", "accountId": "5c5f88", "displayName": "Test User"}
    assert person_ref(both).external_id == "5c5f88"  # type: ignore[union-attr]
    server = {"name": "levbrouk", "key": "levbrouk", "emailAddress": "lev@mattermost.com"}
    ref = person_ref(server)
    assert ref is not None and (ref.external_id, ref.email, ref.tool) == (
        "levbrouk",
        "lev@mattermost.com",
        "jira",
    )
    assert person_ref({"key": "JIRAUSER10100"}).external_id == "JIRAUSER10100"  # type: ignore[union-attr]
    assert person_ref(None) is None and person_ref({"displayName": "nobody"}) is None
