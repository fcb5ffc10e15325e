"""A worker process for the inbox tests: applies each event by writing one marker change row.

``python -m tests.service.inbox_proc URL WORKER_ID LEASE_SECONDS DELAY`` — the marker
row is unique per application (not per event), so a double application shows up
as two rows for one event. It exits once no event is left to process, or after
LEASE_SECONDS + 3 s in which it found nothing to claim.
"""

from __future__ import annotations

import sys
import time
import uuid

import sqlalchemy as sa
from cryptography.fernet import Fernet

from mappings.model import Change
from service.db import Database
from service.ingest.inbox import ClaimedEvent, Outcome
from service.settings import Settings
from service.tables import InboxEvent, utcnow
from service.worker import Worker

IE = InboxEvent.__table__


def applied(ev: ClaimedEvent) -> Outcome:
    """Done, with one change row (task ``ev<id>``, field ``applied``) unique to this application:
    an event applied twice leaves two."""
    marker = Change(task_external_id=f"ev{ev.id}", external_id=uuid.uuid4().hex, field="applied",
                    changed_at=utcnow())
    return Outcome(status="done", changes=[marker])


def counting_handler(delay: float):  # type: ignore[no-untyped-def]
    def handle(ctx, events):  # type: ignore[no-untyped-def]
        time.sleep(delay * len(events))
        return [applied(ev) for ev in events]

    return handle


def drained(db: Database) -> bool:
    """No event is pending, failed (to be retried) or held by a worker."""
    with db.read() as c:
        left = c.execute(sa.select(IE.c.id).where(IE.c.status.in_(("pending", "failed", "processing"))).limit(1))
        return left.first() is None


def main() -> None:
    url, worker_id, lease, delay = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    settings = Settings(database_url=url, secret_key=Fernet.generate_key().decode(), worker_batch=50,
                        worker_lease_seconds=lease, worker_poll_interval=0.05, poll_sources=False,
                        _env_file=None)  # type: ignore[call-arg]
    db = Database(settings.effective_database_url)
    w = Worker(db, settings, handlers={"jira": counting_handler(delay)}, worker_id=worker_id, poll_sources=False)
    idle_since = None
    while True:
        n = w.run_once()
        if n:
            idle_since = None
            continue
        if drained(db):  # every event done: nothing is left for any worker (a killed one's batch included)
            break
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > lease + 3:  # events left that nobody can claim: give up
            break
        time.sleep(0.05)
    print(f"{worker_id} processed {w.processed}", flush=True)


if __name__ == "__main__":
    main()
