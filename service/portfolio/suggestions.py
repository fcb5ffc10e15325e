"""People suggestions: persons who are probably one human seen in two tools.

Sync links identities automatically only by an equal email, which rarely fires (Jira Cloud
hides emails, Trello never gives them), so the People page lists most humans twice. These
suggestions put the likely pairs in front of a PM, with the evidence, to accept (merge, as the
link call does) or reject (remembered per identity pair, ``PersonLinkRejection``).

Rules, strongest first (each compares an identity of one person with an identity of the other
in another tool):

- ``same_email``: equal emails, case-insensitive, where both are known.
- ``same_username``: a Trello ``username`` / Jira Data Center ``name`` equal (case-insensitive)
  to the other identity's username or its email's local part; two email local parts alone are
  not a match (``ann@a.io`` and ``ann@b.io`` are two addresses, and equal ones are the email rule).
- ``same_name``: equal display names once normalized (``normalize_name``): "José  Núñez" and
  "jose nunez" match; "J. Smith" and "John Smith" do not (an initial is not a name).
- ``near_name``: equal once middle initials are dropped, where one name has them and the other
  none: "Edsger W. Dijkstra" and "Edsger Dijkstra"; the first and last names must be whole
  words ("J. Smith" is still no one), and "John A. Smith" and "John B. Smith" do not match. A
  letter glued by an apostrophe ("D'Souza", "O'Brien"), a CJK character and a lowercase letter in
  a name with capitals (a particle: "Jan v. d. Berg") are no initials.

Jira Cloud gives an email only for users whose profile shows it (most hide it; Data Center
shows all) and Trello never gives another member's email, so for most Cloud users the names are
the only evidence. Each suggestion says its ``confidence``: that of its strongest rule (email:
high; username, name: medium; near name: low), one level up when two kinds of evidence agree
(email, username, name: a same name and a near name are the same display names, one kind).

Only persons whose tool sets are disjoint are paired (a person with a Jira identity is not
offered with another Jira person: merging must join tools, not guess between two accounts of
one tool). A pair is never offered again once any identity pair between them was rejected,
even after either gains identities. A value shared by more than ``MAX_SHARED`` persons ("Admin",
"dev@") is no evidence and pairs nobody.

Scale: every identity is read once and grouped by its keys in a dict; only persons sharing a
key are compared, so the work is linear in the identities (not a comparison of all pairs).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from typing import Literal, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from service import errors
from service.portfolio.people import get_person, link_identity, person_public
from service.portfolio.projects import table
from service.portfolio.schemas import (
    EvidenceValue,
    IdentityLink,
    PeopleSuggestion,
    PeopleSuggestions,
    PersonPublic,
    SuggestedPerson,
    SuggestionEvidence,
    SuggestionRule,
)
from service.state_events.transitions import evaluate_organization
from service.store.sql import chunks, insert_for
from service.tables import Person, PersonIdentity, PersonLinkRejection, utcnow

__all__ = [
    "MAX_SHARED",
    "RULES",
    "normalize_name",
    "list_suggestions",
    "accept_suggestion",
    "reject_suggestion",
]

P, ID, REJ = table(Person), table(PersonIdentity), table(PersonLinkRejection)

MAX_SHARED = 10
RULES: dict[str, str] = {
    "same_email": "Equal emails (case-insensitive), where both identities have one.",
    "same_username": (
        "A Trello username or Jira Data Center name equal (case-insensitive) to the other identity's "
        "username or its email's local part; two email local parts alone do not match."
    ),
    "same_name": (
        "Equal display names after Unicode NFKD without accents, case folding, and collapsing "
        "whitespace and punctuation ('.', '_', '-', ...) to one space; an initial does not match a name."
    ),
    "near_name": (
        "Display names equal (as same_name compares them) once middle initials are dropped, where one "
        "name has initials and the other none ('Edsger W. Dijkstra' and 'Edsger Dijkstra'); the first "
        "and last names must be whole words. A letter glued to a name by an apostrophe ('D'Souza', "
        "'O'Brien'), a Chinese, Japanese or Korean character and a lowercase letter in a name with "
        "capitals (an abbreviated particle: 'Jan v. d. Berg') are no initials."
    ),
    "confidence": (
        "That of the strongest rule (same_email: high; same_username and same_name: medium; "
        "near_name: low), one level up when two kinds of evidence matched (email, username, name: a "
        "same name and a near name are one kind). Jira Cloud shows a user's email "
        "only if their profile lets it (most do not) and Trello never shows another member's, so most "
        "pairs rest on names."
    ),
    "pairs": (
        "Only persons whose tools are disjoint (merging joins tools); never a pair with a rejected "
        f"identity pair; a value shared by more than {MAX_SHARED} persons is no evidence."
    ),
    "order": "Strongest rule first (email > username > name > near name), then more rules matched, then the ids.",
    "survivor": "Accepting keeps the person with more identities (else the lower id) and merges the other into it.",
}
Strength = Literal["email", "username", "name", "near_name"]
_STRENGTH: dict[SuggestionRule, Strength] = {
    "same_email": "email", "same_username": "username", "same_name": "name", "near_name": "near_name"}
_RANK = {rule: n for n, rule in enumerate(_STRENGTH)}
Confidence = Literal["low", "medium", "high"]
_LEVELS: tuple[Confidence, ...] = ("low", "medium", "high")
_CONFIDENCE: dict[SuggestionRule, int] = {"same_email": 2, "same_username": 1, "same_name": 1, "near_name": 0}
_LOCAL_PART = "email local part"
_ID_PATTERN = re.compile(r"p(\d{1,18})-p(\d{1,18})")
_SEPARATORS = re.compile(r"[\W_]+")
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
# Evidence of one kind: a name and its near name (the same display names) raise no confidence together.
_KIND: dict[SuggestionRule, str] = {
    "same_email": "email", "same_username": "username", "same_name": "name", "near_name": "name"}


def normalize_name(name: str | None) -> str:
    """A display name as compared: NFKD without combining marks, case-folded, every run of
    whitespace or punctuation one space, trimmed ("" when nothing is left)."""
    if not name:
        return ""
    if not name.isascii():  # ASCII has nothing to decompose (most names: the fast path)
        name = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", name.casefold()).strip()


class _Ident(NamedTuple):
    id: int
    person_id: int
    tool: str
    external_id: str
    display_name: str | None
    email: str | None
    username: str | None


class _Key(NamedTuple):
    """One value of an identity that may match another's: ``(rule, key)`` is what is grouped;
    ``trimmed``: a near-name key made by dropping middle initials."""

    rule: SuggestionRule
    key: str
    field: str
    value: str
    trimmed: bool = False


def _near(display_name: str) -> tuple[str, bool] | None:
    """The name as compared (``normalize_name``) without its middle initials, and whether any
    were dropped; None when the first or last name is not a whole word (or there is one word only).
    An initial is one letter standing alone: not glued by an apostrophe ("D'Souza", "O'Brien"),
    not a Chinese, Japanese or Korean character (a whole name part), not a lowercase letter in a
    name written with capitals (an abbreviated particle: "Jan v. d. Berg")."""
    glued = _APOSTROPHES.sub("", display_name)
    if not glued.isascii():
        glued = "".join(c for c in unicodedata.normalize("NFKD", glued) if not unicodedata.combining(c))
    raw = [w for w in _SEPARATORS.split(glued) if w]
    if len(raw) < 2 or len(raw[0]) < 2 or len(raw[-1]) < 2:
        return None
    capitals = any(c.isupper() for c in glued)
    words = [w.casefold() for w in raw]
    kept = [
        w for w, r in zip(words[1:-1], raw[1:-1], strict=True)
        if len(w) > 1 or unicodedata.east_asian_width(w) in ("W", "F") or (capitals and r.islower())
    ]
    return " ".join([words[0], *kept, words[-1]]), len(kept) < len(words) - 2


def _keys(i: _Ident) -> list[_Key]:
    out = []
    email = (i.email or "").strip()
    if email:
        out.append(_Key("same_email", email.casefold(), "email", email))
        local = email.rpartition("@")[0] if "@" in email else ""
        if local:
            out.append(_Key("same_username", local.casefold(), _LOCAL_PART, email))
    if i.username and i.username.strip():
        out.append(_Key("same_username", i.username.strip().casefold(), "username", i.username))
    name = normalize_name(i.display_name)
    if name:
        out.append(_Key("same_name", name, "display_name", i.display_name or ""))
        near = _near(i.display_name or "")
        if near is not None:
            out.append(_Key("near_name", near[0], "display_name", i.display_name or "", near[1]))
    return out


def _value(i: _Ident, k: _Key) -> EvidenceValue:
    # model_construct here and below: the values come from the store, already of the right types
    # (10k people give thousands of these; validating each again was a third of the time).
    return EvidenceValue.model_construct(
        identity_id=i.id, tool=i.tool, external_id=i.external_id, field=k.field, value=k.value
    )


Pair = tuple[int, int]
Group = tuple[SuggestionRule, str]


def _evidence(idents: Iterable[_Ident]) -> dict[Pair, dict[Group, dict[int, EvidenceValue]]]:
    """``{(low person, high person): {(rule, key): {identity id: value}}}`` for persons sharing a
    key through identities of different tools."""
    groups: dict[Group, list[tuple[_Ident, _Key]]] = defaultdict(list)
    for i in idents:
        for k in _keys(i):
            groups[(k.rule, k.key)].append((i, k))
    found: dict[Pair, dict[Group, dict[int, EvidenceValue]]] = defaultdict(lambda: defaultdict(dict))
    for group_key, members in groups.items():
        if len({i.person_id for i, _ in members}) not in range(2, MAX_SHARED + 1):
            continue
        for n, (a, ka) in enumerate(members):
            for b, kb in members[n + 1 :]:
                if a.person_id == b.person_id or a.tool == b.tool or ka.field == kb.field == _LOCAL_PART:
                    continue
                if ka.rule == "near_name" and ka.trimmed == kb.trimmed:
                    continue  # equal names (same_name's) or two sets of initials (that may differ)
                pair = (min(a.person_id, b.person_id), max(a.person_id, b.person_id))
                values = found[pair][group_key]
                values[a.id], values[b.id] = _value(a, ka), _value(b, kb)
    return found


def _suggestions(
    idents: list[_Ident], rejected: set[Pair], names: dict[int, str]
) -> list[PeopleSuggestion]:
    """The suggestions among these identities (all of each person's), strongest first."""
    by_person: dict[int, list[_Ident]] = defaultdict(list)
    for i in idents:
        by_person[i.person_id].append(i)
    out = []
    for (low, high), matched in _evidence(idents).items():
        a, b = by_person[low], by_person[high]
        if {i.tool for i in a} & {i.tool for i in b}:
            continue
        if rejected and any((min(x.id, y.id), max(x.id, y.id)) in rejected for x in a for y in b):
            continue
        evidence = sorted(
            (
                SuggestionEvidence.model_construct(
                    rule=rule, key=key, values=sorted(v.values(), key=lambda e: e.identity_id)
                )
                for (rule, key), v in matched.items()
            ),
            key=lambda e: (_RANK[e.rule], e.key),
        )
        survivor = low if len(a) >= len(b) else high
        level = _CONFIDENCE[evidence[0].rule] + (len({_KIND[e.rule] for e in evidence}) > 1)
        out.append(
            PeopleSuggestion.model_construct(
                id=f"p{low}-p{high}",
                strength=_STRENGTH[evidence[0].rule],
                confidence=_LEVELS[min(level, 2)],
                persons=[
                    SuggestedPerson.model_construct(
                        id=p, display_name=names.get(p, ""), tools=sorted({i.tool for i in by_person[p]})
                    )
                    for p in (low, high)
                ],
                survivor_id=survivor,
                evidence=evidence,
            )
        )
    out.sort(key=_order)
    return out


def _order(sug: PeopleSuggestion) -> tuple[int, int, int, int]:
    """Strongest rule first, then more rules matched, then the person ids: a stable order."""
    return (_RANK[sug.evidence[0].rule], -len({e.rule for e in sug.evidence}), sug.persons[0].id, sug.persons[1].id)


def _identities(s: Session, org_id: int, people: list[int] | None = None) -> list[_Ident]:
    q = sa.select(ID.c.id, ID.c.person_id, ID.c.tool, ID.c.external_id, ID.c.display_name, ID.c.email, ID.c.username)
    q = q.where(ID.c.org_id == org_id)
    if people is not None:
        q = q.where(ID.c.person_id.in_(people))
    return [_Ident._make(row) for row in s.execute(q.order_by(ID.c.id))]


def _rejected(s: Session, org_id: int, identity_ids: list[int] | None = None) -> set[Pair]:
    q = sa.select(REJ.c.low_identity_id, REJ.c.high_identity_id).where(REJ.c.org_id == org_id)
    if identity_ids is not None:
        q = q.where(REJ.c.low_identity_id.in_(identity_ids))
    return {(lo, hi) for lo, hi in s.execute(q)}


def _names(s: Session, people: Iterable[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in chunks(sorted(set(people))):
        out.update({pid: name for pid, name in s.execute(sa.select(P.c.id, P.c.display_name).where(P.c.id.in_(part)))})
    return out


def list_suggestions(s: Session, org_id: int) -> PeopleSuggestions:
    """Every current suggestion of the organization, strongest first."""
    found = _suggestions(_identities(s, org_id), _rejected(s, org_id), {})
    names = _names(s, (p.id for sug in found for p in sug.persons))
    for sug in found:
        for p in sug.persons:
            p.display_name = names.get(p.id, "")
    return PeopleSuggestions(suggestions=found, rules=RULES)


def _parse_id(suggestion_id: str) -> Pair:
    """A path id that is not one is "not found", as for every other path id of the API."""
    m = _ID_PATTERN.fullmatch(suggestion_id)
    if m is None or int(m[1]) >= int(m[2]):
        raise errors.NotFound(
            f"no suggestion {suggestion_id[:60]!r}: ids are p<lower person id>-p<higher person id>"
        )
    return int(m[1]), int(m[2])


def _current(s: Session, org_id: int, suggestion_id: str) -> PeopleSuggestion:
    """The suggestion as it stands now: 404 when a person is gone, 409 when no longer offered."""
    low, high = _parse_id(suggestion_id)
    for pid in (low, high):
        person = s.get(Person, pid)
        if person is None or person.org_id != org_id:
            raise errors.NotFound(
                f"suggestion {suggestion_id}: person {pid} no longer exists (merged or removed); "
                "reload the suggestions"
            )
    # The pair's identities and every other identity sharing one of their keys: how many persons
    # share a value decides whether it is evidence (MAX_SHARED), as in the list.
    everyone = _identities(s, org_id)
    idents = [i for i in everyone if i.person_id in (low, high)]
    rejected = _rejected(s, org_id, [i.id for i in idents])
    keys = {(k.rule, k.key) for i in idents for k in _keys(i)}
    idents += [
        i for i in everyone
        if i.person_id not in (low, high) and any((k.rule, k.key) in keys for k in _keys(i))
    ]
    found = [
        sug
        for sug in _suggestions(idents, rejected, _names(s, [low, high]))
        if sug.id == f"p{low}-p{high}"
    ]
    if not found:
        raise errors.Conflict(
            f"suggestion {suggestion_id} is no longer offered (rejected, tools no longer disjoint, "
            "or no shared evidence); reload the suggestions"
        )
    return found[0]


def accept_suggestion(s: Session, org_id: int, suggestion_id: str) -> PersonPublic:
    """Merge the pair: every identity of the other person is linked onto the survivor (as the
    link call does, moving its work), and the emptied person merges into it."""
    sug = _current(s, org_id, suggestion_id)
    survivor = sug.survivor_id
    other = next(p.id for p in sug.persons if p.id != survivor)
    keep, gone = get_person(s, org_id, survivor), get_person(s, org_id, other)
    if keep.email is None and gone.email is not None:
        keep.email = gone.email
        s.add(keep)
    for ident in _identities(s, org_id, [other]):
        link_identity(s, org_id, survivor, IdentityLink(identity_id=ident.id))
    # The hours changed hands and may be priced at another rate: budget events in this transaction
    # (the API and the dashboard's People page both accept through here).
    evaluate_organization(s.connection(), org_id)
    return person_public(s, get_person(s, org_id, survivor))


def reject_suggestion(s: Session, org_id: int, suggestion_id: str, actor: str) -> int:
    """Remember "not the same person" for every identity pair across the two persons; returns
    how many pairs were stored."""
    sug = _current(s, org_id, suggestion_id)
    a, b = (_identities(s, org_id, [p.id]) for p in sug.persons)
    rows = [
        {
            "org_id": org_id,
            "low_identity_id": min(x.id, y.id),
            "high_identity_id": max(x.id, y.id),
            "rejected_at": utcnow(),
            "rejected_by": actor,
        }
        for x in a
        for y in b
    ]
    conn = s.connection()
    unique = ["org_id", "low_identity_id", "high_identity_id"]
    conn.execute(insert_for(conn, REJ).on_conflict_do_nothing(index_elements=unique), rows)
    return len(rows)
