"""API and file schemas of the PM-side data (XCreate / XUpdate / XPublic)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from service.ids import Id
from service.schemas import LongText, Text
from service.timerange import ISO_TEXT, RANGE_TEXT, BoundedDate
from service.views.risk import DEFAULT_THRESHOLDS as DEFAULT_RISK_THRESHOLDS
from service.views.risk import validate_thresholds

__all__ = [
    "Currency",
    "MoneyIn",
    "MoneyOut",
    "ProjectSettings",
    "ProjectUpdate",
    "ProjectPublic",
    "PortfolioCreate",
    "PortfolioUpdate",
    "PortfolioPublic",
    "PersonUpdate",
    "PersonPublic",
    "IdentityPublic",
    "IdentityLink",
    "EvidenceValue",
    "SuggestionEvidence",
    "SuggestedPerson",
    "PeopleSuggestion",
    "PeopleSuggestions",
    "RateCreate",
    "RatePublic",
    "OrganizationUpdate",
    "OrganizationPublic",
    "MilestoneBaseline",
    "BaselinePublic",
]

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD.")]
Rate = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4, description="Money per hour.")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(_In):
    amount: Decimal = Field(ge=0, max_digits=18, decimal_places=4)
    currency: Currency


class MoneyOut(BaseModel):
    amount: float
    currency: str | None


class ProjectSettings(_In):
    """A project's PM data. A field left out is unchanged; ``null`` clears it."""

    budget: MoneyIn | None = Field(default=None, description="The budget at completion (BAC).")
    planned_start: BoundedDate | None = Field(default=None, description=f"A date {RANGE_TEXT}.")
    planned_end: BoundedDate | None = Field(default=None, description=f"A date {RANGE_TEXT}.")
    hourly_rate: Rate | None = Field(default=None, description="Default cost rate for people without their own.")
    budget_thresholds: list[Annotated[int, Field(ge=1, le=1000)]] | None = Field(
        default=None, min_length=1, max_length=10,
        description="Shares of the budget in % (1–1000) whose crossing fires budget.threshold_crossed; "
        "null: the default 50, 80, 100.")
    risk_thresholds: dict[str, Any] | None = Field(
        default=None,
        description="The risk view's thresholds for this project (issue 23), replacing any set before; null: "
        f"the defaults. Keys (default): {', '.join(f'{k} ({v:g})' for k, v in DEFAULT_RISK_THRESHOLDS.items())}.",
        json_schema_extra={"propertyNames": {"enum": list(DEFAULT_RISK_THRESHOLDS)},
                           "additionalProperties": {"type": "number"}})

    @field_validator("risk_thresholds")
    @classmethod
    def _risk_thresholds(cls, value: dict[str, Any] | None) -> dict[str, float] | None:
        return validate_thresholds(value)

    @model_validator(mode="after")
    def _dates(self) -> ProjectSettings:
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            raise ValueError(f"planned_end {self.planned_end} is before planned_start {self.planned_start}")
        return self


class ProjectUpdate(ProjectSettings):
    portfolio_ids: list[Id] | None = Field(default=None, description="Replaces the project's portfolios.")


class ProjectPublic(BaseModel):
    id: int
    source_id: int | None
    external_id: str
    key: str | None
    name: str
    url: str | None
    budget: MoneyOut | None
    planned_start: date | None
    planned_end: date | None
    hourly_rate: float | None
    budget_thresholds: list[int] = Field(description="Shares of BAC in % whose crossing fires "
                                         "budget.threshold_crossed (the default 50, 80, 100 unless set).")
    risk_thresholds: dict[str, float] = Field(description="The risk view's thresholds in effect for this project: "
                                              "its own where set, else the defaults.")
    portfolio_ids: list[int]


class PortfolioCreate(_In):
    name: Text = Field(min_length=1, max_length=200)
    description: LongText | None = Field(default=None, max_length=5000)
    project_ids: list[Id] = Field(default_factory=list)


