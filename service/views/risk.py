"""The risk view: per project and for the whole selection, each risk signal with its evidence,
its threshold, its level, and the project's RAG status from them (issue 23).

Signals (definitions in the response; thresholds per project in ``project.risk_thresholds``):

- **stale**: tasks in progress at ``as_of`` with no change row (any field) and no worklog for
  ``stale_days`` working days (Mon–Fri, the organization's zone);
- **blocked**: open tasks with an open blocker at ``as_of`` — a ``blocked_by`` issue link alive
  then whose other task was not done then, or the tool's "blocked" mark (Jira Flagged, a Trello
  label the profile names) as it was then — and since when;
- **scope_creep**: the scope (count and estimate) added since the project's planned start, and
  since each milestone's baseline a PM set, as a share of the scope then — membership and
  estimates at both instants replayed from the history; the signal is the worst of them;
- **schedule** / **budget**: SPI and CPI, the budget's exhaustion before the planned end — the
  budget view's figures (``budget_view``), not a second definition;
- **milestones**: overdue, at risk and slipping milestones — the milestones view's figures;
- **concentration**: the share of a project's open estimate held by one person.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.json_rows import json_rows
from service.tables import Change, MilestoneChange, Project, TaskLink
from service.views import rollups
from service.views.budget import budget_view
from service.views.common import definitions, envelope, label, share
from service.views.formulas import working_days
from service.views.milestones import milestone_items
from service.views.selection import (
    Selection,
    _history,
    aware,
    counted_task,
    org_is,
    scope_conditions,
    table,
    task_conditions,
    task_state,
)
from service.views.sqlkit import TA, TM, C, M, T, W, with_group
from service.views.sqltime import local_midnight, ts_literal

__all__ = [
    "DEFAULT_THRESHOLDS",
    "THRESHOLD_RULES",
    "EVIDENCE_CAP",
    "UnsupportedParameter",
    "validate_thresholds",
    "effective_thresholds",
    "risk_view",
    "rag",
]

PR = table(Project)
L = table(TaskLink)
MC = table(MilestoneChange)

EVIDENCE_CAP = 10  # tasks listed per signal and project (the count says how many there are)

# key: (default, minimum, maximum, integer?, what it is)
THRESHOLD_RULES: dict[str, tuple[float, float, float, bool, str]] = {
    "stale_days": (5, 1, 260, True, "working days (Mon–Fri) without a change or a worklog before an in-progress "
                   "task is stale"),
    "stale_amber_count": (1, 1, 100_000, True, "stale tasks that make the signal amber"),
    "stale_red_share": (0.25, 0.0, 1.0, False, "share of the in-progress tasks stale that makes it red"),
    "blocked_amber_count": (1, 1, 100_000, True, "blocked tasks that make the signal amber"),
    "blocked_red_days": (10, 1, 3660, True, "calendar days a task has been blocked that make the signal red"),
    "scope_amber": (0.10, 0.0, 100.0, False, "scope added since the baseline, as a share of the scope then, "
                    "above which the signal is amber"),
    "scope_red": (0.25, 0.0, 100.0, False, "the same share above which it is red"),
    "spi_amber": (0.9, 0.0, 10.0, False, "SPI below this is amber"),
    "spi_red": (0.8, 0.0, 10.0, False, "SPI below this is red"),
    "cpi_amber": (0.9, 0.0, 10.0, False, "CPI below this is amber"),
    "cpi_red": (0.8, 0.0, 10.0, False, "CPI below this is red"),
    "slip_amber_days": (5, 1, 3660, True, "a milestone slipped by at least this many days makes the signal amber"),
    "concentration_share": (0.4, 0.0, 1.0, False, "one person holding more than this share of the project's open "
                            "estimate makes the signal amber"),
}
DEFAULT_THRESHOLDS: dict[str, float] = {k: v[0] for k, v in THRESHOLD_RULES.items()}
# Pairs that must be ordered: (the amber one, the red one, how)
_ORDERED = (("spi_amber", "spi_red", ">="), ("cpi_amber", "cpi_red", ">="), ("scope_red", "scope_amber", ">="))


class UnsupportedParameter(ValueError):
    """A view parameter the risk view does not take (answered 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def validate_thresholds(value: Any) -> dict[str, float] | None:
    """A project's ``risk_thresholds`` as given by a client: ``None`` (the defaults) or a mapping of
    known keys to numbers in their range; raises ``ValueError`` naming the bad key or value."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("risk_thresholds must be an object of threshold names to numbers, or null")
    unknown = sorted(set(value) - set(THRESHOLD_RULES))
    if unknown:
        raise ValueError(f"unknown risk threshold {', '.join(map(repr, unknown))}; known: {', '.join(THRESHOLD_RULES)}")
    out: dict[str, float] = {}
    for key, raw in value.items():
        _, lo, hi, integer, _what = THRESHOLD_RULES[key]
        if (isinstance(raw, bool) or not isinstance(raw, int | float)
                or (isinstance(raw, float) and not math.isfinite(raw))):
            raise ValueError(f"risk threshold {key!r} must be a finite number, not {raw!r}")
        if integer and raw != int(raw):
            raise ValueError(f"risk threshold {key!r} must be a whole number, not {raw!r}")
        if not lo <= raw <= hi:
            raise ValueError(f"risk threshold {key!r} must be from {lo:g} to {hi:g}, not {raw!r}")
        out[key] = int(raw) if integer else float(raw)
    merged = {**DEFAULT_THRESHOLDS, **out}
    for a, b, _ in _ORDERED:
        if merged[a] < merged[b]:
            raise ValueError(f"risk threshold {a} ({merged[a]:g}) must not be below {b} ({merged[b]:g})")
    return out or None


def effective_thresholds(stored: Any) -> dict[str, float]:
    """The defaults overridden by a project's stored ``risk_thresholds`` (unknown keys, which only
    a hand-edited database could hold, are ignored)."""
    out = dict(DEFAULT_THRESHOLDS)
    if isinstance(stored, dict):
        out.update({k: v for k, v in stored.items() if k in THRESHOLD_RULES and isinstance(v, int | float)})
    return out


# --- levels -------------------------------------------------------------------------------------

_ORDER = {"green": 0, "amber": 1, "red": 2}


def rag(levels: list[str | None]) -> str:
    """Red if any signal is red, amber if any is amber, else green (unassessed signals do not count)."""
    known = [lv for lv in levels if lv is not None]
    return max(known, key=_ORDER.__getitem__) if known else "green"


def _worst(*levels: str | None) -> str | None:
    known = [lv for lv in levels if lv is not None]
    return max(known, key=_ORDER.__getitem__) if known else None


# --- the queries --------------------------------------------------------------------------------


def _idle_cutoff(sel: Selection, n: int) -> datetime:
    """The instant before which a task's last activity makes it idle for ``n`` working days at
    ``as_of``: the start of the day after the latest local day D with ``n`` working days in
    ``(D, as_of_date]``."""
    d = sel.as_of_date
    while working_days(d + timedelta(days=1), sel.as_of_date) < n:
        d -= timedelta(days=1)
    return local_midnight(d + timedelta(days=1), sel.tz)


def _last_change(sel: Selection, ts: Any) -> Any:
    """The task's latest change row (any field) by ``as_of``."""
    return (
        sa.select(sa.func.max(C.c.changed_at))
        .where(C.c.source_id == ts.c.source_id, C.c.task_external_id == ts.c.external_id,
               C.c.changed_at <= ts_literal(sel.as_of))
        .scalar_subquery()
    )


def _last_worklog(sel: Selection, ts: Any) -> Any:
    """The task's latest worklog by ``as_of``, at the later of its start and its last update (when
    the tool logged it), both by ``as_of``."""
    at = ts_literal(sel.as_of)
    logged_at = sa.case(
        (sa.and_(W.c.remote_updated_at <= at, W.c.remote_updated_at > W.c.started_at), W.c.remote_updated_at),
        else_=W.c.started_at,
    )
    return (
        sa.select(sa.func.max(logged_at))
        .where(
            W.c.source_id == ts.c.source_id,
            W.c.task_external_id == ts.c.external_id,
            W.c.started_at <= at,
            sa.or_(W.c.deleted_at.is_(None), W.c.deleted_at > at),
        )
        .scalar_subquery()
    )


