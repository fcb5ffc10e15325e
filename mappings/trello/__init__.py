"""Trello JSON → the common model. Pure: no I/O.

Reference: https://developer.atlassian.com/cloud/trello/rest/ and
https://developer.atlassian.com/cloud/trello/guides/rest-api/action-types/

- ``context``: ``BoardContext`` (lists, labels, members, custom fields, milestone
  cards of one board) and ``list_category``.
- ``cards``: ``map_card`` — a REST card to a task upsert (+ milestone upsert).
- ``actions``: ``map_action`` — an activity-log/webhook action to patches/tombstones.
- ``documents``: ``effects_from_webhook`` and ``effects_from_document``.
- ``worklogs``: hours-field changes (``updateCustomFieldItem``) as worklogs, and the
  ``carried_in`` entry for hours a card had at the history horizon.
"""

from __future__ import annotations

from mappings.effects_json import effect_to_json, effects_to_json
from mappings.trello.actions import (
    IGNORED_ACTIONS,
    LEFT_SUFFIX,
    SUPPORTED_ACTIONS,
    TASK_PATCH_HINTS,
    action_author,
    list_renamed,
    map_action,
)
from mappings.trello.cards import card_assignees, checklist_counts, is_milestone_card, map_card
from mappings.trello.context import BoardContext, ListInfo, label_names_of, list_category
from mappings.trello.custom_fields import custom_field_updates
from mappings.trello.documents import (
    context_from_action,
    effects_from_document,
    effects_from_webhook,
)
from mappings.trello.values import created_at_from_id, is_board_id, local_date, parse_datetime
from mappings.trello.worklogs import (
    CARRIED_IN_SUFFIX,
    card_hours_seconds,
    carried_in_worklog,
    carried_in_worklogs,
    default_horizon,
    explained_seconds,
    hours_after,
    hours_field_id,
    hours_seconds,
    is_hours_change,
    worklog_effects,
    worklog_from_action,
    worklogs_from_history,
)

__all__ = [
    "LEFT_SUFFIX",
    "BoardContext",
    "ListInfo",
    "list_category",
    "label_names_of",
    "created_at_from_id",
    "is_board_id",
    "parse_datetime",
    "local_date",
    "custom_field_updates",
    "map_card",
    "is_milestone_card",
    "card_assignees",
    "checklist_counts",
    "map_action",
    "list_renamed",
    "action_author",
    "TASK_PATCH_HINTS",
    "SUPPORTED_ACTIONS",
    "IGNORED_ACTIONS",
    "effects_from_webhook",
    "effects_from_document",
    "context_from_action",
    "effect_to_json",
    "effects_to_json",
    "CARRIED_IN_SUFFIX",
    "hours_field_id",
    "hours_after",
    "is_hours_change",
    "hours_seconds",
    "worklog_from_action",
    "worklog_effects",
    "worklogs_from_history",
    "card_hours_seconds",
    "explained_seconds",
    "default_horizon",
    "carried_in_worklog",
    "carried_in_worklogs",
]
