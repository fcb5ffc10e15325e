"""Stored status reports: generate a draft, comment on it, publish it, serve it.

A report is one ``status_report`` row per organization, scope and ISO week (unique). Its
``data`` is every figure it shows (``service.reports.data.build``); ``html`` and ``pdf`` its
rendering by the edge's ``Renderer``. Life cycle:

- generate: computes ``data`` and stores it as a ``draft`` (with its HTML and PDF when a
  renderer is given: the worker's weekly pass stores the data alone, the edge renders a draft
  from its stored data when it is read); generating a draft again recomputes it; a draft made
  while its week was running (figures as of that moment) is recomputed at the week's end the
  first time it is asked for after the week is over (the weekly pass, a read), keeping its
  commentary: else last week's report, and the next week's baseline, kept mid-week figures;
- commentary: a PM's short text, on a draft only (a published report: Conflict);
- publish: renders the final HTML and PDF with the commentary from the stored data, stores them,
  marks the row ``published`` and emits ``report.ready`` through the outbox, all in one
  transaction (a failed publish leaves the draft and sends nothing; a second publish is a
  Conflict, so the event goes out once);
- a published report is served from its stored rendering, unchanged, whatever changes later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError

from service import errors
from service.db import Database
from service.events.outbox import emit, timestamp
from service.reports import data as report_data
from service.reports.data import Scope
from service.reports.weeks import Week, current_week
from service.schemas import LongText
from service.tables import StatusReport, table, utcnow

__all__ = ["COMMENTARY_MAX", "REPORT_CSP", "Renderer", "Report", "find", "generate", "generate_many", "get",
           "get_or_generate", "list_reports", "publish", "rendered", "set_commentary"]

SR = table(StatusReport)
# The report page's Content-Security-Policy wherever it is served (API, dashboard): it has no
# script, its style is inline (it travels alone, by mail too) and its charts are inline SVG.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
              "frame-ancestors 'none'; base-uri 'none'")
COMMENTARY_MAX = 4000  # characters: a short commentary, not a document
_LONG_TEXT: TypeAdapter[str] = TypeAdapter(LongText)
Format = Literal["html", "pdf"]


class Renderer(Protocol):
    """Turns a report's stored data (and commentary) into its HTML page and its PDF."""

    def html(self, data: dict[str, Any], *, commentary: str | None, status: str) -> str: ...

    def pdf(self, data: dict[str, Any], *, commentary: str | None, status: str) -> bytes: ...


@dataclass(frozen=True)
class Report:
    id: int
    org_id: int
    scope: str
    scope_id: int
    scope_name: str
    week_start: date
    status: str
    commentary: str | None
    data: dict[str, Any]
    html: str | None
    pdf: bytes | None
    generated_at: datetime
    published_at: datetime | None
    published_by: str | None

    @property
    def week(self) -> str:
        return Week(self.week_start).label

    def filename(self, ext: str) -> str:
        return f"report-{self.scope}-{self.scope_id}-{self.week}.{ext}"

    def links(self) -> dict[str, str]:
        base = f"/api/v1/reports/{self.id}"
        return {"self": base, "html": f"{base}?format=html", "pdf": f"{base}?format=pdf"}

    def public(self, *, with_data: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "scope": self.scope, "scope_id": self.scope_id, "scope_name": self.scope_name,
            "week": self.week, "week_start": self.week_start.isoformat(), "status": self.status,
            "commentary": self.commentary, "generated_at": _iso(self.generated_at),
            "published_at": _iso(self.published_at), "published_by": self.published_by, "links": self.links(),
        }
        if with_data:
            out["data"] = self.data
        return out


