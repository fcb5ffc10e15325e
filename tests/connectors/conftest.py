"""Fixtures for the connector tests (shared file: the Jira part below, others append theirs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from connectors.jira import JiraAuth, JiraClient
from connectors.outbound import OutboundPolicy
from sandbox.jira import JiraConfig, JiraState, generate, start

# The sandboxes listen on 127.0.0.1: the clients built here allow exactly that address,
# as an operator's TASKHUB_OUTBOUND_ALLOW would; everything else internal stays refused.
SANDBOX_OUTBOUND = OutboundPolicy.parse("127.0.0.1")

# --- Jira ------------------------------------------------------------------------------

CLOUD_AUTH = JiraAuth.cloud("integration@example.com", "sandbox-api-token")
DC_AUTH = JiraAuth.dc("sandbox-pat")


class FakeSleep:
    """Records the waits a retry policy asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def jira_site() -> Iterator[tuple[str, JiraState]]:
    """A seeded Jira Cloud sandbox served on loopback: ``(base_url, state)``."""
    state = JiraState(JiraConfig(worklog_feed_delay_ms=0))
    generate(state, projects=3, issues_per_project=40, seed=21)
    url, stop = start(state)
    yield url, state
    stop()


@pytest.fixture
def jira_client(jira_site, fake_sleep) -> Callable[..., JiraClient]:
    """Make a client for the sandbox (fake sleep; keyword arguments passed through)."""
    url, _state = jira_site

    def make(**kwargs: object) -> JiraClient:
        kwargs.setdefault("sleep", fake_sleep)
        kwargs.setdefault("timeout", 5.0)
        kwargs.setdefault("outbound", SANDBOX_OUTBOUND)
        auth = kwargs.pop("auth", CLOUD_AUTH)
        return JiraClient(url, auth, **kwargs)  # type: ignore[arg-type]

    return make


# --- Trello ----------------------------------------------------------------------------

TRELLO_KEY = "sandbox-key"
TRELLO_TOKEN = "sandbox-token"


@pytest.fixture
def trello_clock() -> object:
    """One fake clock for the sandbox (windows, ids) and the client (buckets, retry sleeps)."""
    from sandbox.trello.testing import FakeClock

    return FakeClock(start=1_767_225_600.0)


@pytest.fixture
def trello_world(trello_clock: object) -> Iterator[tuple[str, object]]:
    """A seeded Trello (20 boards x 8 cards) on loopback, on the fake clock; yields (api base, state)."""
    from sandbox.trello import TrelloState
    from sandbox.trello import generate as trello_generate
    from sandbox.trello.testing import running_trello

    state = TrelloState(seed=21, clock=trello_clock.now)  # type: ignore[attr-defined]
    trello_generate(state, boards=20, cards_per_board=8, seed=21)
    with running_trello(state) as (url, st):
        yield url + "/1", st


@pytest.fixture
def trello_limiter(trello_clock: object) -> object:
    """Trello's real limits (100/10 s per token, 300/10 s per key), paced on the fake clock."""
    from connectors.trello import RateLimiter

    return RateLimiter(clock=trello_clock.now, sleep=trello_clock.sleep)  # type: ignore[attr-defined]


@pytest.fixture
def make_trello_api(
    trello_world: tuple[str, object], trello_clock: object, trello_limiter: object
) -> Iterator[Callable[..., object]]:
    """Build ``TrelloClient`` clients against the sandbox (fake sleep, test limiter); closes them after."""
    from connectors.trello import TrelloClient

    made: list[TrelloClient] = []

    def make(**overrides: object) -> TrelloClient:
        kwargs: dict[str, object] = {"base_url": trello_world[0], "sleep": trello_clock.sleep,  # type: ignore[attr-defined]
                                     "limiter": trello_limiter, "outbound": SANDBOX_OUTBOUND}  # fmt: skip
        kwargs.update(overrides)
        api = TrelloClient(str(kwargs.pop("api_key", TRELLO_KEY)), str(kwargs.pop("token", TRELLO_TOKEN)), **kwargs)  # type: ignore[arg-type]
        made.append(api)
        return api

    yield make
    for api in made:
        api.session.close()
