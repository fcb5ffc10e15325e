"""The simulated Jira site: configuration, records, indices, counters. Thread-safe.

Everything that reads or changes records holds ``state.lock`` (a re-entrant lock).
Issues are indexed by id, by key and by ``(updated, id)`` (a sorted list) so that the
hot polling query ``updated >= X ORDER BY updated`` is a binary search plus a slice.
Mutations live in ``mutations.py``; JSON shapes in ``serialize.py``.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from sandbox.jira.limits import FaultPlan, Stats, TokenBucket
from sandbox.jira.records import (
    IssueRec,
    LinkRec,
    Project,
    Sprint,
    User,
    Version,
    Webhook,
    WorklogRec,
)

if TYPE_CHECKING:
    from sandbox.jira.webhooks import WebhookDispatcher

__all__ = ["JiraConfig", "JiraState", "Deployment"]

Deployment = Literal["Cloud", "Server", "DataCenter"]


@dataclass
class JiraConfig:
    """Knobs of the simulated site. Change them with ``state.configure(...)``."""

    deployment: Deployment = "Cloud"
    base_url: str | None = None  # for "self" links; None = the URL the request came in on
    time_zone: str = "America/Los_Angeles"  # the API user's profile zone: JQL dates use it
    render_time_zone: str = "UTC"  # zone datetimes are printed in ("+0000" by default)
    cloud_version: str = "1001.0.0-SNAPSHOT"
    dc_version: str = "9.12.15"
    # credentials: Cloud = Basic email:api_token; DC = Bearer personal access token
    email: str = "integration@example.com"
    api_token: str = "sandbox-api-token"  # noqa: S105 - sandbox credential, not a secret
    pat: str = "sandbox-pat"  # noqa: S105
    # per-second burst limit (token bucket); None = unlimited
    rate_limit_per_second: float | None = None
    rate_limit_burst: int = 100
    # page sizes and caps (Jira's documented values by default)
    search_page_max: int = 100  # when fields beyond id/key are requested
    search_page_max_ids: int = 5000  # when only id/key are requested
    search_changelog_cap: int = 20  # histories per issue in search results
    worklog_page_max: int = 5000  # GET /issue/{id}/worklog
    changelog_page_max: int = 100  # GET /issue/{id}/changelog
    worklog_feed_page_size: int = 1000  # /worklog/updated|deleted
    worklog_feed_delay_ms: int = 60_000  # the feeds never show the last minute
    dc_search_page_max: int = 1000
    # admin webhook delivery
    webhook_concurrency: int = 1  # parallel senders (the demo and bench/latency.py use 4, as Jira does)
    webhook_retries: int = 3  # further attempts after the first
    webhook_backoff_s: float = 0.05
    webhook_timeout_s: float = 5.0
    webhook_duplicate_probability: float = 0.0
    webhook_reorder_probability: float = 0.0
    seed: int = 42

    @property
    def is_cloud(self) -> bool:
        return self.deployment == "Cloud"


class JiraState:
    """In-memory Jira site. Create one per test (or benchmark) and hand it to ``create_app``."""

    def __init__(
        self, config: JiraConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or JiraConfig()
        self.lock = threading.RLock()
        self.clock = clock
        self.stats = Stats()
        self.faults = FaultPlan()
        self._bucket: TokenBucket | None = None
        self.seen_base_url = "http://127.0.0.1"
        self.revision = 0  # bumps on every mutation (search caches key on it)

        self.users: dict[str, User] = {}
        self.myself_id = ""
        self.projects: dict[int, Project] = {}
        self.project_by_key: dict[str, int] = {}
        self.versions: dict[int, Version] = {}
        self.project_versions: dict[int, list[int]] = {}
        self.sprints: dict[int, Sprint] = {}
        self.issues: dict[int, IssueRec] = {}
        self.issue_by_key: dict[str, int] = {}
        self.by_updated: list[tuple[int, int]] = []  # sorted (updated ms, issue id)
        self.worklogs: dict[int, WorklogRec] = {}
        self.worklog_by_updated: list[tuple[int, int]] = []  # sorted (updated ms, worklog id)
        self.worklog_deleted: list[tuple[int, int]] = []  # sorted (deleted ms, worklog id)
        self.webhooks: dict[int, Webhook] = {}
        self.links: dict[int, LinkRec] = {}
        self._ids: dict[str, int] = {
            "project": 10000,
            "issue": 10000,
            "version": 10100,
            "sprint": 0,
            "worklog": 100000,
            "history": 200000,
            "webhook": 0,
            "link": 10000,
        }
        self._dispatcher: WebhookDispatcher | None = None
        self.search_cache: dict[Any, Any] = {}  # see search.py; keyed on the revision
        self._add_default_users()

    # --- configuration ------------------------------------------------------------

    def configure(self, **changes: Any) -> JiraConfig:
        """Change config fields by name (unknown names raise ``KeyError``)."""
        known = {f.name for f in fields(JiraConfig)}
        with self.lock:
            for name, value in changes.items():
                if name not in known:
                    raise KeyError(f"unknown sandbox config field {name!r}")
                setattr(self.config, name, value)
            if {"rate_limit_per_second", "rate_limit_burst"} & changes.keys():
                self._bucket = None
            if "time_zone" in changes and self.myself_id:
                self.users[self.myself_id].time_zone = changes["time_zone"]
        return self.config

    @property
    def bucket(self) -> TokenBucket | None:
        rate = self.config.rate_limit_per_second
        if rate is None:
            return None
        if self._bucket is None:
            self._bucket = TokenBucket(rate, self.config.rate_limit_burst)
        return self._bucket

    @property
    def base_url(self) -> str:
        return (self.config.base_url or self.seen_base_url).rstrip("/")

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # --- ids and users ----------------------------------------------------------------

    def next_id(self, kind: str) -> int:
        with self.lock:
            self._ids[kind] += 1
            return self._ids[kind]

    def add_user(
        self, account_id: str, display_name: str, email: str, name: str, *, email_visible: bool = False
    ) -> User:
        """A user; ``email_visible``: its profile shows the email to anyone (Cloud)."""
        with self.lock:
            key = f"JIRAUSER{10100 + len(self.users)}"
            user = User(account_id, display_name, email, name, key, self.config.time_zone)
            user.email_visible = email_visible
            self.users[account_id] = user
            return user

    def _add_default_users(self) -> None:
        me = self.add_user(
            "712020:5f0c3d3e-1b2a-4c4d-9e8f-000000000001",
            "Integration Bot",
            self.config.email,
            "integration",
        )
        self.myself_id = me.account_id

    def find_user(self, ref: str | None) -> User | None:
        """A user by account id, DC name/key or email (None for None/unknown)."""
        if not ref:
            return None
        user = self.users.get(ref)
        if user is not None:
            return user
        for u in self.users.values():
            if ref in (u.name, u.key, u.email):
                return u
        return None

    @property
    def myself(self) -> User:
        return self.users[self.myself_id]

    # --- lookups --------------------------------------------------------------------

    def issue(self, id_or_key: str | int) -> IssueRec | None:
        with self.lock:
            text = str(id_or_key)
            if text.isdigit():
                return self.issues.get(int(text))
            issue_id = self.issue_by_key.get(text.upper())
            return self.issues.get(issue_id) if issue_id is not None else None

    def project(self, id_or_key: str | int) -> Project | None:
        with self.lock:
            text = str(id_or_key)
            if text.isdigit():
                return self.projects.get(int(text))
            pid = self.project_by_key.get(text.upper())
            return self.projects.get(pid) if pid is not None else None

    # --- indices (callers hold the lock) -----------------------------------------------

    def index_issue(self, issue: IssueRec) -> None:
        self.issues[issue.id] = issue
        self.issue_by_key[issue.key] = issue.id
        bisect.insort(self.by_updated, (issue.updated, issue.id))
        self.revision += 1

    def touch_issue(self, issue: IssueRec, updated: int) -> None:
        """Move ``issue`` to a new ``updated`` time in the (updated, id) index."""
        old = (issue.updated, issue.id)
        pos = bisect.bisect_left(self.by_updated, old)
        if pos < len(self.by_updated) and self.by_updated[pos] == old:
            del self.by_updated[pos]
        issue.updated = updated
        bisect.insort(self.by_updated, (updated, issue.id))
        self.revision += 1

    def unindex_issue(self, issue: IssueRec) -> None:
        old = (issue.updated, issue.id)
        pos = bisect.bisect_left(self.by_updated, old)
        if pos < len(self.by_updated) and self.by_updated[pos] == old:
            del self.by_updated[pos]
        self.issues.pop(issue.id, None)
        self.issue_by_key.pop(issue.key, None)
        self.revision += 1

    def index_worklog(self, wl: WorklogRec) -> None:
        self.worklogs[wl.id] = wl
        bisect.insort(self.worklog_by_updated, (wl.updated, wl.id))

    def touch_worklog(self, wl: WorklogRec, updated: int) -> None:
        self._drop_worklog_entry(wl)
        wl.updated = updated
        bisect.insort(self.worklog_by_updated, (updated, wl.id))

    def unindex_worklog(self, wl: WorklogRec, deleted_at: int) -> None:
        self._drop_worklog_entry(wl)
        self.worklogs.pop(wl.id, None)
        bisect.insort(self.worklog_deleted, (deleted_at, wl.id))

    def _drop_worklog_entry(self, wl: WorklogRec) -> None:
        old = (wl.updated, wl.id)
        pos = bisect.bisect_left(self.worklog_by_updated, old)
        if pos < len(self.worklog_by_updated) and self.worklog_by_updated[pos] == old:
            del self.worklog_by_updated[pos]

    # --- webhooks ----------------------------------------------------------------------

    @property
    def dispatcher(self) -> WebhookDispatcher:
        if self._dispatcher is None:
            from sandbox.jira.webhooks import WebhookDispatcher

            self._dispatcher = WebhookDispatcher(self)
        return self._dispatcher

    def publish(self, event: str, build: Callable[[], dict[str, Any]]) -> None:
        """Queue ``event`` for every webhook subscribed to it; ``build`` makes the body."""
        targets = [
            h
            for h in self.webhooks.values()
            if h.enabled and (h.events is None or event in h.events)
        ]
        if targets:
            self.dispatcher.enqueue(event, build(), targets)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook delivery finished (True) or ``timeout`` passed."""
        if self._dispatcher is None:
            return True
        return self._dispatcher.wait_idle(timeout)

    wait_deliveries = flush

    def close(self) -> None:
        """Stop the delivery thread (pending deliveries are dropped)."""
        if self._dispatcher is not None:
            self._dispatcher.stop()
            self._dispatcher = None
