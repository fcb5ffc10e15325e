"""Which sources are due for a poll; each poll runs under the source's lease."""

from __future__ import annotations

import logging
import threading
from typing import Any

from connectors.errors import ConnectorError
from service.db import Database
from service.sync.runner import SyncBusy, due_sources, run_sync
from service.sync.state import all_cursors

log = logging.getLogger("taskhub.sync")


def poll_due_sources(db: Database, settings: Any, worker_id: str, stop: threading.Event) -> int:
    """Run an incremental sync (a backfill the first time) for every source that is due."""
    n = 0
    for source_id in due_sources(db):
        if stop.is_set():
            break
        cursors = all_cursors(db, source_id)
        started = cursors.get("issues") or any(k.startswith("actions:") for k in cursors)
        mode = "incremental" if started else "backfill"
        try:
            run_sync(db, settings, source_id, mode=mode, owner=worker_id)
            n += 1
        except SyncBusy:
            continue
        except ConnectorError as exc:  # recorded on the run and the source already
            log.warning("sync.poll_failed source=%s %s: %s", source_id, exc.__class__.__name__, exc)
        except Exception:  # noqa: BLE001 - one failing source must not stop the others
            log.exception("sync.poll_failed source=%s", source_id)
    return n