def _stale(
    conn: Connection, sel: Selection, limits: dict[Any, dict[str, float]]
) -> tuple[dict[Any, list[int]], dict[Any, list[Any]]]:
    """``(counts, evidence)``: per project ``[in progress, stale]`` and its stale tasks (at most
    ``EVIDENCE_CAP``, the longest idle first) as ``(task id, last activity)``."""
    ts = task_state(sel, require_counted=True, extra=("last_activity_at",))
    # As of now the latest activity the store keeps (``task.last_activity_at``) is the one by
    # as_of, unless it lies after as_of (a remote clock ahead of ours); for those, and for any
    # as_of in the past, the change rows and the worklogs are looked up.
    if sel.current and not sel.history:
        la = ts.c.last_activity_at
        kept_now = sa.or_(la.is_(None), la <= ts_literal(sel.as_of))
        changed = sa.case((kept_now, la), else_=_last_change(sel, ts))
        kept: Any = sa.case((kept_now, 1), else_=0)
    else:
        changed, kept = _last_change(sel, ts), sa.literal(0)
    created = sa.func.coalesce(ts.c.remote_created_at, ts_literal(datetime(1970, 1, 1, tzinfo=UTC)))
    # The cutoff instant per project: a CASE over the few distinct stale_days values.
    by_n: dict[int, list[Any]] = defaultdict(list)
    for pid, lim in limits.items():
        by_n[int(lim["stale_days"])].append(pid)
    default_n = int(DEFAULT_THRESHOLDS["stale_days"])
    whens = [
        (ts.c.project_id.in_([p for p in pids if p is not None]), ts_literal(_idle_cutoff(sel, n)))
        for n, pids in sorted(by_n.items())
        if n != default_n and any(p is not None for p in pids)
    ]
    default_cut = ts_literal(_idle_cutoff(sel, default_n))
    cutoff = sa.case(*whens, else_=default_cut) if whens else default_cut
    raw = (
        sa.select(
            ts.c.id,
            ts.c.project_id,
            ts.c.source_id,
            ts.c.external_id,
            created.label("created"),
            sa.type_coerce(changed, T.c.completed_at.type).label("changed"),
            kept.label("kept"),
            cutoff.label("cutoff"),
        )
        .where(ts.c.status_asof == "in_progress")
        .cte("in_progress_raw")
        .prefix_with("MATERIALIZED")
    )
    seen = sa.case((sa.and_(raw.c.changed.is_not(None), raw.c.changed > raw.c.created), raw.c.changed),
                   else_=raw.c.created)
    first = (
        sa.select(raw.c.id, raw.c.project_id, raw.c.source_id, raw.c.external_id, raw.c.cutoff, raw.c.kept,
                  sa.type_coerce(seen, T.c.completed_at.type).label("seen"))
        .cte("in_progress_changed")
        .prefix_with("MATERIALIZED")
    )
    # The worklogs are looked up only for the tasks their changes leave idle, and not where the
    # kept latest activity counts them already (a CASE stops there).
    logged = _last_worklog(sel, first)
    ip = (
        sa.select(
            first.c.id,
            first.c.project_id,
            first.c.cutoff,
            first.c.seen,
            sa.type_coerce(sa.case((sa.and_(first.c.kept == 0, first.c.seen < first.c.cutoff), logged)),
                           T.c.completed_at.type).label("logged"),
        )
        .cte("in_progress")
        .prefix_with("MATERIALIZED")
    )
    last = sa.case((sa.and_(ip.c.logged.is_not(None), ip.c.logged > ip.c.seen), ip.c.logged), else_=ip.c.seen)
    scored = sa.select(
        ip.c.id,
        ip.c.project_id,
        sa.type_coerce(last, T.c.completed_at.type).label("last"),
        sa.case((last < ip.c.cutoff, 1), else_=0).label("stale"),
    ).subquery("scored")
    counts_q = sa.select(
        sa.literal("n").label("kind"),
        scored.c.project_id,
        sa.func.count().label("a"),
        sa.func.sum(scored.c.stale).label("b"),
        sa.null().label("last"),
        sa.null(),
        sa.null(),
        sa.null(),
        sa.null(),
    ).group_by(scored.c.project_id)
    ranked = sa.select(
        scored.c.id,
        scored.c.project_id,
        scored.c.last,
        sa.func.row_number()
        .over(partition_by=scored.c.project_id, order_by=(scored.c.last, scored.c.id))
        .label("rn"),
    ).where(scored.c.stale == 1).subquery("ranked")
    evidence_q = (
        sa.select(
            sa.literal("e").label("kind"),
            ranked.c.project_id,
            ranked.c.id.label("a"),
            sa.literal(0).label("b"),
            ranked.c.last,
            T.c.key,
            T.c.external_id,
            T.c.title,
            T.c.url,
        )
        .select_from(ranked.join(T, T.c.id == ranked.c.id))
        .where(ranked.c.rn <= EVIDENCE_CAP)
    )
    counts: dict[Any, list[int]] = {}
    evidence: dict[Any, list[Any]] = defaultdict(list)
    for kind, pid, a, b, last_at, key, ext, title, url in conn.execute(sa.union_all(counts_q, evidence_q)).all():
        if kind == "n":
            counts[pid] = [int(a), int(b or 0)]
        else:
            ref = {"id": int(a), "key": key or ext, "title": title, "url": url, "project_id": pid}
            evidence[pid].append((int(a), _when(last_at), ref))
    for rows in evidence.values():
        rows.sort(key=lambda r: (r[1], r[0]))
    return counts, evidence


def _when(value: Any) -> datetime:
    """A timestamp from a UNION's untyped column: aware UTC."""
    if isinstance(value, datetime):
        return aware(value)
    return aware(datetime.fromisoformat(str(value)))


def _whole_org(sel: Selection) -> Selection:
    return replace(
        sel,
        project_ids=None,
        params=replace(sel.params, portfolio=None, project=None, source=None, assignee=None, group_by=None),
    )


# The blocked tasks' key, title and URL come with their rows (their evidence lists them).
_REF_COLUMNS = ("key", "title", "url")


def _ref_columns(ts: Any) -> list[Any]:
    return [ts.c.key.label("task_key"), ts.c.external_id.label("task_ext"), ts.c.title.label("task_title"),
            ts.c.url.label("task_url")]


def _blocked_links(conn: Connection, sel: Selection) -> list[Any]:
    """The open tasks of the selection with a ``blocked_by`` link alive at ``as_of``: one row per
    link with the other task's state then when it is synced (any project), else the link's."""
    at = ts_literal(sel.as_of)
    ts = task_state(sel, require_counted=True, extra=_REF_COLUMNS)
    other = task_state(_whole_org(sel)).alias("other")
    q = (
        sa.select(
            ts.c.id,
            ts.c.project_id,
            *_ref_columns(ts),
            L.c.other_external_id,
            L.c.other_key,
            L.c.other_status_category,
            L.c.created_at,
            other.c.id.label("other_id"),
            other.c.project_id.label("other_project_id"),
            other.c.status_asof.label("other_status"),
        )
        .select_from(
            ts.join(L, sa.and_(L.c.source_id == ts.c.source_id, L.c.task_external_id == ts.c.external_id)).outerjoin(
                other, sa.and_(other.c.source_id == L.c.source_id, other.c.external_id == L.c.other_external_id)
            )
        )
        .where(
            org_is(sel, L),
            L.c.role == "blocked_by",
            L.c.created_at <= at,
            sa.or_(L.c.deleted_at.is_(None), L.c.deleted_at > at),
            ts.c.status_asof != "done",
        )
    )
    return list(conn.execute(q).all())


def _flagged(conn: Connection, sel: Selection) -> list[Any]:
    """The open tasks of the selection marked blocked in the tool at ``as_of`` (Jira Flagged, a
    Trello blocked label), with when the mark was last set by then (``None``: before the history)."""
    at = ts_literal(sel.as_of)
    T2 = T  # read in a subquery of its own, beside the task state

    def hist(where: Any, value: Any, order: Any) -> Any:
        return (
            sa.select(value)
            .where(
                C.c.source_id == T2.c.source_id,
                C.c.task_external_id == T2.c.external_id,
                C.c.field == "flagged",
                where,
            )
            .order_by(*order)
            .limit(1)
            .scalar_subquery()
        )

    then: Any
    if sel.history:
        first_after = hist(C.c.changed_at > at, C.c.from_value, (C.c.changed_at, C.c.id))
        then = sa.case(
            (T2.c.remote_updated_at <= at, T2.c.flagged),
            else_=sa.func.coalesce(first_after == "true", T2.c.flagged),
        )
        changed_after = sa.exists().where(
            C.c.source_id == T2.c.source_id,
            C.c.task_external_id == T2.c.external_id,
            C.c.field == "flagged",
            C.c.changed_at > at,
        )
        candidates = sa.or_(T2.c.flagged == sa.true(), changed_after)
    else:
        then = T2.c.flagged
        candidates = T2.c.flagged == sa.true()
    since = hist(sa.and_(C.c.to_value == "true", C.c.changed_at <= at), C.c.changed_at,
                 (C.c.changed_at.desc(), C.c.id.desc()))
    cand = (
        sa.select(T2.c.id, sa.case((then, 1), else_=0).label("then"),
                  sa.type_coerce(since, T.c.completed_at.type).label("since"))
        .where(*task_conditions(sel, T2), candidates)
        .subquery("flag_cand")
    )
    ts = task_state(sel, require_counted=True, extra=_REF_COLUMNS)
    q = (
        sa.select(ts.c.id, ts.c.project_id, *_ref_columns(ts), cand.c.since)
        .select_from(ts.join(cand, cand.c.id == ts.c.id))
        .where(cand.c.then == 1, ts.c.status_asof != "done")
    )
    return list(conn.execute(q).all())


# --- scope creep ---------------------------------------------------------------------------------

# The change rows that record a task's estimate (ingest: service/store/tasks.py and
# mappings/jira/changelog.py): ``points`` (Jira's story points field, its value as shown),
# ``estimate`` (the original estimate, in seconds), from Jira's changelog or observed by a sync
# (which writes one row per unit that changed; rows stored before migration 0032 were rewritten).
_ESTIMATE_FIELDS = ("points", "estimate")
# Jira's fixVersions changes: the version id removed (from_value) or added (to_value). Trello's
# milestone links (labels) have no usable history.
_MEMBER_FIELD = "milestone"
# A move to another project: a Jira issue's ``project`` changelog item, a Trello card's
# ``moveCardToBoard`` (or its ``moveCardFromBoard`` when the new board is not mirrored: external id
# ``<action>:left``; mappings/jira/changelog.py, mappings/trello/actions.py), from / to the
# projects' external ids, also in from_id / to_id, which the replay reads. Jira rows stored before
# moves were kept by id hold the projects' display names and no ids: those are not replayed (a
# name cannot be matched to a project; their tasks count in their project now) until a history
# re-read gives them their ids (``store.history.rewrite_changes`` sets a stored row's ids).
_PROJECT_FIELD = "project"


