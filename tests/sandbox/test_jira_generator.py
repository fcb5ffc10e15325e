"""The seeded generator: deterministic, varied like a real site, consistent with itself."""

from __future__ import annotations

from collections import Counter

from sandbox.jira import JiraState, generate
from sandbox.jira.records import ISSUE_TYPES, STATUSES

ANCHOR = 1_760_000_000_000


def _site(seed: int = 7, per_project: int = 200) -> JiraState:
    state = JiraState()
    generate(state, projects=3, issues_per_project=per_project, seed=seed, anchor_ms=ANCHOR)
    return state


def _fingerprint(state: JiraState) -> list[tuple]:
    return [
        (
            i.key,
            i.summary,
            i.status_id,
            i.assignee,
            i.updated,
            i.story_points,
            i.duedate,
            i.time_spent,
        )
        for i in state.issues.values()
    ]


def test_same_seed_and_anchor_give_the_same_site():
    assert _fingerprint(_site(7)) == _fingerprint(_site(7))
    assert _fingerprint(_site(7)) != _fingerprint(_site(8))


def test_issues_span_every_status_category_and_type():
    state = _site()
    categories = Counter(STATUSES[i.status_id].category for i in state.issues.values())
    assert set(categories) == {"new", "indeterminate", "done"}
    statuses = {STATUSES[i.status_id].name for i in state.issues.values()}
    assert statuses == {"To Do", "In Progress", "In Review", "Done"}
    types = Counter(ISSUE_TYPES[i.type_id].name for i in state.issues.values())
    assert set(types) == {"Epic", "Story", "Task", "Bug", "Sub-task"}


def test_epics_have_children_and_subtasks_have_story_parents():
    state = _site()
    children = Counter(i.parent_id for i in state.issues.values() if i.parent_id)
    epics = [i for i in state.issues.values() if ISSUE_TYPES[i.type_id].name == "Epic"]
    assert sum(1 for e in epics if children[e.id]) >= len(epics) // 2
    for sub in (i for i in state.issues.values() if ISSUE_TYPES[i.type_id].name == "Sub-task"):
        parent = state.issues[sub.parent_id]
        assert ISSUE_TYPES[parent.type_id].name == "Story" and parent.project_id == sub.project_id


def test_planning_data_is_present():
    state = _site()
    issues = list(state.issues.values())
    assert sum(i.story_points is not None for i in issues) > 50
    assert sum(i.original_estimate is not None for i in issues) > 100
    assert sum(i.duedate is not None for i in issues) > 100
    assert sum(bool(i.sprint_ids) for i in issues) > 50
    versions = list(state.versions.values())
    today = "2025-10-09"  # the anchor's date
    assert any(v.released for v in versions)
    assert any(not v.released and v.release_date < today for v in versions), "an overdue milestone"
    assert any(not v.released and v.release_date > today for v in versions)
    authors = {w.author for w in state.worklogs.values()}
    assert len(authors) >= 4


def test_records_are_consistent_with_their_history_and_worklogs():
    state = _site()
    for issue in state.issues.values():
        assert issue.created <= issue.updated <= ANCHOR
        assert (issue.resolved is not None) == (STATUSES[issue.status_id].category == "done")
        assert issue.time_spent == sum(state.worklogs[w].seconds for w in issue.worklog_ids or [])
        if issue.histories:
            status_changes = [it for h in issue.histories for it in h.items if it.field == "status"]
            if status_changes:
                assert status_changes[-1].to == issue.status_id
            assert [h.created for h in issue.histories] == sorted(
                h.created for h in issue.histories
            )
    assert state.by_updated == sorted((i.updated, i.id) for i in state.issues.values())
