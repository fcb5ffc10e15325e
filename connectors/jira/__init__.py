"""Jira connector: the client on the ``jira`` library and admin-webhook helpers."""

from connectors.jira.client import JiraAuth, JiraClient
from connectors.jira.pages import SearchPage, WorklogFeedPage
from connectors.jira.webhooks import dedupe_key, sign, verify_signature

__all__ = [
    "JiraAuth",
    "JiraClient",
    "SearchPage",
    "WorklogFeedPage",
    "dedupe_key",
    "sign",
    "verify_signature",
]
