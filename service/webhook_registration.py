"""Webhooks registered for the user, their recorded state, the ping, removal (issue 21).

``reconcile`` makes the tool's webhooks match the source: one per Trello board in scope, one
admin webhook for a Jira site (``service.webhook_tools``). It registers what is missing or
failed, re-registers a webhook whose callback URL changed, and removes those of boards the
scope dropped. Each outcome is a ``webhook_registration`` row the API shows.

It runs inside the API request that created or re-scoped the source, not in the worker, so
the person setting up a source gets the result in the same answer: registered, or Jira's 403
with what to paste by hand, or the reason Trello refused. That is bounded: each request has
a 5 s timeout and one attempt, and one reconcile stops starting new requests after
``BUDGET_SECONDS``; the targets left are ``pending`` and ``POST …/webhooks/register``
continues. No database transaction is open while a tool is called (SQLite would hold its
write lock): rows are read, the tools called, then the outcomes written in one short
transaction.

The ping (``ping``) cannot make a tool send a harmless event on demand — neither has a test
delivery. What it does: Trello, a handshake that makes Trello reach the callback URL now
(``TrelloWebhooks.check``) and Trello's own failure count; Jira, a check that the webhook is
still registered and enabled. It records the time, and a delivery accepted after it (stored
in the inbox, so its signature verified) is shown as ``delivery_confirmed_at``: that is the
end-to-end proof, and it arrives with the next change in scope.

A registration records the Jira events it asked for (``events``, migration 0028). When the events
taskhub maps grow (issue 23 added ``issuelink_created``/``issuelink_deleted``), a registered
webhook lacking some is ``outdated`` (``outdated``): ``reconcile`` registers it again, new first
and then the old one removed, so a refusal (a lost admin right, a timeout) leaves the old webhook
delivering; a change sent by both in between (well under a second) is stored once when its
bodies are byte-identical (the inbox's replay guard). The worker's periodic pass
(``refresh_outdated``) does it without anyone asking, for the URL the webhook was registered with:
no other place runs unattended, and ``taskhub apply`` or a dashboard click would wait for an admin.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors.errors import ConnectorError
from service import errors
from service.db import Database
from service.settings import Settings
from service.sources import source_secrets, webhook_url
from service.tables import InboxEvent, Source, WebhookRegistration, stored_id, table, utcnow
from service.webhook_schemas import (
    JiraWebhookPaste,
    SourceWebhooks,
    SourceWebhookSummary,
    WebhookPing,
    WebhookRegistrationPublic,
)
from service.webhook_tools import (
    JIRA_SITE,
    JIRA_WEBHOOK_PAGE,
    JiraWebhooks,
    ToolWebhooks,
    jira_events,
    jira_jql,
    tool_for,
    webhook_name,
)

__all__ = [
    "BUDGET_SECONDS",
    "Outcome",
    "delivery_after",
    "last_delivery",
    "outdated",
    "ping",
    "reconcile",
    "refresh_outdated",
    "scope_changed",
    "status",
    "summary",
    "paste",
    "registrations",
    "remove_all",
]

log = logging.getLogger("taskhub.webhooks.registration")
BUDGET_SECONDS = 20.0  # a reconcile starts no request after this; the rest stay pending
IE = table(InboxEvent)
Clock = Callable[[], float]


@dataclass
class Outcome:
    """What happened to one target: the row's new state (``None``: the row goes away)."""

    target: str
    state: str | None
    remote_id: str | None = None
    detail: str | None = None
    registered: bool = False
    events: list[str] | None = None  # the Jira events registered, or shown to paste


def registrations(session: Session, source_id: int) -> list[WebhookRegistration]:
    rows = session.exec(select(WebhookRegistration).where(WebhookRegistration.source_id == source_id)
                        .order_by(col(WebhookRegistration.id)))
    return list(rows)


def _load(db: Database, source_id: int) -> tuple[Source, dict[str, WebhookRegistration]]:
    with db.session() as s:
        source = s.get(Source, source_id)
        if source is None:
            raise LookupError(f"source {source_id} not found")
        rows = {r.target: r for r in registrations(s, source_id)}
    return source, rows


def _tool(settings: Settings, source: Source) -> ToolWebhooks:
    found = source_secrets(settings, source)
    if not found.credentials:  # a source stored without them: nothing can call the tool
        raise errors.Conflict(f"source {source.id} has no stored credentials: set them (PATCH the source) "
                              "before registering, pinging or removing its webhooks")
    return tool_for(settings, source, found)


