"""Person identities: one human across tools.

An identity ``(tool, external_id)`` maps to one person per organization. A new
identity whose email matches an existing person links to that person; otherwise
a new person is created. Runs in the caller's transaction.

An identity's name and email are the ones first seen; its ``username`` is filled in when a
later sighting names it and the stored one is empty (a Trello webhook names a member without
the username the board's member list gives).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mappings.model import PersonRef
from service.store.sql import chunks, insert_for
from service.tables import Person, PersonIdentity, table

__all__ = ["resolve_people"]

P = table(Person)
I = table(PersonIdentity)  # noqa: E741


def resolve_people(conn: Connection, org_id: int, refs: Iterable[PersonRef]) -> dict[tuple[str, str], int]:
    """Return ``{(tool, external_id): person_id}``, creating what is missing."""
    wanted: dict[tuple[str, str], PersonRef] = {}
    for r in refs:
        wanted.setdefault((r.tool, r.external_id), r)
    if not wanted:
        return {}
    stored = _lookup(conn, org_id, list(wanted))
    _fill_usernames(conn, org_id, wanted, stored)
    found = {k: pid for k, (pid, _) in stored.items()}
    missing = [k for k in wanted if k not in found]
    if not missing:
        return found
    emails = {e.lower() for k in missing if (e := wanted[k].email)}
    by_email: dict[str, int] = {}
    if emails:
        rows = conn.execute(
            sa.select(P.c.id, sa.func.lower(P.c.email))
            .where(P.c.org_id == org_id, sa.func.lower(P.c.email).in_(emails))
            .order_by(P.c.id)
        )
        for pid, email in rows:
            by_email.setdefault(email, pid)
    new_people = []
    for k in missing:
        ref = wanted[k]
        email = ref.email.lower() if ref.email else None
        if email and email in by_email:
            continue
        new_people.append((k, ref))
        if email:
            by_email[email] = -1  # reserved: created below, first one wins
    created: dict[tuple[str, str], int] = {}
    if new_people:
        new_ids = conn.execute(
            sa.insert(P).returning(P.c.id, sort_by_parameter_order=True),
            [
                {"org_id": org_id, "display_name": ref.display_name or ref.external_id, "email": ref.email}
                for _, ref in new_people
            ],
        ).all()
        for (k, ref), (pid,) in zip(new_people, new_ids, strict=True):
            created[k] = pid
            if ref.email and by_email.get(ref.email.lower()) == -1:
                by_email[ref.email.lower()] = pid
    ins = insert_for(conn, I)
    values = []
    for k in missing:
        ref = wanted[k]
        pid = created.get(k)
        if pid is None:  # not created: skipped above because its email is a known person's
            assert ref.email is not None, "a person neither created nor found by email"
            pid = by_email[ref.email.lower()]
        values.append(
            {
                "org_id": org_id,
                "person_id": pid,
                "tool": k[0],
                "external_id": k[1],
                "display_name": ref.display_name,
                "email": ref.email,
                "username": _username(ref),
            }
        )
    for part in chunks(values):
        conn.execute(ins.on_conflict_do_nothing(index_elements=["org_id", "tool", "external_id"]), list(part))
    # A concurrent writer may have won a race: read back what is really stored.
    found.update({k: pid for k, (pid, _) in _lookup(conn, org_id, missing).items()})
    return found


USERNAME_MAX = 200  # person_identity.username's length (migration 0018)


def _username(ref: PersonRef) -> str | None:
    """The ref's username when the column holds it whole; a longer one (Jira Data Center allows
    255 characters) is no evidence rather than a sync refused by PostgreSQL, or a cut one
    matching another."""
    return ref.username if ref.username and len(ref.username) <= USERNAME_MAX else None


def _fill_usernames(
    conn: Connection,
    org_id: int,
    wanted: dict[tuple[str, str], PersonRef],
    stored: dict[tuple[str, str], tuple[int, str | None]],
) -> None:
    """Store a username a ref names for a known identity that has none (rare: one write when
    it is first learnt, none after)."""
    values = [
        {"o": org_id, "t": k[0], "e": k[1], "u": _username(ref)}
        for k, ref in wanted.items()
        if _username(ref) and k in stored and stored[k][1] is None
    ]
    if values:
        conn.execute(
            sa.update(I)
            .where(
                I.c.org_id == sa.bindparam("o"),
                I.c.tool == sa.bindparam("t"),
                I.c.external_id == sa.bindparam("e"),
                I.c.username.is_(None),
            )
            .values(username=sa.bindparam("u")),
            values,
        )


def _lookup(
    conn: Connection, org_id: int, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str | None]]:
    """``{(tool, external_id): (person_id, username)}`` of the stored identities among ``keys``."""
    out: dict[tuple[str, str], tuple[int, str | None]] = {}
    by_tool: dict[str, list[str]] = {}
    for tool, ext in keys:
        by_tool.setdefault(tool, []).append(ext)
    for tool, exts in by_tool.items():
        for part in chunks(exts):
            rows = conn.execute(
                sa.select(I.c.external_id, I.c.person_id, I.c.username).where(
                    I.c.org_id == org_id, I.c.tool == tool, I.c.external_id.in_(part)
                )
            )
            for ext, pid, username in rows:
                out[(tool, ext)] = (pid, username)
    return out
