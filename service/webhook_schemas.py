"""API schemas of a source's webhooks (``/api/v1/sources/{id}/webhooks``; issue 21).

Kept beside ``service.schemas`` (which re-exports ``SourceWebhookSummary`` for the source's
``webhooks`` field) so the webhook answers read in one place.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = [
    "JiraWebhookPaste",
    "SourceWebhookSummary",
    "SourceWebhooks",
    "WebhookPing",
    "WebhookRegistrationPublic",
]


class WebhookRegistrationPublic(BaseModel):
    target: str = Field(description="The Trello board id, or 'site' for a Jira source's one webhook.")
    state: str = Field(description=(
        "registered; manual (Jira refused a non-admin: paste it by hand, see 'paste'); failed (detail says "
        "why); pending (not tried yet: the request's time budget ran out); remove_failed (out of scope, "
        "but the tool kept it)."))
    remote_id: str | None = Field(description="The tool's id of the webhook.")
    callback_url: str
    detail: str | None = Field(description="Why it failed or what to do next.")
    registered_at: datetime | None
    updated_at: datetime
    ping_at: datetime | None
    ping_detail: str | None = Field(description="What the last ping found (see WebhookPing).")
    events: list[str] | None = Field(None, description=(
        "Jira: the events registered (or shown to paste); null for Trello (its webhooks have no event "
        "list) and for a webhook registered before taskhub recorded them."))
    outdated: str | None = Field(None, description=(
        "Why this webhook lacks events taskhub maps now (e.g. 'missing issuelink_created, "
        "issuelink_deleted'); null when it has them all. A registered one is registered again by the "
        "worker's periodic pass (or POST …/webhooks/register); one pasted by hand says what to tick."))


class JiraWebhookPaste(BaseModel):
    """What to enter on Jira's WebHooks page when taskhub cannot register the webhook itself."""

    page: str
    name: str
    url: str
    secret: str | None = Field(description=(
        "The source's webhook secret: only in the answer that created the source (it is shown once); "
        "elsewhere null: use the one you kept, or rotate it (POST …/webhook-secret/rotate)."))
    secret_note: str | None = None
    events: list[str] = Field(description="Tick these events (Jira's webhookEvent names).")
    jql: str | None = Field(description="The JQL filter for issue related events; null: leave it empty.")
    exclude_body: bool = Field(False, description="Leave 'Exclude body' unticked: taskhub reads the body.")


class WebhookPing(BaseModel):
    at: datetime
    how: str = Field(description="What the ping does for this tool, and what it proves.")
    delivery_confirmed_at: datetime | None = Field(description=(
        "The first delivery taskhub accepted (verified and stored) at or after the ping: delivery works "
        "end to end. Null until the tool sends one (any change in scope does)."))


class SourceWebhookSummary(BaseModel):
    state: str = Field(description=(
        "none (nothing registered); registered (all); partial (some); manual (Jira: paste by hand); "
        "failed; pending; outdated (all registered, but some lack events taskhub maps now: see "
        "'outdated')."))
    outdated: str | None = Field(None, description=(
        "The events missing from the source's webhooks, e.g. 'missing issuelink_created, "
        "issuelink_deleted'; null when none is outdated."))
    registered: int
    total: int
    last_delivery_at: datetime | None = Field(description="When the latest delivery was accepted.")


class SourceWebhooks(SourceWebhookSummary):
    source_id: int
    callback_url: str = Field(description="Where the tools deliver (from PUBLIC_BASE_URL or the bound port).")
    registrations: list[WebhookRegistrationPublic]
    paste: JiraWebhookPaste | None = Field(description=(
        "Jira only, when taskhub could not register the webhook (state manual): what to paste."))
    ping: WebhookPing | None = Field(description="The last ping, if any.")
