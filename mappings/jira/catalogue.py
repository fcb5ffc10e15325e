"""A Jira site's status catalogue, and categorizing status transitions by it.

A changelog item for ``status`` carries ``from``/``to`` = status **ids** and
``fromString``/``toString`` = the names the statuses had then (VENDOR_FACTS A12). A
status renamed later keeps its id; on Cloud, team-managed projects each have their own
"To Do", "In Progress", "Done"... (same names, other ids, ``scope.project``), and nothing
stops two of them from sitting in different categories. So a transition is categorized
by id through the site's catalogue (``GET /rest/api/3/status`` on Cloud,
``/rest/api/2/status`` on Data Center, https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-workflow-statuses/#api-rest-api-3-status-get),
and by name only where the id is missing or unknown.

The rules, first match wins (``CategoryRule`` says which one did it):

1. ``profile``: the profile's ``status_overrides`` name the status (its catalogue name
   or the name it had then);
2. ``id``: the catalogue knows the id;
3. ``current``: the id is the issue's current status (the issue carries its category);
4. ``name``: statuses of that name (the issue's project's own first, then the site-wide
   ones, then any) agree on one category. Ambiguous or unknown: no category.

Everything here is pure: the catalogue is a plain mapping passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from mappings.jira.status import category_from_key, override_for
from mappings.model import CategoryRule, Change, StatusCategory

__all__ = [
    "CatalogueStatus",
    "StatusCatalogue",
    "status_catalogue",
    "StatusBook",
    "Recategorized",
    "recategorize_changes",
    "unknown_status_ids",
]


class CatalogueStatus(NamedTuple):
    """One status of the site: its name now, its category, and (Cloud team-managed
    projects) the id of the project it belongs to."""

    name: str
    category: StatusCategory
    project_id: str | None = None


StatusCatalogue = Mapping[str, CatalogueStatus | tuple[str, StatusCategory | str]]
"""Status id -> ``CatalogueStatus``, as built by ``status_catalogue`` (plain
``(name, category)`` or ``(name, category, project id)`` tuples are read the same way)."""


def _entry(value: Any) -> CatalogueStatus:
    if isinstance(value, CatalogueStatus):
        return value
    name, category, *rest = value
    return CatalogueStatus(name, StatusCategory(category), rest[0] if rest else None)


def _ident(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text or None


def status_catalogue(response: Any) -> dict[str, CatalogueStatus]:
    """``GET /rest/api/{2,3}/status`` (a list) or a ``/statuses/search`` page -> catalogue.

    Statuses without an id, a name or a known category are left out (a fourth category,
    ``undefined``, counts as to do). Raises ``ValueError`` when ``response`` is neither a
    list of statuses nor a page with ``values``.
    """
    statuses = response.get("values") if isinstance(response, dict) else response
    if not isinstance(statuses, list):
        raise ValueError(
            "a Jira status catalogue is the list GET /rest/api/N/status returns, or a "
            f"/statuses/search page with 'values'; got {type(response).__name__}"
        )
    out: dict[str, CatalogueStatus] = {}
    for status in statuses:
        if not isinstance(status, dict):
            continue
        ident, name = _ident(status.get("id")), status.get("name")
        category = category_from_key(status.get("statusCategory"))
        if ident is None or not isinstance(name, str) or category is None:
            continue
        scope = status.get("scope")
        project = scope.get("project") if isinstance(scope, dict) else None
        project_id = _ident(project.get("id")) if isinstance(project, dict) else None
        out[ident] = CatalogueStatus(name, category, project_id)
    return out


class StatusBook:
    """Categorizes the status transitions of one issue (or of stored rows of one site).

    ``project_id`` is the issue's project, so that a name shared by several projects'
    statuses resolves to the issue's own. ``learn`` adds the issue's current status.
    """

    def __init__(
        self,
        overrides: Mapping[str, StatusCategory] | None = None,
        catalogue: StatusCatalogue | None = None,
        *,
        project_id: str | None = None,
    ) -> None:
        self._overrides = dict(overrides or {})
        self._catalogue: StatusCatalogue = catalogue or {}
        self._project = project_id
        self._current: dict[str, StatusCategory] = {}
        self._current_names: dict[str, StatusCategory] = {}
        self._names: dict[str, list[CatalogueStatus]] | None = None  # built on first need

    def learn(self, ident: Any, name: Any, category: StatusCategory) -> None:
        """The issue's current status (its own ``statusCategory``)."""
        key = _ident(ident)
        if key is not None:
            self._current[key] = category
        if isinstance(name, str) and name.strip():
            self._current_names[name.strip().casefold()] = category

    def categorize(self, ident: Any, name: Any) -> tuple[StatusCategory | None, CategoryRule | None]:
        """The category of the status with this id and (then) name, and the rule that gave it."""
        key = _ident(ident)
        found_entry = self._catalogue.get(key) if key is not None else None
        listed = _entry(found_entry) if found_entry is not None else None
        text = name if isinstance(name, str) else None
        if self._overrides:
            for candidate in (listed.name if listed else None, text):
                forced = override_for(candidate, self._overrides)
                if forced is not None:
                    return forced, CategoryRule.profile
        if listed is not None:
            return listed.category, CategoryRule.id
        if key is not None and key in self._current:
            return self._current[key], CategoryRule.current
        if text is not None and text.strip():
            found = self._by_name(text.strip().casefold())
            if found is not None:
                return found, CategoryRule.name
        return None, None

    def category(self, ident: Any, name: Any) -> StatusCategory | None:
        return self.categorize(ident, name)[0]

    def _by_name(self, folded: str) -> StatusCategory | None:
        if self._names is None:
            self._names = {}
            for status in map(_entry, self._catalogue.values()):
                self._names.setdefault(status.name.strip().casefold(), []).append(status)
        named = self._names.get(folded, [])
        own = {s.category for s in named if self._project and s.project_id == self._project}
        if own:
            return own.pop() if len(own) == 1 else None
        shared = {s.category for s in named if s.project_id is None}
        if folded in self._current_names:
            shared.add(self._current_names[folded])
        if not shared:
            shared = {s.category for s in named}
        return shared.pop() if len(shared) == 1 else None


