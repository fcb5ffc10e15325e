"""The last state each state event announced, per subject (issue 22): ``service.state_events.transitions``.

A state event (``milestone.overdue``, ``budget.threshold_crossed``, …) fires once per transition,
not on every recomputation: the evaluation compares what it computes with the state kept here and
emits only when it changes, in the same transaction as the row's update.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from service.tables.base import _fk, utcnow


class EventState(SQLModel, table=True):
    __tablename__ = "event_state"
    # "milestone:12", "project:3": what the state is of.
    subject: str = Field(primary_key=True, max_length=100)
    # overdue | at_risk | completed | slip | budget_threshold | exhaustion_before_end
    kind: str = Field(primary_key=True, max_length=40)
    org_id: int = _fk("organization.id")
    state: str = Field(max_length=100)
    changed_at: datetime = Field(default_factory=utcnow)
