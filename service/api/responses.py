"""Response schemas of the routes that answer plain rows or view dicts.

These routes build their JSON themselves (orjson, or FastAPI's encoder over a dict) so the
bytes stay what clients and the dashboard already read; the models here only *document*
those payloads in the OpenAPI document (``responses={200: {"model": ...}}`` with
``response_model=None``). The schemathesis test (``tests/service/test_schemathesis.py``)
checks every answer against them, so a payload that drifts from its model fails there.

Numbers that a view may leave out for lack of data are ``float | None`` with the reason in
``reasons``; counts are integers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BudgetView",
    "FlowView",
    "MilestonesView",
    "ProgressView",
    "QualityView",
    "ReadyStatus",
    "SourceStatus",
    "SyncRequested",
    "SyncRunPublic",
    "TaskPublic",
    "MilestonePublic",
    "WebhookAccepted",
    "WorkloadView",
    "RiskView",
    "VIEW_MODELS",
    "CSV_CONTENT",
]

CSV_CONTENT: dict[str, Any] = {
    "text/csv": {"schema": {"type": "string"}},
}
"""The ``format=csv`` alternate of a view (one row per group, the total first)."""


# --- rows of the synced tables ---------------------------------------------------------------


class _Stored(BaseModel):
    """A stored row or JSON cell, passed through whole: keys added later are not dropped."""

    model_config = ConfigDict(extra="allow")


class AssigneeRef(_Stored):
    tool: str
    external_id: str
    display_name: str | None = None
    email: str | None = None


class MilestoneRefPublic(_Stored):
    external_id: str
    name: str | None = None


class TaskPublic(_Stored):
    """One task as stored (``raw``, the vendor JSON, only with ``include=raw``)."""

    id: int
    source_id: int
    project_id: int | None
    external_id: str
    key: str | None
    url: str | None
    title: str
    type: str
    status: str | None
    status_category: Literal["todo", "in_progress", "done"]
    priority: str | None
    assignees: list[AssigneeRef] | None
    labels: list[str] | None
    milestone_refs: list[MilestoneRefPublic] | None
    parent_external_id: str | None
    sprint: str | None
    remote_created_at: datetime | None
    remote_updated_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    due_date: date | None
    start_date: date | None
    estimate_points: float | None
    estimate_seconds: int | None
    remaining_seconds: int | None
    spent_seconds: int | None
    cost: float | None
    checklist_total: int | None
    checklist_done: int | None
    is_milestone: bool
    archived: bool
    deleted_at: datetime | None
    deleted_reason: str | None
    synced_at: datetime
    raw: dict[str, Any] | list[Any] | None = Field(default=None, description="Only with include=raw.")


class MilestonePublic(_Stored):
    id: int
    source_id: int
    project_id: int | None
    external_id: str
    name: str
    description: str | None
    start_date: date | None
    due_date: date | None
    baseline_due_date: date | None
    released: bool
    completed_at: datetime | None
    archived: bool
    remote_updated_at: datetime | None
    deleted_at: datetime | None
    deleted_reason: str | None
    synced_at: datetime


class SyncRunPublic(_Stored):
    id: int
    org_id: int
    source_id: int
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    api_calls: int
    items_seen: int
    items_changed: int
    errors: int
    error: str | None
    duration_ms: int | None
    findings: dict[str, Any] | None = Field(
        default=None, description="What the run found beyond its counts: a census's tombstones by reason "
        "(deleted, out_of_scope) with up to 20 example ids each.")


class WebhookTraffic(BaseModel):
    last_received_at: datetime | None
    by_status: dict[str, int] = Field(description="Inbox events of this source by status.")


class SourceStatus(BaseModel):
    source_id: int
    status: str
    status_reason: str | None
    last_run: SyncRunPublic | None
    last_success_at: datetime | None
    lag_seconds: float | None
    syncing: bool
    webhooks: WebhookTraffic


class SyncRequested(BaseModel):
    source_id: int
    requested: Literal[True]
    mode: Literal["incremental", "census", "full"]


class WebhookAccepted(BaseModel):
    id: int = Field(description="The inbox event id.")
    duplicate: bool = Field(description="True when this delivery was already stored.")


class ReadyStatus(BaseModel):
    status: Literal["ready"]
    database: str
    revision: str | None


# --- the portfolio views ----------------------------------------------------------------------


class GroupLabel(BaseModel):
    by: Literal["project", "source", "milestone", "person"] | None
    id: int | None
    name: str


class ViewParameters(BaseModel):
    """The query parameters the view used, echoed."""

    portfolio: int | None
    project: int | None
    source: int | None
    assignee: int | None
    group_by: Literal["project", "source", "milestone", "person"] | None
    as_of: str | None


class _Row(BaseModel):
    group: GroupLabel
    reasons: dict[str, str] = Field(description="Why a figure is null, by field name.")


class _View(BaseModel):
    view: str
    parameters: ViewParameters
    definitions: dict[str, str] = Field(description="The definitions (METRICS.md) this answer used.")


class WeekCount(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W10.")
    start: date
    done: int


class ProgressRow(_Row):
    scope: int
    done: int
    in_progress: int
    todo: int
    percent_complete_count: float | None
    estimate_unit: str | None
    estimate_total: float | None
    estimate_done: float | None
    estimated: int
    unestimated: int
    unestimated_share: float | None
    percent_complete_estimate: float | None
    time_tracked: int
    spent_seconds: float | None
    remaining_seconds: float | None
    percent_complete_time: float | None


class BurnupDay(BaseModel):
    date: date
    scope: int
    done: int


class ProgressSeries(BaseModel):
    burnup: list[BurnupDay]
    throughput: list[WeekCount]


class ProgressView(_View):
    total: ProgressRow
    groups: list[ProgressRow]
    series: ProgressSeries


class BudgetRow(_Row):
    projects: int
    currency: str | None
    bac: float | None
    ac: float | None
    ac_labour: float | None
    ac_direct: float | None
    hours: float
    unrated_hours: float
    consumed_share: float | None
    percent_complete: float | None
    percent_complete_basis: str | None
    burn_rate_per_week: float | None
    planned_rate_per_week: float | None
    runway_weeks: float | None
    exhaustion_date: date | None
    exhaustion_before_planned_end: bool | None
    planned_start: date | None
    planned_end: date | None
    pv: float | None
    ev: float | None
    cv: float | None
    sv: float | None
    cpi: float | None
    spi: float | None
    eac: float | None
    eac_atypical: float | None
    etc: float | None
    vac: float | None
    tcpi: float | None


class CostDay(BaseModel):
    date: date
    ac: float | None
    budget: float | None
    pv: float | None


class BudgetSeries(BaseModel):
    cost: list[CostDay]


class BudgetView(_View):
    total: BudgetRow
    groups: list[BudgetRow]
    series: BudgetSeries


class MilestonesRow(_Row):
    milestones: int
    completed: int
    overdue: int
    at_risk: int
    open_tasks: int
    done_tasks: int
    percent_complete: float | None


class SlipPoint(BaseModel):
    on: date | None = Field(description="The day the due date was recorded, in the organization's time zone.")
    due_date: date | None
    origin: str = Field(description="first_seen | sync")
    slip_days: int | None = Field(description="This due date − the baseline at as_of, in days.")


class MilestoneFigures(BaseModel):
    id: int
    name: str
    project_id: int | None
    source_id: int
    due_date: date | None
    due_date_rule: Literal["history", "earliest_known", "current"] = Field(
        description="How the due date at as_of was found: the last recorded by then; before taskhub first "
        "recorded the milestone, the earliest known; without recorded history, the current one.")
    baseline_due_date: date | None
    completed: bool
    completed_with_open_tasks: bool = Field(
        description="Marked released/completed while linked tasks are still open (METRICS.md, Milestones).")
    completed_open_tasks: int | None = Field(
        description="The open linked tasks of a milestone flagged completed_with_open_tasks; otherwise null.")
    status: str
    overdue: bool
    days_overdue: int | None
    at_risk: bool
    forecast_finish: date | None
    slip_days: int | None
    slip_series: list[SlipPoint] = Field(description="Each due date recorded up to as_of, with its slip.")
    tasks: int
    open: int
    done: int
    percent_complete: float | None
    throughput_per_week: float | None
    reasons: dict[str, str]


class MilestoneBrief(BaseModel):
    id: int
    name: str
    due_date: date | None


class MilestonesView(_View):
    total: MilestonesRow
    groups: list[MilestonesRow]
    milestones: list[MilestoneFigures]
    overdue: list[MilestoneBrief]
    at_risk: list[MilestoneBrief]


class Percentiles(BaseModel):
    count: int
    p50: float | None
    p85: float | None
    p95: float | None


class CycleTimes(Percentiles):
    excluded: int = Field(description="Done tasks never seen in progress.")


class FlowRow(_Row):
    done: int
    completed_known: int
    wip: int
    throughput_per_week: float | None
    lead_time_days: Percentiles
    cycle_time_days: CycleTimes


class FlowSeries(BaseModel):
    throughput: list[WeekCount]


class FlowView(_View):
    total: FlowRow
    groups: list[FlowRow]
    series: FlowSeries


class WorkloadFigures(BaseModel):
    open_tasks: int
    open_estimate_points: float
    open_estimate_hours: float
    overdue_tasks: int
    hours_this_week: float
    reasons: dict[str, str]


class WorkloadRow(WorkloadFigures):
    group: GroupLabel


class WorkloadPerson(WorkloadFigures):
    person: GroupLabel
    group: GroupLabel | None = Field(default=None, description="With group_by project, source or milestone.")


class WorkloadView(_View):
    total: WorkloadRow
    groups: list[WorkloadRow]
    people: list[WorkloadPerson]


class RiskTask(BaseModel):
    """A task behind a signal, linked to the tool."""

    model_config = ConfigDict(extra="allow")
    id: int
    key: str | None
    title: str | None
    url: str | None
    project_id: int | None


class RiskSignal(BaseModel):
    model_config = ConfigDict(extra="allow")
    level: Literal["green", "amber", "red"] | None = Field(description="null: not assessed (reasons say why).")
    threshold: dict[str, float] = Field(description="The thresholds this signal used (the project's or the defaults).")
    reasons: dict[str, str]


class RiskRow(_Row):
    key: str | None
    url: str | None
    rag: Literal["green", "amber", "red"]
    set_by: list[str] = Field(description="The signals at the project's RAG level.")
    not_assessed: list[str]
    thresholds: dict[str, float]
    thresholds_overridden: list[str]
    signals: dict[str, RiskSignal] = Field(
        description="stale, blocked, scope_creep, schedule, budget, milestones, concentration; each with its "
        "figures and evidence (tasks: at most 10, count, more).")


class RiskTotal(_Row):
    rag: Literal["green", "amber", "red"]
    projects: int
    red: int
    amber: int
    green: int
    signals: dict[str, dict[str, Any]]


class RiskThreshold(BaseModel):
    default: float
    min: float
    max: float
    meaning: str


class RiskView(_View):
    total: RiskTotal
    groups: list[RiskRow] = Field(description="One row per project, always.")
    thresholds: dict[str, RiskThreshold] = Field(description="Every threshold: default, range, meaning.")


class OpenDefectAge(Percentiles):
    unknown: int = Field(description="Open defects with no known creation time.")


class QualityRow(_Row):
    defects: int
    inflow: int
    outflow: int
    open_defects: int
    open_defect_age_days: OpenDefectAge
    done_trailing: int
    defects_done_trailing: int
    bug_share_of_throughput: float | None
    defect_throughput_per_week: float
    reopened: int = Field(description="Done → not-done status changes of defects in the window.")
    reopened_defects: int
    escaped_defects: int = Field(description="Distinct defects escaped from any released version.")


class DefectWeek(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W10.")
    start: date
    created: int
    done: int


class QualitySeries(BaseModel):
    defects: list[DefectWeek]


class QualityWindow(BaseModel):
    weeks: int
    start: date
    end: date


class ReopenedDefect(BaseModel):
    id: int
    key: str | None
    title: str
    project_id: int | None
    reopened_at: datetime
    to_category: str


class EscapedDefect(BaseModel):
    id: int
    key: str | None
    title: str
    project_id: int | None
    created_at: datetime
    via: list[Literal["affected_version", "link"]]


class EscapedVersion(BaseModel):
    id: int
    name: str
    project_id: int | None
    source_id: int
    release_date: date | None
    escaped: int | None
    by_affected_version: int
    by_link: int
    bugs: list[EscapedDefect] = Field(description="The first escaped defects by creation time (capped).")
    bugs_not_listed: int
    reasons: dict[str, str]


class QualityView(_View):
    total: QualityRow
    groups: list[QualityRow]
    window: QualityWindow
    series: QualitySeries
    reopened: list[ReopenedDefect] = Field(description="The first reopenings in the window by time (capped).")
    reopened_not_listed: int
    versions: list[EscapedVersion] = Field(description="Released Jira versions with their escaped defects.")


VIEW_MODELS: dict[str, type[BaseModel]] = {
    "progress": ProgressView,
    "budget": BudgetView,
    "milestones": MilestonesView,
    "flow": FlowView,
    "workload": WorkloadView,
    "quality": QualityView,
    "risk": RiskView,
}