_LOGGED = table(Change).alias("logged")


def _not_a_duplicate(h: Any) -> Any:
    """The estimate change row ``h`` counts: the tool's own (Jira's changelog: its story points and
    original estimate changes), or one a sync observed for a task whose tool records no estimate
    change (Trello records none). A sync that sees a Jira issue's estimate changed also writes an
    observed row, stamped with the issue's update time, not the change's (a change before a
    baseline would be read as one after it)."""
    logged = _LOGGED.c
    return sa.or_(h.origin != "observed", ~sa.exists().where(
        logged.source_id == h.source_id, logged.task_external_id == h.task_external_id,
        logged.field.in_(_ESTIMATE_FIELDS), logged.origin != "observed"))


def _baselines(sel: Selection, rows: list[tuple[int, datetime]], name: str) -> Any:
    """``(sid, base_at)`` rows (a project's or a milestone's id and its baseline instant) as a small
    table from ONE bound JSON text (``service.json_rows``): a statement whose shape does not depend
    on the number of rows, so it is compiled once and cached (a VALUES list of hundreds of projects
    was compiled again on every request: ~75 ms each). The instants as each store reads them:
    ISO 8601 with the offset (PostgreSQL), SQLite's UTC datetime text."""
    if sel.dialect == "postgresql":
        stamps = [at.isoformat() for _, at in rows]
    else:
        stamps = [at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for _, at in rows]
    js = json.dumps([{"sid": sid, "base_at": at} for (sid, _), at in zip(rows, stamps, strict=True)])
    b = json_rows(sel.dialect, name, {"sid": sa.Integer(), "base_at": T.c.completed_at.type}, value=js)
    return sa.select(b.c.sid, b.c.base_at).cte(name).prefix_with("MATERIALIZED")


def _in_scope(at: Any, member: Any) -> Any:
    """The task ``T`` in a scope at the instant ``at``: alive then (``selection.alive``'s rule:
    created by then, an unknown creation counting as by then, and not deleted by then) and
    ``member`` then."""
    return sa.and_(sa.or_(T.c.remote_created_at.is_(None), T.c.remote_created_at <= at),
                   sa.or_(T.c.deleted_at.is_(None), T.c.deleted_at > at), member)


def _classify(base_at: Any, at: Any, member_base: Any, member_now: Any) -> Any:
    """``base`` (in the scope at the baseline and at ``as_of``), ``removed`` (at the baseline only),
    ``added`` (at ``as_of`` only), else NULL."""
    in_base, in_now = _in_scope(base_at, member_base), _in_scope(at, member_now)
    return sa.case((in_base, sa.case((in_now, "base"), else_="removed")), (in_now, "added"))


def _linked_at(x: Any, linked: Any) -> Any:
    """1 when the task ``T`` was linked to the milestone ``M`` at the instant ``x``, else 0: the
    replay ``task_state`` uses for a status or a due date (``selection._history``: the first change
    after ``x`` tells the value then; none, or a task not updated since, the value now) over
    Jira's fixVersions changes that name ``M``. ``linked``: 1 when it is linked now."""
    ext = M.c.external_id
    first = _history(T, where=sa.and_(C.c.changed_at > x, sa.or_(C.c.from_value == ext, C.c.to_value == ext)),
                     value=sa.case((C.c.from_value == ext, 1), else_=0), order=(C.c.changed_at, C.c.id),
                     field_=_MEMBER_FIELD)
    return sa.case((T.c.remote_updated_at <= x, linked), else_=sa.func.coalesce(first, linked))


def _in_project_at(x: Any, ext: Any, now: Any) -> Any:
    """1 when the task ``T`` was in the project whose external id is ``ext`` at the instant ``x``,
    else 0: the same replay over the task's project moves (the first move after ``x`` tells the
    project then: the one it moved from; none, or a task not updated since, the project now).
    ``now``: 1 when it is in that project now."""
    first = _history(T, where=sa.and_(C.c.changed_at > x, C.c.to_id.is_not(None)),
                     value=sa.case((C.c.from_id == ext, 1), else_=0), order=(C.c.changed_at, C.c.id),
                     field_=_PROJECT_FIELD)
    return sa.case((T.c.remote_updated_at <= x, now), else_=sa.func.coalesce(first, now))


