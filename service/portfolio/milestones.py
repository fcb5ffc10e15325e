"""Milestone baselines: what a PM commits to, against which slip is measured (METRICS.md,
Milestones). Until a PM sets one, a milestone's baseline is the first due date seen."""

from __future__ import annotations

from sqlmodel import Session

from service import errors
from service.portfolio.schemas import BaselinePublic, MilestoneBaseline
from service.store.records import set_milestone_baseline

__all__ = ["set_baseline"]


def set_baseline(s: Session, org_id: int, milestone_id: int, body: MilestoneBaseline, actor: str) -> BaselinePublic:
    """Set or (``due_date: null``) reset a milestone's baseline, recorded in its history with
    ``actor``. The caller commits."""
    try:
        out = set_milestone_baseline(s.connection(), org_id, milestone_id, body.due_date, actor)
    except ValueError as exc:
        raise errors.Invalid(str(exc), field="due_date") from exc
    if out is None:
        raise errors.NotFound(f"milestone {milestone_id} not found")
    return BaselinePublic.model_validate(out)
