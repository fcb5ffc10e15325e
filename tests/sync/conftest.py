"""Fixtures for sync tests: a seeded sandbox, a source registered for it, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from sandbox.jira import JiraConfig, JiraState, generate, start
from service.db import Database
from service.schemas import SourceCreate
from service.security.auth import create_org
from service.settings import Settings
from service.sources import create_source

JIRA_EMAIL = "integration@example.com"
JIRA_TOKEN = "sandbox-api-token"
JIRA_PAT = "sandbox-pat"


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class JiraSite:
    url: str
    state: JiraState
    settings: Settings
    db: Database
    org_id: int
    source_id: int
    webhook_secret: str


def sync_settings(tmp_path: Path) -> Settings:
    """Settings for syncing against the loopback sandboxes: only 127.0.0.1 is allowed out."""
    return Settings(data_dir=tmp_path / "data", secret_key=Fernet.generate_key().decode(),
                    public_base_url="http://testserver", outbound_allow="127.0.0.1",
                    _env_file=None)  # type: ignore[call-arg]


def register_jira(db: Database, settings: Settings, url: str, *, projects: list[str] | None = None,
                  dc: bool = False, org: str = "acme") -> tuple[int, int, str]:
    creds = ({"type": "jira_datacenter", "personal_access_token": JIRA_PAT} if dc else
             {"type": "jira_cloud", "email": JIRA_EMAIL, "api_token": JIRA_TOKEN})
    with db.session() as s:
        o = create_org(s, org)
        body = {"kind": "jira", "name": "jira", "base_url": url, "credentials": creds}
        if projects:
            body["scope"] = {"projects": projects}
        src = create_source(s, settings, o.id, SourceCreate.model_validate(body))
    return o.id, src.id, src.webhook_secret  # type: ignore[return-value]


@pytest.fixture
def jira_site(db: Database, tmp_path: Path) -> Iterator[JiraSite]:
    state = JiraState(JiraConfig(worklog_feed_delay_ms=0))
    generate(state, projects=2, issues_per_project=40, seed=5)
    url, stop = start(state)
    settings = sync_settings(tmp_path)
    org_id, source_id, secret = register_jira(db, settings, url)
    yield JiraSite(url, state, settings, db, org_id, source_id, secret)
    stop()
    state.close()


# --- Trello ----------------------------------------------------------------------------------

@dataclass
class TrelloSite:
    url: str  # API base (…/1)
    state: object
    settings: Settings
    db: Database
    org_id: int
    source_id: int
    boards: list[str]


def register_trello(db: Database, settings: Settings, api_base: str, state: object, boards: list[str] | None = None,
                    *, org: str = "acme") -> tuple[int, int]:
    with db.session() as s:
        o = create_org(s, org)
        body = {"kind": "trello", "name": "trello", "base_url": api_base,
                "credentials": {"type": "trello", "api_key": state.api_key, "token": "sandbox-token",  # type: ignore[attr-defined]
                                "app_secret": state.app_secret}}  # type: ignore[attr-defined]
        if boards:
            body["scope"] = {"boards": boards}
        src = create_source(s, settings, o.id, SourceCreate.model_validate(body))
    return o.id, src.id  # type: ignore[return-value]


def run_trello_site(db: Database, tmp_path: Path, *, cards_per_board: int, mirrored: int = 2) -> Iterator[TrelloSite]:
    """Two boards in a sandbox, the source mirroring the first ``mirrored`` of them (a fixture's body)."""
    from connectors.trello import set_default_limiter
    from sandbox.trello import TrelloState
    from sandbox.trello import generate as trello_generate
    from sandbox.trello import start as trello_start

    state = TrelloState(seed=3)
    boards = trello_generate(state, boards=2, cards_per_board=cards_per_board, seed=3)
    url, stop = trello_start(state)
    settings = sync_settings(tmp_path)
    org_id, source_id = register_trello(db, settings, url + "/1", state, boards[:mirrored])
    yield TrelloSite(url + "/1", state, settings, db, org_id, source_id, boards)
    stop()
    state.close()
    set_default_limiter(None)


@pytest.fixture
def trello_site(db: Database, tmp_path: Path) -> Iterator[TrelloSite]:
    yield from run_trello_site(db, tmp_path, cards_per_board=25)