class PortfolioUpdate(_In):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    description: LongText | None = Field(default=None, max_length=5000)
    project_ids: list[Id] | None = None


class PortfolioPublic(BaseModel):
    id: int
    name: str
    description: str | None
    project_ids: list[int]


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _email_shape(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("an email address is one @ between non-blank text")
    return value


class PersonUpdate(_In):
    display_name: Text | None = Field(default=None, min_length=1, max_length=300)
    # ``Text`` refuses control characters (its pattern is the schema's); the address shape is a
    # validator, declared as ``format: email`` (a second ``pattern`` would replace Text's).
    email: Annotated[Text, AfterValidator(_email_shape)] | None = Field(
        default=None, max_length=300, json_schema_extra={"format": "email"})


class IdentityPublic(BaseModel):
    id: int
    tool: str
    external_id: str
    display_name: str | None
    email: str | None


class RateCreate(_In):
    effective_from: BoundedDate = Field(description=f"A date {RANGE_TEXT}.")
    hourly_rate: Rate


class RatePublic(BaseModel):
    id: int
    effective_from: date
    hourly_rate: float


class PersonPublic(BaseModel):
    id: int
    display_name: str
    email: str | None
    identities: list[IdentityPublic]
    rates: list[RatePublic]


SuggestionRule = Literal["same_email", "same_username", "same_name", "near_name"]


class EvidenceValue(BaseModel):
    """One identity's value behind a rule: ``field`` is ``email``, ``username``,
    ``email local part`` or ``display_name``."""

    identity_id: int
    tool: str
    external_id: str
    field: str
    value: str


class SuggestionEvidence(BaseModel):
    rule: SuggestionRule
    key: str = Field(description="The normalized value the identities share.")
    values: list[EvidenceValue]


class SuggestedPerson(BaseModel):
    id: int
    display_name: str
    tools: list[str]


class PeopleSuggestion(BaseModel):
    id: str = Field(description="p<lower person id>-p<higher person id>: stable while both persons exist.")
    strength: Literal["email", "username", "name", "near_name"] = Field(description="The strongest rule that matched.")
    confidence: Literal["low", "medium", "high"] = Field(
        description="How likely one human: the strongest rule's (email high; username, name medium; "
        "near name low), one level up when two kinds of evidence matched (a same and a near name are one).")
    persons: list[SuggestedPerson]
    survivor_id: int = Field(description="The person that stays on accept (more identities, else the lower id).")
    evidence: list[SuggestionEvidence]


class PeopleSuggestions(BaseModel):
    suggestions: list[PeopleSuggestion]
    rules: dict[str, str]


class IdentityLink(_In):
    """Name an identity by its id, or by tool and external id."""

    identity_id: Id | None = None
    tool: Literal["jira", "trello"] | None = None
    external_id: Text | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_way(self) -> IdentityLink:
        by_ref = self.tool is not None or self.external_id is not None
        if (self.identity_id is None) == (not by_ref) or (by_ref and not (self.tool and self.external_id)):
            raise ValueError("give identity_id, or tool and external_id")
        return self


class OrganizationUpdate(_In):
    timezone: Text | None = Field(default=None, description="IANA time zone, e.g. Europe/Berlin.")
    currency: Currency | None = None
    default_hourly_rate: Rate | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class OrganizationPublic(BaseModel):
    id: int
    name: str
    timezone: str
    currency: str
    default_hourly_rate: float | None


class MilestoneBaseline(_In):
    due_date: Annotated[BoundedDate | None, ISO_TEXT] = Field(
        description=f"The baseline due date slip is measured against ({RANGE_TEXT}); null resets it to the "
        "milestone's current due date. Syncs never move a baseline; every change is kept in its history.",
    )


class BaselinePublic(BaseModel):
    milestone_id: int
    baseline_due_date: date | None
    previous: date | None = Field(description="The baseline before this change.")
    reset: bool = Field(description="True when the baseline was reset to the current due date.")
    changed: bool = Field(description="False when the milestone already had this baseline (nothing recorded).")
