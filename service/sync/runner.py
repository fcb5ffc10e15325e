"""Run a sync for one source: lease, run record, errors classified, source health.

Health (``source.status``, one value shown by the API, the CLI and the dashboard): ``ok``;
``failing`` from the first failed run, with the host and the cause of that first failure
in ``status_reason`` (later failures keep it: the first one is where things went wrong);
``degraded`` after three failed runs of one kind in a row; ``ok`` again after a success.

Connector-specific work lives in ``service/sync/<kind>.py``: a ``Syncer`` per kind, which
registers itself in ``SYNCERS`` (``register_syncer``) when its module is imported; the
package (``service/sync/__init__.py``) imports them. This module is the shared machinery
around a syncer and knows the connectors only through ``connectors.base.Connector``: the
imports go one way, tool modules -> runner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from connectors.base import Connector
from connectors.errors import ConnectorError, Fatal, NotFound, RateLimited, Transient, Unauthorized
from connectors.failure import describe_failure
from mappings.profile import MappingProfile, load_default_profile
from service.db import Database
from service.sources import SourceSecrets, source_secrets
from service.state_events.sources import emit_synced, is_quiet, quiet_run, set_health
from service.state_events.transitions import evaluate_source
from service.sync.state import (
    CENSUS_STREAM,
    REQUEST_STREAM,
    LeaseHeld,
    RunRecorder,
    acquire_lease,
    mark_ran,
)
from service.tables import Organization, Source, SyncRun, SyncState, stored_id, table, utcnow

__all__ = ["SyncContext", "Syncer", "SyncerFactory", "SYNCERS", "register_syncer", "SyncBusy", "run_sync",
           "due_sources", "source_profile"]

log = logging.getLogger("taskhub.sync")
Progress = Callable[[str, int, int | None], None]  # (phase, done, total or None)


class SyncBusy(Exception):
    """Another worker holds this source's lease."""


@dataclass
class SyncContext:
    db: Database
    settings: Any
    source: Source
    secrets: SourceSecrets
    profile: MappingProfile
    recorder: RunRecorder
    renew: Callable[[], None]
    progress: Progress = field(default=lambda phase, done, total: None)
    sleep: Callable[[float], None] = time.sleep
    org_timezone: str = "UTC"


class Syncer(Protocol):
    """One source's sync, built per run from its ``SyncContext``."""

    @property
    def client(self) -> Connector:
        """The connector the syncer reads through; the runner records its ``api_calls``."""
        ...

    def run(self, mode: str) -> None:
        """mode: backfill | incremental | census | full (backfill from scratch)."""


SyncerFactory = Callable[[SyncContext], Syncer]
SYNCERS: dict[str, SyncerFactory] = {}  # source kind -> syncer, filled by register_syncer


def register_syncer(kind: str, factory: SyncerFactory) -> None:
    """Make ``run_sync`` sync sources of ``kind`` with ``factory`` (called by the tool modules)."""
    SYNCERS[kind] = factory


def _run_syncer(ctx: SyncContext, mode: str) -> None:
    factory = SYNCERS.get(ctx.source.kind)
    if factory is None:
        raise Fatal(f"no syncer for source kind {ctx.source.kind!r} (known: {', '.join(sorted(SYNCERS))})")
    syncer = factory(ctx)
    start = syncer.client.api_calls
    try:
        syncer.run(mode)
    finally:
        ctx.recorder.api_calls += syncer.client.api_calls - start


def source_profile(source: Source, org_timezone: str = "UTC") -> MappingProfile:
    override = dict(source.mapping_profile or {})
    override.setdefault("timezone", org_timezone)
    return load_default_profile(override)


