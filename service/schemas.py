"""API schemas (never table classes): XCreate / XUpdate / XPublic."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mappings.profile import MappingProfile
from service.timerange import ISO_TEXT, BoundedDate, BoundedDatetime
from service.webhook_schemas import SourceWebhooks, SourceWebhookSummary

__all__ = [
    "Text",
    "LongText",
    "Secret",
    "JsonObject",
    "JiraCloudCredentials",
    "JiraDataCenterCredentials",
    "TrelloCredentials",
    "SourceCreate",
    "SourceUpdate",
    "SourcePublic",
    "SourceCreated",
    "InboxEventPublic",
    "WebhookSecretRotated",
    "TokenCreate",
    "TokenPublic",
    "TokenCreated",
]


# --- text a client sends: no control characters ------------------------------------------------
# PostgreSQL's text and jsonb cannot hold NUL (the driver raised, a 500 on that store only), and
# other C0 controls in a name or a credential only ever mean a broken or hostile client (a newline
# in a header value, a terminal escape in a log). One rule, checked at the edge by these types in
# every request model, so both stores answer the same 422 naming the field.

_LINE = re.compile("[\x00-\x1f\x7f]")  # one line: no C0 control, no DEL
_LONG = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # free text: tab, LF and CR allowed
# A lone surrogate (JSON's "\ud800" decodes to one) is no text either: neither store's driver can
# encode it (a 500 on both), nor can the HTML or a log line.
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_SCHEMA = {"pattern": "^[^\\u0000-\\u001f\\u007f]*$"}
_LONG_SCHEMA = {"pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"}


def _refuse_controls(value: str, forbidden: re.Pattern[str], where: str = "") -> None:
    """A 422 naming the character and its position (never the value: it may be a secret)."""
    for pattern, kind, message in (
        (forbidden, "control_character", "must not contain control characters: {char} at position {pos}{where}"),
        (_SURROGATE, "surrogate_character", "must be Unicode text: a lone surrogate {char} at position {pos}{where}"),
    ):
        found = pattern.search(value)
        if found is not None:
            raise PydanticCustomError(kind, message, {"char": f"U+{ord(found.group()):04X}", "pos": found.start(),
                                                      "where": where})


def _line(value: str) -> str:
    _refuse_controls(value, _LINE)
    return value


def _long(value: str) -> str:
    _refuse_controls(value, _LONG)
    return value


def _secret(value: SecretStr) -> SecretStr:
    _refuse_controls(value.get_secret_value(), _LINE)
    return value


def _json_text(value: Any, path: str = "") -> Any:
    """Every key and string inside a JSON value, as free text (jsonb refuses NUL anywhere)."""
    if isinstance(value, str):
        _refuse_controls(value, _LONG, f" of {path}" if path else "")
    elif isinstance(value, dict):
        for k, v in value.items():
            inner = f"{path}.{k}" if path else str(k)
            _refuse_controls(str(k), _LONG, f" of the key {inner!r}")
            _json_text(v, inner)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _json_text(v, f"{path}[{i}]")
    return value


Text = Annotated[str, AfterValidator(_line), Field(json_schema_extra=_LINE_SCHEMA)]
"""A one-line text field (a name, an email, an id): no control characters at all."""
LongText = Annotated[str, AfterValidator(_long), Field(json_schema_extra=_LONG_SCHEMA)]
"""Free text (a description, a JQL query): tab, line feed and carriage return allowed."""
Secret = Annotated[SecretStr, AfterValidator(_secret), Field(json_schema_extra=_LINE_SCHEMA)]
"""A credential or a webhook secret: one line, as it travels in a header or an HMAC key."""
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_text)]

CENSUS_MIN, CENSUS_MAX = 600, 30 * 86400


def _census_interval(value: int) -> int:
    if value != 0 and not CENSUS_MIN <= value <= CENSUS_MAX:
        raise ValueError(f"census_interval_seconds is 0 (never by itself) or {CENSUS_MIN} to {CENSUS_MAX} "
                         f"(ten minutes to thirty days), not {value}")
    return value


CensusInterval = Annotated[int, AfterValidator(_census_interval), Field(
    description="How often the worker runs the census that finds deletions and lost access no webhook "
    f"announced: 0 (never by itself) or {CENSUS_MIN} to {CENSUS_MAX} seconds; default one day.")]
"""A JSON object stored as it is sent (jsonb): its keys and strings as ``LongText``."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JiraCloudCredentials(_In):
    type: Literal["jira_cloud"]
    email: Text = Field(min_length=3, max_length=300)
    api_token: Secret = Field(min_length=1)


