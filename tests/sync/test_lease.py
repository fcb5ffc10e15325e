"""The per-source sync lease: renewals are throttled, a takeover is always noticed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.sync.state import LeaseHeld, acquire_lease
from service.tables import SyncState
from tests.sync.conftest import register_jira, sync_settings

SS = SyncState.__table__


def _expires(db, source_id):
    with db.read() as c:
        return c.execute(sa.select(SS.c.lease_expires_at).where(SS.c.source_id == source_id,
                                                                 SS.c.stream == "lease")).scalar()


def test_renew_writes_once_per_interval_and_notices_a_takeover(db, tmp_path):
    _, source_id, _ = register_jira(db, sync_settings(tmp_path), "https://jira.invalid")
    lease = acquire_lease(db, source_id, "worker-a", ttl=300)
    assert lease is not None
    assert acquire_lease(db, source_id, "worker-b", ttl=300) is None  # held
    first = _expires(db, source_id)
    lease.renew()  # within a tenth of the ttl (at most 5 s) of the last write: nothing written
    assert _expires(db, source_id) == first
    lease._renewed -= 6  # as if 6 s had passed
    lease.renew()
    assert _expires(db, source_id) > first
    # Another worker took the lease over (only possible once it expired, i.e. after a gap
    # longer than the interval): the next renewal raises.
    with db.write() as c:
        c.execute(sa.update(SS).where(SS.c.source_id == source_id, SS.c.stream == "lease")
                  .values(lease_owner="worker-b"))
    lease._renewed -= 6
    with pytest.raises(LeaseHeld):
        lease.renew()