_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _source_lock(source_id: int) -> threading.Lock:
    """One reconcile of a source at a time in this process: two at once (a double click, the
    API and the dashboard) both saw no webhook, both registered one, and the one not recorded
    stayed in the tool, delivering every change twice and surviving the source's deletion."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(source_id, threading.Lock())


# A lease outlives the longest reconcile: the budget plus one request's timeout, with margin. A
# process killed mid-reconcile leaves its lease to expire.
LEASE_SECONDS = 60.0
LEASE_POLL_SECONDS = 0.2
SRC = table(Source)


@contextmanager
def _lease(db: Database, source_id: int, *, wait: float, clock: Clock) -> Iterator[None]:
    """The source's registration lease (``source.webhook_lease_*``): one reconcile or removal of a
    source's webhooks at a time across processes — ``taskhub apply`` beside ``taskhub serve`` both
    saw no webhook and both registered one. A short conditional UPDATE takes it, so no transaction
    stays open while the tool is called; another holder is waited for up to ``wait`` seconds, then
    a ``Conflict``."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:100]
    give_up = clock() + wait
    while True:
        now = utcnow()
        with db.write() as conn:
            taken = conn.execute(
                sa.update(SRC).where(SRC.c.id == source_id, sa.or_(
                    SRC.c.webhook_lease_until.is_(None), SRC.c.webhook_lease_until < now))
                .values(webhook_lease_owner=owner, webhook_lease_until=now + timedelta(seconds=LEASE_SECONDS))
            ).rowcount
        if taken:
            break
        with db.read() as conn:  # not taken: held elsewhere, or no such source (deleted meanwhile)
            if conn.execute(sa.select(SRC.c.id).where(SRC.c.id == source_id)).first() is None:
                raise errors.NotFound(f"source {source_id} not found")
        if clock() > give_up:
            raise errors.Conflict(f"the webhooks of source {source_id} are being registered by another "
                                  "process (taskhub apply, serve or the dashboard); try again in a minute")
        time.sleep(LEASE_POLL_SECONDS)
    try:
        yield
    finally:
        with db.write() as conn:
            conn.execute(sa.update(SRC).where(SRC.c.id == source_id, SRC.c.webhook_lease_owner == owner)
                         .values(webhook_lease_owner=None, webhook_lease_until=None))


def reconcile(db: Database, settings: Settings, source_id: int, *, replace: bool = False,
              clock: Clock = time.monotonic) -> None:
    """Make the tool's webhooks match the source (see the module's docstring) and record it.

    ``replace``: registered webhooks are replaced too (a Jira webhook's JQL follows the scope).
    One at a time per source: within a process (``_source_lock``) and across processes (the
    source's lease, ``_lease``); the rows are read under both."""
    with _source_lock(source_id), _lease(db, source_id, wait=LEASE_SECONDS, clock=time.monotonic):
        _reconcile(db, settings, source_id, replace=replace, clock=clock)


def wanted_events(source: Source) -> list[str] | None:
    """The events taskhub registers for the source now: Jira's the handler maps; None for Trello,
    whose webhooks deliver everything on their board."""
    return jira_events(source.deployment) if source.kind == "jira" else None


def outdated(source: Source, row: WebhookRegistration) -> str | None:
    """Why a registered (or pasted) Jira webhook lacks events taskhub maps now; None if it has them
    all, or is neither registered nor pasted."""
    want = wanted_events(source)
    if want is None or row.state not in ("registered", "manual"):
        return None
    if row.events is None:
        return None if row.state == "manual" else (
            "outdated: its events were not recorded (registered before taskhub kept them): registered "
            "again with the current ones")
    missing = [e for e in want if e not in set(row.events)]
    if not missing:
        return None
    if row.state == "manual":
        return "outdated: also tick " + ", ".join(missing) + " on Jira's WebHooks page"
    return "outdated: missing " + ", ".join(missing)


# A failed re-registration of an outdated webhook is tried again by the periodic pass after this.
REFRESH_RETRY_SECONDS = 3600.0