class JiraDataCenterCredentials(_In):
    type: Literal["jira_datacenter"]
    personal_access_token: Secret = Field(min_length=1)


class TrelloCredentials(_In):
    type: Literal["trello"]
    api_key: Text = Field(min_length=1, max_length=200)
    token: Secret = Field(min_length=1)
    app_secret: Secret = Field(min_length=1, description=(
        "The Trello application's secret, shown with its API key (trello.com/power-ups/admin). Trello signs "
        "every webhook delivery with it (a user cannot choose another), so taskhub verifies deliveries with "
        "it. Encrypted at rest, never returned."))


CREDENTIAL_TYPES = ("jira_cloud", "jira_datacenter", "trello")


def _credentials_type(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


# ``type`` is required (no default), so the schema (a oneOf whose members each fix ``type``) says
# what the server enforces. The discriminator is a function because only then does pydantic
# answer a missing or unknown ``type`` with our message, which lists the values that exist.
Credentials = Annotated[
    Annotated[JiraCloudCredentials, Tag("jira_cloud")]
    | Annotated[JiraDataCenterCredentials, Tag("jira_datacenter")]
    | Annotated[TrelloCredentials, Tag("trello")],
    Discriminator(_credentials_type, custom_error_type="credentials_type",
                  custom_error_message="credentials.type must be one of: " + ", ".join(CREDENTIAL_TYPES)),
]


class JiraScope(_In):
    projects: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,49}$")]] = Field(default_factory=list)
    jql: LongText | None = Field(default=None, max_length=2000)


