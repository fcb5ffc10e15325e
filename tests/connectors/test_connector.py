"""Both tools' clients are ``Connector``s: the same names for the jobs the sync needs."""

from __future__ import annotations

import inspect

import pytest

from connectors.base import Connector
from connectors.jira import JiraAuth, JiraClient
from connectors.trello import RateLimiter, TrelloClient


@pytest.mark.parametrize(
    "client",
    [
        JiraClient("https://jira.example", JiraAuth.dc("pat")),
        TrelloClient("key", "token", base_url="https://trello.example/1", limiter=RateLimiter()),
    ],
    ids=["jira", "trello"],
)
def test_each_client_is_a_connector_that_has_sent_nothing_yet(client: object) -> None:
    assert isinstance(client, Connector)
    assert client.api_calls == 0
    assert next(iter(inspect.signature(client.register_webhook).parameters)) == "url"


def test_an_object_without_webhook_registration_is_not_a_connector() -> None:
    class CountsOnly:
        api_calls = 0

    assert not isinstance(CountsOnly(), Connector)
