"""Which sources are due for a poll, and for a census; each run holds the source's lease.

A poll is due every ``poll_interval_seconds`` (an incremental sync; a backfill the first time).
The census — every stored item checked against the tool, so deletions and lost access that no
webhook announced are tombstoned — is due every ``census_interval_seconds`` (default a day,
0: never by itself) counted from the last census, or before the first from the source's
registration plus an offset of its own (so an upgrade does not census every source at once); a
failed census is tried again an hour later. Anyone may ask for a run (``POST
/api/v1/sources/{id}/sync`` with a mode, ``request_run``): the worker takes it at its next check,
within seconds.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from connectors.errors import ConnectorError
from service.db import Database
from service.sync.runner import SyncBusy, due_sources, run_sync
from service.sync.state import CENSUS_STREAM, all_cursors, clear_request, mark_ran, pending_request, stream_last_run
from service.tables import Source, utcnow

log = logging.getLogger("taskhub.sync")


CENSUS_RETRY = timedelta(hours=1)  # a failed census is tried again this soon (or at its interval if shorter)


def poll_due_sources(db: Database, settings: Any, worker_id: str, stop: threading.Event) -> int:
    """Run every due source's poll (or the run asked for), then its census when due. Returns the
    runs made. A request is cleared once served (failed runs included: they are on record) and kept
    when another worker holds the source: it runs the request after its own run."""
    n = 0
    for source_id in due_sources(db):
        if stop.is_set():
            break
        asked = pending_request(db, source_id)
        modes = [_poll_mode(db, source_id)] if asked in (None, "census") else [asked]
        if asked == "census" or _census_due(db, source_id):
            modes.append("census")
        busy = False
        for mode in modes:
            if stop.is_set():
                break
            try:
                run_sync(db, settings, source_id, mode=mode, owner=worker_id)
                n += 1
                continue
            except SyncBusy:
                busy = True
            except ConnectorError as exc:  # recorded on the run and the source already
                log.warning("sync.poll_failed source=%s mode=%s %s: %s", source_id, mode, exc.__class__.__name__, exc)
            except Exception:  # noqa: BLE001 - one failing source must not stop the others
                log.exception("sync.poll_failed source=%s mode=%s", source_id, mode)
            if mode == "census" and not busy:
                _defer_census(db, source_id)
            break
        if asked is not None and not busy:
            clear_request(db, source_id, asked)
    return n


def _poll_mode(db: Database, source_id: int) -> str:
    cursors = all_cursors(db, source_id)
    started = cursors.get("issues") or any(k.startswith("actions:") for k in cursors)
    return "incremental" if started else "backfill"


def _census_due(db: Database, source_id: int) -> bool:
    with db.session() as s:
        source = s.get(Source, source_id)
        if source is None or source.census_interval_seconds <= 0:
            return False
        interval = source.census_interval_seconds
        last = stream_last_run(db, source_id, CENSUS_STREAM)
        # Before its first census a source counts from its registration, each at its own offset
        # within the interval: an upgrade does not run every source's census on the first tick.
        since = last or source.created_at + timedelta(seconds=(source_id * 2654435761) % interval)
    return since + timedelta(seconds=interval) <= utcnow()


def _defer_census(db: Database, source_id: int) -> None:
    """A census that failed is due again in an hour (or its interval, if shorter), not at the next
    poll: its failure is on the run, and three in a row mark the source degraded."""
    with db.session() as s:
        source = s.get(Source, source_id)
        if source is None or source.census_interval_seconds <= 0:
            return
        interval = timedelta(seconds=source.census_interval_seconds)
    mark_ran(db, source_id, CENSUS_STREAM, at=utcnow() - interval + min(interval, CENSUS_RETRY))