class TrelloScope(_In):
    boards: list[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{24}$|^[A-Za-z0-9]{8}$")]] = Field(default_factory=list)
    # A datetime first: a date-first union read "2026-03-01T00:00:00-08:00" as the date 2026-03-01.
    history_since: Annotated[BoundedDatetime | BoundedDate | None, Field(union_mode="left_to_right"), ISO_TEXT] = Field(
        default=None,
        description="How far back a board's first sync reads its action history (a date: from its start, "
        "UTC). Default: the board's whole life. Hours a card had before it are one carried-in worklog. "
        "Read once per board: changing it later does not re-read a history.")

    @field_validator("history_since")
    @classmethod
    def _in_the_past(cls, value: date | datetime | None) -> date | datetime | None:
        at = value if isinstance(value, datetime) or value is None else datetime.combine(value, time.min, UTC)
        if at is not None and at > datetime.now(UTC):
            raise ValueError(f"history_since {at.isoformat()} is in the future; give a past date or time, "
                             "or leave it out to read each board's whole history")
        return value

    @field_serializer("history_since")
    def _iso(self, value: date | datetime | None) -> str | None:
        return value.isoformat() if value is not None else None


TRELLO_SIGNING_RULE = (
    "a Trello source has no webhook_secret: Trello signs every delivery with the application's secret, "
    "which taskhub cannot choose; give it as credentials.app_secret")


class SourceCreate(_In):
    kind: Literal["jira", "trello"]
    name: Text = Field(min_length=1, max_length=200)
    base_url: AnyHttpUrl | None = Field(
        default=None, description="Jira site URL; Trello API base (default api.trello.com).")
    credentials: Credentials
    webhook_secret: Secret | None = Field(default=None, description=(
        "Jira only: generated and shown once when absent. Trello signs with its app secret "
        "(credentials.app_secret), so a Trello source has none."))
    scope: JiraScope | TrelloScope | None = None
    mapping_profile: JsonObject | None = Field(default=None, description="Merged over the default profile.")
    poll_interval_seconds: int = Field(default=300, ge=10, le=86400)
    census_interval_seconds: CensusInterval = 86400
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> SourceCreate:
        if self.kind == "jira":
            if self.base_url is None:
                raise ValueError("base_url is required for a Jira source (the site URL)")
            if self.credentials.type == "trello":
                raise ValueError("a Jira source needs jira_cloud or jira_datacenter credentials")
            if self.scope is not None and not isinstance(self.scope, JiraScope):
                raise ValueError("a Jira scope is {projects: [KEY, ...]} or {jql: '...'}")
        else:
            if self.credentials.type != "trello":
                raise ValueError("a Trello source needs trello credentials (api_key, token, app_secret)")
            if self.webhook_secret is not None:
                raise ValueError(TRELLO_SIGNING_RULE)
            if self.scope is not None and not isinstance(self.scope, TrelloScope):
                raise ValueError("a Trello scope is {boards: [board id, ...]}")
        if self.mapping_profile is not None:
            MappingProfile.model_validate(self.mapping_profile | {"name": self.mapping_profile.get("name", "source")})
        return self


class SourceUpdate(_In):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    base_url: AnyHttpUrl | None = None
    credentials: Credentials | None = Field(default=None, description=(
        "All of them, replacing the stored ones (a Trello source's include app_secret)."))
    webhook_secret: Secret | None = Field(default=None, description="Jira only (Trello: credentials.app_secret).")
    rotate_webhook_secret: bool = Field(default=False, description="Jira only.")
    scope: JiraScope | TrelloScope | None = None
    mapping_profile: JsonObject | None = None
    poll_interval_seconds: int | None = Field(default=None, ge=10, le=86400)
    census_interval_seconds: CensusInterval | None = None
    enabled: bool | None = None


class SourcePublic(BaseModel):
    id: int
    kind: str
    name: str
    base_url: str | None
    deployment: str | None
    scope: dict[str, Any] | None
    mapping_profile: dict[str, Any] | None
    poll_interval_seconds: int
    census_interval_seconds: int
    enabled: bool
    status: str = Field(description=(
        "The source's health: ok; failing (the last sync failed: status_reason names the host and the "
        "cause of the first failed run); degraded (3 failed runs of one kind in a row). Back to ok on "
        "the next successful sync."))
    status_reason: str | None
    credentials_type: str | None = Field(description="The kind of credentials stored; the values are never returned.")
    webhook_url: str
    webhook_url_warning: str | None = Field(default=None, description=(
        "Why Jira and Trello cannot reach webhook_url (a loopback address: set TASKHUB_PUBLIC_BASE_URL), if so."))
    webhooks: SourceWebhookSummary | None = Field(default=None, description=(
        "The webhooks taskhub registered in the tool; the detail at GET /api/v1/sources/{id}/webhooks."))
    created_at: datetime
    updated_at: datetime


class SourceCreated(SourcePublic):
    webhook_secret: str | None = Field(description=(
        "Jira: shown once, when generated or rotated. Always null for Trello (it signs with its app secret)."))
    webhooks: SourceWebhooks | None = Field(default=None, description=(
        "What registering the webhooks did; for Jira without admin rights, what to paste (with the secret)."))


class InboxEventPublic(BaseModel):
    id: int
    source_id: int
    kind: str
    dedupe_key: str
    status: str
    attempts: int
    reason: str | None
    error: str | None
    received_at: datetime
    processed_at: datetime | None
    next_attempt_at: datetime


class WebhookSecretRotated(BaseModel):
    source_id: int
    webhook_secret: str = Field(description="The new secret, shown once: configure the sender with it.")
    previous_accepted_until: datetime | None = Field(
        description="Until when the replaced secret is still accepted (null: no longer).")


class TokenCreate(_In):
    scope: Literal["read", "write", "admin"] = "read"
    name: Text = Field(default="", max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="Unset: never expires.")


class TokenPublic(BaseModel):
    """A token's metadata; the token itself is never returned after creation."""

    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to recognize it.")
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="Shown once; store it now.")
