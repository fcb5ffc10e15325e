"""Status transitions categorized by status id through the site's catalogue (issue 19).

Goldens on real captured payloads:

- Cloud REST issues SP-10, SP-13, SP-14 (jirametrics, site improvingflow.atlassian.net)
  with that site's captured status list (``jirametrics/testdata/sample_statuses.json``,
  a ``GET /rest/api/2/status`` response of the same site: captured, not constructed).
- Cloud webhooks of TES-41 (mattermost, some-instance-test.atlassian.net). No status list
  of that site was captured: its catalogue is assembled from the ``fields.status`` objects
  the captured payloads of that site carry (each one a status as ``/status`` lists it).
- Data Center webhooks of TES-4 (mattermost, a Jira Server install) with a Server status
  list (``jira-ruby/status.json``, Jira's built-in workflow: Open 1, In Progress 3,
  Reopened 4, Resolved 5, Closed 6 — the ids the payloads name, with the same names and
  categories as the payloads' own status objects).

Expected values are read off the payloads by hand (times, ids, names).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from mappings.jira import (
    CatalogueStatus,
    changelog_truncated,
    effects_from_webhook,
    histories_from_bulk_changelog,
    map_issue,
    recategorize_changes,
    status_catalogue,
    unknown_status_ids,
)
from mappings.jira.issue import build_issue_upsert
from mappings.model import CategoryRule, Change, StatusCategory, TaskUpsert
from tests.mappings.jira_data import SITE, WEBHOOKS, profile, rest, webhook

TODO, WIP, DONE = StatusCategory.todo, StatusCategory.in_progress, StatusCategory.done
CLOUD = status_catalogue(rest("jirametrics/testdata/sample_statuses.json"))
SERVER = status_catalogue(rest("jira-ruby/status.json"))


def _utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, ms: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC)


def _issue(name: str, **kw: Any) -> TaskUpsert:
    return map_issue(rest(f"jirametrics/testdata/{name}.json"), site_url=SITE, profile=profile(), **kw)


def _status(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.field == "status"]


def _assembled_cloud_catalogue() -> dict[str, CatalogueStatus]:
    """some-instance-test.atlassian.net's statuses, from its captured payloads' issues."""
    seen: dict[str, Any] = {}
    for path in sorted((WEBHOOKS / "mattermost").glob("*.json")):
        payload = webhook(f"mattermost/{path.stem}")
        status = ((payload.get("issue") or {}).get("fields") or {}).get("status")
        if isinstance(status, dict) and "some-instance-test.atlassian.net" in status["self"]:
            seen[status["id"]] = status
    return status_catalogue(list(seen.values()))


def test_captured_catalogues_read_by_id() -> None:
    assert CLOUD == {
        "3": CatalogueStatus("In Progress", WIP),
        "10000": CatalogueStatus("Backlog", TODO),
        "10001": CatalogueStatus("Selected for Development", WIP),
        "10002": CatalogueStatus("Done", DONE),
        "10011": CatalogueStatus("Review", WIP),
        "10012": CatalogueStatus("FakeBacklog", TODO),
    }
    assert {k: (s.name, s.category) for k, s in SERVER.items()} == {
        "1": ("Open", TODO),
        "3": ("In Progress", WIP),
        "4": ("Reopened", TODO),
        "5": ("Resolved", DONE),
        "6": ("Closed", DONE),
    }
    # Two statuses named "To Do" on one real Cloud site: a name alone is not an identity.
    assembled = _assembled_cloud_catalogue()
    assert sorted(k for k, s in assembled.items() if s.name == "To Do") == ["10001", "10004"]


# --- Cloud REST issues: SP-10, SP-13, SP-14 --------------------------------------------

# (issue, the transition into work: (history time, from id, to id, to name), started_at,
#  completed_at = resolutiondate)
CLOUD_GOLDENS = [
    (
        "SP-10",
        (_utc(2021, 8, 29, 18, 6, 28, 717), "10000", "10001", "Selected for Development"),
        _utc(2021, 9, 6, 4, 34, 26, 204),
    ),
    (
        "SP-13",
        (_utc(2022, 4, 19, 1, 31, 30, 710), "10000", "10001", "Selected for Development"),
        _utc(2022, 4, 19, 1, 53, 42, 180),
    ),
    (
        "SP-14",
        (_utc(2022, 4, 19, 1, 31, 32, 667), "10000", "3", "In Progress"),
        _utc(2022, 4, 19, 1, 53, 7, 28),
    ),
]


@pytest.mark.parametrize(("name", "into_work", "completed"), CLOUD_GOLDENS)
def test_cloud_transitions_into_work_get_in_progress_and_started_at(
    name: str, into_work: tuple[datetime, str, str, str], completed: datetime
) -> None:
    at, from_id, to_id, to_name = into_work
    before = _issue(name)  # what every sync did until now: no catalogue
    first = _status(before.changes)[0]
    assert (first.to_value, first.to_category, before.task.started_at) == (to_name, None, None)

    up = _issue(name, catalogue=CLOUD)
    first = _status(up.changes)[0]
    assert (first.changed_at, first.from_id, first.to_id, first.to_value) == (
        at,
        from_id,
        to_id,
        to_name,
    )
    assert (first.from_category, first.to_category) == (TODO, WIP)
    assert (first.from_rule, first.to_rule) == (CategoryRule.id, CategoryRule.id)
    assert (up.task.started_at, up.task.completed_at) == (at, completed)
    # Every transition of the history is categorized, by id.
    assert all(c.from_category and c.to_category for c in _status(up.changes))
    assert {c.to_rule for c in _status(up.changes)} == {CategoryRule.id}


def test_sp10_back_and_forth_keeps_the_first_entry_into_work() -> None:
    up = _issue("SP-10", catalogue=CLOUD)
    path = [(c.to_value, c.to_category) for c in _status(up.changes)]
    assert path == [
        ("Selected for Development", WIP),
        ("In Progress", WIP),
        ("Selected for Development", WIP),  # back, still a work status on this site
        ("In Progress", WIP),
        ("Review", WIP),
        ("Done", DONE),
    ]
    assert up.task.started_at == _utc(2021, 8, 29, 18, 6, 28, 717)


def test_name_fallback_when_the_changelog_has_no_ids() -> None:
    issue = rest("jirametrics/testdata/SP-14.json")
    for history in issue["changelog"]["histories"]:
        for item in history["items"]:
            if item["field"] == "status":
                item["from"] = item["to"] = None
    up = map_issue(issue, site_url=SITE, profile=profile(), catalogue=CLOUD)
    first, last = _status(up.changes)
    assert (first.to_id, first.to_category, first.to_rule) == (None, WIP, CategoryRule.name)
    assert (first.from_category, first.from_rule) == (TODO, CategoryRule.name)  # "Backlog"
    assert (last.to_category, last.to_rule) == (DONE, CategoryRule.name)
    assert up.task.started_at == _utc(2022, 4, 19, 1, 31, 32, 667)


def test_a_status_renamed_since_is_categorized_by_its_id() -> None:
    issue = rest("jirametrics/testdata/SP-14.json")
    history = next(h for h in issue["changelog"]["histories"] if h["id"] == "10128")
    history["items"][0]["toString"] = "Doing"  # status 3 was called "Doing" back then
    up = map_issue(issue, site_url=SITE, profile=profile(), catalogue=CLOUD)
    first = _status(up.changes)[0]
    assert (first.to_value, first.to_id, first.to_category, first.to_rule) == (
        "Doing",
        "3",
        WIP,
        CategoryRule.id,
    )
    without_id = copy.deepcopy(issue)
    item = next(h for h in without_id["changelog"]["histories"] if h["id"] == "10128")["items"][0]
    item["to"] = None
    first = _status(map_issue(without_id, site_url=SITE, profile=profile(), catalogue=CLOUD).changes)[0]
    assert (first.to_category, first.to_rule) == (None, None)  # "Doing" names no status now


def test_profile_name_rule_wins_over_the_catalogue() -> None:
    up = map_issue(
        rest("jirametrics/testdata/SP-13.json"),
        site_url=SITE,
        profile=profile(status_overrides={"Selected for Development": "todo"}),
        catalogue=CLOUD,
    )
    first, last = _status(up.changes)
    assert (first.to_category, first.to_rule) == (TODO, CategoryRule.profile)
    assert (last.from_category, last.from_rule) == (TODO, CategoryRule.profile)
    assert up.task.started_at is None  # it went from a "to do" status straight to Done


def test_shared_names_resolve_to_the_issues_own_project() -> None:
    """Cloud team-managed projects: same name, other id, other category (constructed)."""
    catalogue = {
        "10020": CatalogueStatus("Ready", TODO, "10000"),  # SP's project: ready to start
        "10030": CatalogueStatus("Ready", DONE, "10100"),  # another team: ready to ship
        "10002": CatalogueStatus("Done", DONE),
    }
    issue = rest("jirametrics/testdata/SP-14.json")
    assert issue["fields"]["project"]["id"] == "10000"
    history = next(h for h in issue["changelog"]["histories"] if h["id"] == "10128")
    history["items"][0].update({"to": "99999", "toString": "Ready"})  # an id not (yet) listed
    up = map_issue(issue, site_url=SITE, profile=profile(), catalogue=catalogue)
    first = _status(up.changes)[0]
    assert (first.to_category, first.to_rule) == (TODO, CategoryRule.name)
    assert unknown_status_ids(up.changes, catalogue) == {"10000", "99999", "3"}
    # Without the project the name is ambiguous: unknown rather than a guess.
    issue["fields"]["project"] = {}
    first = _status(map_issue(issue, site_url=SITE, profile=profile(), catalogue=catalogue).changes)[0]
    assert (first.to_category, first.to_rule) == (None, None)


# --- webhooks: Cloud and Data Center ----------------------------------------------------

# (payload, catalogue, (from id, to id), (from, to) without a catalogue, (from, to) with it)
WEBHOOK_GOLDENS = [
    ("webhook-issue-updated-started-working", "cloud", ("10001", "3"), (None, WIP), (TODO, WIP)),
    ("webhook-issue-updated-resolved", "cloud", ("3", "10002"), (None, DONE), (WIP, DONE)),
    ("webhook-issue-updated-reopened", "cloud", ("10002", "10001"), (None, TODO), (DONE, TODO)),
    ("webhook-server-issue-updated-resolved", "server", ("3", "5"), (None, DONE), (WIP, DONE)),
    ("webhook-server-issue-updated-reopened", "server", ("5", "4"), (None, TODO), (DONE, TODO)),
    ("webhook-server-issue-updated-in-progress", "server", ("4", "3"), (None, WIP), (TODO, WIP)),
    ("webhook-server-issue-updated-closed", "server", ("5", "6"), (None, DONE), (DONE, DONE)),
]


@pytest.mark.parametrize(("name", "site", "ids", "without", "with_"), WEBHOOK_GOLDENS)
def test_webhook_transitions_cloud_and_data_center(
    name: str,
    site: str,
    ids: tuple[str, str],
    without: tuple[Any, Any],
    with_: tuple[Any, Any],
) -> None:
    payload = webhook(f"mattermost/{name}")
    catalogue = _assembled_cloud_catalogue() if site == "cloud" else SERVER
    (bare,) = effects_from_webhook(payload, site_url=SITE, profile=profile())
    (up,) = effects_from_webhook(payload, site_url=SITE, profile=profile(), catalogue=catalogue)
    assert isinstance(bare, TaskUpsert) and isinstance(up, TaskUpsert)
    (old,), (new,) = _status(bare.changes), _status(up.changes)
    assert ((old.from_id, old.to_id), (old.from_category, old.to_category)) == (ids, without)
    assert old.to_rule is CategoryRule.current  # the issue's own status said it
    assert ((new.from_id, new.to_id), (new.from_category, new.to_category)) == (ids, with_)
    assert (new.from_rule, new.to_rule) == (CategoryRule.id, CategoryRule.id)


def test_data_center_work_started_event_gives_started_at() -> None:
    payload = webhook("mattermost/webhook-server-issue-updated-in-progress")
    (up,) = effects_from_webhook(payload, site_url=SITE, profile=profile(), catalogue=SERVER)
    assert isinstance(up, TaskUpsert)
    assert up.task.started_at == _utc(2019, 8, 14, 3, 2, 33, 680)  # the payload's timestamp


# --- stored rows re-categorized when the catalogue changes ------------------------------


def _rows(changes: list[Change], *, with_ids: bool = True) -> list[dict[str, Any]]:
    """Change rows as the store keeps them (categories as text)."""
    out = []
    for n, c in enumerate(changes):
        row: dict[str, Any] = {
            "id": n + 1,
            "field": c.field,
            "from_value": c.from_value,
            "to_value": c.to_value,
            "from_category": c.from_category.value if c.from_category else None,
            "to_category": c.to_category.value if c.to_category else None,
        }
        if with_ids:
            row |= {"from_id": c.from_id, "to_id": c.to_id}
        out.append(row)
    return out


def test_stored_rows_are_recategorized_by_id_then_by_name() -> None:
    stored = _issue("SP-10").changes  # synced before the catalogue was loaded
    rows = _rows(stored)
    result = recategorize_changes(rows, CLOUD)
    status_rows = [r for r in rows if r["field"] == "status"]
    assert [r.key for r in result] == [r["id"] for r in status_rows]  # non-status rows skipped
    assert [(r.from_category, r.to_category) for r in result] == [
        (TODO, WIP),
        (WIP, WIP),
        (WIP, WIP),
        (WIP, WIP),
        (WIP, WIP),
        (WIP, DONE),
    ]
    assert {r.to_rule for r in result} == {CategoryRule.id}
    assert [r.changed for r in result] == [True] * 6  # each had at least one side unknown
    unchanged = recategorize_changes(rows, {})  # no catalogue: what the rows hold stands
    assert not any(r.changed for r in unchanged)
    assert [(r.from_category, r.to_category) for r in unchanged] == [
        (
            StatusCategory(r["from_category"]) if r["from_category"] else None,
            StatusCategory(r["to_category"]) if r["to_category"] else None,
        )
        for r in status_rows
    ]
    # Rows stored before ids were kept: by name, same categories here.
    by_name = recategorize_changes(_rows(stored, with_ids=False), CLOUD)
    assert [(r.from_category, r.to_category) for r in by_name] == [(r.from_category, r.to_category) for r in result]
    assert {r.to_rule for r in by_name} == {CategoryRule.name}


def test_recategorizing_never_forgets_what_a_row_knew() -> None:
    row = {
        "field": "status",
        "from_value": "Gone",
        "to_value": "Done",
        "from_id": "777",
        "to_id": "10002",
        "from_category": "in_progress",
        "to_category": "done",
        "from_rule": "current",
        "to_rule": "current",
    }
    (same,) = recategorize_changes([row], CLOUD)
    assert (same.from_category, same.from_rule) == (WIP, CategoryRule.current)  # kept
    assert (same.to_category, same.to_rule) == (DONE, CategoryRule.id)
    assert same.changed  # the rule is news for a store that keeps rules
    (again,) = recategorize_changes([row | {"to_rule": "id"}], CLOUD)
    assert not again.changed


# --- truncated embedded changelogs and the bulk changelog -------------------------------


def _bulk_pages(issue: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """``BulkChangelogResponseBean`` pages of one issue's history, oldest first."""
    histories = sorted(issue["changelog"]["histories"], key=lambda h: h["created"])
    pages = []
    for start in range(0, len(histories), size):
        page: dict[str, Any] = {
            "issueChangeLogs": [{"issueId": issue["id"], "changeHistories": histories[start : start + size]}]
        }
        if start + size < len(histories):
            page["nextPageToken"] = f"token-{start + size}"
        pages.append(page)
    return pages