def refresh_outdated(db: Database, settings: Settings, *, clock: Clock = time.monotonic) -> list[int]:
    """The worker's periodic pass: every enabled Jira source with a registered webhook that is
    ``outdated`` (and not tried in the last ``REFRESH_RETRY_SECONDS``) has it registered again with
    the current events (``_refresh``), for the URL it was registered with: a ``taskhub worker`` of
    its own may run without ``PUBLIC_BASE_URL`` and would build another. A webhook it replaced but
    could not remove (``remove_failed``) is removed again at the same pace. Nothing else of a
    reconcile (a changed URL, boards) is done here. A source whose lease another process holds
    is left to the next pass (no wait), one deleted meanwhile skipped; one without stored
    credentials says so on its registration. The ids done."""
    cutoff = utcnow() - timedelta(seconds=REFRESH_RETRY_SECONDS)
    with db.session() as s:
        found = s.exec(select(WebhookRegistration, Source)
                       .join(Source, col(Source.id) == col(WebhookRegistration.source_id))
                       .where(Source.kind == "jira", col(Source.enabled).is_(True),
                              col(WebhookRegistration.state).in_(("registered", "remove_failed")),
                              col(WebhookRegistration.updated_at) <= cutoff))
        due = sorted({stored_id(src) for row, src in found if _due(src, row, cutoff)})
    done = []
    for source_id in due:
        try:
            with _source_lock(source_id), _lease(db, source_id, wait=0.0, clock=clock):
                _refresh_source(db, settings, source_id, cutoff)
        except (errors.Conflict, errors.NotFound, LookupError) as exc:
            log.info("webhook.refresh_skipped source=%s cause=%s", source_id, exc)
            continue
        done.append(source_id)
    return done


def _due(source: Source, row: WebhookRegistration, cutoff: datetime) -> bool:
    """Whether the periodic pass acts on ``row``: an outdated registered webhook, or one left to
    remove, not written since ``cutoff`` (a failure waits ``REFRESH_RETRY_SECONDS``, in every
    process: the time is the row's)."""
    if _aware(row.updated_at) > cutoff:
        return False
    return row.state == "remove_failed" or (row.state == "registered" and outdated(source, row) is not None)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite's are naive (UTC)


def _refresh_source(db: Database, settings: Settings, source_id: int, cutoff: datetime) -> None:
    """Under the source's lock and lease: its outdated registered webhooks registered again, each
    for its own recorded URL, and the webhooks they replaced but could not remove removed again
    (rows read again, and due again: another process may have done or tried it meanwhile)."""
    source, rows = _load(db, source_id)
    if not source.enabled:
        return
    due = [r for r in rows.values() if _due(source, r, cutoff)]
    if not due:
        return
    try:
        tool = _tool(settings, source)
    except errors.Conflict as exc:  # no stored credentials: said on the row, tried again in an hour
        for row in due:
            why, what = ((outdated(source, row), "registered") if row.state == "registered"
                         else (f"the webhook {row.remote_id} it replaced is still in Jira", "removed"))
            _store(db, source_id, row.callback_url, [Outcome(
                row.target, row.state, remote_id=row.remote_id, events=row.events,
                detail=f"{why}; not {what} again: {exc}")])
        return
    known = {r.remote_id for r in rows.values() if r.remote_id}
    for row in due:
        if row.state == "remove_failed":
            _store(db, source_id, row.callback_url, [_drop(tool, row)])
        else:
            _store(db, source_id, row.callback_url, _refresh(tool, source, row, row.callback_url, known))


def _reconcile(db: Database, settings: Settings, source_id: int, *, replace: bool, clock: Clock) -> None:
    source, rows = _load(db, source_id)
    url = webhook_url(settings, source)
    tool = _tool(settings, source)
    try:
        wanted = tool.targets()
    except ConnectorError as exc:  # the token's boards could not be listed
        _store(db, source_id, url, [Outcome("boards", "failed", detail=f"could not list the boards: {exc}")])
        return
    deadline = clock() + BUDGET_SECONDS
    outcomes = [_drop(tool, row) for target, row in rows.items() if target not in wanted]
    events = wanted_events(source)
    for target in wanted:
        row = rows.get(target)
        current = row is not None and row.state == "registered" and row.callback_url == url and not replace
        if current and row is not None and outdated(source, row) is None:
            continue
        if clock() > deadline:  # a webhook registered before keeps its id, to be replaced later
            outcomes.append(Outcome(target, "pending", remote_id=row.remote_id if row else None, detail=(
                f"not tried: one request registers for at most {BUDGET_SECONDS:.0f} s; "
                "POST …/webhooks/register continues"), events=row.events if row else None))
            continue
        if current and row is not None:  # registered, but without events taskhub maps now
            outcomes.extend(_refresh(tool, source, row, url, {r.remote_id for r in rows.values() if r.remote_id}))
            continue
        if row is not None and row.remote_id:  # registered for an old URL: replace it
            _try_remove(tool, row)
        outcomes.append(_register(tool, target, url, events))
    _store(db, source_id, url, outcomes)


