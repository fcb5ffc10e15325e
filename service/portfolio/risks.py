"""The risk register (issue 23): the risks a PM keeps per project, beside the computed signals.

One entry: a title, what it is, an owner (a person of the organization, or a name when the
owner is nobody taskhub syncs: one or the other, never both), probability and impact on a
1–5 scale, the score (probability × impact, 1–25), the mitigation, a status (``open``,
``mitigating``, ``accepted``, ``closed``) and the date it is to be reviewed again. A review
date before today in the organization's time zone on a risk that is not closed is
``review_overdue``. Who created and last changed an entry is the API token's name.

Used by the API (``service.api.risks``), the dashboard's Risk page and ``taskhub risk``, so all
three store and show the same. Functions take the caller's ``Session`` and organization and
never commit; ids of another organization are "not found" (``service.errors``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlmodel import Session

from service import errors
from service.ids import Id
from service.portfolio.projects import get_portfolio, get_project, owned, row_id, table
from service.schemas import LongText, Text
from service.tables import ApiToken, Organization, Person, PortfolioProject, Project, RiskItem, utcnow
from service.timerange import ISO_TEXT, RANGE_TEXT, BoundedDate
from service.views.csvout import write_csv
from service.views.selection import org_today

__all__ = [
    "STATUSES",
    "RISK_RULES",
    "RiskCreate",
    "RiskUpdate",
    "RiskPublic",
    "actor_name",
    "list_risks",
    "get_risk",
    "risk_public",
    "create_risk",
    "update_risk",
    "delete_risk",
    "risks_csv",
]

STATUSES = ("open", "mitigating", "accepted", "closed")
Status = Literal["open", "mitigating", "accepted", "closed"]
RISK_RULES = (
    "score = probability × impact (each 1–5, so 1–25); listed by score, highest first, closed risks "
    "last; review_overdue: a review date before today in the organization's time zone on a risk "
    "that is not closed"
)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Title = Annotated[Text, Field(min_length=1, max_length=300), AfterValidator(_not_blank)]
Scale = Annotated[int, Field(ge=1, le=5, strict=True)]
Owner = Annotated[Text, Field(min_length=1, max_length=300), AfterValidator(_not_blank)]
Note = Annotated[LongText, Field(max_length=5000)]
ReviewDate = Annotated[BoundedDate, ISO_TEXT]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("owner_name", check_fields=False)
    @classmethod
    def _one_owner(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("owner_person_id") is not None:
            raise ValueError("the owner is a person (owner_person_id) or a name (owner_name), not both")
        return value


class RiskCreate(_In):
    title: Title
    description: Note | None = None
    owner_person_id: Id | None = Field(default=None, description="A person of the organization (or owner_name).")
    owner_name: Owner | None = Field(default=None, description="The owner's name when no synced person is.")
    probability: Scale = Field(description="1 (rare) to 5 (almost certain).")
    impact: Scale = Field(description="1 (negligible) to 5 (severe).")
    mitigation: Note | None = None
    status: Status = "open"
    review_date: ReviewDate | None = Field(default=None, description=f"A date {RANGE_TEXT}.")


class RiskUpdate(_In):
    """A field left out is unchanged; ``null`` clears an optional one. Setting one owner field
    clears the other."""

    title: Title | None = None
    description: Note | None = None
    owner_person_id: Id | None = None
    owner_name: Owner | None = None
    probability: Scale | None = None
    impact: Scale | None = None
    mitigation: Note | None = None
    status: Status | None = None
    review_date: ReviewDate | None = Field(default=None, description=f"A date {RANGE_TEXT}.")

    @field_validator("title", "probability", "impact", "status")
    @classmethod
    def _required_stay(cls, value: Any) -> Any:
        if value is None:  # only a value sent is validated: this is an explicit null
            raise ValueError("cannot be cleared (null); leave it out to keep it")
        return value


class RiskPublic(BaseModel):
    id: int
    project_id: int
    project_name: str
    title: str
    description: str | None
    owner_person_id: int | None
    owner_name: str | None = Field(description="The person's display name, or the name given.")
    probability: int
    impact: int
    score: int = Field(description="probability × impact (1–25).")
    mitigation: str | None
    status: Status
    review_date: date | None
    review_overdue: bool = Field(description="review_date before today (organization's zone), not closed.")
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None


R, P, PP = table(RiskItem), table(Project), table(PortfolioProject)
PERSON, ORG, TOKEN = table(Person), table(Organization), table(ApiToken)


def actor_name(s: Session, token_id: int) -> str:
    """Who made a change: the API token's name (``token 7`` when it has none)."""
    name = s.execute(sa.select(TOKEN.c.name).where(TOKEN.c.id == token_id)).scalar()
    return name or f"token {token_id}"


def _today(s: Session, org_id: int, now: datetime | None) -> date:
    tz = s.execute(sa.select(ORG.c.timezone).where(ORG.c.id == org_id)).scalar_one()
    return org_today(ZoneInfo(tz), now)