def _scope(
    conn: Connection, sel: Selection, projects: dict[int, Any], milestones: dict[int, datetime]
) -> tuple[dict[tuple[str, int], dict[str, float]], dict[tuple[str, int], dict[str, list[dict[str, Any]]]]]:
    """Per scope — ``("p", project id)`` for a project with a planned start by ``as_of``, ``("m",
    milestone id)`` for a milestone whose baseline a PM set by ``as_of`` (``milestones``: its id and
    that instant) — the tasks in it at its baseline instant and at ``as_of``, classified (base,
    added, removed), with their estimates at both instants from the history, summed; and the
    evidence: the newest added tasks and the largest raised estimates (at most ``EVIDENCE_CAP``
    each, ``raised`` in the scope's unit).

    A project's tasks at an instant: those in it then — the project now, replayed through the
    task's project moves (``_in_project_at``) for the few a move row names: a task moved out of the
    project after its baseline is removed there and added in the project it went to.

    One statement: the tasks classified once and summed with their estimates now, and the change
    rows of the few with an estimate change after their scope's baseline — the change rows, read
    once, each joined to its task by the task's unique key and classified beside it — whose
    estimates then correct the sums here (``_estimates_then``). The key, title and URL of the
    tasks listed as evidence are read last, for those only (``_task_refs``)."""
    # The scope at the planned start date is the scope at the end of that local day (as a date
    # as_of is): one instant per project.
    prow = [
        (pid, min(local_midnight(p.planned_start + timedelta(days=1), sel.tz), sel.as_of))
        for pid, p in projects.items()
        if p.planned_start and p.planned_start <= sel.as_of_date
    ]
    mrow = sorted(milestones.items())
    if not prow and not mrow:
        return {}, {}
    at = ts_literal(sel.as_of)
    # The membership history (fixVersions, project moves by id: rows without a to_id hold names
    # only, not replayed), read once: a pass over the organization's change rows, cheaper than a
    # lookup per task of every project.
    hist = (
        sa.select(C.c.id, C.c.source_id, C.c.task_external_id, C.c.field, C.c.origin, C.c.from_value, C.c.to_value,
                  C.c.from_id, C.c.to_id, C.c.changed_at)
        .where(org_is(sel, C), sa.or_(
            C.c.field == _MEMBER_FIELD if mrow else sa.false(),
            sa.and_(C.c.field == _PROJECT_FIELD, C.c.to_id.is_not(None)) if prow else sa.false()))
        .cte("scope_history")
        .prefix_with("MATERIALIZED")
    )
    h = hist.c
    # The estimate changes that count, read once from the change table itself: PostgreSQL
    # estimates a table's rows from its statistics, not a CTE's, and with a CTE's guess (~1 % of its
    # rows) it joined them to the scopes by nested loops that ran the duplicate check ~20 million
    # times (94 s on bench/views.py's data). (The change rows first, on their own: joined to the
    # tasks in the same statement, PostgreSQL probed the change rows of every task instead.)
    counted = (
        sa.select(C.c.id, C.c.source_id, C.c.task_external_id, C.c.field, C.c.origin, C.c.from_value, C.c.changed_at)
        .where(org_is(sel, C), C.c.field.in_(_ESTIMATE_FIELDS), _not_a_duplicate(C.c))
        .cte("estimate_rows")
        .prefix_with("MATERIALIZED")
    )
    r = counted.c
    # A scope's key in the rows: a project's id, a milestone's id negated (one integer column keeps
    # the materialized rows as narrow as the project's alone: a text kind beside it cost ~20 %).
    cols = ("sid", "id", "created", "estimate_points", "estimate_seconds", "cls")

    def rows(sid: Any, base: Any, member_base: Any, member_now: Any, *extra: Any, by_scope: bool = False) -> Any:
        """A scope's tasks (the columns ``cols``, then ``extra``), classified. ``by_scope``: the
        selection's project filter on the scope's project, not the task's now (a moved task)."""
        cond = ([org_is(sel, T), *scope_conditions(sel, sid, T.c.source_id)] if by_scope
                else task_conditions(sel))
        return sa.select(
            sid.label("sid"), T.c.id, T.c.remote_created_at.label("created"),
            T.c.estimate_points, T.c.estimate_seconds,
            _classify(base.c.base_at, at, member_base, member_now).label("cls"), base.c.base_at, *extra,
        ).where(*cond, counted_task(sel, T.c.archived))

    scopes: list[Any] = []
    # Per scope kind, its tasks' estimate change rows after the scope's baseline, beside the task's
    # row in that scope (the columns ``cols``, its baseline, then these: whether each is after
    # as_of). The change rows are joined to their task, not to the materialized scope rows: joined
    # to those (no index), SQLite built an index over all of them on every request.
    changed: list[Any] = []
    change_cols = (r.field, r.origin, r.from_value, sa.case((r.changed_at > at, 1), else_=0).label("late"),
                   r.changed_at, r.id.label("change_id"))
    by_task_key = sa.and_(r.source_id == T.c.source_id, r.task_external_id == T.c.external_id)
    if prow:
        pbl = _baselines(sel, prow, "baselines")
        # Project moves. Only the tasks a move row names (moved_tasks) pay for the replay: per scope,
        # the moved tasks in its project now and those a move row took into or out of it (pairs);
        # every other task of the project now is in it at both instants, as before.
        by_key = sa.and_(T.c.source_id == h.source_id, T.c.external_id == h.task_external_id)
        moved_tasks = (sa.select(T.c.id).select_from(hist.join(T, by_key)).where(h.field == _PROJECT_FIELD)
                       .distinct().cte("moved_tasks").prefix_with("MATERIALIZED"))
        ends = sa.union_all(*(sa.select(h.source_id, h.task_external_id, end.label("ext"))
                              .where(h.field == _PROJECT_FIELD) for end in (h.from_id, h.to_id))).subquery()
        pairs = sa.union(
            # (a unary + keeps SQLite from reading every task of the projects to probe the moved ones)
            sa.select(pbl.c.sid, T.c.id.label("tid")).select_from(
                moved_tasks.join(T, T.c.id == moved_tasks.c.id)
                .join(pbl, pbl.c.sid == sa.literal_column(f"+{T.name}.project_id", sa.Integer))),
            sa.select(pbl.c.sid, T.c.id)
            .select_from(ends.join(PR, sa.and_(PR.c.source_id == ends.c.source_id, PR.c.external_id == ends.c.ext))
                         .join(pbl, pbl.c.sid == PR.c.id)
                         .join(T, sa.and_(T.c.source_id == ends.c.source_id,
                                          T.c.external_id == ends.c.task_external_id))),
        ).cte("moved_scope").prefix_with("MATERIALIZED")
        # The scope's project's external id, from inside the replay's subquery (correlated to the
        # row's scope at any depth).
        ext = sa.select(PR.c.external_id).where(PR.c.id == pbl.c.sid).correlate_except(PR).scalar_subquery()

        def was_in(x: Any) -> Any:
            return _in_project_at(x, ext, sa.case((T.c.project_id == pbl.c.sid, 1), else_=0)) == 1

        never_moved = T.c.id.not_in(sa.select(moved_tasks.c.id))
        in_pairs = pairs.join(pbl, pbl.c.sid == pairs.c.sid)
        scopes.append(sa.union_all(
            rows(pbl.c.sid, pbl, sa.true(), sa.true()).select_from(T.join(pbl, pbl.c.sid == T.c.project_id))
            .where(never_moved),
            rows(pbl.c.sid, pbl, was_in(pbl.c.base_at), was_in(at), by_scope=True)
            .select_from(in_pairs.join(T, T.c.id == pairs.c.tid)),
        ).cte("project_scope").prefix_with("MATERIALIZED"))
        # (the unary + keeps SQLite from indexing every task by project to probe the scopes)
        changed.append(rows(pbl.c.sid, pbl, sa.true(), sa.true(), *change_cols)
                       .select_from(counted.join(T, by_task_key).join(
                           pbl, pbl.c.sid == sa.literal_column(f"+{T.name}.project_id", sa.Integer)))
                       .where(never_moved, r.changed_at > pbl.c.base_at))
        changed.append(rows(pbl.c.sid, pbl, was_in(pbl.c.base_at), was_in(at), *change_cols, by_scope=True)
                       .select_from(in_pairs.join(T, T.c.id == pairs.c.tid).join(counted, by_task_key))
                       .where(r.changed_at > pbl.c.base_at))
    if mrow:
        mbl = _baselines(sel, mrow, "milestone_baselines")
        # A milestone's tasks: those linked now (linked 1), and those a fixVersions change linked or
        # unlinked (moved 1: only theirs are replayed).
        one: Any = sa.literal_column("1")
        zero: Any = sa.literal_column("0")
        linked_now = sa.select(TM.c.task_id.label("tid"), mbl.c.sid.label("mid"), one.label("linked"),
                               zero.label("moved")).select_from(mbl.join(TM, TM.c.milestone_id == mbl.c.sid))
        # The versions a fixVersions row names (either end), each looked up by its unique key: a
        # join on "from or to" compared every baselined milestone with every history row.
        named = sa.union_all(*(sa.select(h.source_id, h.task_external_id, end.label("ext"))
                               .where(h.field == _MEMBER_FIELD, end.is_not(None))
                               for end in (h.from_value, h.to_value))).subquery("named")
        moved = sa.select(T.c.id.label("tid"), M.c.id.label("mid"), zero.label("linked"),
                          one.label("moved")).select_from(
            named.join(M, sa.and_(M.c.source_id == named.c.source_id, M.c.external_id == named.c.ext))
            .join(mbl, mbl.c.sid == M.c.id)
            .join(T, sa.and_(T.c.source_id == named.c.source_id, T.c.external_id == named.c.task_external_id)))
        both = sa.union_all(linked_now, moved).subquery()
        cand = (sa.select(both.c.tid, both.c.mid, sa.func.max(both.c.linked).label("linked"),
                          sa.func.max(both.c.moved).label("moved"))
                .group_by(both.c.tid, both.c.mid).subquery("milestone_tasks"))

        def member(x: Any) -> Any:
            return sa.case((cand.c.moved == 1, _linked_at(x, cand.c.linked)), else_=cand.c.linked) == 1
        mscope = (
            rows(-mbl.c.sid, mbl, member(mbl.c.base_at), member(at))
            .select_from(cand.join(T, T.c.id == cand.c.tid).join(M, M.c.id == cand.c.mid)
                         .join(mbl, mbl.c.sid == cand.c.mid))
            .cte("milestone_scope")
            .prefix_with("MATERIALIZED")
        )
        scopes.append(mscope)
        k = mscope.c
        changed.append(sa.select(*(k[c] for c in cols), k.base_at, *change_cols)
                       .select_from(mscope.join(T, T.c.id == k.id).join(counted, by_task_key))
                       .where(r.changed_at > k.base_at))

    def union(parts: list[Any], name: str) -> Any:
        both: Any = parts[0] if len(parts) == 1 else sa.union_all(*parts)
        return both.subquery(name)

    # One statement: summed and ranked per scope table, the results put together (a UNION of the
    # two tables read by both would be materialized once for each), and the estimate changes.
    branches: list[Any] = []
    for scope_rows in scopes:
        k = scope_rows.c
        branches.append(sa.select(
            k.sid, k.cls, sa.func.count(), sa.null(), sa.func.sum(k.estimate_points),
            sa.func.count(k.estimate_points), sa.func.sum(k.estimate_seconds), sa.func.count(k.estimate_seconds),
            *([sa.null()] * 4),
        ).where(k.cls.is_not(None)).group_by(k.sid, k.cls))
        ranked = (
            sa.select(
                k.sid, k.id,
                sa.func.row_number().over(partition_by=k.sid, order_by=(k.created.desc(), k.id.desc())).label("rn"),
            )
            .where(k.cls == "added")
            .subquery()
        )
        branches.append(sa.select(ranked.c.sid, sa.literal("evidence"), ranked.c.rn, ranked.c.id,
                                  *([sa.null()] * 8)).where(ranked.c.rn <= EVIDENCE_CAP))
    ch = union(changed, "estimate_changes").c
    branches.append(
        sa.select(ch.sid, sa.literal("change"),
                  sa.func.row_number().over(partition_by=(ch.sid, ch.id), order_by=(ch.changed_at, ch.change_id)),
                  ch.id, ch.estimate_points, ch.late, ch.estimate_seconds, sa.null(), ch.cls, ch.field, ch.origin,
                  ch.from_value)
        .where(ch.cls.is_not(None)))
    out: dict[tuple[str, int], dict[str, float]] = {}
    added_ids: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    change_rows = []
    for sid, tag, n, tid, pts, pts_n, sec, sec_n, *ref in conn.execute(sa.union_all(*branches)).all():
        scope = _scope_key(sid)
        if tag == "change":  # n: its order among the task's, pts / sec: the estimates now, pts_n: after as_of
            cls, field, origin, value = ref
            change_rows.append((sid, tid, n, cls, pts, sec, field, origin, value, pts_n))
            continue
        if tag == "evidence":  # n: its rank, tid: the task
            added_ids[scope].append((int(n), int(tid)))
            continue
        row = out.setdefault(scope, dict.fromkeys(_SCOPE_FIELDS, 0.0))
        if tag == "removed":  # in the scope at the baseline, not at as_of
            row["removed_n"] += n
            tag = "base"
        for f, v in (("n", n), ("pts", pts), ("pts_n", pts_n), ("sec", sec), ("sec_n", sec_n)):
            row[f"{tag}_{f}"] += float(v or 0)
        row["unit_pts_n"] += float(pts_n or 0)
        row["unit_sec_n"] += float(sec_n or 0)
    change_rows.sort(key=lambda r: (r[0], r[1], r[2]))
    raised = _estimates_then([(r[0], r[1], *r[3:]) for r in change_rows], out)
    # Key, title and URL of the tasks listed (not of every task a scope's rows hold).
    listed = {tid for ids in added_ids.values() for _, tid in ids} | {
        tid for items in raised.values() for _, tid, _ in items}
    refs = _task_refs(conn, sel, listed)
    evidence: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = {}
    for scope in set(added_ids) | set(raised):
        evidence[scope] = {"added": [{"id": tid, **refs[tid]} for _, tid in sorted(added_ids.get(scope, []))],
                           "raised": [{"id": tid, **refs[tid], **then} for _, tid, then in raised.get(scope, [])]}
    return out, evidence