def _refresh(tool: ToolWebhooks, source: Source, row: WebhookRegistration, url: str,
             known: set[str]) -> list[Outcome]:
    """An outdated webhook registered again: the new one first, then the old one removed, so a
    refusal leaves the old one delivering (still outdated, tried again later). An old one that
    could not be removed is kept as a ``remove_failed`` row of its own (``replaced_target``), so
    the periodic pass, ``POST …/webhooks/register`` and the source's deletion remove it later.
    Before registering, this source's webhooks in Jira that no row records (``known``) are removed:
    one registered by a refresh that died before recording it would otherwise deliver every change
    twice for good, and survive the source's deletion."""
    why = outdated(source, row)
    _remove_strays(tool, source, url, known)
    new = _register(tool, row.target, url, wanted_events(source))
    if new.state != "registered":
        return [Outcome(row.target, "registered", remote_id=row.remote_id, events=row.events, detail=(
            f"{why}; registering it again failed: {new.detail} The old webhook still delivers; the "
            "worker tries again within the hour."))]
    log.info("webhook.refreshed kind=%s target=%s old=%s new=%s", tool.kind, row.target, row.remote_id,
             new.remote_id)
    cause = _try_remove(tool, row)
    if cause is None:
        return [new]
    new.detail = (f"registered again with the current events; removing the old webhook {row.remote_id} "
                  "failed: see the row of the webhook it replaced")
    return [new, Outcome(replaced_target(row), "remove_failed", remote_id=row.remote_id, detail=(
        f"the webhook {row.remote_id} registered before this one (outdated) could not be removed: {cause}. "
        f"The worker tries again within the hour (or POST …/webhooks/register, or delete it in {tool.kind}); "
        "until then a change is sent by both."))]


def replaced_target(row: WebhookRegistration) -> str:
    """The row of a webhook that an outdated one's replacement could not remove."""
    return f"{row.target} (replaced {row.remote_id})"[:100]


def _remove_strays(tool: ToolWebhooks, source: Source, url: str, known: set[str]) -> None:
    """Remove this source's Jira webhooks for ``url`` (named by ``webhook_name``, whatever the
    source was called then) that no row records: left by a registration that died before it was
    recorded. Best effort: a failure to list or remove is logged and the refresh goes on."""
    if not isinstance(tool, JiraWebhooks):
        return
    mine = re.compile(r"taskhub: .* \(source " + re.escape(str(stored_id(source))) + r"\)", re.DOTALL)
    try:
        found = tool.client.webhooks()
    except ConnectorError as exc:
        log.warning("webhook.list_failed kind=jira source=%s cause=%s", stored_id(source), exc)
        return
    for hook in found:
        remote_id = str(hook.get("self", "")).rstrip("/").rsplit("/", 1)[-1]
        if (remote_id and remote_id not in known and hook.get("url") == url
                and mine.fullmatch(str(hook.get("name") or ""))):
            log.warning("webhook.stray kind=jira source=%s remote_id=%s: not recorded, removed", stored_id(source),
                        remote_id)
            try:
                tool.remove(remote_id)
            except ConnectorError as exc:
                log.warning("webhook.remove_failed kind=jira remote_id=%s cause=%s", remote_id, exc)


def scope_changed(db: Database, settings: Settings, source_id: int) -> None:
    """After a change of scope or credentials: boards added or dropped; a Jira webhook is
    registered again because its JQL filter is the scope's. Only for a source whose webhooks
    taskhub registers: one created with ``register_webhooks=false`` has none, the user keeps them."""
    source, rows = _load(db, source_id)
    if rows:
        reconcile(db, settings, source_id, replace=source.kind == "jira")


def _register(tool: ToolWebhooks, target: str, url: str, events: list[str] | None) -> Outcome:
    """Register one target; ``events`` is recorded with it (for a Jira paste by hand too)."""
    try:
        remote_id = tool.register(target, url)
    except ConnectorError as exc:
        state, detail = tool.refusal(exc, url)
        log.warning("webhook.register_failed kind=%s target=%s state=%s cause=%s", tool.kind, target, state, exc)
        return Outcome(target, state, detail=detail, events=events if state == "manual" else None)
    log.info("webhook.registered kind=%s target=%s remote_id=%s", tool.kind, target, remote_id)
    return Outcome(target, "registered", remote_id=remote_id, registered=True, events=events)


