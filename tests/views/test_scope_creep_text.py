"""The scope-creep signal in words, on the Risk page and in the status report: a project without a
planned start whose milestone's scope crept since its PM baseline says so (before: "no baseline"
on the page, "since None" in the report)."""

from __future__ import annotations

from service.dashboard.risk_page import _figure
from service.reports.data import _signal_text

MILESTONE = {"id": 7, "name": "R2", "level": "red", "creep_share": 0.5, "baseline_set_at": "2026-10-05T09:00:00+00:00"}
GREEN = {**MILESTONE, "name": "R3", "level": "green", "creep_share": 0.0}


def test_milestone_only_creep_is_named_with_its_baseline():
    sig = {"level": "red", "project_level": None, "baseline_date": None, "milestones": [MILESTONE, GREEN]}
    assert _figure("scope_creep", sig) == (
        "no baseline (planned start); milestone R2: 50% since its baseline (2026-10-05)")
    assert _signal_text("scope_creep", sig) == "milestone R2 scope +50% since its baseline (2026-10-05)"


def test_project_creep_with_and_without_a_milestone_over_its_threshold():
    sig = {"level": "amber", "project_level": "amber", "baseline_date": "2026-09-01", "creep_share": 0.2,
           "added_tasks": 3, "milestones": [GREEN]}
    assert _figure("scope_creep", sig) == "3 added since 2026-09-01: 20%"
    assert _signal_text("scope_creep", sig) == "scope +20% since 2026-09-01"
    sig["milestones"] = [MILESTONE]
    assert _figure("scope_creep", sig).endswith("; milestone R2: 50% since its baseline (2026-10-05)")
    assert _signal_text("scope_creep", sig) == (
        "scope +20% since 2026-09-01; milestone R2 scope +50% since its baseline (2026-10-05)")


def test_no_baseline_at_all():
    sig = {"level": None, "project_level": None, "baseline_date": None, "milestones": []}
    assert _figure("scope_creep", sig) == "no baseline (planned start)"
    assert _signal_text("scope_creep", sig) == "scope creep: no baseline"