def _task_refs(conn: Connection, sel: Selection, ids: set[int]) -> dict[int, dict[str, Any]]:
    """Each task's key (its external id when it has none), title and URL: the tasks listed as
    evidence, read once at the end (not beside every row that might be listed)."""
    if not ids:
        return {}
    wanted = json_rows(sel.dialect, "task_ids", {"id": sa.Integer()}, name="wanted",
                       value=json.dumps([{"id": i} for i in sorted(ids)]))
    q = sa.select(T.c.id, T.c.key, T.c.external_id, T.c.title, T.c.url).select_from(
        wanted.join(T, T.c.id == wanted.c.id))
    return {tid: {"key": key or ext, "title": title, "url": url}
            for tid, key, ext, title, url in conn.execute(q).all()}


def _scope_key(sid: Any) -> tuple[str, int]:
    """``("p", project id)`` or ``("m", milestone id)`` from a scope's key in the rows."""
    return ("p", int(sid)) if sid > 0 else ("m", -int(sid))


def _recorded(text: str | None) -> float | None:
    """A recorded estimate as a number (None: none, or not a number)."""
    try:
        v = float(text) if text else None
    except ValueError:
        return None
    return v if v is not None and math.isfinite(v) else None


def _estimates_then(
    rows: Sequence[Any], sums: dict[tuple[str, int], dict[str, float]]
) -> dict[tuple[str, int], list[tuple[tuple[float, int], int, dict[str, Any]]]]:
    """The tasks with an estimate change after their scope's baseline (``rows``: their change rows
    in order, each with the task's scope, class and estimates now, and ``late``: after as_of): their
    estimates at the baseline and at as_of — what the first change after each instant changed it
    from (the replay ``task_state`` uses: ``selection._history``), else the value now; points from
    the ``points`` rows, seconds from the ``estimate`` rows. ``sums`` (counted with the estimates
    now) are corrected to them in place, raises and decreases of the tasks in scope at both
    instants added. Returns per scope the raised tasks in its unit, the largest raise first (at
    most ``EVIDENCE_CAP``)."""
    # Per (scope key, task): class, estimates now, then the first value after the baseline and the
    # first after as_of of each unit (points, seconds). Plain lists and precomputed sum keys: this
    # runs once per change row (13k on bench/views.py's data; dicts and f-strings cost 50 ms).
    firsts: dict[tuple[int, int], list[Any]] = {}
    for sid, tid, cls, ep, es, field, _origin, value, late in rows:
        t = firsts.get((sid, tid))
        if t is None:
            t = firsts[(sid, tid)] = [cls, ep, es, _UNSEEN, _UNSEEN, _UNSEEN, _UNSEEN]
        i = 3 if field == "points" else 5
        if t[i] is _UNSEEN:
            t[i] = value  # the first after the baseline
        if late and t[i + 1] is _UNSEEN:
            t[i + 1] = value  # the first after as_of
    raises: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
    for (sid, tid), (cls, ep, es, p_base, p_late, s_base, s_late) in firsts.items():
        s = sums[_scope_key(sid)]
        target = "added" if cls == "added" else "base"
        for unit, raw_now, raw_b, raw_a in (("pts", ep, p_base, p_late), ("sec", es, s_base, s_late)):
            if raw_b is _UNSEEN:  # no change of this unit after the baseline (nor after as_of): as now
                continue
            now = None if raw_now is None else float(raw_now)
            b = _recorded(raw_b)
            a = now if raw_a is _UNSEEN else _recorded(raw_a)
            exact = a if cls == "added" else b
            value_key, count_key = _SUM_KEYS[(target, unit)]
            s[value_key] += (exact or 0.0) - (now or 0.0)
            s[count_key] += (exact is not None) - (now is not None)
            counts = a if cls == "added" else b if cls == "removed" else (b if b is not None else a)
            s[f"unit_{unit}_n"] += (counts is not None) - (now is not None)
            if cls == "base" and a is not None and b is not None and a != b:
                s[f"{'up' if a > b else 'down'}_{unit}"] += abs(a - b)
                if a > b:
                    s[f"up_{unit}_n"] += 1
                    raises.setdefault((sid, tid), {})[unit] = (b, a)
    raised: dict[tuple[str, int], list[tuple[tuple[float, int], int, dict[str, Any]]]] = defaultdict(list)
    for (sid, tid), by_unit in raises.items():
        scope = _scope_key(sid)
        unit, scale = ("pts", 1.0) if sums[scope]["unit_pts_n"] > 0 else ("sec", 3600.0)
        if unit in by_unit:
            b, a = by_unit[unit]
            tid = int(tid)
            raised[scope].append(((-(a - b), -tid), tid, {"estimate_then": round(b / scale, 2),
                                                           "estimate_now": round(a / scale, 2)}))
    return {scope: sorted(items)[:EVIDENCE_CAP] for scope, items in raised.items()}


_UNSEEN = object()  # no change row of that unit after that instant: the value now holds
_SUM_KEYS = {(target, unit): (f"{target}_{unit}", f"{target}_{unit}_n")
             for target in ("added", "base") for unit in ("pts", "sec")}


_SCOPE_FIELDS = tuple(f"{a}_{b}" for a in ("base", "added") for b in ("n", "pts", "pts_n", "sec", "sec_n")) + (
    "removed_n", "unit_pts_n", "unit_sec_n", "up_pts", "up_pts_n", "down_pts", "up_sec", "up_sec_n", "down_sec")


def _milestone_baselines(conn: Connection, sel: Selection, miles: list[dict[str, Any]]) -> dict[int, datetime]:
    """The milestones of the selection not completed at ``as_of`` whose baseline a PM set by then
    (a ``milestone_change`` row of field ``baseline``; a baseline that is the first due date seen
    has no such row), with the instant of the last one by then."""
    wanted = {m["id"] for m in miles if not m["completed"] and m["baseline_due_date"] is not None}
    if not wanted:
        return {}
    q = (
        sa.select(MC.c.milestone_id, sa.func.max(MC.c.at))
        .where(MC.c.org_id == sel.org_id, MC.c.field == "baseline", MC.c.at <= ts_literal(sel.as_of))
        .group_by(MC.c.milestone_id)
    )
    return {mid: aware(when) for mid, when in conn.execute(q).all() if mid in wanted}


def _concentration(conn: Connection, sel: Selection) -> dict[Any, list[Any]]:
    """Per project, per person (``None``: unassigned): the open tasks' hours, points and count,
    a task with several assignees split evenly among them. From the workload rollup where it
    answers exactly (``rollups.open_split``: the state as of now), else this scan of the tasks."""
    kept = rollups.open_split(conn, sel)
    if kept is not None:
        return kept
    ts = task_state(sel, require_counted=True)
    open_ = (
        sa.select(ts.c.id, ts.c.project_id, ts.c.estimate_points, ts.c.estimate_seconds)
        .where(ts.c.status_asof != "done")
        .cte("open_tasks")
    )
    on = TA.c.task_id == open_.c.id
    weight = 1.0 / sa.func.count().over(partition_by=open_.c.id)
    split = (
        sa.select(
            open_.c.project_id,
            TA.c.person_id,
            (sa.cast(open_.c.estimate_seconds, sa.Float) * weight).label("sec"),
            (sa.cast(open_.c.estimate_points, sa.Float) * weight).label("pts"),
            weight.label("n"),
        )
        .select_from(open_.outerjoin(TA, on))
        .subquery("split")
    )
    q = sa.select(
        split.c.project_id,
        split.c.person_id,
        sa.func.coalesce(sa.func.sum(split.c.sec), 0.0),
        sa.func.coalesce(sa.func.sum(split.c.pts), 0.0),
        sa.func.sum(split.c.n),
    ).group_by(split.c.project_id, split.c.person_id)
    out: dict[Any, list[Any]] = defaultdict(list)
    for pid, person, sec, pts, n in conn.execute(q).all():
        out[pid].append((person, float(sec or 0), float(pts or 0), float(n or 0)))
    return out


def _person_names(conn: Connection, sel: Selection, ids: set[Any]) -> dict[Any, str]:
    from service.tables import Person

    P = table(Person)
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    q = sa.select(P.c.id, P.c.display_name).where(P.c.org_id == sel.org_id, P.c.id.in_(wanted))
    return {i: n for i, n in conn.execute(q).all()}


# --- the signals ---------------------------------------------------------------------------------


def _capped(items: list[dict[str, Any]], count: int) -> dict[str, Any]:
    return {"count": count, "tasks": items[:EVIDENCE_CAP], "more": max(0, count - min(len(items), EVIDENCE_CAP))}


