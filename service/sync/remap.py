"""Re-apply the current mapping profile to stored raw JSON, without calling the tools.

After a mapping-profile change (a list now means "done", a custom field renamed),
``taskhub remap SOURCE`` re-maps every stored task of the source from the raw
vendor JSON kept beside it, page by page, through the same guarded upserts. On a Jira
source it then re-categorizes the stored status transitions under the cached status
catalogue and the profile's ``status_overrides`` (and recomputes the times they imply).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mappings.model import Effect
from service import store
from service.db import Database
from service.events.task_events import quiet_source
from service.state_events.sources import emit_synced
from service.tables import Organization, Source, Task, stored_id, table

if TYPE_CHECKING:
    from mappings.profile import MappingProfile

__all__ = ["remap_source"]

PAGE = 500


def remap_source(db: Database, source_id: int, *, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    with db.session() as s:
        source = s.get(Source, source_id)
        if source is None:
            raise LookupError(f"source {source_id} does not exist")
        org = s.get(Organization, source.org_id)
    from service.sync.runner import source_profile

    profile = source_profile(source, org.timezone if org else "UTC")
    mapper = _jira_mapper(source, profile) if source.kind == "jira" else _trello_mapper(db, source, profile)
    T = table(Task)
    last_id, seen, changed, skipped = 0, 0, 0, 0
    # A remap re-reads what taskhub already holds: like a backfill it sends no per-task event,
    # one source.synced (mode "remap") with the counts instead, or automations get a storm.
    with quiet_source(source_id) as counts:
        while True:
            with db.read() as conn:
                rows = conn.execute(sa.select(T.c.id, T.c.raw).where(
                    T.c.source_id == source_id, T.c.id > last_id, T.c.raw.is_not(None), T.c.deleted_at.is_(None))
                    .order_by(T.c.id).limit(PAGE)).all()
            if not rows:
                break
            last_id = rows[-1].id
            effects: list[Effect] = []
            for r in rows:
                try:
                    effects.extend(mapper(r.raw))
                except ValueError:
                    skipped += 1
            with db.write() as conn:
                stats = store.apply_effects(conn, source.org_id, source_id, effects)
            seen += len(rows)
            changed += stats.changed
            if progress:
                progress(seen)
    with db.write() as conn:
        emit_synced(conn, source.org_id, source_id, None, "remap", seen, changed, counts)
    out = {"tasks": seen, "changed": changed, "unmappable": skipped}
    if source.kind == "jira":  # the stored transitions too: a status override may have changed
        from service.sync.jira_history import recategorize_source, site_catalogue

        catalogue = site_catalogue(source.site_info) or {}
        _, out["status_changes_recategorized"] = recategorize_source(
            db, source_id, catalogue, profile.jira.status_overrides)
    return out


def _jira_mapper(source: Source, profile: MappingProfile) -> Callable[[dict[str, Any]], list[Effect]]:
    from mappings.jira import map_issue
    from service.sync.jira import site_catalogue, site_fields

    fields = site_fields(source.site_info)
    catalogue = site_catalogue(source.site_info)
    site_url = (source.base_url or "").rstrip("/")

    def run(raw: dict[str, Any]) -> list[Effect]:
        up = map_issue(raw, site_url=site_url, profile=profile, fields=fields, source_id=source.id,
                       catalogue=catalogue)
        up.raw = raw
        return [up]

    return run


def _trello_mapper(db: Database, source: Source, profile: MappingProfile) -> Callable[[dict[str, Any]], list[Effect]]:
    from mappings.trello import BoardContext
    from service.sync.trello import card_upserts, load_board_context

    source_id = stored_id(source)
    contexts: dict[str, BoardContext] = {}

    def run(raw: dict[str, Any]) -> list[Effect]:
        board_id = raw.get("idBoard") or ""
        if board_id not in contexts:
            contexts[board_id] = load_board_context(
                db, source_id, board_id, timezone=profile.timezone,
                milestone_label=profile.trello.milestone_label,
            ) or BoardContext.minimal(board_id, timezone=profile.timezone)
        return card_upserts([raw], contexts[board_id], profile, source_id)

    return run