def test_truncated_changelog_is_completed_from_bulk_changelog_pages() -> None:
    from tests.sandbox.jira_openapi import validate

    full = rest("jirametrics/testdata/SP-10.json")
    truncated = copy.deepcopy(full)
    changelog = truncated["changelog"]
    changelog["histories"] = changelog["histories"][:2]  # newest first: the latest two
    changelog["maxResults"] = 2
    assert changelog_truncated(truncated) and not changelog_truncated(full)

    short = map_issue(truncated, site_url=SITE, profile=profile(), catalogue=CLOUD)
    # Too late: the first move into work (2021-08-29) is not among the latest two.
    assert short.task.started_at == _utc(2021, 9, 6, 4, 34, 21, 385)

    pages = _bulk_pages(full, size=4)
    for page in pages:
        validate(page, "BulkChangelogResponseBean")
    extra = [h for page in pages for h in histories_from_bulk_changelog(page)[full["id"]]]
    whole = build_issue_upsert(truncated, site_url=SITE, profile=profile(), catalogue=CLOUD, extra_histories=extra)
    reference = map_issue(full, site_url=SITE, profile=profile(), catalogue=CLOUD)
    assert whole.changes == reference.changes  # the embedded two are not counted twice
    assert whole.task.started_at == _utc(2021, 8, 29, 18, 6, 28, 717)


def test_bad_catalogue_and_bulk_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="status catalogue"):
        status_catalogue({"errorMessages": ["nope"]})
    with pytest.raises(ValueError, match="issueChangeLogs"):
        histories_from_bulk_changelog([])
    page = {
        "values": [
            {
                "id": "1",
                "name": "Finished",
                "statusCategory": "DONE",
                "scope": {"type": "PROJECT", "project": {"id": "7"}},
            }
        ]
    }
    assert status_catalogue(page) == {"1": CatalogueStatus("Finished", DONE, "7")}


def test_a_plain_mapping_of_name_and_category_tuples_is_a_catalogue() -> None:
    plain = {"3": ("In Progress", "in_progress"), "10000": ("Backlog", "todo")}
    up = _issue("SP-14", catalogue=plain)
    first = _status(up.changes)[0]
    assert (first.from_category, first.to_category, first.to_rule) == (TODO, WIP, CategoryRule.id)
    assert up.task.started_at == _utc(2022, 4, 19, 1, 31, 32, 667)