def _stale_signal(counts: list[int] | None, tasks: list[dict[str, Any]], lim: dict[str, float]) -> dict[str, Any]:
    in_progress, stale = counts or [0, 0]
    frac = stale / in_progress if in_progress else None
    level = "green"
    if stale and frac is not None and frac >= lim["stale_red_share"]:
        level = "red"
    elif stale >= lim["stale_amber_count"]:
        level = "amber"
    return {
        "level": level,
        "in_progress": in_progress,
        "stale_share": share(frac),
        "threshold": {k: lim[k] for k in ("stale_days", "stale_amber_count", "stale_red_share")},
        **_capped(tasks, stale),
        "reasons": {} if in_progress else {"stale_share": "no task in progress at as_of"},
    }


def _blocked_signal(tasks: list[dict[str, Any]], lim: dict[str, float]) -> dict[str, Any]:
    tasks = sorted(tasks, key=lambda t: (-(t["blocked_days"] if t["blocked_days"] is not None else -1), t["id"]))
    longest = max((t["blocked_days"] for t in tasks if t["blocked_days"] is not None), default=None)
    level = "green"
    if longest is not None and longest >= lim["blocked_red_days"]:
        level = "red"
    elif len(tasks) >= lim["blocked_amber_count"]:
        level = "amber"
    by_link = by_flag = elsewhere = 0
    for t in tasks:
        kinds = {b["kind"] for b in t["blockers"]}
        by_link += "link" in kinds
        by_flag += "flag" in kinds
        elsewhere += any(b.get("where") in ("other_project", "not_synced") for b in t["blockers"])
    return {
        "level": level,
        "longest_blocked_days": longest,
        "by_link": by_link,
        "by_flag": by_flag,
        "blocker_elsewhere": elsewhere,
        "threshold": {k: lim[k] for k in ("blocked_amber_count", "blocked_red_days")},
        **_capped(tasks, len(tasks)),
        "reasons": {},
    }


def _scope_figures(s: dict[str, float], raised: list[dict[str, Any]]) -> dict[str, Any]:
    """Count and estimate shares of the scope added since the baseline (points when any task of the
    scope has points, else hours), the estimates raised and lowered since, and the raised tasks
    listed (``raised``: at most ``EVIDENCE_CAP``, the largest raise first)."""
    points = s["unit_pts_n"] > 0
    unit = "points" if points else "hours"
    scale = 1.0 if points else 3600.0
    p = "pts" if points else "sec"
    base_est, added_est = s[f"base_{p}"] / scale, s[f"added_{p}"] / scale
    up, down = s[f"up_{p}"] / scale, s[f"down_{p}"] / scale
    return {
        "baseline_tasks": int(s["base_n"]),
        "added_tasks": int(s["added_n"]),
        "removed_tasks": int(s["removed_n"]),
        "estimate_unit": unit if s["unit_pts_n"] + s["unit_sec_n"] else None,
        "baseline_estimate": round(base_est, 2),
        "added_estimate": round(added_est, 2),
        # Tasks without an estimate in the unit (then for the baseline's, at as_of for the added):
        # counted, not silently left out of the estimate shares (METRICS.md, estimate).
        "baseline_unestimated": int(s["base_n"] - s[f"base_{p}_n"]),
        "added_unestimated": int(s["added_n"] - s[f"added_{p}_n"]),
        "raised_tasks": int(s[f"up_{p}_n"]),
        "raised_estimate": round(up, 2),
        "lowered_estimate": round(down, 2),
        "added_share_count": share(s["added_n"] / s["base_n"]) if s["base_n"] else None,
        "added_share_estimate": share((added_est + up) / base_est) if base_est else None,
        "raised": raised,
    }


def _creep(s: dict[str, float] | None, ev: dict[str, list[dict[str, Any]]] | None, lim: dict[str, float],
           project_id: Any) -> dict[str, Any]:
    """One scope's figures, creep share, level and evidence (a project's or a milestone's)."""
    ev = ev or {}
    f = _scope_figures(s or dict.fromkeys(_SCOPE_FIELDS, 0.0), ev.get("raised", []))
    shares = [v for v in (f["added_share_count"], f["added_share_estimate"]) if v is not None]
    reasons: dict[str, str] = {}
    if f["added_share_count"] is None:
        reasons["added_share_count"] = "no task in scope at the baseline"
    if f["added_share_estimate"] is None:
        reasons["added_share_estimate"] = "no estimate in scope at the baseline"
    creep = max(shares) if shares else None
    if creep is None:
        level = "amber" if f["added_tasks"] else "green"
        if f["added_tasks"]:
            reasons["level"] = "tasks were added to a scope that was empty at its baseline"
    else:
        level = "red" if creep > lim["scope_red"] else "amber" if creep > lim["scope_amber"] else "green"
    f["raised"] = [{**t, "project_id": project_id} for t in f["raised"]]
    tasks = [{**t, "project_id": project_id} for t in ev.get("added", [])]
    return {"level": level, **f, "creep_share": creep, **_capped(tasks, f["added_tasks"]), "reasons": reasons}


def _scope_signal(p: Any, scope: dict[tuple[str, int], dict[str, float]],
                  evidence: dict[tuple[str, int], dict[str, list[dict[str, Any]]]], lim: dict[str, float],
                  sel: Selection, miles: list[dict[str, Any]], baselined: dict[int, datetime]) -> dict[str, Any]:
    """The project's scope creep since its planned start and each of its milestones' since the PM
    set its baseline; the signal's level is the worst of them."""
    th = {k: lim[k] for k in ("scope_amber", "scope_red")}
    pid = p.id if p is not None else None
    ms = []
    for m in miles:
        if m["id"] in baselined:
            c = _creep(scope.get(("m", m["id"])), evidence.get(("m", m["id"])), lim, pid)
            ms.append({"id": m["id"], "name": m["name"], "baseline_due_date": m["baseline_due_date"],
                       "baseline_set_at": baselined[m["id"]].isoformat(), **c})
    ms.sort(key=lambda m: (-_ORDER[m["level"]], -(m["creep_share"] or 0), m["id"]))
    m_level = _worst(*(m["level"] for m in ms))
    out: dict[str, Any]
    if p is None or p.planned_start is None or p.planned_start > sel.as_of_date:
        why = ("no planned start: no baseline to measure the project's scope against" if p is None or
               p.planned_start is None else "the planned start is after as_of")
        out = {"level": m_level, "project_level": None,
               "baseline_date": p.planned_start.isoformat() if p is not None and p.planned_start else None,
               "threshold": th, "count": 0, "tasks": [], "more": 0, "raised": [],
               "reasons": {"level": why} if m_level is None else {"project_level": why}}
    else:
        c = _creep(scope.get(("p", p.id)), evidence.get(("p", p.id)), lim, pid)
        out = {**c, "level": _worst(c["level"], m_level), "project_level": c["level"],
               "baseline_date": p.planned_start.isoformat(), "threshold": th}
    out["milestones"] = ms
    out["milestones_over"] = sum(1 for m in ms if m["level"] in ("amber", "red"))
    return out


def _schedule_signal(b: dict[str, Any] | None, lim: dict[str, float]) -> dict[str, Any]:
    th = {"spi_amber": lim["spi_amber"], "spi_red": lim["spi_red"]}
    spi = b.get("spi") if b else None
    if spi is None:
        why = (b or {}).get("reasons", {}).get("spi", "no budget figures for this row")
        return {"level": None, "spi": None, "sv": (b or {}).get("sv"), "threshold": th, "reasons": {"spi": why}}
    level = "red" if spi < lim["spi_red"] else "amber" if spi < lim["spi_amber"] else "green"
    return {"level": level, "spi": spi, "sv": b["sv"] if b else None, "threshold": th, "reasons": {}}


def _budget_signal(b: dict[str, Any] | None, lim: dict[str, float]) -> dict[str, Any]:
    th = {"cpi_amber": lim["cpi_amber"], "cpi_red": lim["cpi_red"]}
    reasons: dict[str, str] = {}
    cpi = b.get("cpi") if b else None
    before_end = b.get("exhaustion_before_planned_end") if b else None
    cpi_level = None
    if cpi is None:
        reasons["cpi"] = (b or {}).get("reasons", {}).get("cpi", "no budget figures for this row")
    else:
        cpi_level = "red" if cpi < lim["cpi_red"] else "amber" if cpi < lim["cpi_amber"] else "green"
    ex_level = None if before_end is None else ("red" if before_end else "green")
    if before_end is None:
        reasons["exhaustion_before_planned_end"] = (b or {}).get("reasons", {}).get(
            "exhaustion_date", "no planned end" if b and not b.get("planned_end") else "no exhaustion date")
    return {
        "level": _worst(cpi_level, ex_level),
        "cpi": cpi,
        "cv": (b or {}).get("cv"),
        "consumed_share": (b or {}).get("consumed_share"),
        "exhaustion_date": (b or {}).get("exhaustion_date"),
        "planned_end": (b or {}).get("planned_end"),
        "exhaustion_before_planned_end": before_end,
        "threshold": th,
        "reasons": reasons,
    }


def _milestone_signal(items: list[dict[str, Any]], lim: dict[str, float]) -> dict[str, Any]:
    def brief(m: dict[str, Any]) -> dict[str, Any]:
        return {k: m[k] for k in ("id", "name", "due_date", "baseline_due_date", "forecast_finish", "days_overdue",
                                  "slip_days", "open")}

    overdue = [brief(m) for m in items if m["overdue"]]
    at_risk = [brief(m) for m in items if m["at_risk"]]
    slipping = [brief(m) for m in items if not m["completed"] and (m["slip_days"] or 0) >= lim["slip_amber_days"]]
    level = "red" if overdue else "amber" if at_risk or slipping else "green"
    return {
        "level": level,
        "milestones": len(items),
        "overdue": len(overdue),
        "at_risk": len(at_risk),
        "slipping": len(slipping),
        "threshold": {"slip_amber_days": lim["slip_amber_days"]},
        "overdue_milestones": overdue[:EVIDENCE_CAP],
        "at_risk_milestones": at_risk[:EVIDENCE_CAP],
        "slipping_milestones": slipping[:EVIDENCE_CAP],
        "reasons": {},
    }


