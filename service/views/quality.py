"""The quality view: defect inflow and outflow per ISO week, open defects and their age, the bug
share of throughput, defects reopened, and escaped defects per released version (issue 23).

A defect is a task of type ``bug`` (Jira issue types mapped to it by the profile; Trello cards
carrying a label the profile names). Every figure is over the tasks in scope at ``as_of``
(``selection.task_state``: the same scope, status and completion replay as the other views).
The window is the 12 ISO weeks (organization's zone) ending with the week of ``as_of``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.tables import Milestone, MilestoneChange, Source, Task, TaskLink, TaskMilestone, table
from service.views import queries
from service.views.common import days, definitions, envelope, label, share
from service.views.formulas import PERCENTILES, TRAILING_DAYS, iso_week, sorted_percentile
from service.views.milestones import as_of_row
from service.views.selection import Selection, aware, group_join, group_names, scope_conditions, task_state
from service.views.sqlkit import flag, key_or_null
from service.views.sqltime import day_bucket, local_midnight, seconds_between, ts_literal

__all__ = ["quality_view", "WINDOW_WEEKS", "LIST_CAP"]

WINDOW_WEEKS = 12  # the inflow/outflow/reopened window: fixed (the views' route takes no window parameter)
LIST_CAP = 20  # tasks listed per reopened list and per version; the counts are always whole
BUG = "bug"

T = table(Task)
# The task columns the view reads beside the state at as_of (their current values: the tools keep
# no history of them).
BUG_COLUMNS = ("type", "key", "title", "affected_versions")
T3 = T.alias("fixed")  # the task at the other end of a link
M = table(Milestone)
MC = table(MilestoneChange)
S = table(Source)
L = table(TaskLink)
TM = table(TaskMilestone)
C = queries.C


@dataclass
class _Acc:
    """One row's figures as the passes find them."""

    bugs: int = 0
    created: Counter[date] = field(default_factory=Counter)  # bugs created per local day (window)
    done: Counter[date] = field(default_factory=Counter)  # bugs last reaching done per local day (window)
    open: int = 0
    ages: list[float] = field(default_factory=list)  # the open bugs' ages in days
    done_trailing: int = 0
    bugs_done_trailing: int = 0
    reopened: set[int] = field(default_factory=set)  # change ids
    reopened_bugs: set[int] = field(default_factory=set)
    escaped: set[int] = field(default_factory=set)

    def merge(self, o: _Acc) -> None:
        self.bugs += o.bugs
        self.created.update(o.created)
        self.done.update(o.done)
        self.open += o.open
        self.ages += o.ages
        self.done_trailing += o.done_trailing
        self.bugs_done_trailing += o.bugs_done_trailing


def window_start_date(sel: Selection) -> date:
    """Monday of the first of the ``WINDOW_WEEKS`` ISO weeks ending with ``as_of``'s week."""
    return sel.week_start_date - timedelta(days=7 * (WINDOW_WEEKS - 1))


def _window_start(sel: Selection) -> datetime:
    return local_midnight(window_start_date(sel), sel.tz)


def _days_since(col: Any, sel: Selection) -> Any:
    """``as_of − col`` in days (a float). SQLite: ``as_of``'s Julian day is computed here, once (as
    ``julianday(literal)`` SQLite parsed it again for every row: a third of the task pass)."""
    if sel.dialect != "postgresql":
        as_of_julian = sel.as_of.timestamp() / 86400.0 + 2440587.5
        return sa.literal(as_of_julian, sa.Float) - sa.func.julianday(col)
    return seconds_between(ts_literal(sel.as_of), col, sel.dialect) / 86400.0


# group, id, source, created, key, title, project, affected version ids, ids of the milestones its links reach
CandidateRow = tuple[Any, int, int, Any, Any, Any, Any, list[Any], list[int]]


