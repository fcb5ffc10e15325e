"""Seeded, deterministic data for the sandbox: people, projects, versions (released, due,
overdue), sprints, epics with children, stories/tasks/bugs/sub-tasks across the status
categories, story points, estimates, worklogs by several people (while an issue is worked
on: the last three weeks for open ones), due dates, and changelog histories consistent with
the current field values. Open issues are planned for versions not released yet, but for a
few stragglers.

Histories look like real ones: issues walk To Do -> In Progress -> In Review -> Done,
some go back (In Progress -> To Do -> In Progress), are blocked for a while (In Progress
-> Blocked -> In Progress) or are reopened (Done -> In Progress -> In Review -> Done).
Changelog items carry status ids in ``from``/``to`` and the names the statuses had then
("In Review" was "Code Review" until 60 days before the anchor). On Cloud, one project
(``TEAM_MANAGED_PROJECT``) is team-managed, with its own statuses of the same names under
other ids (its "Blocked" is a to-do status, the site's a work status). The detours are
drawn from a second random stream and fit inside the walk's existing steps, so the
issues' fields are the same as without them.

Built straight into the indices (no per-issue webhooks, one sort at the end), so
100,000 issues take seconds and stay compact (records hold ids and epoch ms).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from sandbox.jira.records import (
    FLAGGED_FIELD,
    FLAGGED_OPTION,
    ISSUE_TYPE_BY_NAME,
    LINK_TYPES,
    STATUSES,
    TEAM_MANAGED_PROJECT,
    ChangeItem,
    History,
    IssueRec,
    LinkRec,
    Project,
    Sprint,
    Version,
    WorklogRec,
    status_name_at,
    workflow_status_ids,
)
from sandbox.jira.state import JiraState

__all__ = ["generate", "PEOPLE", "EMAIL_VISIBLE", "PROJECT_NAMES"]

PEOPLE = [
    ("Ada Lovelace", "ada"),
    ("Grace Hopper", "grace"),
    ("Alan Turing", "alan"),
    ("Katherine Johnson", "katherine"),
    ("Edsger Dijkstra", "edsger"),
    ("Barbara Liskov", "barbara"),
    ("Donald Knuth", "donald"),
    ("Margaret Hamilton", "margaret"),
]
# Whose profile shows their email on Cloud (the others hide it, as most Atlassian accounts do):
# both kinds are there for people matching to meet. Data Center shows every email.
EMAIL_VISIBLE = frozenset({"katherine", "donald"})
PROJECT_NAMES = [
    ("APOLLO", "Apollo Platform"),
    ("BEACON", "Beacon Mobile"),
    ("CIRRUS", "Cirrus Billing"),
    ("DELTA", "Delta Data"),
    ("EMBER", "Ember Web"),
    ("FJORD", "Fjord Search"),
    ("GLACIER", "Glacier Storage"),
    ("HARBOR", "Harbor Ops"),
]
_VERBS = ["Build", "Fix", "Refactor", "Design", "Migrate", "Document", "Test", "Optimise", "Review"]
_NOUNS = [
    "login flow",
    "billing export",
    "search index",
    "audit log",
    "dashboard",
    "API client",
    "webhook handler",
    "sync worker",
    "report builder",
    "mobile onboarding",
    "cache layer",
]
_LABELS = ["backend", "frontend", "infra", "ux", "tech-debt", "customer", "security"]
_DAY = 86_400_000
_HOUR = 3_600_000
_TODO, _DOING, _REVIEW, _DONE, _BLOCKED = range(5)  # indices into workflow_status_ids
_BACK_SHARE = 0.25  # of issues that left In Progress: went back to To Do once first
_BLOCKED_SHARE = 0.10  # ... or were blocked for a while
_REOPEN_SHARE = 0.15  # of issues done after review: were done, reopened, reviewed again
_RECENT = 21 * _DAY  # an open issue's worklogs fall in this last stretch of its work
_STRAGGLER_SHARE = 0.01  # of open issues with a fix version: left in any version (maybe released)


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def _people(state: JiraState, rng: random.Random) -> list[str]:
    ids = []
    for display, name in PEOPLE:
        existing = state.find_user(name)
        if existing is not None:
            ids.append(existing.account_id)
            continue
        account = "5b10" + "".join(rng.choice("0123456789abcdef") for _ in range(20))
        visible = name in EMAIL_VISIBLE
        ids.append(state.add_user(account, display, f"{name}@example.com", name, email_visible=visible).account_id)
    return ids


def _project(state: JiraState, n: int) -> Project:
    key, name = PROJECT_NAMES[n] if n < len(PROJECT_NAMES) else (f"P{n}", f"Project {n}")
    existing = state.project(key)
    if existing is not None:
        return existing
    project = Project(state.next_id("project"), key, name, state.myself_id)
    project.team_managed = state.config.is_cloud and key == TEAM_MANAGED_PROJECT
    state.projects[project.id] = project
    state.project_by_key[key] = project.id
    state.project_versions[project.id] = []
    return project


def _versions(state: JiraState, project: Project, rng: random.Random, anchor: int) -> list[Version]:
    out = []
    plan = [(-120, True), (-60, True), (-10, False), (20, False), (75, False)]  # days vs anchor
    for n, (offset, released) in enumerate(plan, start=1):
        release = anchor + offset * _DAY + rng.randint(-3, 3) * _DAY
        version = Version(
            state.next_id("version"),
            project.id,
            f"{project.key.title()} {n}.0",
            f"Release {n} of {project.name}",
            _date(release - 45 * _DAY),
            _date(release),
            released,
        )
        state.versions[version.id] = version
        state.project_versions[project.id].append(version.id)
        out.append(version)
    return out


def _sprints(state: JiraState, board: int, anchor: int) -> list[Sprint]:
    out = []
    for n, (offset, sprint_state) in enumerate(
        ((-42, "closed"), (-28, "closed"), (-14, "active"), (0, "future")), 1
    ):
        sid = state.next_id("sprint")
        start = anchor + offset * _DAY
        out.append(
            Sprint(
                sid,
                f"Board {board} Sprint {n}",
                sprint_state,
                board,
                f"Sprint goal {n}",
                start if sprint_state != "future" else None,
                start + 14 * _DAY if sprint_state != "future" else None,
                start + 14 * _DAY if sprint_state == "closed" else None,
            )
        )
        state.sprints[sid] = out[-1]
    return out


def _fix_version(rng: random.Random, versions: list[Version], *, done: bool) -> Version:
    """Open work is planned for a version not released yet, but for a few stragglers left in
    a released one (as on real sites, and flagged by taskhub); done work for any version."""
    pending = [v for v in versions if not v.released]
    if done or not pending or rng.random() < _STRAGGLER_SHARE:
        return rng.choice(versions)
    return rng.choice(pending)


def _history(state: JiraState, actor: str, at: int, *items: ChangeItem) -> History:
    return History(state.next_id("history"), actor, at, tuple(items))


_RESOLVED = ChangeItem("resolution", "resolution", None, None, "10000", "Done")
_UNRESOLVED = ChangeItem("resolution", "resolution", "10000", "Done", None, None)


def _move(from_id: str, to_id: str) -> ChangeItem:
    """A status change; the names are filled in by ``_names_then`` once times are final."""
    return ChangeItem("status", "status", from_id, None, to_id, None)


def _detour(
    state: JiraState,
    rng: random.Random,
    actor: str,
    ids: tuple[str, ...],
    step: int,
    start: int,
    end: int,
) -> list[History]:
    """Moves back and forth strictly between ``start`` and ``end``, before walk ``step``.

    Leaving In Progress (step to In Review): back to To Do and on again, or blocked
    and unblocked. Leaving In Review for Done: done, reopened into In Progress, back in
    review. The issue is in the same status at ``end`` as without the detour.
    """
    if end - start < 4:  # the walk's steps are hours apart; this never happens
        return []
    roll = rng.random() if step == _REVIEW else 1.0
    if roll < _BACK_SHARE + _BLOCKED_SHARE:
        away = ids[_TODO] if roll < _BACK_SHARE else ids[_BLOCKED]
        a, b = sorted(rng.sample(range(start + 1, end), 2))
        return [
            _history(state, actor, a, _move(ids[_DOING], away)),
            _history(state, actor, b, _move(away, ids[_DOING])),
        ]
    if step == _DONE and rng.random() < _REOPEN_SHARE:
        a, b, c = sorted(rng.sample(range(start + 1, end), 3))
        return [
            _history(state, actor, a, _move(ids[_REVIEW], ids[_DONE]), _RESOLVED),
            _history(state, actor, b, _move(ids[_DONE], ids[_DOING]), _UNRESOLVED),
            _history(state, actor, c, _move(ids[_DOING], ids[_REVIEW])),
        ]
    return []


def _names_then(history: History, anchor: int) -> History:
    """Status items get the names their statuses had at the history's time."""
    if not any(it.field == "status" for it in history.items):
        return history
    items = tuple(
        it._replace(
            from_string=status_name_at(it.from_, history.created, anchor) if it.from_ else None,
            to_string=status_name_at(it.to, history.created, anchor) if it.to else None,
        )
        if it.field == "status"
        else it
        for it in history.items
    )
    return history._replace(items=items)


