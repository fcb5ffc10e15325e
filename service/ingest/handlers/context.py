"""What a webhook handler needs to build a vendor client the way a sync does."""

from __future__ import annotations

from service.ingest.inbox import HandlerContext
from service.sources import source_secrets
from service.sync.runner import SyncContext, source_profile
from service.sync.state import RunRecorder
from service.tables import stored_id

__all__ = ["client_context"]


def client_context(ctx: HandlerContext) -> SyncContext:
    """A ``SyncContext`` for ``make_jira_client`` / ``make_trello_client`` in a webhook batch: the
    source's secrets and profile. A batch is not a sync run: its recorder is never started (no
    ``sync_run`` row is written), and there is no lease to renew."""
    source = ctx.source
    return SyncContext(
        db=ctx.db,
        settings=ctx.settings,
        source=source,
        secrets=source_secrets(ctx.settings, source),
        profile=source_profile(source),
        recorder=RunRecorder(ctx.db, source.org_id, stored_id(source), "webhook"),
        renew=lambda: None,
    )
