"""Value types of the Jira client: credentials and pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["JiraAuth", "SearchPage", "WorklogFeedPage"]


@dataclass(frozen=True)
class JiraAuth:
    """Cloud: ``email`` + ``api_token`` (HTTP Basic). Data Center: ``pat`` (Bearer)."""

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


@dataclass(frozen=True)
class SearchPage:
    """One search page: Cloud gives ``next_page_token``; DC ``next_start_at`` and ``total``."""

    issues: list[dict[str, Any]]
    next_page_token: str | None
    next_start_at: int | None
    is_last: bool
    total: int | None = None


@dataclass(frozen=True)
class WorklogFeedPage:
    """A page of ``/worklog/updated`` or ``/worklog/deleted``: ``values`` are
    ``{worklogId, updatedTime, properties}``; resume the feed from ``until``."""

    values: list[dict[str, Any]]
    since: int
    until: int
    last_page: bool