def generate(
    state: JiraState,
    projects: int = 3,
    issues_per_project: int = 60,
    seed: int = 7,
    *,
    anchor_ms: int | None = None,
    history_days: int = 180,
    worklog_share: float = 0.5,
) -> dict[str, Any]:
    """Fill ``state`` deterministically (same seed and anchor -> same site).

    ``anchor_ms`` is "now" for the data (default: the state clock, rounded down to the
    hour); created/updated times fall in the ``history_days`` before it.
    """
    rng = random.Random(seed)
    detours = random.Random(seed * 1_000_003 + 19)  # back-and-forth moves: a second stream
    anchor = anchor_ms if anchor_ms is not None else (state.now_ms() // _HOUR) * _HOUR
    n_issues = n_worklogs = 0
    with state.lock:
        people = _people(state, rng)
        for p in range(projects):
            project = _project(state, p)
            versions = _versions(state, project, rng, anchor)
            sprints = _sprints(state, p + 1, anchor)
            epics: list[IssueRec] = []
            stories: list[IssueRec] = []
            for _ in range(issues_per_project):
                issue, logs = _make_issue(
                    state,
                    rng,
                    project,
                    people,
                    versions,
                    sprints,
                    epics,
                    stories,
                    anchor,
                    history_days,
                    worklog_share,
                    detours,
                )
                state.issues[issue.id] = issue
                state.issue_by_key[issue.key] = issue.id
                state.by_updated.append((issue.updated, issue.id))
                for wl in logs:
                    state.worklogs[wl.id] = wl
                    state.worklog_by_updated.append((wl.updated, wl.id))
                n_issues += 1
                n_worklogs += len(logs)
        n_links = _relations(state, random.Random(seed * 7_919 + 23), people)
        state.by_updated.sort()
        state.worklog_by_updated.sort()
        state.revision += 1
    return {"projects": projects, "issues": n_issues, "worklogs": n_worklogs, "users": len(people), "links": n_links}


# Issue 23's data, drawn from a stream of their own (the rest of the site stays as it was):
_LINK_SHARE = 0.12  # issues "blocked by" another
_CROSS_PROJECT_SHARE = 0.25  # of those, by an issue of another project
_FLAG_SHARE = 0.08  # issues in progress flagged
_ESCAPED_SHARE = 0.4  # bugs created after a released version, carrying it as affected


def _add_history(issue: IssueRec, history: History) -> None:
    issue.histories = sorted([*(issue.histories or []), history], key=lambda h: h.created)


def _relations(state: JiraState, rng: random.Random, people: list[str]) -> int:
    """Links ("is blocked by", some across projects), Flagged issues and affected versions of
    bugs, each with its changelog history at a time no later than the issue's ``updated``."""
    issues = list(state.issues.values())
    links = 0
    for issue in issues:
        bug = ISSUE_TYPE_BY_NAME["bug"].id == issue.type_id
        if bug and rng.random() < _ESCAPED_SHARE:
            created = _date(issue.created)
            shipped = [v for v in (state.versions[i] for i in state.project_versions[issue.project_id])
                       if v.released and v.release_date and v.release_date < created]
            if shipped:
                issue.affects_version_ids = (rng.choice(shipped).id,)
        category = STATUSES[issue.status_id].category
        if category == "indeterminate" and rng.random() < _FLAG_SHARE:
            at = rng.randint(issue.status_changed, max(issue.status_changed, issue.updated))
            issue.flagged = True
            option = f"[{FLAGGED_OPTION['id']}]"
            item = ChangeItem("Flagged", FLAGGED_FIELD, None, None, option, FLAGGED_OPTION["value"], "custom")
            _add_history(issue, _history(state, issue.assignee or issue.reporter, at, item))
        if category == "done" or rng.random() >= _LINK_SHARE:
            continue
        cross = rng.random() < _CROSS_PROJECT_SHARE
        tries = (issues[rng.randrange(len(issues))] for _ in range(12))
        blocker = next((i for i in tries if i.id != issue.id and (i.project_id != issue.project_id) == cross), None)
        if blocker is None:
            continue
        start, end = max(issue.created, blocker.created), min(issue.updated, blocker.updated)
        if end <= start:
            continue
        at = rng.randint(start, end)
        ltype = LINK_TYPES["Blocks"]
        link = LinkRec(state.next_id("link"), ltype.name, blocker.id, issue.id, at)
        state.links[link.id] = link
        actor = rng.choice(people)
        for holder, other, phrase in ((blocker, issue, ltype.outward), (issue, blocker, ltype.inward)):
            holder.link_ids = [*(holder.link_ids or []), link.id]
            item = ChangeItem("Link", "", None, None, other.key, f"This issue {phrase} {other.key}")
            _add_history(holder, _history(state, actor, at, item))
        links += 1
    return links


def _make_issue(
    state: JiraState,
    rng: random.Random,
    project: Project,
    people: list[str],
    versions: list[Version],
    sprints: list[Sprint],
    epics: list[IssueRec],
    stories: list[IssueRec],
    anchor: int,
    history_days: int,
    worklog_share: float,
    detours: random.Random,
) -> tuple[IssueRec, list[WorklogRec]]:
    roll = rng.random()
    if not epics or roll < 0.06:
        type_name = "Epic"
    elif stories and roll < 0.16:
        type_name = "Sub-task"
    elif roll < 0.60:
        type_name = "Story"
    elif roll < 0.85:
        type_name = "Task"
    else:
        type_name = "Bug"
    created = anchor - rng.randint(1, history_days * 24) * _HOUR - rng.randint(0, 3_599_999)
    reporter = rng.choice(people)
    status_index = rng.choices(range(4), weights=(30, 25, 10, 35))[0]
    assignee = rng.choice(people) if status_index > 0 or rng.random() < 0.5 else None
    parent: IssueRec | None = None
    if type_name == "Sub-task":
        parent = rng.choice(stories[-50:])
    elif type_name != "Epic" and rng.random() < 0.7:
        parent = rng.choice(epics[-20:])
    number = project.next_number
    project.next_number += 1
    ids = workflow_status_ids(project.key, project.team_managed)
    issue = IssueRec(
        id=state.next_id("issue"),
        key=f"{project.key}-{number}",
        project_id=project.id,
        type_id=ISSUE_TYPE_BY_NAME[type_name.lower()].id,
        summary=f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)} #{number}",
        status_id=ids[_TODO],
        priority_id=rng.choice("12333344445"),
        reporter=reporter,
        created=created,
        updated=created,
        status_changed=created,
        description=(
            f"As a user I want the {rng.choice(_NOUNS)} to work." if rng.random() < 0.3 else None
        ),
        labels=tuple(sorted(rng.sample(_LABELS, rng.randint(0, 2)))),
        parent_id=parent.id if parent else None,
    )
    if type_name in ("Story", "Epic"):
        issue.story_points = rng.choice((1, 2, 3, 5, 8, 13, None)) if type_name == "Story" else None
    if type_name in ("Task", "Bug", "Sub-task", "Story") and rng.random() < 0.7:
        issue.original_estimate = rng.choice((2, 4, 8, 16, 24, 40)) * 3600
        issue.remaining_estimate = issue.original_estimate
    if type_name != "Epic" and rng.random() < 0.6:
        issue.fix_version_ids = (_fix_version(rng, versions, done=status_index == _DONE).id,)
    if type_name in ("Story", "Task", "Bug") and rng.random() < 0.5:
        issue.sprint_ids = (rng.choice(sprints).id,)
    if rng.random() < 0.45 or type_name == "Epic":
        issue.duedate = _date(created + rng.randint(7, 120) * _DAY)
    # Walk the workflow to the chosen status, recording changelog histories.
    histories: list[History] = []
    t = created
    if assignee:
        t += rng.randint(1, 48) * _HOUR
        u = state.users[assignee]
        histories.append(
            _history(
                state,
                reporter,
                t,
                ChangeItem("assignee", "assignee", None, None, u.account_id, u.display_name),
            )
        )
        issue.assignee = assignee
    actor = assignee or reporter
    began = created  # work starts when the issue enters In Progress
    for step in range(1, status_index + 1):
        before = t
        t += rng.randint(2, 24 * 10) * _HOUR
        histories += _detour(state, detours, actor, ids, step, before, t)
        items = [_move(ids[step - 1], ids[step])]
        if step == _DONE:
            items.append(_RESOLVED)
            issue.resolved = t
        histories.append(_history(state, actor, t, *items))
        issue.status_id = ids[step]
        issue.status_changed = t
        if step == _DOING:
            began = t
    if t > anchor:  # keep every time in the past of the anchor
        # Spread those over the last two weeks: squeezed into the last minutes, a third of
        # the site would share one poll's overlap window (unlike any real site).
        shift = t - anchor + rng.randint(60, 14 * 24 * 3600) * 1000
        histories = [h._replace(created=h.created - shift) for h in histories]
        issue.created -= shift
        t -= shift
        began -= shift
        issue.status_changed -= shift
        if issue.resolved:
            issue.resolved -= shift
    logs: list[WorklogRec] = []
    if status_index > 0 and issue.original_estimate and rng.random() < worklog_share:
        # Work is logged while the issue is worked on: from In Progress to done, or in the
        # last weeks for an issue still open (so this week has hours, by the people doing them).
        since, until = (began, t) if status_index == _DONE else (max(began, anchor - _RECENT), anchor)
        for _ in range(rng.randint(1, 3)):
            author = rng.choice([assignee or reporter, rng.choice(people)])
            started = since + rng.randint(0, max(1, (until - since) // _HOUR)) * _HOUR
            started = min(started, anchor - _HOUR)
            seconds = rng.choice((1800, 3600, 7200, 14400, 28800))
            wl = WorklogRec(
                state.next_id("worklog"),
                issue.id,
                author,
                started,
                seconds,
                started,
                started,
                f"Worked on {issue.key}",
            )
            logs.append(wl)
            issue.time_spent += seconds
            t = max(t, started)
        issue.worklog_ids = [w.id for w in logs]
        if issue.remaining_estimate is not None:
            issue.remaining_estimate = max(0, issue.remaining_estimate - issue.time_spent)
    issue.histories = [_names_then(h, anchor) for h in histories] or None
    issue.updated = max(t, issue.created)
    if type_name == "Epic":
        epics.append(issue)
    elif type_name == "Story":
        stories.append(issue)
    return issue, logs
