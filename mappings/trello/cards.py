"""A Trello card (REST JSON) → a task upsert, plus a milestone for milestone cards.

Reference: https://developer.atlassian.com/cloud/trello/rest/api-group-cards/
Cards are parsed as plain dicts: py-trello's ``Card.from_json`` raises ``KeyError``
on cards fetched with a narrow ``fields=`` (VENDOR_FACTS C2), so nothing here
requires a key other than ``id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mappings.model import (
    Effect,
    Ignored,
    Milestone,
    MilestoneRef,
    MilestoneUpsert,
    PersonRef,
    StatusCategory,
    Task,
    TaskType,
    TaskUpsert,
)
from mappings.profile import MappingProfile
from mappings.trello.context import BoardContext, label_names_of, list_category
from mappings.trello.custom_fields import (
    convert,
    custom_field_updates,
    field_id_for,
    item_text,
    values_by_name,
)
from mappings.trello.values import (
    as_dict,
    as_list,
    as_str,
    created_at_from_id,
    local_date,
    parse_datetime,
    short_link_of,
)

__all__ = [
    "map_card", "is_milestone_card", "card_assignees", "checklist_counts", "is_bug_label", "is_blocked_label",
]


def map_card(
    card: dict[str, Any],
    ctx: BoardContext,
    profile: MappingProfile,
    *,
    source_id: int | None = None,
) -> list[Effect]:
    """Map one card to ``[TaskUpsert]``, or ``[TaskUpsert, MilestoneUpsert]`` when it
    carries the profile's milestone label. A card without an id is ``Ignored``."""
    card_id = as_str(card.get("id")) if isinstance(card, dict) else None
    if card_id is None:
        return [Ignored(reason="Trello card without an 'id'")]
    rules = profile.trello
    board_id = as_str(card.get("idBoard")) or ctx.board_id
    list_id = as_str(card.get("idList"))
    list_name = ctx.list_name(list_id) or as_str(as_dict(card.get("list")).get("name"))
    list_cat = list_category(list_id, ctx, profile, name=list_name)
    closed = bool(card.get("closed", False))
    due_complete = bool(card.get("dueComplete", False))

    category = list_cat
    if due_complete and rules.due_complete_means_done:
        category = StatusCategory.done
    if closed and rules.archived_as_done:
        category = StatusCategory.done

    labels = label_names_of(card, ctx)
    marker = profile.trello.milestone_label.strip().casefold()
    milestone_card = any(name.casefold() == marker for name in labels)  # is_milestone_card
    by_name = values_by_name(card.get("customFieldItems"), ctx.custom_fields)
    checklist_total, checklist_done = checklist_counts(card)
    updated_at = parse_datetime(card.get("dateLastActivity"))

    task = Task(
        source_id=source_id,
        external_id=card_id,
        key=short_link_of(card),
        url=as_str(card.get("url")) or as_str(card.get("shortUrl")),
        project_external_id=board_id,
        project_key=(ctx.board_name if board_id == ctx.board_id else None) or board_id,
        title=str(card.get("name") or ""),
        type=TaskType.bug if any(is_bug_label(n, profile) for n in labels) else TaskType.card,
        status=list_name or list_id,
        status_category=category,
        assignees=card_assignees(card, ctx),
        labels=labels,
        milestones=[] if milestone_card else _milestone_refs(card, labels, ctx, profile, by_name),
        created_at=_created_at(card_id),
        updated_at=updated_at,
        due_date=local_date(card.get("due"), ctx.timezone),
        start_date=local_date(card.get("start"), ctx.timezone),
        checklist_total=checklist_total,
        checklist_done=checklist_done,
        is_milestone=milestone_card,
        archived=closed,
        flagged=any(is_blocked_label(n, profile) for n in labels),
        **_custom_values(card, ctx, profile, by_name),
    )
    effects: list[Effect] = [TaskUpsert(task=task, raw=card)]
    if milestone_card:
        complete = due_complete or list_cat is StatusCategory.done
        milestone = Milestone(
            source_id=source_id,
            external_id=card_id,
            project_external_id=board_id,
            name=task.title,
            description=as_str(card.get("desc")),
            start_date=task.start_date,
            due_date=task.due_date,
            released=complete,
            completed_at=updated_at if complete else None,
            archived=closed,
            updated_at=updated_at,
        )
        effects.append(MilestoneUpsert(milestone=milestone, raw=card))
    return effects