def run_sync(db: Database, settings: Any, source_id: int, *, mode: str = "incremental", owner: str = "cli",
             progress: Progress | None = None, sleep: Callable[[float], None] = time.sleep,
             lease_ttl: float = 300.0) -> RunRecorder:
    """Sync one source under its lease; returns the run record. Raises ``SyncBusy`` when leased."""
    with db.session() as s:
        source = s.get(Source, source_id)
        if source is None:
            raise NotFound(f"source {source_id} does not exist")
        org = s.get(Organization, source.org_id)
    lease = acquire_lease(db, source_id, owner, lease_ttl)
    if lease is None:
        raise SyncBusy(f"source {source_id} is being synced by another worker")
    recorder = RunRecorder(db, source.org_id, source_id, mode).start()
    org_tz = org.timezone if org else "UTC"
    ctx = SyncContext(db=db, settings=settings, source=source, secrets=source_secrets(settings, source),
                      profile=source_profile(source, org_tz), recorder=recorder, renew=lease.renew,
                      progress=progress or (lambda *_: None), sleep=sleep, org_timezone=org_tz)
    quiet = None
    first = is_quiet(db, source_id, "incremental")  # no successful run before: the first sync
    try:
        with quiet_run(db, source_id, mode) as quiet:  # a backfill: one source.synced, no task events
            _run_syncer(ctx, mode)
    except Unauthorized as exc:
        recorder.errors += 1
        recorder.finish("failed", f"unauthorized: {exc}")
        _record_failure(db, source, mode, _health_reason(exc, source))
        lease.release()
        raise
    except (RateLimited, Transient, NotFound, Fatal, ConnectorError, LeaseHeld) as exc:
        recorder.errors += 1
        recorder.finish("failed", f"{exc.__class__.__name__}: {exc}")
        _record_failure(db, source, mode, _health_reason(exc, source))
        lease.release(finished=not isinstance(exc, LeaseHeld))
        raise
    except BaseException as exc:
        recorder.errors += 1
        # Not a classified connector error: its text may quote what a tool answered (a value a
        # mapping could not read), and read tokens see the run's error. The caller (the scheduler's
        # log.exception, the CLI's stderr) shows the text to the operator.
        unexpected = f"{exc.__class__.__name__}: unexpected error during the sync (the server log has the details)"
        recorder.finish("failed", unexpected)
        if isinstance(exc, Exception):  # not an interrupt: the source did fail
            _record_failure(db, source, mode, unexpected)
        lease.release(finished=False)
        raise
    recorder.finish("ok")
    healthy = mode == "census" or not _failing(db, source_id, "census")  # a poll does not hide a failing census
    with db.write() as conn:
        if healthy:
            set_health(conn, source_id, "ok", None)
        # Milestone and budget transitions of the run; a first sync's states are recorded silently.
        evaluate_source(conn, source.org_id, source_id, silent=first)
        if quiet is not None:
            emit_synced(conn, source.org_id, source_id, recorder.id, mode, recorder.items_seen,
                        recorder.items_changed, quiet)
    if mode == "census":
        mark_ran(db, source_id, CENSUS_STREAM)  # the next scheduled census is an interval from now
    lease.release()
    log.info("sync.done source=%s mode=%s api_calls=%s seen=%s changed=%s", source_id, mode, recorder.api_calls,
             recorder.items_seen, recorder.items_changed)
    return recorder


def _failing(db: Database, source_id: int, mode: str) -> bool:
    """Whether the last three runs of ``mode`` failed."""
    SR = table(SyncRun)
    with db.read() as conn:
        last = conn.execute(sa.select(SR.c.status).where(SR.c.source_id == source_id, SR.c.mode == mode)
                            .order_by(SR.c.id.desc()).limit(3)).scalars().all()
    return len(last) == 3 and all(s == "failed" for s in last)


def _health_reason(exc: ConnectorError | LeaseHeld, source: Source) -> str:
    """``host: cause; the run's error`` (``jira.acme.test: connection refused; cannot connect…``)."""
    if isinstance(exc, ConnectorError):
        return f"{describe_failure(exc, source.base_url)}; {exc}"
    return f"{exc.__class__.__name__}: {exc}"


def _record_failure(db: Database, source: Source, mode: str, reason: str) -> None:
    """A failed run's mark on the source's health (see the module docstring).

    Three failed runs of one kind in a row mark the source degraded with the last reason (a
    census that keeps failing between successful polls counts too, and they do not clear it);
    before that the first failure marks it failing, and later ones keep that first reason."""
    source_id = stored_id(source)
    degraded = _failing(db, source_id, mode)
    with db.write() as conn:
        if degraded:
            what = "censuses" if mode == "census" else "syncs"
            set_health(conn, source_id, "degraded", f"3 failed {what} in a row; last: {reason}")
        else:  # only from ok: a failing source keeps its first failure's reason
            set_health(conn, source_id, "failing", reason, only_from=("ok",))
    # The pages committed before the failure moved figures too: their milestone and budget
    # transitions now, not at the next run, batch or day. Never in place of the run's own error.
    try:
        with db.write() as conn:
            evaluate_source(conn, source.org_id, source_id)
    except Exception:  # noqa: BLE001 - the run's error is what the caller raises
        log.exception("sync.evaluate_failed source=%s", source_id)


def due_sources(db: Database) -> list[int]:
    """Enabled sources that nobody holds and whose poll interval has passed since their last
    finished run, or that someone asked to run (``state.request_run``)."""
    S, SS = table(Source), table(SyncState)
    RQ = SS.alias("rq")
    now = utcnow()
    with db.read() as conn:
        rows = conn.execute(
            sa.select(S.c.id, S.c.poll_interval_seconds, SS.c.last_run_at, SS.c.lease_owner, SS.c.lease_expires_at,
                      RQ.c.cursor.label("asked"))
            .select_from(S.outerjoin(SS, sa.and_(SS.c.source_id == S.c.id, SS.c.stream == "lease"))
                         .outerjoin(RQ, sa.and_(RQ.c.source_id == S.c.id, RQ.c.stream == REQUEST_STREAM)))
            .where(S.c.enabled.is_(True)).order_by(S.c.id)
        ).all()
    due = []
    for r in rows:
        if r.lease_owner is not None and r.lease_expires_at and r.lease_expires_at > now:
            continue
        if (r.asked is not None or r.last_run_at is None
                or r.last_run_at + timedelta(seconds=r.poll_interval_seconds) <= now):
            due.append(r.id)
    return due