def _concentration_signal(rows: list[Any], lim: dict[str, float], names: dict[Any, str]) -> dict[str, Any]:
    th = {"concentration_share": lim["concentration_share"]}
    sec = sum(r[1] for r in rows)
    pts = sum(r[2] for r in rows)
    n = sum(r[3] for r in rows)
    basis, idx, total = ("hours", 1, sec) if sec > 0 else ("points", 2, pts) if pts > 0 else ("tasks", 3, n)
    people = sorted(((r[0], r[idx]) for r in rows if r[0] is not None), key=lambda x: (-x[1], x[0]))
    if not total:
        return {"level": None, "basis": None, "open_total": 0, "person": None, "top_share": None,
                "threshold": th, "people": [], "reasons": {"level": "no open task at as_of"}}
    top = people[0] if people else None
    top_share = top[1] / total if top else 0.0
    level = "amber" if top and top_share > lim["concentration_share"] else "green"
    scale = 3600 if basis == "hours" else 1
    over = [
        {"person": {"id": p, "name": names.get(p, str(p))}, "open": round(v / scale, 2), "share": share(v / total)}
        for p, v in people
        if v / total > lim["concentration_share"]
    ]
    unassigned = sum(r[idx] for r in rows if r[0] is None)
    return {
        "level": level,
        "basis": basis,
        "open_total": round(total / scale, 2),
        "unassigned_share": share(unassigned / total),
        "person": {"id": top[0], "name": names.get(top[0], str(top[0]))} if top else None,
        "top_share": share(top_share),
        "threshold": th,
        "people": over,
        "reasons": {} if top else {"person": "no open task has an assignee"},
    }


SIGNALS = ("stale", "blocked", "scope_creep", "schedule", "budget", "milestones", "concentration")


def projects_and_limits(conn: Connection, sel: Selection) -> tuple[dict[int, Any], dict[Any, dict[str, float]]]:
    """The selection's projects (id, name, key, URL, planned start, thresholds) by id, and each
    one's effective thresholds."""
    q = sa.select(PR.c.id, PR.c.name, PR.c.key, PR.c.url, PR.c.planned_start, PR.c.risk_thresholds).where(
        PR.c.org_id == sel.org_id, PR.c.deleted_at.is_(None))
    if sel.project_ids is not None:
        q = q.where(PR.c.id.in_(sel.project_ids) if sel.project_ids else sa.false())
    if sel.params.source is not None:
        q = q.where(PR.c.source_id == sel.params.source)
    projects = {r.id: r for r in conn.execute(q.order_by(PR.c.id)).all()}
    return projects, {pid: effective_thresholds(p.risk_thresholds) for pid, p in projects.items()}


def _stale_items(sel: Selection, stale_ev: dict[Any, list[Any]]) -> dict[Any, list[dict[str, Any]]]:
    """Per project, its stale tasks as the signal lists them (``_stale``'s evidence rows)."""
    tz = sel.tz
    items: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for pid, rows in stale_ev.items():
        for _tid, last, ref in rows:
            day = last.astimezone(tz).date()
            items[pid].append({**ref, "last_activity": last.isoformat(),
                               "idle_working_days": working_days(day + timedelta(days=1), sel.as_of_date)})
    return items


