"""Changes to the sandbox world; each records the board action Trello would record.

Action shapes mirror the captured webhook payloads (``realdata/trello-webhooks``):
``updateCard`` carries the previous values in ``data.old`` and the new ones on
``data.card``; a list move adds ``listBefore``/``listAfter``; ``deleteCard`` keeps
only ``card.id`` and ``idShort``. Every function takes an optional ``ts`` (Unix
seconds, for back-dated history from the generator) and ``by`` (member id).
Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/action-types/
"""

from __future__ import annotations

from sandbox.trello.mutations.boards import (
    add_board_member,
    create_board,
    create_custom_field,
    create_label,
    create_list,
    rename_list,
)
from sandbox.trello.mutations.cards import (
    create_card,
    delete_card,
    move_card,
    move_card_to_board,
    set_card_closed,
    update_card,
)
from sandbox.trello.mutations.details import (
    add_card_label,
    add_card_member,
    add_checklist,
    assign_custom_value,
    remove_card_label,
    remove_card_member,
    set_check_item_state,
    set_custom_field,
)

__all__ = [
    "create_board",
    "add_board_member",
    "create_label",
    "create_custom_field",
    "create_list",
    "rename_list",
    "create_card",
    "move_card",
    "move_card_to_board",
    "set_card_closed",
    "delete_card",
    "update_card",
    "add_card_member",
    "remove_card_member",
    "add_card_label",
    "remove_card_label",
    "set_custom_field",
    "assign_custom_value",
    "add_checklist",
    "set_check_item_state",
]
