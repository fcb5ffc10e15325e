"""The worker loop: drain the inbox, poll sources that are due. Stops on an event."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from service.db import Database
from service.events.delivery import DeliveryLoop
from service.ingest.inbox import Handler, claim, process_batch
from service.outage import OutageMonitor, is_database_unavailable
from service.reports.schedule import weekly_pass
from service.state_events.transitions import date_pass
from service.webhook_registration import refresh_outdated

__all__ = ["Worker", "default_worker_id"]

log = logging.getLogger("taskhub.worker")
DATE_PASS_SECONDS = 60.0  # date-driven events fire within this of the date changing


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    # The longest wait between attempts while the database is down: a restarted store is used
    # again within this many seconds.
    MAX_BACKOFF = 5.0

    def __init__(self, db: Database, settings: Any, *, handlers: dict[str, Handler] | None = None,
                 worker_id: str | None = None, poll_sources: bool | None = None,
                 monitor: OutageMonitor | None = None) -> None:
        from service.ingest.handlers import HANDLERS

        self.db = db
        self.settings = settings
        self.handlers = handlers if handlers is not None else HANDLERS
        self.worker_id = worker_id or default_worker_id()
        self.poll_sources = settings.poll_sources if poll_sources is None else poll_sources
        self.stop_event = threading.Event()
        self.processed = 0
        self._next_poll_check = 0.0
        self._next_date_pass = 0.0
        # Shared with the app when in-process, so an outage is logged once for both.
        self.monitor = monitor or OutageMonitor(log)
        self._backoff = 0.0

    def run_once(self) -> int:
        """Claim and process one batch; returns how many events were claimed."""
        events = claim(self.db, self.worker_id, batch=self.settings.worker_batch,
                       lease_seconds=self.settings.worker_lease_seconds)
        if events:
            process_batch(self.db, self.settings, self.worker_id, events, self.handlers,
                          max_attempts=self.settings.worker_max_attempts)
            self.processed += len(events)
        return len(events)

    def run(self) -> None:
        log.info("worker.start id=%s db=%s", self.worker_id, self.db.dialect)
        # Outbound events go out from a loop and thread pool of their own (service.events.delivery):
        # a slow or dead subscriber never holds up the inbox, nor the inbox the events.
        deliveries = DeliveryLoop(self.db, self.settings, self.worker_id, self.stop_event).start_thread()
        # The date-driven passes too: an organization's daily evaluation or its weekly reports take
        # seconds to minutes (every project's views), which held the inbox on this loop.
        periodic = threading.Thread(target=self._periodic, name=f"taskhub-dates-{self.worker_id}", daemon=True)
        periodic.start()
        while not self.stop_event.is_set():
            try:
                n = self.run_once()
                self.monitor.recovered()
                self._backoff = 0.0
                if self.poll_sources and time.monotonic() >= self._next_poll_check:
                    self._next_poll_check = time.monotonic() + 5.0
                    self._poll_due_sources()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bad batch or a DB blip
                n = 0
                if is_database_unavailable(exc):
                    # Logged once per outage by the monitor; retried at 0.5, 1, 2, 4, 5, 5 ... s.
                    self.monitor.failed(exc, request=False)
                    self._backoff = min(max(self._backoff * 2, 0.5), self.MAX_BACKOFF)
                    self.stop_event.wait(self._backoff)
                    continue
                log.exception("worker.error")
                self.stop_event.wait(1.0)
            if n == 0:
                self.stop_event.wait(self.settings.worker_poll_interval)
        deliveries.join(timeout=15.0)  # in-flight sends end within their timeout
        periodic.join(timeout=15.0)
        log.info("worker.stop id=%s processed=%s", self.worker_id, self.processed)

    def _poll_due_sources(self) -> None:
        from service.sync.scheduler import poll_due_sources

        poll_due_sources(self.db, self.settings, self.worker_id, self.stop_event)

    def _periodic(self) -> None:
        """The date-driven passes' own loop (``_date_pass``), beside the inbox's: a database outage
        is reported by the shared monitor and retried with the inbox's backoff."""
        backoff = 0.0
        while not self.stop_event.is_set():
            try:
                self._date_pass()
                backoff = 0.0
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bad pass or a DB blip
                if is_database_unavailable(exc):
                    self.monitor.failed(exc, request=False)
                    backoff = min(max(backoff * 2, 0.5), self.MAX_BACKOFF)
                    self._next_date_pass = 0.0  # the pass did not happen: retried after the backoff
                    self.stop_event.wait(backoff)
                    continue
                log.exception("worker.date_pass_error")
                self._next_date_pass = time.monotonic() + DATE_PASS_SECONDS  # not again at once
            self.stop_event.wait(1.0)

    def _date_pass(self) -> None:
        """Every minute: milestones whose due date passed in their organization's zone fire
        ``milestone.overdue``, and each organization's day is evaluated once
        (``service.state_events.transitions.date_pass``); after Monday 06:00 in an organization's
        zone, last week's status reports are generated as drafts, once (``service.reports.schedule``);
        a Jira webhook registered with fewer events than taskhub maps now is registered again
        (``service.webhook_registration.refresh_outdated``: a cheap read unless one is outdated)."""
        if time.monotonic() < self._next_date_pass:
            return
        self._next_date_pass = time.monotonic() + DATE_PASS_SECONDS
        date_pass(self.db)
        weekly_pass(self.db)
        refresh_outdated(self.db, self.settings)

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run, name=f"taskhub-worker-{self.worker_id}", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        self.stop_event.set()