def unknown_status_ids(changes: Iterable[Change], catalogue: StatusCatalogue) -> set[str]:
    """Status ids the mapped changes name that the catalogue lacks: time to reload it."""
    out: set[str] = set()
    for change in changes:
        if change.field != "status":
            continue
        for ident in (change.from_id, change.to_id):
            if ident is not None and ident not in catalogue:
                out.add(ident)
    return out


class Recategorized(NamedTuple):
    """New categories of one stored status change; ``key`` is the row's ``id`` (if given)."""

    key: Any
    from_category: StatusCategory | None
    to_category: StatusCategory | None
    from_rule: CategoryRule | None
    to_rule: CategoryRule | None
    changed: bool  # differs from the categories the row holds


def _stored(value: Any) -> StatusCategory | None:
    if isinstance(value, StatusCategory):
        return value
    try:
        return StatusCategory(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _stored_rule(value: Any) -> CategoryRule | None:
    try:
        return CategoryRule(value) if isinstance(value, str) else None
    except ValueError:
        return None


def recategorize_changes(
    rows: Iterable[Mapping[str, Any]],
    catalogue: StatusCatalogue,
    *,
    overrides: Mapping[str, StatusCategory] | None = None,
) -> list[Recategorized]:
    """Categories of stored status-change rows under a (new) catalogue, without calling Jira.

    Each row is a mapping with ``from_value``/``to_value`` (status names then),
    ``from_id``/``to_id`` (status ids; missing or ``None`` for rows stored before ids were
    kept: they go by name), ``from_category``/``to_category`` (what is stored), and
    optionally ``id`` (returned as ``key``), ``field`` (rows of other fields are skipped),
    ``project_external_id`` (to resolve shared names) and ``from_rule``/``to_rule``.
    One result per status row, in order. A side that no rule categorizes keeps what the
    row holds (an earlier mapping may have known it from the issue's status then).
    """
    books: dict[str | None, StatusBook] = {}
    out: list[Recategorized] = []
    for row in rows:
        field = row.get("field", "status")
        if field != "status":
            continue
        project = _ident(row.get("project_external_id"))
        book = books.get(project)
        if book is None:
            book = books[project] = StatusBook(overrides, catalogue, project_id=project)
        old_from, old_to = _stored(row.get("from_category")), _stored(row.get("to_category"))
        new_from, from_rule = book.categorize(row.get("from_id"), row.get("from_value"))
        new_to, to_rule = book.categorize(row.get("to_id"), row.get("to_value"))
        if new_from is None:
            new_from, from_rule = old_from, _stored_rule(row.get("from_rule"))
        if new_to is None:
            new_to, to_rule = old_to, _stored_rule(row.get("to_rule"))
        changed = (new_from, new_to) != (old_from, old_to)
        if "from_rule" in row or "to_rule" in row:  # the store keeps rules: a new rule is news
            old_rules = (_stored_rule(row.get("from_rule")), _stored_rule(row.get("to_rule")))
            changed = changed or (from_rule, to_rule) != old_rules
        out.append(Recategorized(row.get("id"), new_from, new_to, from_rule, to_rule, changed))
    return out
