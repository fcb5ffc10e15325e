"""The shared read-retry policy, and Retry-After handling through the jira library
(HTTP mocked with ``responses``: the library uses ``requests``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import responses

from connectors.errors import Fatal, NotFound, RateLimited, Transient, Unauthorized
from connectors.jira import JiraAuth, JiraClient
from connectors.retry import no_retry, parse_retry_after, read_retry

BASE = "https://example.atlassian.net"
SERVER_INFO = {"baseUrl": BASE, "deploymentType": "Cloud", "versionNumbers": [1001, 0, 0]}


class Flaky:
    """Raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_parse_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(" 2.5 ", now=now) == 2.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None and parse_retry_after("") is None


def test_rate_limits_wait_at_least_retry_after_and_transients_back_off(caplog):
    waits: list[float] = []
    policy = read_retry("connectors.jira", sleep=waits.append)
    fn = Flaky(
        RateLimited("slow down", retry_after=4.0, status=429),
        Transient("boom", status=502),
        Transient("boom"),
    )
    with caplog.at_level(logging.WARNING, logger="connectors.jira"):
        assert policy(fn) == "ok"
    assert fn.calls == 4
    assert 4.0 <= waits[0] <= 4.25
    assert 2.0 <= waits[1] <= 3.0 and 4.0 <= waits[2] <= 6.0  # exponential, jittered
    first = caplog.records[0].getMessage()
    assert first.startswith("jira.retry attempt=2 delay=4.") and "status=429" in first
    assert (
        "attempt=3" in caplog.records[1].getMessage()
        and "status=502" in caplog.records[1].getMessage()
    )


def test_retry_after_above_the_cap_waits_the_cap():
    waits: list[float] = []
    policy = read_retry("jira", max_wait=10.0, sleep=waits.append)
    assert policy(Flaky(RateLimited("later", retry_after=600.0))) == "ok"
    assert 10.0 <= waits[0] <= 10.25


@pytest.mark.parametrize(
    "error",
    [Unauthorized("no", status=401), NotFound("gone", status=404), Fatal("bad", status=400)],
)
def test_client_errors_are_never_retried(error):
    waits: list[float] = []
    fn = Flaky(error)
    with pytest.raises(type(error)):
        read_retry("jira", sleep=waits.append)(fn)
    assert fn.calls == 1 and waits == []


def test_attempts_are_bounded_and_the_last_error_is_reraised():
    waits: list[float] = []
    fn = Flaky(*(Transient(f"boom {n}") for n in range(10)))
    with pytest.raises(Transient, match="boom 3"):
        read_retry("jira", max_attempts=4, sleep=waits.append)(fn)
    assert fn.calls == 4 and len(waits) == 3


def test_writes_get_one_attempt():
    fn = Flaky(Transient("boom"))
    with pytest.raises(Transient):
        no_retry()(fn)
    assert fn.calls == 1


@responses.activate
def test_a_429_with_an_http_date_retry_after_is_honoured_through_the_library():
    # The library itself crashes on an HTTP-date Retry-After (int() on it); with
    # max_retries=0 it raises JIRAError and our policy reads the date instead.
    waits: list[float] = []
    responses.get(f"{BASE}/rest/api/2/serverInfo", json=SERVER_INFO)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    responses.get(f"{BASE}/rest/api/3/myself", status=429, headers={"Retry-After": when}, json={})
    responses.get(f"{BASE}/rest/api/3/myself", json={"accountId": "abc", "timeZone": "UTC"})
    client = JiraClient(BASE, JiraAuth.cloud("me@example.com", "tok"), sleep=waits.append)
    assert client.myself()["accountId"] == "abc"
    assert len(waits) == 1 and 25 <= waits[0] <= 31


@responses.activate
def test_the_rate_limit_error_carries_status_headers_and_retry_after():
    responses.get(f"{BASE}/rest/api/2/serverInfo", json=SERVER_INFO)
    responses.get(
        f"{BASE}/rest/api/3/myself",
        status=429,
        headers={"Retry-After": "5", "RateLimit-Reason": "jira-burst-based"},
        json={"errorMessages": ["Rate limit exceeded."], "errors": {}},
    )
    client = JiraClient(
        BASE, JiraAuth.cloud("me@example.com", "tok"), sleep=lambda s: None, max_attempts=1
    )
    with pytest.raises(RateLimited) as info:
        client.myself()
    err = info.value
    assert (err.status, err.retry_after) == (429, 5.0)
    assert err.headers["RateLimit-Reason"] == "jira-burst-based"
    # The body stays on the error (and in the debug log), never in the message the API shows.
    assert "Rate limit exceeded." in (err.body or "") and "Rate limit exceeded." not in str(err)
    assert "answered 429" in str(err) and "RateLimited" in str(err) and "tok" not in str(err)
    assert err.__cause__ is None and err.__suppress_context__


@responses.activate
def test_a_non_json_success_is_fatal():
    responses.get(f"{BASE}/rest/api/2/serverInfo", json=SERVER_INFO)
    responses.get(f"{BASE}/rest/api/3/myself", body="<html>login</html>", content_type="text/html")
    client = JiraClient(BASE, JiraAuth.cloud("me@example.com", "tok"), sleep=lambda s: None)
    with pytest.raises(Fatal):
        client.myself()


def test_auth_needs_either_a_token_pair_or_a_pat():
    with pytest.raises(ValueError):
        JiraAuth(email="me@example.com")
    with pytest.raises(ValueError):
        JiraAuth(email="me@example.com", api_token="t", pat="p")
    assert "secret" not in repr(JiraAuth.cloud("me@example.com", "secret"))
