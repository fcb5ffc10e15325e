"""People: one human across tools, and their effective-dated cost rates.

Identities (Jira accountId / DC username, Trello member id) are linked to a person
automatically by email when synced (``service.store.people``) and by hand here:
``link`` moves an identity onto a person, ``unlink`` splits it into a person of its
own. Task assignments and worklogs follow the identity: a task's assignees are
known per identity (``task.assignees``); a worklog only knows its person, so it
follows when the old person has no other identity in that tool (unambiguous).
A person left with no identity after a link is merged into the target.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlmodel import Session, col, select

from service import errors
from service.portfolio.projects import owned, row_id, table
from service.portfolio.schemas import (
    IdentityLink,
    IdentityPublic,
    PersonPublic,
    PersonUpdate,
    RateCreate,
    RatePublic,
)
from service.store import rollups
from service.store.sql import chunks
from service.tables import Person, PersonIdentity, PersonRate, RiskItem, Source, Task, TaskAssignee, Worklog

__all__ = [
    "list_people",
    "get_person",
    "person_public",
    "update_person",
    "find_identity",
    "link_identity",
    "unlink_identity",
    "list_rates",
    "add_rate",
    "delete_rate",
    "replace_rates",
]

T, TA, W = table(Task), table(TaskAssignee), table(Worklog)
ID, RATE, RISK = table(PersonIdentity), table(PersonRate), table(RiskItem)


def _rate_public(r: PersonRate) -> RatePublic:
    return RatePublic(id=row_id(r.id), effective_from=r.effective_from, hourly_rate=float(r.hourly_rate))


def _people_public(s: Session, people: list[Person]) -> list[PersonPublic]:
    ids = [p.id for p in people]
    idents: dict[int, list[IdentityPublic]] = defaultdict(list)
    rates: dict[int, list[RatePublic]] = defaultdict(list)
    for part in chunks(ids):
        for i in s.exec(
            select(PersonIdentity).where(col(PersonIdentity.person_id).in_(part)).order_by(col(PersonIdentity.id))
        ):
            idents[i.person_id].append(
                IdentityPublic(
                    id=row_id(i.id),
                    tool=i.tool,
                    external_id=i.external_id,
                    display_name=i.display_name,
                    email=i.email,
                )
            )
        for r in s.exec(
            select(PersonRate).where(col(PersonRate.person_id).in_(part)).order_by(col(PersonRate.effective_from))
        ):
            rates[r.person_id].append(_rate_public(r))
    return [
        PersonPublic(
            id=row_id(p.id),
            display_name=p.display_name,
            email=p.email,
            identities=idents[row_id(p.id)],
            rates=rates[row_id(p.id)],
        )
        for p in people
    ]


def person_public(s: Session, p: Person) -> PersonPublic:
    return _people_public(s, [p])[0]


def list_people(s: Session, org_id: int) -> list[PersonPublic]:
    return _people_public(s, list(s.exec(select(Person).where(Person.org_id == org_id).order_by(col(Person.id)))))


def get_person(s: Session, org_id: int, person_id: int) -> Person:
    return owned(s, Person, person_id, org_id, "person")


def update_person(s: Session, org_id: int, person_id: int, body: PersonUpdate) -> PersonPublic:
    p = get_person(s, org_id, person_id)
    if body.display_name is not None:
        p.display_name = body.display_name
    if "email" in body.model_fields_set:
        p.email = body.email
    s.add(p)
    s.flush()
    return person_public(s, p)


def find_identity(s: Session, org_id: int, ref: IdentityLink) -> PersonIdentity:
    if ref.identity_id is not None:
        return owned(s, PersonIdentity, ref.identity_id, org_id, "identity")
    found = s.exec(
        select(PersonIdentity).where(
            PersonIdentity.org_id == org_id,
            PersonIdentity.tool == ref.tool,
            PersonIdentity.external_id == ref.external_id,
        )
    ).first()
    if found is None:
        raise errors.NotFound(f"identity {ref.tool}:{ref.external_id} not found (it appears once synced)")
    return found


def _other_identities(s: Session, person_id: int, but: int, tool: str | None = None) -> int:
    q = sa.select(sa.func.count()).select_from(ID).where(ID.c.person_id == person_id, ID.c.id != but)
    if tool is not None:
        q = q.where(ID.c.tool == tool)
    return int(s.execute(q).scalar_one())


def _move_assignments(s: Session, task_ids: list[int], old: int, new: int) -> None:
    for part in chunks(task_ids):
        s.execute(
            sa.delete(TA).where(
                TA.c.task_id.in_(part),
                TA.c.person_id == new,
                TA.c.task_id.in_(sa.select(TA.c.task_id).where(TA.c.person_id == old)),
            )
        )
        s.execute(sa.update(TA).where(TA.c.task_id.in_(part), TA.c.person_id == old).values(person_id=new))


def _follow_identity(s: Session, org_id: int, ident: PersonIdentity, old: int, new: int, *, ambiguous: bool) -> None:
    """Move what belongs to ``ident`` from person ``old`` to person ``new``."""
    sources = sa.select(table(Source).c.id).where(table(Source).c.org_id == org_id, table(Source).c.kind == ident.tool)
    rows = s.execute(
        sa.select(T.c.id, T.c.assignees)
        .join(TA, TA.c.task_id == T.c.id)
        .where(TA.c.person_id == old, T.c.source_id.in_(sources))
    ).all()
    task_ids = [
        tid
        for tid, assignees in rows
        if not ambiguous
        or any(
            a.get("external_id") == ident.external_id and a.get("tool", ident.tool) == ident.tool
            for a in assignees or []
        )
    ]
    _move_assignments(s, task_ids, old, new)
    if not ambiguous:  # a worklog knows its person, not the identity: move only when unambiguous
        s.execute(sa.update(W).where(W.c.person_id == old, W.c.source_id.in_(sources)).values(person_id=new))


def _merge_into(s: Session, old: int, new: int) -> None:
    """Everything left of ``old`` goes to ``new``; ``old`` is removed."""
    task_ids = list(s.execute(sa.select(TA.c.task_id).where(TA.c.person_id == old)).scalars())
    _move_assignments(s, task_ids, old, new)
    s.execute(sa.update(W).where(W.c.person_id == old).values(person_id=new))
    taken = set(s.execute(sa.select(RATE.c.effective_from).where(RATE.c.person_id == new)).scalars())
    s.execute(sa.delete(RATE).where(RATE.c.person_id == old, RATE.c.effective_from.in_(taken)))
    s.execute(sa.update(RATE).where(RATE.c.person_id == old).values(person_id=new))
    # the risks they own stay owned (the foreign key's SET NULL would leave them without an owner)
    s.execute(sa.update(RISK).where(RISK.c.owner_person_id == old).values(owner_person_id=new))
    s.execute(sa.delete(table(Person)).where(table(Person).c.id == old))


def link_identity(s: Session, org_id: int, person_id: int, ref: IdentityLink) -> PersonPublic:
    """Move an identity (and what is known to be its) onto this person."""
    target = row_id(get_person(s, org_id, person_id).id)
    identity = find_identity(s, org_id, ref)
    old, identity_id = identity.person_id, row_id(identity.id)
    if old != target:
        ambiguous = _other_identities(s, old, identity_id, identity.tool) > 0
        with rollups.people_changing(s.connection(), org_id, [old, target], flush=s.flush):
            identity.person_id = target
            s.add(identity)
            s.flush()
            _follow_identity(s, org_id, identity, old, target, ambiguous=ambiguous)
            if _other_identities(s, old, identity_id) == 0:
                _merge_into(s, old, target)
        s.flush()
        s.expire_all()
    return person_public(s, get_person(s, org_id, person_id))


def unlink_identity(s: Session, org_id: int, person_id: int, identity_id: int) -> PersonPublic:
    """Split an identity off into a new person; returns the new person."""
    person = row_id(get_person(s, org_id, person_id).id)
    identity = owned(s, PersonIdentity, identity_id, org_id, "identity")
    if identity.person_id != person:
        raise errors.NotFound(f"identity {identity_id} is not linked to person {person_id}")
    if _other_identities(s, person, identity_id) == 0:
        raise errors.Conflict("this is the person's only identity; there is nothing to split it from")
    ambiguous = _other_identities(s, person, identity_id, identity.tool) > 0
    new = Person(
        org_id=org_id,
        display_name=identity.display_name or identity.external_id,
        email=identity.email,
    )
    s.add(new)
    s.flush()
    with rollups.people_changing(s.connection(), org_id, [person, row_id(new.id)], flush=s.flush):
        identity.person_id = row_id(new.id)
        s.add(identity)
        s.flush()
        _follow_identity(s, org_id, identity, person, row_id(new.id), ambiguous=ambiguous)
    s.flush()
    return person_public(s, new)


# --- rates ----------------------------------------------------------------------------------------


def list_rates(s: Session, org_id: int, person_id: int) -> list[RatePublic]:
    get_person(s, org_id, person_id)
    return person_public(s, get_person(s, org_id, person_id)).rates


def add_rate(s: Session, org_id: int, person_id: int, body: RateCreate) -> RatePublic:
    get_person(s, org_id, person_id)
    with rollups.people_changing(s.connection(), org_id, [person_id], flush=s.flush, assignments=False):
        return _add_rate(s, org_id, person_id, body)


def _add_rate(s: Session, org_id: int, person_id: int, body: RateCreate) -> RatePublic:
    clash = s.exec(
        select(PersonRate).where(PersonRate.person_id == person_id, PersonRate.effective_from == body.effective_from)
    ).first()
    if clash is not None:
        raise errors.Conflict(
            f"person {person_id} already has a rate effective from {body.effective_from} "
            f"(rate {clash.id}); delete it first",
        )
    r = PersonRate(
        org_id=org_id,
        person_id=person_id,
        effective_from=body.effective_from,
        hourly_rate=body.hourly_rate,
    )
    s.add(r)
    s.flush()
    return _rate_public(r)


def delete_rate(s: Session, org_id: int, person_id: int, rate_id: int) -> None:
    get_person(s, org_id, person_id)
    r = s.get(PersonRate, rate_id)
    if r is None or r.org_id != org_id or r.person_id != person_id:
        raise errors.NotFound(f"rate {rate_id} of person {person_id} not found")
    with rollups.people_changing(s.connection(), org_id, [person_id], flush=s.flush, assignments=False):
        s.delete(r)
        s.flush()


def replace_rates(s: Session, org_id: int, person_id: int, rates: list[RateCreate]) -> list[RatePublic]:
    """Make the person's rates exactly ``rates`` (what a file states)."""
    get_person(s, org_id, person_id)
    days = [r.effective_from for r in rates]
    if len(set(days)) != len(days):
        raise errors.Invalid("two rates take effect on the same day")
    with rollups.people_changing(s.connection(), org_id, [person_id], flush=s.flush, assignments=False):
        s.execute(sa.delete(RATE).where(RATE.c.person_id == person_id))
        s.flush()
        return [_add_rate(s, org_id, person_id, r) for r in sorted(rates, key=lambda r: r.effective_from)]