def _fixed_in(sel: Selection, ts: Any) -> Any:
    """The milestones that the tasks at the other ends of the task's links (alive at ``as_of``,
    as the tasks are) are fixed in, as text (``"12,15"``), or null: a lookup by index, per task
    that asks (a join of every link to its other end read the whole task table)."""
    at = ts_literal(sel.as_of)
    mid = sa.cast(TM.c.milestone_id, sa.Text)
    listed = sa.func.string_agg(mid, ",") if sel.dialect == "postgresql" else sa.func.group_concat(mid, ",")
    return (
        sa.select(listed)
        .select_from(
            L.join(T3, sa.and_(T3.c.source_id == L.c.source_id, T3.c.external_id == L.c.other_external_id))
            .join(TM, TM.c.task_id == T3.c.id)
        )
        .where(
            L.c.source_id == ts.c.source_id,
            L.c.task_external_id == ts.c.external_id,
            L.c.created_at <= at,
            sa.or_(L.c.deleted_at.is_(None), L.c.deleted_at > at),
            sa.or_(T3.c.deleted_at.is_(None), T3.c.deleted_at > at),
        )
        .scalar_subquery()
    )


def _task_pass(conn: Connection, sel: Selection, since: datetime | None) -> tuple[dict[Any, _Acc], list[CandidateRow]]:
    """Per group: the bugs, their creations and completions per local day in the window, the open
    bugs' ages, and all tasks and bugs reaching done in the trailing 4 weeks. One scan of the
    task state, grouped by what each figure needs (an open bug's age is its own group, so its
    percentiles are ranked here on both stores, by flow's rule).

    With ``since`` (the end of the earliest release day), the same scan answers the bugs created
    after it that carry affected versions or hold links to tasks fixed in a version, one group
    each (``CandidateRow``): a second scan of the task state for them cost as much as this one."""
    # The type and the bug's columns come with the task state: no second read of the task table.
    state = task_state(sel, require_counted=True, extra=BUG_COLUMNS)
    # Only bugs and the tasks done in the trailing window carry a figure: the others are left out
    # here, before the GROUP BY sorts (SQLite) or hashes what remains.
    done_late = sa.and_(state.c.status_asof == "done", state.c.done_at >= ts_literal(sel.window_start))
    if not sel.history:  # the state is the task row: said by its columns, two index ranges serve it
        done_late = sa.and_(state.c.status_asof == "done", state.c.completed_at >= ts_literal(sel.window_start))
    keep = sa.or_(state.c.type == BUG, done_late)
    # For the bugs created after the earliest release: the versions their links reach. OFFSET 0 keeps
    # both stores from inlining the subquery, so the lookup runs once per bug, not once per use.
    late_bug = sa.and_(state.c.type == BUG, state.c.remote_created_at >= ts_literal(since)) \
        if since is not None else sa.false()
    mids_q = sa.case((late_bug, _fixed_in(sel, state))) if since is not None else sa.null()
    tsl = (
        sa.select(*(state.c[c] for c in ("id", "source_id", "project_id", "remote_created_at", "status_asof",
                                          "done_at", *BUG_COLUMNS)), mids_q.label("mids"))
        .where(keep)
        .offset(0)
        .subquery("tsl")
    )
    # The bugs that may have escaped a version (created after the earliest release, carrying affected
    # versions or links to fixed tasks), decided once per row (OFFSET 0 again): their id is their
    # own group, and only they carry the bug's other columns.
    # JSON text on both stores: no list, JSON null and [] are none.
    versions_text = sa.cast(tsl.c.affected_versions, sa.Text)
    affected = (
        sa.and_(tsl.c.type == BUG, tsl.c.remote_created_at >= ts_literal(since), sa.or_(
            sa.and_(tsl.c.affected_versions.is_not(None), versions_text.not_in(("null", "[]"))),
            tsl.c.mids.is_not(None)))
        if since is not None else sa.false()
    )
    ts = sa.select(*tsl.c, versions_text.label("versions"), sa.case((affected, tsl.c.id)).label("aff")) \
        .offset(0).subquery("tsa")
    is_bug = ts.c.type == BUG
    from_, key = group_join(sel, ts, ts.c.id, ts.c.project_id, ts.c.source_id)
    win = ts_literal(_window_start(sel))
    done = ts.c.status_asof == "done"
    cbucket, to_date = day_bucket(ts.c.remote_created_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    dbucket, _ = day_bucket(ts.c.done_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    cday = sa.case((sa.and_(is_bug, ts.c.remote_created_at >= win), cbucket))
    dday = sa.case((sa.and_(is_bug, done, ts.c.done_at >= win), dbucket))
    trailing = flag(sa.and_(done, ts.c.done_at >= ts_literal(sel.window_start)))
    # The open bugs' ages, listed per group as text (one row per group of creation day and the
    # rest, not one per open bug: ~10,000 rows to Python became a few hundred). Their percentiles
    # are ranked in Python, by flow's rule.
    age = sa.case((sa.and_(is_bug, ~done), _days_since(ts.c.remote_created_at, sel)))
    age_text = sa.cast(age, sa.Text)
    ages = sa.func.string_agg(age_text, ",") if sel.dialect == "postgresql" else sa.func.group_concat(age_text, ",")
    aff_id = ts.c.aff
    cols = (key_or_null(key).label("g"), flag(is_bug).label("b"), flag(done).label("d"), cday.label("cd"),
            dday.label("dd"), trailing.label("tr"), aff_id.label("aff"))
    # The affected bug's other columns: its id is in the key, so its group is that one row; the
    # other groups (~10k rows, one per open bug) get nulls, not strings to decode. The creation time
    # as the driver gives it (converted to UTC below, for the affected bugs only).
    created = sa.type_coerce(ts.c.remote_created_at, sa.DateTime(timezone=True))
    per_bug = [sa.func.max(sa.case((ts.c.aff.is_not(None), c)))
               for c in (ts.c.source_id, created, ts.c.key, ts.c.title, ts.c.project_id, ts.c.versions, ts.c.mids)]
    q = (
        sa.select(*cols, sa.func.count().label("n"), ages.label("ages"), *per_bug)
        .select_from(from_)
        .group_by(*([key] if key is not None else []), *cols[1:])
    )
    out: dict[Any, _Acc] = defaultdict(_Acc)
    rows: list[CandidateRow] = []
    for row in conn.execute(q).all():
        g, b, d, cd, dd, tr, aff, n, listed_ages, source, created, bkey, title, project, versions, linked_to = row
        acc = out[g]
        n = int(n)
        if tr:
            acc.done_trailing += n
            acc.bugs_done_trailing += n if b else 0
        if not b:
            continue
        acc.bugs += n
        if cd is not None:
            acc.created[to_date(cd)] += n  # type: ignore[index]
        if dd is not None:
            acc.done[to_date(dd)] += n  # type: ignore[index]
        if not d:
            acc.open += n
            if listed_ages:  # NULL ages (no known creation) are left out of the list
                acc.ages.extend(map(float, listed_ages.split(",")))
        if aff is not None:
            listed = orjson.loads(versions) if versions not in (None, "null", "[]") else []
            fixed_in = [int(m) for m in linked_to.split(",")] if linked_to else []
            rows.append((g, int(aff), source, aware(created).astimezone(UTC) if created is not None else None,
                         bkey, title, project,
                         listed if isinstance(listed, list) else [], fixed_in))
    return out, rows


def _reopened(conn: Connection, sel: Selection) -> list[Any]:
    """Every done → not-done status change of a bug in scope in the window, with its group:
    ``(group, change id, task id, key, title, project id, changed_at, to_category)``."""
    ts = task_state(sel, require_counted=True, extra=BUG_COLUMNS)
    base = ts.join(C, sa.and_(C.c.source_id == ts.c.source_id, C.c.task_external_id == ts.c.external_id))
    from_, key = group_join(sel, base, ts.c.id, ts.c.project_id, ts.c.source_id)
    q = (
        sa.select(key_or_null(key), C.c.id, ts.c.id, ts.c.key, ts.c.title, ts.c.project_id, C.c.changed_at,
                  C.c.to_category)
        .select_from(from_)
        .where(
            ts.c.type == BUG,
            C.c.org_id == sel.org_id,
            C.c.field == "status",
            C.c.from_category == "done",
            C.c.to_category.is_not(None),
            C.c.to_category != "done",
            C.c.changed_at >= ts_literal(_window_start(sel)),
            C.c.changed_at <= ts_literal(sel.as_of),
        )
    )
    return list(conn.execute(q).all())


# --- escaped defects ---------------------------------------------------------------------------


def _released_versions(conn: Connection, sel: Selection) -> list[dict[str, Any]]:
    """The Jira versions of the selection released at ``as_of``, with their release date then.

    The released flag and the release date (Jira's ``releaseDate``, stored as the milestone's
    ``due_date``) are replayed from ``milestone_change`` for the versions that changed them after
    ``as_of`` (``milestones.as_of_row``, the milestones view's rule); the others keep their stored
    values. Archived versions and those deleted by ``as_of`` are left out, as in the milestones view."""
    at = ts_literal(sel.as_of)
    # Only versions whose released flag or release date changed after as_of need their history;
    # of the others, only those released now are read.
    moved = sa.select(MC.c.milestone_id).where(
        MC.c.org_id == sel.org_id, MC.c.field.in_(("released", "due_date")), MC.c.at > at
    ).distinct()
    replay = list(conn.execute(moved).scalars())
    q = (
        sa.select(M.c.id, M.c.external_id, M.c.name, M.c.project_id, M.c.source_id, M.c.due_date, M.c.baseline_due_date,
                  M.c.released, M.c.completed_at)
        .select_from(M.join(S, S.c.id == M.c.source_id))
        .where(
            M.c.org_id == sel.org_id,
            S.c.kind == "jira",
            M.c.archived == sa.false(),
            sa.or_(M.c.deleted_at.is_(None), M.c.deleted_at > at),
            *scope_conditions(sel, M.c.project_id, M.c.source_id),
            sa.or_(M.c.released == sa.true(), M.c.id.in_(moved)) if replay else M.c.released == sa.true(),
        )
    )
    rows = {r.id: dict(r._mapping) for r in conn.execute(q).all()}
    replay = [mid for mid in replay if mid in rows]
    if replay:
        history = queries.milestone_history(conn, sel, replay)
        for mid in replay:
            as_of_row(rows[mid], history.get(mid, {}), sel)
    out = []
    for r in rows.values():
        if not r["released"]:
            continue
        due = r["due_date"]
        r["release_date"] = date.fromisoformat(str(due)[:10]) if due is not None else None
        out.append(r)
    out.sort(key=lambda r: (r["release_date"] or date.min, r["id"]))
    return out


def release_cutoffs(sel: Selection, versions: list[dict[str, Any]]) -> datetime | None:
    """Each version's ``cutoff`` (the end of its release day in the organization's zone: a bug
    created from then on escaped it), and the earliest of them."""
    for v in versions:
        release = v["release_date"]
        v["cutoff"] = local_midnight(release + timedelta(days=1), sel.tz) if release is not None else None
    cutoffs = [v["cutoff"] for v in versions if v["cutoff"] is not None]
    return min(cutoffs) if cutoffs else None


def _escaped(
    conn: Connection, sel: Selection, versions: list[dict[str, Any]], since: datetime | None,
    candidates: list[CandidateRow], per_group: dict[Any, _Acc],
) -> tuple[list[dict[str, Any]], set[int]]:
    """Per released version: the bugs created after its release day (organization's zone) that
    carry it as an affected version or hold a link to a task fixed in it (``candidates``, from
    the task pass). Also fills each group's escaped bugs; answers the versions and every escaped
    bug's id."""
    found: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)  # version id → bug id → bug
    if since is None:
        return _version_rows(versions, found), set()
    by_ext = {(v["source_id"], v["external_id"]): v for v in versions}
    by_id = {v["id"]: v for v in versions}

    def take(v: dict[str, Any], g: Any, bug_id: int, created: Any, key: Any, title: Any, project: Any,
             via: str) -> None:
        end = v["cutoff"]
        if end is None or created is None or aware(created) < end:
            return
        bug = found[v["id"]].setdefault(bug_id, {"id": bug_id, "key": key, "title": title, "project_id": project,
                                                 "created_at": aware(created).isoformat(), "via": []})
        if via not in bug["via"]:
            bug["via"].append(via)
        per_group[g].escaped.add(bug_id)

    for g, bug_id, source, created, key, title, project, affected, fixed_in in candidates:
        for ext in affected:
            v = by_ext.get((source, str(ext)))
            if v is not None:
                take(v, g, bug_id, created, key, title, project, "affected_version")
        for mid in fixed_in:
            v = by_id.get(mid)
            if v is not None:
                take(v, g, bug_id, created, key, title, project, "link")
    return _version_rows(versions, found), {b for per_version in found.values() for b in per_version}


def _version_rows(versions: list[dict[str, Any]], found: dict[int, dict[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for v in versions:
        bugs = sorted(found.get(v["id"], {}).values(), key=lambda b: (b["created_at"], b["id"]))
        reasons = {}
        if v["release_date"] is None:
            reasons["escaped"] = "released without a release date: nothing to compare creation with"
        out.append({
            "id": v["id"],
            "name": v["name"],
            "project_id": v["project_id"],
            "source_id": v["source_id"],
            "release_date": v["release_date"].isoformat() if v["release_date"] else None,
            "escaped": len(bugs) if v["release_date"] is not None else None,
            "by_affected_version": sum("affected_version" in b["via"] for b in bugs),
            "by_link": sum("link" in b["via"] for b in bugs),
            "bugs": bugs[:LIST_CAP],
            "bugs_not_listed": max(0, len(bugs) - LIST_CAP),
            "reasons": reasons,
        })
    return out


# --- the view ----------------------------------------------------------------------------------


def _age(acc: _Acc) -> dict[str, Any]:
    values = sorted(acc.ages)
    return {"count": len(values), **{f"p{p}": days(sorted_percentile(values, p)) for p in PERCENTILES}}


def quality_figures(acc: _Acc) -> dict[str, Any]:
    """One row's figures from its accumulated passes."""
    reasons: dict[str, str] = {}
    age = _age(acc)
    age["unknown"] = acc.open - age["count"]
    if not acc.open:
        reasons["open_defect_age_days"] = "no open defect at as_of"
    elif age["unknown"]:
        reasons["open_defect_age_days.unknown"] = "open defects with no known creation time"
    bug_share = acc.bugs_done_trailing / acc.done_trailing if acc.done_trailing else None
    if bug_share is None:
        reasons["bug_share_of_throughput"] = "no task reached done in the trailing 4 weeks"
    return {
        "defects": acc.bugs,
        "inflow": sum(acc.created.values()),
        "outflow": sum(acc.done.values()),
        "open_defects": acc.open,
        "open_defect_age_days": age,
        "done_trailing": acc.done_trailing,
        "defects_done_trailing": acc.bugs_done_trailing,
        "bug_share_of_throughput": share(bug_share),
        "defect_throughput_per_week": round(acc.bugs_done_trailing / (TRAILING_DAYS / 7), 4),
        "reopened": len(acc.reopened),
        "reopened_defects": len(acc.reopened_bugs),
        "escaped_defects": len(acc.escaped),
        "reasons": reasons,
    }


def defect_series(acc: _Acc, sel: Selection) -> list[dict[str, Any]]:
    """Bugs created and bugs reaching done per ISO week of the window, zero-filled."""
    created: Counter[str] = Counter()
    done: Counter[str] = Counter()
    for d, n in acc.created.items():
        created[iso_week(d)] += n
    for d, n in acc.done.items():
        done[iso_week(d)] += n
    monday = window_start_date(sel)
    out = []
    for _ in range(WINDOW_WEEKS):
        week = iso_week(monday)
        out.append({"week": week, "start": monday.isoformat(), "created": created[week], "done": done[week]})
        monday += timedelta(days=7)
    return out


def quality_view(conn: Connection, sel: Selection) -> dict[str, Any]:
    versions = _released_versions(conn, sel)
    since = release_cutoffs(sel, versions)
    per_group, candidates = _task_pass(conn, sel, since)
    partition = sel.group_by in (None, "project", "source")
    if partition:
        total = _Acc()
        for acc in per_group.values():
            total.merge(acc)
    else:  # overlapping groups (milestone, person): the total counts each task once
        total = _task_pass(conn, replace(sel, params=replace(sel.params, group_by=None)), None)[0].get(None, _Acc())
    reopened = _reopened(conn, sel)
    listed: dict[int, dict[str, Any]] = {}
    for g, change_id, task_id, key, title, project, changed_at, to_cat in reopened:
        per_group[g].reopened.add(change_id)
        per_group[g].reopened_bugs.add(task_id)
        total.reopened.add(change_id)
        total.reopened_bugs.add(task_id)
        listed[change_id] = {"id": task_id, "key": key, "title": title, "project_id": project,
                             "reopened_at": aware(changed_at).isoformat(), "to_category": to_cat}
    reopened_list = sorted(listed.values(), key=lambda r: (r["reopened_at"], r["id"]))
    version_rows, escaped_ids = _escaped(conn, sel, versions, since, candidates, per_group)
    total.escaped = escaped_ids
    keys = set(per_group)
    names = group_names(conn, sel, keys)
    groups = (
        [
            {"group": label(sel.group_by, k, names), **quality_figures(per_group[k])}
            for k in sorted(keys, key=lambda x: (x is None, x or 0))
        ]
        if sel.group_by
        else []
    )
    start = window_start_date(sel)
    defs = definitions(
        sel,
        defect="a task of type bug in scope at as_of: Jira issue types the source's profile maps to bug "
        "(jira.type_map), Trello cards carrying a label the profile names; the type is the current one "
        "(the tools keep no history of it)",
        window=f"the {WINDOW_WEEKS} ISO weeks (Monday–Sunday, organization time zone) ending with the week "
        f"of as_of: {start.isoformat()} .. {sel.as_of_date.isoformat()}; fixed (the views' route takes no "
        "window parameter); the last week ends at as_of",
        defects="the defects in scope at as_of, whatever their status or creation date",
        inflow="defects created per ISO week of the window (local date of creation); a row's inflow is the sum "
        "over the window's weeks (series.defects lists each week)",
        outflow="defects whose last move to done as of as_of (change history) falls in that ISO week — "
        "flow's throughput rule over defects: a defect reopened and done again counts once, in the week of "
        "its last completion; one not done at as_of counts in no week; a row's outflow is the sum over the "
        "window's weeks",
        open_defects="defects not done at as_of",
        open_defect_age_days="as_of − created, in days, over the open defects: p50 (median), p85, p95 by "
        "linear interpolation between closest ranks (flow's rule); defects with no known creation time "
        "are counted in unknown",
        bug_share_of_throughput="defects reaching done in the trailing 4 weeks / all tasks in scope reaching "
        "done in the trailing 4 weeks (flow's throughput window); null when none reached done",
        done_trailing="tasks in scope (defects or not) whose last move to done as of as_of falls in the trailing "
        "4 weeks ending at as_of (flow's throughput window)",
        defects_done_trailing="the defects among done_trailing",
        defect_throughput_per_week="defects_done_trailing / 4 (the trailing 4 weeks)",
        reopened="status changes of a defect from a done category to a not-done one (change rows of "
        "field status, from_category done, to_category todo or in_progress) in the window up to as_of; "
        "reopened counts the changes, reopened_defects the defects; the list holds the first "
        f"{LIST_CAP} by time",
        reopened_defects="the distinct defects with at least one reopening counted in reopened",
        escaped_defects="per released Jira version (a milestone of a Jira source, not archived): the "
        "defects created after its release day (releaseDate, stored as the milestone's due_date; the "
        "day ends at midnight in the organization's zone: a defect filed on the release day is not "
        "counted, the order within that day being unknown) that carry the version in "
        "affected_versions (Jira 'Affects versions') or held at as_of an issue link (any type or "
        "direction) to a task fixed in it (fixVersions: task_milestone, its current value: the tools "
        "keep no history of it). Released and the release date are those at as_of (milestone history). "
        f"Per version the first {LIST_CAP} defects by creation are listed; escaped_defects per row counts "
        "the distinct defects escaped from any listed version",
        trello="Trello has no versions (its milestone cards are not releases) and no issue links: Trello "
        "defects count in every figure but escaped defects",
    )
    return envelope(
        "quality",
        sel,
        defs,
        {"group": label(None, None, {}), **quality_figures(total)},
        groups,
        window={"weeks": WINDOW_WEEKS, "start": start.isoformat(), "end": sel.as_of_date.isoformat()},
        series={"defects": defect_series(total, sel)},
        reopened=reopened_list[:LIST_CAP],
        reopened_not_listed=max(0, len(reopened_list) - LIST_CAP),
        versions=version_rows,
    )
