"""work_dates: the one definition of a Jira task's started and completed times, from its
changes (mapped or stored) and its fields."""

from __future__ import annotations

from datetime import UTC, datetime

from mappings.jira.issue import work_dates
from mappings.model import Change, StatusCategory

WIP, DONE, TODO = StatusCategory.in_progress, StatusCategory.done, StatusCategory.todo


def _at(day: int) -> datetime:
    return datetime(2026, 3, day, tzinfo=UTC)


def _move(day: int, to: StatusCategory | None) -> Change:
    return Change(task_external_id="1", field="status", to_category=to, changed_at=_at(day))


def test_started_is_the_first_move_into_progress_and_completed_the_resolution_date() -> None:
    changes = [_move(2, WIP), _move(3, TODO), _move(5, WIP), _move(7, DONE)]
    fields = {"resolutiondate": "2026-03-08T10:00:00.000+0000", "updated": "2026-03-09T00:00:00.000+0000"}
    assert work_dates(DONE, fields, changes) == (_at(2), datetime(2026, 3, 8, 10, tzinfo=UTC))
    # no resolution date: the last move into done
    assert work_dates(DONE, {}, [*changes, _move(9, TODO), _move(10, DONE)]) == (_at(2), _at(10))


def test_an_uncategorized_move_is_no_evidence_and_an_open_task_has_no_completion() -> None:
    assert work_dates(DONE, {"updated": "2026-03-09T00:00:00.000+0000"}, [_move(2, None)]) == (None, _at(9))
    assert work_dates(TODO, {"resolutiondate": "2026-03-08T10:00:00.000+0000"}, [_move(4, WIP)]) == (_at(4), None)


def test_in_progress_now_counts_the_time_it_entered_its_category() -> None:
    fields = {"statuscategorychangedate": "2026-03-01T00:00:00.000+0000"}
    assert work_dates(WIP, fields, [_move(4, WIP)]) == (_at(1), None)
    assert work_dates(TODO, fields, []) == (None, None)
