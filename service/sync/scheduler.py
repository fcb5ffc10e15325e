"""Which sources are due for a poll; each poll runs under the source's lease."""

from __future__ import annotations

import logging
import threading
from typing import Any

from service.db import Database

log = logging.getLogger("taskhub.sync")


def poll_due_sources(db: Database, settings: Any, worker_id: str, stop: threading.Event) -> int:
    """Run an incremental sync for every enabled source whose interval has passed."""
    try:
        from service.sync.runner import due_sources, run_sync
    except ImportError:  # connectors not wired yet
        return 0
    n = 0
    for source_id in due_sources(db):
        if stop.is_set():
            break
        try:
            run_sync(db, settings, source_id, mode="incremental", owner=worker_id)
            n += 1
        except Exception:  # noqa: BLE001 - one failing source must not stop the others
            log.exception("sync.poll_failed source=%s", source_id)
    return n
