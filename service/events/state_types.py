"""The data models of the state events (``service.state_events.transitions``) and of ``source.failing``
(``service.state_events.sources``), registered in the catalog, which imports this module at its end.

Thin, as every payload: the subject's ids, the figures that changed, a link to the view that holds
the rest. Figures are the views' own, rounded as the views round them.
"""

from __future__ import annotations

from service.events.catalog import EventData, EventType, SourceHealthData, register

__all__ = ["BudgetData", "BudgetThresholdData", "MilestoneData", "MilestoneSlippedData"]


class MilestoneData(EventData):
    milestone_id: int
    name: str
    project_id: int | None = None
    source_id: int | None = None
    due_date: str | None = None
    baseline_due_date: str | None = None
    days_overdue: int | None = None
    forecast_finish: str | None = None
    slip_days: int | None = None
    open_tasks: int
    done_tasks: int
    percent_complete: float | None = None
    links: dict[str, str] = {}


class MilestoneSlippedData(MilestoneData):
    previous_slip_days: int | None = None


class BudgetData(EventData):
    project_id: int
    currency: str
    bac: float | None = None
    ac: float
    consumed_share: float | None = None
    exhaustion_date: str | None = None
    planned_end: str | None = None
    runway_weeks: float | None = None
    burn_rate_per_week: float | None = None
    links: dict[str, str] = {}


class BudgetThresholdData(BudgetData):
    threshold: int
    crossed: list[int]


for _t in (
    EventType("source.failing", 1, SourceHealthData, "A source's first failed run after being ok."),
    EventType("milestone.overdue", 1, MilestoneData,
              "A milestone's due date passed (organization's time zone) and it is not completed."),
    EventType("milestone.at_risk", 1, MilestoneData, "A milestone's forecast finish moved past its due date."),
    EventType("milestone.slipped", 1, MilestoneSlippedData,
              "A milestone's due date moved later against its baseline than before."),
    EventType("milestone.completed", 1, MilestoneData, "A milestone was released or completed."),
    EventType("budget.threshold_crossed", 1, BudgetThresholdData,
              "A project's actual cost reached a threshold share of its budget (default 50/80/100 %)."),
    EventType("budget.exhaustion_before_end", 1, BudgetData,
              "A project's forecast budget exhaustion date moved before its planned end."),
):
    register(_t)