def _utc(at: datetime) -> datetime:
    """A stored instant (naive UTC in the store) as an aware one."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _public(row: Any, today: date) -> RiskPublic:
    return RiskPublic(
        id=row.id, project_id=row.project_id, project_name=row.project_name, title=row.title,
        description=row.description, owner_person_id=row.owner_person_id,
        owner_name=row.person_name if row.owner_person_id is not None else row.owner_name,
        probability=row.probability, impact=row.impact, score=row.probability * row.impact,
        mitigation=row.mitigation, status=row.status, review_date=row.review_date,
        review_overdue=row.review_date is not None and row.review_date < today and row.status != "closed",
        created_at=_utc(row.created_at), created_by=row.created_by, updated_at=_utc(row.updated_at),
        updated_by=row.updated_by,
    )


def _query(org_id: int) -> sa.Select[Any]:
    return (
        sa.select(R, P.c.name.label("project_name"), PERSON.c.display_name.label("person_name"))
        .join(P, P.c.id == R.c.project_id)
        .outerjoin(PERSON, PERSON.c.id == R.c.owner_person_id)
        .where(R.c.org_id == org_id)
    )


def _order(r: RiskPublic) -> tuple[int, int, str, int]:
    return (r.status == "closed", -r.score, (r.review_date or date.max).isoformat(), r.id)


def list_risks(s: Session, org_id: int, *, project: int | None = None, portfolio: int | None = None,
               status: str | None = None, now: datetime | None = None) -> list[RiskPublic]:
    """The register of the organization, of one project or of a portfolio's projects, by score
    (``RISK_RULES``). A project or portfolio of another organization is ``NotFound``."""
    q = _query(org_id)
    if project is not None:
        get_project(s, org_id, project)
        q = q.where(R.c.project_id == project)
    if portfolio is not None:
        get_portfolio(s, org_id, portfolio)
        q = q.where(R.c.project_id.in_(sa.select(PP.c.project_id).where(PP.c.portfolio_id == portfolio)))
    if status is not None:
        q = q.where(R.c.status == status)
    today = _today(s, org_id, now)
    return sorted((_public(r, today) for r in s.execute(q)), key=_order)


def get_risk(s: Session, org_id: int, risk_id: int) -> RiskItem:
    return owned(s, RiskItem, risk_id, org_id, "risk")


def risk_public(s: Session, org_id: int, risk_id: int, now: datetime | None = None) -> RiskPublic:
    row = s.execute(_query(org_id).where(R.c.id == risk_id)).first()
    if row is None:
        raise errors.NotFound(f"risk {risk_id} not found")
    return _public(row, _today(s, org_id, now))


def _owner_person(s: Session, org_id: int, person_id: int) -> int:
    """A person of the organization; another organization's (or none) is a 404, as in the URL."""
    return row_id(owned(s, Person, person_id, org_id, "person").id)


def create_risk(s: Session, org_id: int, project_id: int, body: RiskCreate, actor: str) -> RiskPublic:
    get_project(s, org_id, project_id)
    owner = _owner_person(s, org_id, body.owner_person_id) if body.owner_person_id is not None else None
    now = utcnow()
    item = RiskItem(org_id=org_id, project_id=project_id, title=body.title, description=body.description,
                    owner_person_id=owner, owner_name=body.owner_name, probability=body.probability,
                    impact=body.impact, mitigation=body.mitigation, status=body.status,
                    review_date=body.review_date, created_at=now, updated_at=now, created_by=actor,
                    updated_by=actor)
    s.add(item)
    s.flush()
    return risk_public(s, org_id, row_id(item.id))


def update_risk(s: Session, org_id: int, risk_id: int, body: RiskUpdate, actor: str) -> RiskPublic:
    item = get_risk(s, org_id, risk_id)
    given = body.model_fields_set
    for name in ("title", "description", "probability", "impact", "mitigation", "status", "review_date"):
        if name in given:
            setattr(item, name, getattr(body, name))
    if "owner_person_id" in given:
        item.owner_person_id = (_owner_person(s, org_id, body.owner_person_id)
                                if body.owner_person_id is not None else None)
        if body.owner_person_id is not None:
            item.owner_name = None
    if "owner_name" in given:
        item.owner_name = body.owner_name
        if body.owner_name is not None:
            item.owner_person_id = None
    item.updated_at, item.updated_by = utcnow(), actor
    s.add(item)
    s.flush()
    return risk_public(s, org_id, risk_id)


def delete_risk(s: Session, org_id: int, risk_id: int) -> None:
    s.delete(get_risk(s, org_id, risk_id))
    s.flush()


CSV_COLUMNS = ("id", "project_id", "project_name", "title", "description", "owner_person_id", "owner_name",
               "probability", "impact", "score", "mitigation", "status", "review_date", "review_overdue",
               "created_at", "created_by", "updated_at", "updated_by")


def _cell(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def risks_csv(risks: list[RiskPublic]) -> str:
    """The register as CSV, through the one CSV writer (formula-looking text is quoted)."""
    return write_csv(CSV_COLUMNS, ([_cell(getattr(r, c)) for c in CSV_COLUMNS] for r in risks))