def is_milestone_card(card: dict[str, Any], ctx: BoardContext, profile: MappingProfile) -> bool:
    """True when the card carries a label named like the profile's milestone label."""
    marker = profile.trello.milestone_label.strip().casefold()
    return any(name.casefold() == marker for name in label_names_of(card, ctx))


def _named(name: str, names: list[str]) -> bool:
    folded = name.strip().casefold()
    return bool(folded) and any(folded == n.strip().casefold() for n in names)


def is_bug_label(name: str, profile: MappingProfile) -> bool:
    """A label that makes a card a bug (``trello.bug_labels``, case-insensitive)."""
    return _named(name, profile.trello.bug_labels)


def is_blocked_label(name: str, profile: MappingProfile) -> bool:
    """A label that marks a card blocked (``trello.blocked_labels``, case-insensitive)."""
    return _named(name, profile.trello.blocked_labels)


def card_assignees(card: dict[str, Any], ctx: BoardContext) -> list[PersonRef]:
    """``idMembers`` as person refs; names from the board's members or the card's
    own ``members`` (present when fetched with ``members=true``)."""
    inline = {
        m["id"]: m
        for m in as_list(card.get("members"))
        if isinstance(m, dict) and as_str(m.get("id"))
    }
    ids = [m for m in as_list(card.get("idMembers")) if as_str(m)] or list(inline)
    refs: list[PersonRef] = []
    for member_id in dict.fromkeys(ids):
        info = ctx.members.get(member_id) or inline.get(member_id, {})
        refs.append(
            PersonRef(
                tool="trello",
                external_id=member_id,
                display_name=as_str(info.get("fullName")) or as_str(info.get("username")),
                email=as_str(info.get("email")),
                username=as_str(info.get("username")),
            )
        )
    return refs


def checklist_counts(card: dict[str, Any]) -> tuple[int | None, int | None]:
    """(total, done) check items: from ``checklists`` when the card was fetched with
    them, else from ``badges.checkItems``/``checkItemsChecked``; (None, None) if unknown."""
    checklists = card.get("checklists")
    if isinstance(checklists, list):
        items = [
            item
            for checklist in checklists
            if isinstance(checklist, dict)
            for item in as_list(checklist.get("checkItems"))
            if isinstance(item, dict)
        ]
        return len(items), sum(1 for item in items if item.get("state") == "complete")
    badges = as_dict(card.get("badges"))
    total, done = badges.get("checkItems"), badges.get("checkItemsChecked")
    if isinstance(total, int) and not isinstance(total, bool):
        return total, done if isinstance(done, int) and not isinstance(done, bool) else 0
    return None, None


def _milestone_refs(
    card: dict[str, Any],
    labels: list[str],
    ctx: BoardContext,
    profile: MappingProfile,
    by_name: dict[str, str | None],
) -> list[MilestoneRef]:
    """Milestones a card belongs to: a label named like a milestone card, or a custom
    field named like the milestone label (text or list) holding that name."""
    marker = profile.trello.milestone_label.strip().casefold()
    candidates = [name for name in labels if name.casefold() != marker]
    field_value = by_name.get(marker)
    if field_value:
        candidates.append(field_value)
    refs: dict[str, MilestoneRef] = {}
    for name in candidates:
        milestone_id = ctx.milestones.get(name.strip().casefold())
        if milestone_id and milestone_id != card.get("id") and milestone_id not in refs:
            refs[milestone_id] = MilestoneRef(external_id=milestone_id, name=name.strip())
    return list(refs.values())


def _custom_values(
    card: dict[str, Any], ctx: BoardContext, profile: MappingProfile, by_name: dict[str, str | None]
) -> dict[str, Any]:
    """Task fields from the card's custom fields; ``spent_seconds`` from the board's hours
    field alone (``field_id_for``: the first listed name the board has), the field whose
    changes are the card's worklogs, so its hours and its worklogs follow one field."""
    out = custom_field_updates(None, ctx.custom_fields, profile, by_name=by_name)
    hours = field_id_for("spent_hours", ctx.custom_fields, profile)
    if hours is not None:
        out.pop("spent_seconds", None)
        for item in as_list(card.get("customFieldItems")):
            if isinstance(item, dict) and item.get("idCustomField") == hours:
                spent = convert("spent_seconds", item_text(item, ctx.custom_fields.get(hours)))
                if spent is not None:
                    out["spent_seconds"] = spent
                break
    return out


def _created_at(card_id: str) -> datetime | None:
    try:
        return created_at_from_id(card_id)
    except ValueError:
        return None
