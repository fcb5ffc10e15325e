"""Jira client on the ``jira`` library (3.10.5): paged, retried, classified reads.

API references:
- Cloud REST v3: https://developer.atlassian.com/cloud/jira/platform/rest/v3/
  (search: ``/rest/api/3/search/jql`` with ``nextPageToken``, CHANGE-2046; the old
  ``/search`` answers 410 on Cloud)
- Data Center REST v2: https://developer.atlassian.com/server/jira/platform/rest/
  (``/rest/api/2/search`` with ``startAt``/``total``; no v3; PAT as Bearer)

Library quirks handled here (VENDOR_FACTS C1/A2/A4):
- ``JIRA(..., get_server_info=True)`` calls ``serverInfo`` in the constructor; that call is
  what tells Cloud from DC (``deploymentType``), so construction runs under the retry policy.
- ``max_retries=0``: the library's own retry sleeps less than ``Retry-After`` asks, crashes
  on an HTTP-date ``Retry-After`` and retries POSTs. Retries are ours (``connectors.retry``).
- ``timeout=`` is set on the session, so every request carries it.
- ``worklogs()`` in the library does not page; ``/issue/{id}/worklog`` is paged here.
- The library has no call for the status catalogue's raw JSON (``statuses()`` wraps each
  in a resource) nor for ``POST /changelog/bulkfetch``; both go through ``_get_json``.
- The outbound guard (``connectors.outbound``) is mounted on the library's session as
  soon as the library creates it (``_GuardedJIRA``), i.e. before the constructor's
  ``serverInfo`` request, so no request of this client can skip it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import orjson
from jira import JIRA

from connectors.errors import ConnectorError, Fatal
from connectors.jira.pages import (
    SearchPage,
    WorklogFeedPage,
    bulk_changelog_pages,
    offset_pages,
    search_pages,
    worklog_feed_pages,
)
from connectors.jira.translate import translate_error
from connectors.outbound import OutboundPolicy, guard_session
from connectors.retry import no_retry, read_retry

__all__ = ["JiraAuth", "JiraClient", "SearchPage", "WorklogFeedPage"]

T = TypeVar("T")
Deployment = Literal["auto", "cloud", "datacenter"]

CLOUD_ID_PAGE = 5000  # search/jql returns up to 5000 issues per page for id/key only
DC_ID_PAGE = 1000
WORKLOG_LIST_CHUNK = 1000
WEBHOOKS_PATH = "/rest/webhooks/1.0/webhook"  # admin webhooks, Cloud and DC (VENDOR_FACTS A14)


def clause_names(field_list: Iterable[dict[str, Any]]) -> dict[str, str]:
    """``{JQL clause name: field id}`` as the library builds it from ``/field``."""
    return {name: f["id"] for f in field_list if "id" in f for name in f.get("clauseNames", [])}


@dataclass(frozen=True)
class JiraAuth:
    """Cloud: ``email`` + ``api_token`` (HTTP Basic). Data Center: ``pat`` (Bearer).

    The client's credentials live beside the client that sends them (Trello's key and
    token are plain arguments of ``TrelloClient``); the secrets stay out of ``repr``.
    """

    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    pat: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.pat:
            if self.email or self.api_token:
                raise ValueError(
                    "give either a personal access token or email + API token, not both"
                )
        elif not (self.email and self.api_token):
            raise ValueError(
                "Jira Cloud needs an email and an API token (or give a DC personal access token)"
            )

    @classmethod
    def cloud(cls, email: str, api_token: str) -> JiraAuth:
        return cls(email=email, api_token=api_token)

    @classmethod
    def dc(cls, pat: str) -> JiraAuth:
        return cls(pat=pat)


class _GuardedJIRA(JIRA):
    """``JIRA`` whose session is behind the outbound guard from its first request.

    The constructor builds the ``ResilientSession`` and sends ``serverInfo`` in one go;
    ``_add_ssl_cert_verif_strategy_to_session`` is a hook it calls on the new session
    right after creating it (before auth and before any request), so the guard is
    mounted there, after ``verify`` is set (``guard_session`` may refine it).
    """

    def __init__(self, *args: Any, outbound: OutboundPolicy, **kwargs: Any) -> None:
        self._outbound = outbound
        super().__init__(*args, **kwargs)

    def _add_ssl_cert_verif_strategy_to_session(self) -> None:
        super()._add_ssl_cert_verif_strategy_to_session()
        guard_session(self._session, str(self._options["server"]), self._outbound)


class JiraClient:
    """Reads from one Jira site. Every public method returns plain JSON dicts and raises
    only ``connectors.errors`` classes. Not thread-safe (one per worker)."""

    def __init__(
        self,
        base_url: str,
        auth: JiraAuth,
        *,
        timeout: float = 30.0,
        deployment: Deployment = "auto",
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = 100,
        max_attempts: int = 6,
        max_wait: float = 60.0,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        """``outbound`` is the operator's allow list; None allows public addresses only."""
        self.base_url = base_url.rstrip("/")
        self.outbound = outbound or OutboundPolicy()
        self.auth = auth
        self.timeout = timeout
        self.deployment = deployment
        self.page_size = page_size
        self.api_calls = 0
        self._policy = read_retry(
            "connectors.jira", max_attempts=max_attempts, max_wait=max_wait, sleep=sleep
        )
        self._lib: JIRA | None = None
        self._cloud: bool | None = None

    # --- connection ------------------------------------------------------------------

    def connect(self) -> None:
        """Construct the library client (one ``serverInfo`` call), retried like a read."""
        if self._lib is None:
            self._lib = self._policy(self._construct)

    def _construct(self) -> JIRA:
        version = "2" if self.deployment in ("auto", "datacenter") else "3"
        options: dict[str, Any] = {
            "server": self.base_url,
            "rest_api_version": version,
            "check_update": False,
        }
        auth_kw: dict[str, Any] = (
            {"token_auth": self.auth.pat}
            if self.auth.pat
            else {"basic_auth": (self.auth.email, self.auth.api_token)}
        )
        self.api_calls += 1  # the constructor's GET serverInfo
        try:
            lib = _GuardedJIRA(
                options=options,
                outbound=self.outbound,
                get_server_info=True,
                max_retries=0,
                timeout=self.timeout,
                **auth_kw,
            )
        except Exception as exc:  # noqa: BLE001 - classified below, never leaked
            raise translate_error(
                exc, url=f"{self.base_url}/rest/api/{version}/serverInfo"
            ) from None
        self._count_requests(lib)
        if self.deployment == "auto":
            self._cloud = lib.deploymentType == "Cloud"
            if self._cloud:
                lib._options["rest_api_version"] = "3"  # v3 on Cloud: ADF text, same paths
        else:
            self._cloud = self.deployment == "cloud"
        return lib

    def _count_requests(self, lib: JIRA) -> None:
        session = lib._session
        original = session.request

        def counted(method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
            self.api_calls += 1
            response = original(method, url, *args, **kwargs)
            # The library decodes with ``response.json()`` (stdlib json); a search page is
            # ~0.5 MB, so decode with orjson instead (same values; errors are ValueErrors too).
            response.json = lambda **_: orjson.loads(response.content)  # type: ignore[method-assign]
            return response

        session.request = counted  # type: ignore[method-assign]

    @property
    def lib(self) -> JIRA:
        self.connect()
        assert self._lib is not None
        return self._lib

    @property
    def is_cloud(self) -> bool:
        self.connect()
        return bool(self._cloud)

    def _read(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one library call as an idempotent read: classified errors, retried."""

        def attempt() -> T:
            try:
                return fn(*args, **kwargs)
            except ConnectorError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified, never leaked
                raise translate_error(exc, url=f"{self.base_url}/{what}") from None

        return self._policy(attempt)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        lib = self.lib
        return self._read(path, lib._get_json, path, params=params)

    def _post_read(self, path: str, body: dict[str, Any]) -> Any:
        """A POST that only reads (``worklog/list``, ``changelog/bulkfetch``): retried like a GET."""
        lib = self.lib
        return self._read(path, lib._get_json, path, params=body, use_post=True)

    # --- site ------------------------------------------------------------------------

    def server_info(self) -> dict[str, Any]:
        return self._read("serverInfo", self.lib.server_info)

    def myself(self) -> dict[str, Any]:
        """The API user; ``timeZone`` is the zone JQL date literals are read in."""
        return self._read("myself", self.lib.myself)

    def time_zone(self) -> str:
        return str(self.myself().get("timeZone") or "UTC")

    def fields(self) -> list[dict[str, Any]]:
        found = self._read("field", self.lib.fields)
        self.prime_field_names(clause_names(found))
        return found

    def prime_field_names(self, names: dict[str, str]) -> None:
        """Seed the library's JQL-name -> field-id cache (from a cached ``/field`` answer).

        ``enhanced_search_issues`` fetches ``/field`` on first use to translate names in
        ``fields=``; we pass ids already, so a cached map saves that call on every poll.
        """
        if names:
            self.lib._fields_cache_value = dict(names)

    def statuses(self) -> list[dict[str, Any]]:
        """The site's status catalogue, one request: ``GET /rest/api/3/status`` on Cloud
        (team-managed projects' own statuses carry ``scope``), ``/rest/api/2/status`` on
        Data Center. Each ``{id, name, statusCategory: {key}, ...}`` (VENDOR_FACTS A12)."""
        found = self._get("status")
        if not isinstance(found, list):
            raise Fatal("Jira status gave no list (GET /rest/api/N/status)")
        return found

    def projects(self) -> list[dict[str, Any]]:
        if not self.is_cloud:
            return list(self._get("project"))
        return [p for page in offset_pages(self._get, "project/search", page_size=50) for p in page]

    def project_versions(self, project_key: str) -> list[dict[str, Any]]:
        """All versions of a project (not paginated by Jira), as raw dicts."""
        return [
            v.raw
            for v in self._read(
                f"project/{project_key}/versions", self.lib.project_versions, project_key
            )
        ]

    # --- search ----------------------------------------------------------------------

    def search_page(
        self,
        jql: str,
        *,
        fields: Sequence[str] | str,
        expand: str | None = None,
        page_token: str | None = None,
        start_at: int = 0,
        max_results: int | None = None,
    ) -> SearchPage:
        """One page: Cloud pages by ``nextPageToken`` (``search/jql``), DC by ``startAt``."""
        size = max_results or self.page_size
        field_list = (
            fields.split(",") if isinstance(fields, str) else list(fields)
        )  # the library mutates it
        if self.is_cloud:
            body = self._read(
                "search/jql",
                self.lib.enhanced_search_issues,
                jql,
                nextPageToken=page_token,
                maxResults=size,
                fields=field_list,
                expand=expand,
                json_result=True,
            )
            if not isinstance(body, dict):
                raise Fatal("Jira search/jql gave no result (is the site really Jira Cloud?)")
            token = body.get("nextPageToken")
            is_last = bool(body.get("isLast", token is None)) or not token
            return SearchPage(
                list(body.get("issues", [])), None if is_last else token, None, is_last
            )
        body = self._read(
            "search",
            self.lib.search_issues,
            jql,
            startAt=start_at,
            maxResults=size,
            fields=field_list,
            expand=expand,
            json_result=True,
        )
        if not isinstance(body, dict):
            raise Fatal("Jira search gave no JSON result")
        issues = list(body.get("issues", []))
        total = body.get("total", 0)
        if not isinstance(total, int) or isinstance(total, bool):  # the value stays out of the message
            raise Fatal(f"Jira search answered a non-integer total ({type(total).__name__})")
        following = start_at + len(issues)
        is_last = not issues or following >= total
        return SearchPage(issues, None, None if is_last else following, is_last, total)

    def iter_search(
        self,
        jql: str,
        *,
        fields: Sequence[str] | str,
        expand: str | None = None,
        resume_token: str | None = None,
        max_results: int | None = None,
    ) -> Iterator[SearchPage]:
        """Every page of ``jql``. ``resume_token`` continues an interrupted scan: a Cloud
        ``nextPageToken``, or on DC the ``startAt`` (as text) of the next page."""
        token = resume_token if self.is_cloud else None
        start = int(resume_token) if resume_token and not self.is_cloud else 0

        def page(page_token: str | None, start_at: int) -> SearchPage:
            return self.search_page(
                jql,
                fields=fields,
                expand=expand,
                page_token=page_token,
                start_at=start_at,
                max_results=max_results,
            )

        yield from search_pages(page, token=token, start_at=start, what=repr(jql))

    def issue_ids(self, jql: str) -> list[str]:
        """Ids of every issue matching ``jql`` (the census), in as few calls as Jira allows."""
        size = CLOUD_ID_PAGE if self.is_cloud else DC_ID_PAGE
        ids: list[str] = []
        for page in self.iter_search(jql, fields=["id"], max_results=size):
            ids.extend(str(i["id"]) for i in page.issues)
        return ids

    # --- issues ----------------------------------------------------------------------

    def issue(
        self, id_or_key: str, *, expand: str | None = "changelog", fields: str | None = None
    ) -> dict[str, Any]:
        """One issue with all fields (``*all``) and, by default, its full changelog."""
        found = self._read(
            f"issue/{id_or_key}", self.lib.issue, id_or_key, fields=fields, expand=expand
        )
        return dict(found.raw)

    def issue_changelog(self, issue_id: str) -> list[dict[str, Any]]:
        """Every changelog history of an issue, oldest first (``/issue/{id}/changelog``, paged)."""
        pages = offset_pages(self._get, f"issue/{issue_id}/changelog", page_size=100)
        return [history for page in pages for history in page]

    def bulk_changelog(
        self, issue_ids: Sequence[str], *, field_ids: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        """Pages of the histories of many issues (``POST /rest/api/3/changelog/bulkfetch``,
        Cloud only): 1000 issues a request, up to 10,000 histories a page, oldest first.
        Read them with ``mappings.jira.histories_from_bulk_changelog``. Data Center has no
        such endpoint: page each issue with ``issue_changelog``."""
        if not self.is_cloud:
            raise Fatal("Jira Data Center has no changelog/bulkfetch; page /issue/{id}/changelog instead")
        return bulk_changelog_pages(self._post_read, issue_ids, field_ids=field_ids)

    def worklogs(self, issue_id: str) -> list[dict[str, Any]]:
        """Every worklog of an issue, paging ``startAt`` until ``total``."""
        pages = offset_pages(
            self._get, f"issue/{issue_id}/worklog", page_size=5000, items="worklogs", ends_by="total"
        )
        return [worklog for page in pages for worklog in page]

    def worklogs_updated_since(self, since_ms: int) -> Iterator[WorklogFeedPage]:
        """Pages of ``{worklogId, updatedTime}`` changed after ``since_ms`` (not the last min)."""
        return worklog_feed_pages(self._get, "updated", since_ms)

    def worklogs_deleted_since(self, since_ms: int) -> Iterator[WorklogFeedPage]:
        return worklog_feed_pages(self._get, "deleted", since_ms)

    def worklog_list(self, ids: Iterable[int | str]) -> list[dict[str, Any]]:
        """Full worklogs for ids, 1000 per call (``POST /worklog/list``, a read)."""
        wanted = [int(i) for i in ids]
        out: list[dict[str, Any]] = []
        for start in range(0, len(wanted), WORKLOG_LIST_CHUNK):
            out.extend(
                self._post_read("worklog/list", {"ids": wanted[start : start + WORKLOG_LIST_CHUNK]})
            )
        return out

    # --- writes (never retried) -------------------------------------------------------

    def register_webhook(
        self,
        url: str,
        *,
        events: Sequence[str],
        secret: str | None = None,
        name: str = "taskhub",
        jql: str | None = None,
    ) -> dict[str, Any]:
        """Register an admin webhook (``POST /rest/webhooks/1.0/webhook``). One attempt only."""
        body: dict[str, Any] = {
            "name": name,
            "url": url,
            "events": list(events),
            "excludeBody": False,
        }
        if secret:
            body["secret"] = secret
        if jql:
            body["filters"] = {"issue-related-events-section": jql}
        return dict(self._hook_write("POST", WEBHOOKS_PATH, json.dumps(body)))

    def webhooks(self) -> list[dict[str, Any]]:
        """The site's admin webhooks (``GET /rest/webhooks/1.0/webhook``; Jira admins only)."""
        url = f"{self.base_url}{WEBHOOKS_PATH}"
        session = self.lib._session
        return list(self._read(WEBHOOKS_PATH, lambda: session.get(url).json()))

    def delete_webhook(self, webhook_id: str) -> None:
        """``DELETE /rest/webhooks/1.0/webhook/{id}``. One attempt only."""
        self._hook_write("DELETE", f"{WEBHOOKS_PATH}/{webhook_id}")

    def _hook_write(self, method: str, path: str, data: str | None = None) -> Any:
        """One attempt at an admin-webhook write; the answer's JSON (None when it has none)."""
        endpoint = f"{self.base_url}{path}"
        session = self.lib._session

        def attempt() -> Any:
            try:
                response = session.request(method, endpoint, data=data)
                return response.json() if response.content else None
            except Exception as exc:  # noqa: BLE001 - classified, never leaked
                raise translate_error(exc, method=method, url=endpoint) from None

        return no_retry()(attempt)