def _iso(v: datetime | None) -> str | None:
    if v is None:
        return None
    return (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _report(r: Any) -> Report:
    return Report(id=r.id, org_id=r.org_id, scope=r.scope, scope_id=r.scope_id, scope_name=r.scope_name,
                  week_start=r.week_start, status=r.status, commentary=r.commentary, data=r.data, html=r.html,
                  pdf=r.pdf, generated_at=r.generated_at, published_at=r.published_at, published_by=r.published_by)


def _row(conn: sa.Connection, org_id: int, scope: str, scope_id: int, week: Week, *, lock: bool = False) -> Any:
    q = sa.select(SR).where(SR.c.org_id == org_id, SR.c.scope == scope, SR.c.scope_id == scope_id,
                            SR.c.week_start == week.start)
    return conn.execute(q.with_for_update() if lock and conn.dialect.name == "postgresql" else q).first()


def _by_id(conn: sa.Connection, org_id: int, report_id: int, *, lock: bool = False) -> Any:
    q = sa.select(SR).where(SR.c.id == report_id, SR.c.org_id == org_id)
    row = conn.execute(q.with_for_update() if lock and conn.dialect.name == "postgresql" else q).first()
    if row is None:
        raise errors.NotFound(f"report {report_id} not found in this organization")
    return row


def get(db: Database, org_id: int, report_id: int) -> Report:
    with db.read() as conn:
        return _report(_by_id(conn, org_id, report_id))


def find(db: Database, org_id: int, scope: Scope, scope_id: int, week: Week) -> Report | None:
    with db.read() as conn:
        row = _row(conn, org_id, scope, scope_id, week)
    return _report(row) if row is not None else None


def list_reports(db: Database, org_id: int, *, scope: Scope | None = None, scope_id: int | None = None,
                 status: str | None = None, limit: int = 100) -> list[Report]:
    """Newest week first (then portfolio before project, by name)."""
    q = sa.select(SR).where(SR.c.org_id == org_id)
    if scope is not None:
        q = q.where(SR.c.scope == scope)
    if scope_id is not None:
        q = q.where(SR.c.scope_id == scope_id)
    if status is not None:
        q = q.where(SR.c.status == status)
    q = q.order_by(SR.c.week_start.desc(), SR.c.scope, SR.c.scope_name, SR.c.id).limit(limit)
    with db.read() as conn:
        return [_report(r) for r in conn.execute(q)]


def _previous(db: Database, org_id: int, scope: Scope, scope_id: int, week: Week) -> tuple[dict[str, Any] | None,
                                                                                           int | None]:
    with db.read() as conn:
        row = _row(conn, org_id, scope, scope_id, week.previous())
    return (row.data, row.id) if row is not None else (None, None)


def generate(db: Database, org_id: int, scope: Scope, scope_id: int, week: Week, *, now: datetime | None = None,
             renderer: Renderer | None = None, only_missing: bool = False) -> tuple[Report, bool]:
    """Compute the week's report and store it as a draft (a stored draft is recomputed, keeping its
    commentary). A published report is never changed: Conflict, or with ``only_missing`` the
    stored report is returned as it is (as is a stored draft). Returns the report and whether
    this call stored it."""
    if only_missing:
        known = find(db, org_id, scope, scope_id, week)
        if known is not None and not _outgrown(db, known, now):
            return known, False
    prev, prev_id = _previous(db, org_id, scope, scope_id, week)
    data = report_data.build(db, org_id, scope, scope_id, week, now=now, previous=prev, previous_id=prev_id)
    for attempt in (1, 2):
        try:
            return _store_draft(db, org_id, scope, scope_id, week, data, renderer, only_missing=only_missing)
        except IntegrityError:  # another writer inserted the week's row first (PostgreSQL)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store_draft(db: Database, org_id: int, scope: Scope, scope_id: int, week: Week, data: dict[str, Any],
                 renderer: Renderer | None, *, only_missing: bool) -> tuple[Report, bool]:
    with db.write() as conn:
        row = _row(conn, org_id, scope, scope_id, week, lock=True)
        # A draft of the running week, once that week is over, is recomputed even by a read.
        outgrown = (row is not None and row.status == "draft" and bool((row.data or {}).get("current_week"))
                    and not data.get("current_week"))
        if row is not None and only_missing and not outgrown:
            return _report(row), False
        if row is not None and row.status != "draft":
            raise errors.Conflict(f"report {row.id} ({scope} {scope_id}, {week.label}) is published: it never changes")
        commentary = row.commentary if row is not None else None
        values: dict[str, Any] = {
            "scope_name": data["scope_name"], "data": data, "generated_at": utcnow(), "status": "draft",
            "html": renderer.html(data, commentary=commentary, status="draft") if renderer else None,
            "pdf": renderer.pdf(data, commentary=commentary, status="draft") if renderer else None,
        }
        if row is None:
            report_id = conn.execute(sa.insert(SR).values(
                org_id=org_id, scope=scope, scope_id=scope_id, week_start=week.start, **values).returning(SR.c.id)
            ).scalar_one()
        else:
            report_id = row.id
            conn.execute(sa.update(SR).where(SR.c.id == report_id).values(**values))
        return _report(_by_id(conn, org_id, report_id)), True