def _blocked_items(sel: Selection, links: list[Any], flags: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    """Per project, its blocked tasks with their open blockers (``_blocked_links``' rows whose
    blocker is not done, ``_flagged``'s rows), as the signal lists them. (Each blocker is built
    once with its start as text, the instant kept beside it for the task's earliest start.)"""
    blocked: dict[int, tuple[Any, list[tuple[datetime | None, dict[str, Any]]]]] = {}
    for r in links:
        other_id = r.other_id
        status = r.other_status if other_id is not None else r.other_status_category
        if status == "done":
            continue
        entry = blocked.get(r.id)
        if entry is None:
            entry = blocked[r.id] = (r, [])
        other_project = r.other_project_id
        where = ("not_synced" if other_id is None else
                 "other_project" if other_project != r.project_id else "same_project")
        since = _when(r.created_at)
        entry[1].append((since, {
            "kind": "link", "key": r.other_key or r.other_external_id, "task_id": other_id,
            "project_id": other_project, "status_category": status, "where": where, "since": since.isoformat(),
        }))
    for r in flags:
        entry = blocked.get(r.id)
        if entry is None:
            entry = blocked[r.id] = (r, [])
        flagged = _when(r.since) if r.since is not None else None
        entry[1].append((flagged, {"kind": "flag", "since": flagged.isoformat() if flagged else None}))
    tz = sel.tz
    items: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for tid, (r, found) in blocked.items():
        first: datetime | None
        if len(found) == 1:  # most blocked tasks: one blocker
            first, only = found[0]
            blockers = [only]
            started = only["since"]
        else:
            first = min((at for at, _ in found if at is not None), default=None)
            blockers = sorted((b for _, b in found), key=lambda b: (b["kind"], b.get("key") or ""))
            started = first.isoformat() if first else None
        items[r.project_id].append({
            "id": tid, "blocked_since": started,
            "blocked_days": (sel.as_of_date - first.astimezone(tz).date()).days if first else None,
            "blockers": blockers, "key": r.task_key or r.task_ext, "title": r.task_title, "url": r.task_url,
            "project_id": r.project_id})
    return items


def risk_view(conn: Connection, sel: Selection) -> dict[str, Any]:
    if sel.group_by not in (None, "project"):
        raise UnsupportedParameter("query.group_by", f"the risk view is per project; group_by={sel.group_by} is not "
                                   "supported (use project, or leave it out)")
    if sel.params.assignee is not None:
        raise UnsupportedParameter("query.assignee", "the risk view covers whole projects; it takes no assignee")
    projects, limits = projects_and_limits(conn, sel)
    default = dict(DEFAULT_THRESHOLDS)
    lim_of = lambda pid: limits.get(pid, default)  # noqa: E731 - tasks without a project: the defaults

    stale_counts, stale_ev = _stale(conn, sel, limits)
    links = _blocked_links(conn, sel)
    flags = _flagged(conn, sel)
    miles = milestone_items(conn, with_group(sel, None), slip_series=False)
    baselined = _milestone_baselines(conn, sel, miles)
    scope, scope_ev = _scope(conn, sel, projects, baselined)
    conc = _concentration(conn, sel)
    budget = budget_view(conn, with_group(sel, "project"))

    blocked_items = _blocked_items(sel, links, flags)
    person_names = _person_names(conn, sel, {r[0] for rows in conc.values() for r in rows})
    stale_items = _stale_items(sel, stale_ev)
    bgroups = {g["group"]["id"]: g for g in budget["groups"]}
    miles_by: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for m in miles:
        miles_by[m["project_id"]].append(m)

    # A milestone without a project (or of a deleted one) is listed in the group of its tasks
    # without one: its milestone and scope creep figures are not dropped.
    keys = sorted(set(projects) | set(stale_counts) | set(blocked_items) | set(conc) | set(miles_by),
                  key=lambda k: (k is None, k or 0))
    groups: list[dict[str, Any]] = []
    for pid in keys:
        lim = lim_of(pid)
        p = projects.get(pid)
        signals = {
            "stale": _stale_signal(stale_counts.get(pid), stale_items.get(pid, []), lim),
            "blocked": _blocked_signal(blocked_items.get(pid, []), lim),
            "scope_creep": _scope_signal(p, scope, scope_ev, lim, sel, miles_by.get(pid, []), baselined),
            "schedule": _schedule_signal(bgroups.get(pid), lim),
            "budget": _budget_signal(bgroups.get(pid), lim),
            "milestones": _milestone_signal(miles_by.get(pid, []), lim),
            "concentration": _concentration_signal(conc.get(pid, []), lim, person_names),
        }
        levels = {k: s["level"] for k, s in signals.items()}
        status = rag(list(levels.values()))
        name_label = {"by": "project", "id": pid, "name": p.name if p else "(no project)"}
        groups.append({
            "group": name_label,
            "key": p.key if p else None,
            "url": p.url if p else None,
            "rag": status,
            "set_by": sorted(k for k, v in levels.items() if v == status and status != "green"),
            "not_assessed": sorted(k for k, v in levels.items() if v is None),
            "thresholds": {k: lim[k] for k in THRESHOLD_RULES},
            "thresholds_overridden": sorted(k for k in THRESHOLD_RULES if lim[k] != DEFAULT_THRESHOLDS[k]),
            "signals": signals,
            "reasons": {},
        })
    total = _total(groups, budget["total"], miles, sel)
    defs = definitions(
        sel,
        stale="a task in scope in progress at as_of whose last activity — its latest change row of any field "
        "(status, assignee, estimate, due date, flag, link, …: what the tool's history records) or worklog (at "
        "the later of its start and its last update), by as_of; a task with neither counts from its creation — "
        "lies stale_days or more working days (Mon–Fri in the organization's time zone, holidays not known) "
        "before as_of_date: idle_working_days = Mon–Fri days after the last activity's local day through "
        "as_of_date. Comments are not change rows. Amber when stale tasks ≥ stale_amber_count; red when "
        "they are also ≥ stale_red_share of the project's tasks in progress",
        blocked="an open task in scope with an open blocker at as_of: (a) a Jira issue link whose role for the "
        "task is blocked_by (the profile's jira.blocking_links, e.g. 'is blocked by'), made by as_of and not "
        "removed by then, whose other issue was not done at as_of — its status then from its history when "
        "taskhub syncs it (any project of the organization), else the status the link payload gave — or (b) "
        "the tool's blocked mark as it was at as_of (its change history): Jira's Flagged field, or a Trello "
        "card label the profile names (trello.blocked_labels). Trello has no issue links: its cards are "
        "blocked by the label only. blocked_since = the earliest start among the open blockers (a link's "
        "creation, the last time the mark was set by as_of; null when the mark was set before its history "
        "was recorded); blocked_days = as_of_date − that local day (calendar days). A blocker's where: "
        "same_project, other_project, or not_synced (outside what taskhub syncs; its status as the link "
        "gave it; an unknown status counts as open). Amber when blocked tasks ≥ blocked_amber_count; red "
        "when one has been blocked blocked_red_days or more",
        scope_creep="measured against two kinds of baseline. (1) The project's: its planned_start, as a date "
        "as_of is: the end of that local day (baseline_date). (2) Each of its milestones not completed at as_of "
        "whose baseline due date a PM set (API or taskhub apply) by as_of: the instant of the last such setting "
        "by then (baseline_set_at); a baseline that is only the first due date seen has no such instant and is "
        "not measured. A scope at an instant: the tasks alive then (created by then — an unknown creation "
        "counts as by then — and not deleted by then), epics, milestone cards and archived cards excluded "
        "(archiving as now, not replayed); for a milestone, the tasks linked to it then: its links now, "
        "replayed through Jira's fixVersions history (the first change after the instant that adds or removes "
        "the milestone tells whether the task was linked then); for a project, the tasks in it then: their project "
        "now, replayed through their moves between projects — a Jira issue moved to another project (its "
        "changelog's project item), a Trello card moved to another board (moveCardToBoard; moveCardFromBoard when "
        "it went to a board taskhub does not mirror), each recorded by "
        "the projects' ids: the first move after the instant tells the project then — so a task moved out "
        "after the baseline is removed from the project it left and added to the one it joined. Jira moves "
        "stored before taskhub kept the projects' ids (rows with their names only) are not replayed, and Trello's "
        "milestone links (labels) have no usable history: those count as they are now. Baseline tasks: in "
        "the scope at "
        "the baseline; added: in it at as_of and not at the baseline; removed: at the baseline and not at "
        "as_of (shown, not netted). Estimates come from the history: a task's estimate at an instant is what "
        "the first estimate change after it changed it from (Jira's story points and original estimate "
        "changes, and the changes a sync observed — those only for a task whose tool records no estimate "
        "change: a sync stamps what it saw with the task's update time, not the change's), else its value "
        "now. baseline_estimate = the baseline tasks' estimates at the baseline; added_estimate = the added "
        "tasks' at as_of; raised_estimate = the "
        "sum of (estimate at as_of − estimate at the baseline) over the baseline tasks still in scope whose "
        "estimate rose (both known; raised_tasks of them, the largest raises listed in raised); "
        "lowered_estimate likewise for the decreases, shown, not netted; a task first estimated after the "
        "baseline counts in neither. Points when any task of the scope has points, else hours; "
        "baseline_unestimated and added_unestimated count the tasks without an estimate in that unit (at the "
        "baseline, at as_of), left out of the estimates. "
        "added_share_count = added / baseline tasks; added_share_estimate = (added_estimate + "
        "raised_estimate) / baseline_estimate; creep_share = the larger of the two. A scope's level: amber "
        "when creep_share > scope_amber, red when > scope_red (a milestone uses its project's thresholds); a "
        "scope empty at its baseline is amber when tasks were added, else green. The signal's level is the "
        "worst of the project's own (project_level; not assessed without a planned start by as_of) and its "
        "milestones' (milestones, worst first, each with its figures and evidence; milestones_over counts "
        "those at amber or red); not assessed when none is measured",
        schedule="SPI from the budget view (EV / PV, METRICS.md): red when SPI < spi_red, amber when < "
        "spi_amber; not assessed when SPI is undefined (its reason given)",
        budget="CPI from the budget view (EV / AC): red when CPI < cpi_red, amber when < cpi_amber; red when "
        "the budget view's forecast exhaustion date falls before the planned end; the worse of the two",
        milestones="the milestones view's figures for the project's milestones: red when one is overdue; "
        "amber when one is at risk or not completed and slipped by slip_amber_days or more (slip_days)",
        concentration="the open tasks in scope at as_of, their estimate in hours when any has hours, else "
        "points, else the task count (basis); a task with several assignees is split evenly among them "
        "(unlike the workload view, which counts it once for each); unassigned work counts in the total. "
        "Amber when one person holds more than concentration_share of the total (never red)",
        rag="per project: red if any signal is red, amber if any is amber, else green; a signal that cannot "
        "be assessed (level null, listed in not_assessed) counts for neither. set_by names the signals at "
        "the project's level. The total's rag is the worst of its projects'",
        thresholds="every threshold, its default and range is in the top-level thresholds; a project's own "
        "(project.risk_thresholds, PATCH /api/v1/projects/{id} or taskhub apply) override them and are "
        "listed in thresholds_overridden",
        evidence=f"each signal lists at most {EVIDENCE_CAP} tasks (longest idle, longest blocked, newest added "
        "first) with their key and URL in the tool; count is how many there are, more how many are not listed",
        trello="Trello has no issue links; its blocked cards come from the labels the profile names",
    )
    out = envelope("risk", sel, defs, total, groups, thresholds={
        k: {"default": v[0], "min": v[1], "max": v[2], "meaning": v[4]} for k, v in THRESHOLD_RULES.items()})
    out["groups"] = groups  # per project always (the risk view's unit)
    return out


def _total(groups: list[dict[str, Any]], btotal: dict[str, Any], miles: list[dict[str, Any]],
           sel: Selection) -> dict[str, Any]:
    """The whole selection: counts over its projects, the budget view's total SPI and CPI, and the
    worst RAG. Evidence lists are the longest idle / blocked across projects."""
    def pick(sig: str) -> list[dict[str, Any]]:
        return [g["signals"][sig] for g in groups]

    stale = pick("stale")
    blocked = pick("blocked")
    stale_tasks = sorted((t for s in stale for t in s["tasks"]), key=lambda t: (-t["idle_working_days"], t["id"]))
    blocked_tasks = sorted((t for s in blocked for t in s["tasks"]),
                           key=lambda t: (-(t["blocked_days"] if t["blocked_days"] is not None else -1), t["id"]))
    n_blocked = sum(s["count"] for s in blocked)
    n_stale = sum(s["count"] for s in stale)
    levels = [g["rag"] for g in groups]
    return {
        "group": label(None, None, {}),
        "rag": rag(list(levels)),
        "projects": len(groups),
        "red": levels.count("red"),
        "amber": levels.count("amber"),
        "green": levels.count("green"),
        "signals": {
            "stale": {"count": n_stale, "in_progress": sum(s["in_progress"] for s in stale),
                      "projects": sum(1 for s in stale if s["level"] != "green"),
                      "tasks": stale_tasks[:EVIDENCE_CAP],
                      "more": max(0, n_stale - min(len(stale_tasks), EVIDENCE_CAP))},
            "blocked": {"count": n_blocked, "projects": sum(1 for s in blocked if s["level"] != "green"),
                        "longest_blocked_days": max((s["longest_blocked_days"] for s in blocked
                                                     if s["longest_blocked_days"] is not None), default=None),
                        "tasks": blocked_tasks[:EVIDENCE_CAP],
                        "more": max(0, n_blocked - min(len(blocked_tasks), EVIDENCE_CAP))},
            "scope_creep": {"added_tasks": sum(s.get("added_tasks", 0) for s in pick("scope_creep")),
                            "projects": sum(1 for s in pick("scope_creep") if s["level"] in ("amber", "red")),
                            "milestones": sum(s["milestones_over"] for s in pick("scope_creep"))},
            "schedule": {"spi": btotal.get("spi"), "projects": sum(1 for s in pick("schedule")
                                                                    if s["level"] in ("amber", "red"))},
            "budget": {"cpi": btotal.get("cpi"), "projects": sum(1 for s in pick("budget")
                                                                  if s["level"] in ("amber", "red"))},
            "milestones": {"overdue": sum(1 for m in miles if m["overdue"]),
                           "at_risk": sum(1 for m in miles if m["at_risk"]),
                           "slipping": sum(s["slipping"] for s in pick("milestones")),
                           "projects": sum(1 for s in pick("milestones") if s["level"] in ("amber", "red"))},
            "concentration": {"projects": sum(1 for s in pick("concentration") if s["level"] == "amber")},
        },
        "reasons": {"signals": "the total's SPI and CPI are the budget view's for the whole selection; its "
                               "other figures add up the projects'"}
        if groups else {"rag": "no project in the selection"},
    }
