"""Trello labels the profile names (issue 23): bug labels make a card a bug, blocked labels
flag it; a blocked label added or removed is a flagged change at the action's time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mappings.model import Change, TaskPatch, TaskType, TaskUpsert
from mappings.trello import BoardContext, effects_from_webhook, map_action, map_card
from tests.mappings.trello_data import profile, webhook

CTX = BoardContext(board_id="b1", labels={
    "lb": {"id": "lb", "name": "blocked"}, "lg": {"id": "lg", "name": "Defect"}, "lx": {"id": "lx", "name": "UI"}})


def _card(*labels: str, **extra: Any) -> dict[str, Any]:
    return {"id": "5ec0e621fe539f18d8d81980", "name": "Card", "idBoard": "b1", "idLabels": list(labels),
            "dateLastActivity": "2024-05-01T12:00:00.000Z", **extra}


def _task(card: dict[str, Any], **rules: Any) -> Any:
    (effect,) = map_card(card, CTX, profile(**rules))
    assert isinstance(effect, TaskUpsert)
    return effect.task


def test_bug_and_blocked_labels_by_name_case_insensitive() -> None:
    t = _task(_card("lb", "lg"))
    assert t.type is TaskType.bug and t.flagged is True
    t = _task(_card("lx"))
    assert t.type is TaskType.card and t.flagged is False
    # Inline labels (a card fetched with labels) count too; the profile decides the names.
    t = _task(_card(labels=[{"id": "zz", "name": "Waiting"}]), blocked_labels=["waiting"], bug_labels=[])
    assert t.flagged is True and t.type is TaskType.card
    assert _task(_card("lg"), bug_labels=["Bug"]).type is TaskType.card


def _label_patch(name: str, **rules: Any) -> TaskPatch:
    effects = effects_from_webhook(webhook(name), None, profile(**rules))
    (patch,) = [e for e in effects if isinstance(e, TaskPatch)]
    return patch


def test_real_label_actions_flag_and_unflag_with_a_change() -> None:
    added = _label_patch("ringcentral/addLabelToCard", blocked_labels=["feature"])
    assert added.fields["flagged"] is True and added.fields["add_label"] == "Feature"
    (ch,) = added.changes
    assert isinstance(ch, Change) and (ch.field, ch.from_value, ch.to_value) == ("flagged", "false", "true")
    assert ch.task_external_id == "609d141617b8862c73e5576d" and ch.external_id
    assert ch.changed_at.tzinfo is not None
    removed = _label_patch("ringcentral/removeLabelFromCard", blocked_labels=["Feature"])
    assert removed.fields["flagged"] is False
    assert [(c.field, c.from_value, c.to_value) for c in removed.changes] == [("flagged", "true", "false")]


def test_other_labels_change_no_flag() -> None:
    patch = _label_patch("ringcentral/addLabelToCard")  # "Feature" is not a blocked label by default
    assert "flagged" not in patch.fields and patch.changes == []
    colour_only = _label_patch("zulip/adding_label_to_card")
    assert "flagged" not in colour_only.fields


def test_board_history_action_gives_the_same_change() -> None:
    action = {"id": "a1", "type": "addLabelToCard", "date": "2024-05-02T08:00:00.000Z",
              "data": {"card": {"id": "c1"}, "label": {"id": "lb"}}}
    (patch,) = map_action(action, CTX, profile())
    assert patch.fields["flagged"] is True  # the label's name from the board
    assert patch.changes[0].changed_at == datetime(2024, 5, 2, 8, tzinfo=UTC)