def _outgrown(db: Database, report: Report, now: datetime | None) -> bool:
    """A draft generated while its week was running, now that the week is over (in the
    organization's zone): its figures are of a moment within the week, not of its end."""
    if report.status != "draft" or not report.data.get("current_week"):
        return False
    tz, _ = report_data.org_zone(db, report.org_id)
    return report.week_start < current_week(tz, now).start


def get_or_generate(db: Database, org_id: int, scope: Scope, scope_id: int, week: Week, *,
                    now: datetime | None = None, renderer: Renderer | None = None) -> Report:
    """The stored report of the week, or a new draft of it when none is stored."""
    return generate(db, org_id, scope, scope_id, week, now=now, renderer=renderer, only_missing=True)[0]


def set_commentary(db: Database, org_id: int, report_id: int, commentary: str | None, *,
                   renderer: Renderer | None = None) -> Report:
    """A draft's commentary (None or blank clears it); a published report: Conflict."""
    text = (commentary or "").strip() or None
    if text is not None and len(text) > COMMENTARY_MAX:
        reason = f"at most {COMMENTARY_MAX} characters ({len(text)} given)"
        raise errors.Invalid(f"commentary: {reason}", field="commentary", reason=reason)
    if text is not None:  # the API's rule for free text (service.schemas), for the page and the CLI too
        try:
            _LONG_TEXT.validate_python(text)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise errors.Invalid(f"commentary: {reason}", field="commentary", reason=reason) from None
    with db.write() as conn:
        row = _by_id(conn, org_id, report_id, lock=True)
        if row.status != "draft":
            raise errors.Conflict(f"report {report_id} is published: its commentary can no longer change")
        values: dict[str, Any] = {"commentary": text}
        if renderer is not None:
            values["html"] = renderer.html(row.data, commentary=text, status="draft")
            values["pdf"] = renderer.pdf(row.data, commentary=text, status="draft")
        conn.execute(sa.update(SR).where(SR.c.id == report_id).values(**values))
        return _report(_by_id(conn, org_id, report_id))


def publish(db: Database, org_id: int, report_id: int, *, by: str | None, renderer: Renderer,
            now: datetime | None = None) -> Report:
    """Render the final HTML and PDF, store them, mark the report published and emit
    ``report.ready``, in one transaction. Published already: Conflict (nothing is sent again)."""
    when = (now or utcnow()).astimezone(UTC)
    with db.write() as conn:
        row = _by_id(conn, org_id, report_id, lock=True)
        if row.status != "draft":
            raise errors.Conflict(f"report {report_id} is already published")
        html = renderer.html(row.data, commentary=row.commentary, status="published")
        pdf = renderer.pdf(row.data, commentary=row.commentary, status="published")
        conn.execute(sa.update(SR).where(SR.c.id == report_id, SR.c.status == "draft").values(
            status="published", html=html, pdf=pdf, published_at=when, published_by=by))
        report = _report(_by_id(conn, org_id, report_id))
        emit(conn, org_id, "report.ready", {
            "report_id": report.id, "scope": report.scope, "scope_id": report.scope_id,
            "scope_name": report.scope_name, "week": report.week, "week_start": report.week_start.isoformat(),
            "published_at": timestamp(when), "published_by": by, "links": report.links(),
        }, occurred_at=when, subject=f"report:{report.id}")
        return report


def rendered(report: Report, fmt: Format, renderer: Renderer) -> str | bytes:
    """The report's HTML or PDF: a published report's stored rendering, unchanged; a draft's
    stored one, or rendered now from its stored data when it has none (the weekly pass's drafts)."""
    stored = report.html if fmt == "html" else report.pdf
    if stored is not None:
        return stored
    if report.status != "draft":  # a published report always has both
        raise errors.Conflict(f"report {report.id} has no stored {fmt}")
    if fmt == "html":
        return renderer.html(report.data, commentary=report.commentary, status=report.status)
    return renderer.pdf(report.data, commentary=report.commentary, status=report.status)


def generate_many(db: Database, org_id: int, scopes: Sequence[tuple[Scope, int]], week: Week, *,
                  now: datetime | None = None) -> int:
    """Drafts for the scopes that have no report of the week yet (the weekly pass); how many were stored."""
    made = 0
    for scope, scope_id in scopes:
        try:
            _, stored = generate(db, org_id, scope, scope_id, week, now=now, only_missing=True)
        except errors.NotFound:  # deleted meanwhile
            continue
        made += stored
    return made
