"""The store: every SQL write of synced data goes through here.

Functions take a Core ``Connection`` inside a transaction the caller owns (a
whole sync page or one inbox batch goes in one), and issue a handful of
set-based statements per call, never one per row.
"""

from service.store.people import resolve_people
from service.store.sql import insert_for
from service.store.tasks import (
    ApplyStats,
    apply_effects,
    apply_task_deletes,
    apply_task_patches,
    delete_milestones,
    delete_worklogs,
    upsert_milestones,
    upsert_projects,
    upsert_tasks,
    upsert_worklogs,
)

__all__ = [
    "ApplyStats",
    "apply_effects",
    "apply_task_deletes",
    "apply_task_patches",
    "delete_milestones",
    "delete_worklogs",
    "insert_for",
    "resolve_people",
    "upsert_milestones",
    "upsert_projects",
    "upsert_tasks",
    "upsert_worklogs",
]