def _try_remove(tool: ToolWebhooks, row: WebhookRegistration) -> str | None:
    """Remove the tool's webhook of ``row``; the reason when that failed (logged), else None."""
    if not row.remote_id:
        return None
    try:
        tool.remove(row.remote_id)
    except ConnectorError as exc:
        if exc.status == 404:  # already gone in the tool
            return None
        log.warning("webhook.remove_failed kind=%s target=%s remote_id=%s cause=%s: delete it in %s by hand",
                    tool.kind, row.target, row.remote_id, exc, tool.kind)
        return str(exc)
    log.info("webhook.removed kind=%s target=%s remote_id=%s", tool.kind, row.target, row.remote_id)
    return None


def _drop(tool: ToolWebhooks, row: WebhookRegistration) -> Outcome:
    """A target the scope no longer has: its webhook goes; kept as ``remove_failed`` if it stays."""
    cause = _try_remove(tool, row)
    if cause is None:
        return Outcome(row.target, None)
    return Outcome(row.target, "remove_failed", remote_id=row.remote_id, detail=(
        f"out of scope, but removing webhook {row.remote_id} failed: {cause}. "
        "POST …/webhooks/register tries again, or delete it in the tool"))


def _store(db: Database, source_id: int, url: str, outcomes: list[Outcome]) -> None:
    now = utcnow()
    with db.session() as s:
        rows = {r.target: r for r in registrations(s, source_id)}
        for o in outcomes:
            row = rows.get(o.target)
            if o.state is None:
                if row is not None:
                    s.delete(row)
                continue
            if row is None:
                row = WebhookRegistration(source_id=source_id, target=o.target, state=o.state, callback_url=url)
            row.state, row.remote_id, row.detail, row.callback_url, row.updated_at, row.events = (
                o.state, o.remote_id, o.detail, url, now, o.events)
            if o.registered:
                row.registered_at = now
            s.add(row)
        s.commit()


def remove_all(db: Database, settings: Settings, source_id: int) -> list[Outcome]:
    """Best effort before a source is deleted: remove each of its webhooks from the tool.

    The rows go with the source, so the outcome is logged (``webhook.removed`` /
    ``webhook.remove_failed`` naming the tool's webhook id to delete by hand) and returned. Waits
    for a reconcile running elsewhere (its lease), so a webhook it registers is removed too."""
    with _source_lock(source_id), _lease(db, source_id, wait=LEASE_SECONDS, clock=time.monotonic):
        return _remove_all(db, settings, source_id)


def _remove_all(db: Database, settings: Settings, source_id: int) -> list[Outcome]:
    source, rows = _load(db, source_id)
    if not any(r.remote_id for r in rows.values()):
        return []
    try:
        tool = _tool(settings, source)
    except errors.Conflict as exc:  # never blocks the delete: each webhook is named to remove by hand
        left = [r for r in rows.values() if r.remote_id]
        for r in left:
            log.warning("webhook.remove_failed kind=%s target=%s remote_id=%s cause=%s: delete it in %s by hand",
                        source.kind, r.target, r.remote_id, exc, source.kind)
        return [Outcome(r.target, "remove_failed", remote_id=r.remote_id, detail=str(exc)) for r in left]
    outcomes = []
    for row in rows.values():
        cause = _try_remove(tool, row)
        outcomes.append(Outcome(row.target, "removed" if cause is None else "remove_failed",
                                remote_id=row.remote_id, detail=cause))
    return outcomes


def ping(db: Database, settings: Settings, source_id: int) -> None:
    """Check each registered webhook with the tool now (see the module's docstring) and record the
    time: a delivery accepted after it confirms delivery end to end."""
    source, rows = _load(db, source_id)
    url = webhook_url(settings, source)
    tool = _tool(settings, source)
    results: dict[str, str] = {}
    for target, row in rows.items():
        if row.state == "manual" and source.kind == "jira":
            results[target] = ("registered by hand: taskhub cannot read Jira's webhooks without admin rights; "
                               "waiting for the next delivery")
            continue
        if row.state != "registered":
            results[target] = f"not registered ({row.state}): POST …/webhooks/register first"
            continue
        try:
            results[target] = tool.check(target, row.remote_id, url)
        except ConnectorError as exc:
            state, detail = tool.refusal(exc, url)
            results[target] = f"the check failed: {detail}"
    now = utcnow()
    with db.session() as s:
        for row in registrations(s, source_id):
            if row.target in results:
                row.ping_at, row.ping_detail = now, results[row.target]
                s.add(row)
        s.commit()


def last_delivery(session: Session, source_id: int) -> datetime | None:
    """When the latest delivery from the tool was accepted (verified and stored in the inbox)."""
    return session.exec(sa.select(sa.func.max(IE.c.received_at)).where(IE.c.source_id == source_id)).scalar()  # type: ignore[call-overload]


def delivery_after(session: Session, source_id: int, at: datetime) -> datetime | None:
    """The first delivery accepted at or after ``at`` (a ping's end-to-end confirmation)."""
    return session.exec(sa.select(sa.func.min(IE.c.received_at))  # type: ignore[call-overload]
                        .where(IE.c.source_id == source_id, IE.c.received_at >= at)).scalar()


# --- the API's view ------------------------------------------------------------------------

PING_HOW = {
    "trello": (
        "Trello has no test delivery. The ping creates a throw-away webhook on the callback URL (with a "
        "?taskhub_ping= query) and deletes it at once: Trello creates one only after its HEAD to taskhub "
        "answered 200, so it proves Trello reaches taskhub now; it also reads Trello's count of failed "
        "deliveries of each webhook. A delivery accepted after the ping (the next change on a board) "
        "confirms delivery end to end, signature included."),
    "jira": (
        "Jira has no test delivery for admin webhooks. The ping checks through REST that the webhook is "
        "still registered, enabled and pointed at taskhub (not possible for one pasted by hand without "
        "admin rights). A delivery accepted after the ping (the next change in scope, e.g. an issue "
        "edited) confirms delivery end to end, signature included."),
}


def _overall(source: Source, rows: list[WebhookRegistration]) -> str:
    states = {r.state for r in rows}
    if not rows:
        return "none"
    if states == {"registered"}:
        return "outdated" if any(outdated(source, r) for r in rows) else "registered"
    for state in ("manual", "pending"):
        if state in states:
            return state
    return "partial" if "registered" in states else "failed"


def summary(session: Session, source: Source) -> SourceWebhookSummary:
    rows = registrations(session, stored_id(source))
    why = next((w for w in (outdated(source, r) for r in rows) if w), None)
    return SourceWebhookSummary(state=_overall(source, rows), outdated=why,
                                registered=sum(r.state == "registered" for r in rows),
                                total=len(rows), last_delivery_at=last_delivery(session, stored_id(source)))


def paste(settings: Settings, source: Source, secret: str | None = None) -> JiraWebhookPaste:
    """What to enter on Jira's WebHooks page; ``secret`` only where the API shows it anyway."""
    note = None if secret else ("the webhook secret shown when the source was created; lost: rotate it "
                                "(POST /api/v1/sources/{id}/webhook-secret/rotate) and paste the new one")
    return JiraWebhookPaste(page=JIRA_WEBHOOK_PAGE, name=webhook_name(source), url=webhook_url(settings, source),
                            secret=secret, secret_note=note, events=jira_events(source.deployment),
                            jql=jira_jql(source.scope))


def status(session: Session, settings: Settings, source: Source, *, secret: str | None = None) -> SourceWebhooks:
    """The source's webhooks as the API shows them (``secret``: see ``paste``)."""
    source_id = stored_id(source)
    rows = registrations(session, source_id)
    base = summary(session, source)
    site = next((r for r in rows if r.target == JIRA_SITE), None)
    show_paste = source.kind == "jira" and (site is None or site.state != "registered")
    pinged = [r.ping_at for r in rows if r.ping_at is not None]
    ping_view = None
    if pinged:
        at = max(pinged)
        ping_view = WebhookPing(at=at, how=PING_HOW[source.kind],
                                delivery_confirmed_at=delivery_after(session, source_id, at))
    return SourceWebhooks(
        **base.model_dump(), source_id=source_id, callback_url=webhook_url(settings, source),
        registrations=[WebhookRegistrationPublic.model_validate(r, from_attributes=True)
                       .model_copy(update={"outdated": outdated(source, r)}) for r in rows],
        paste=paste(settings, source, secret) if show_paste else None, ping=ping_view)
