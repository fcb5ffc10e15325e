"""A Trello board's action history at its first sync (issue 19 items 2 and 3): read back to
the horizon with ``before`` at ``limit=1000``, one filter, resumable; the change history
gives started/completed times (so cycle time works from day one), the hours field's changes
become worklogs, and what the history does not explain is one carried-in entry per card."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from connectors.errors import Fatal
from connectors.trello import TrelloClient, set_default_limiter
from sandbox.trello import TrelloState, generate, mutations, start
from service.db import Database
from service.schemas import SourceCreate
from service.sync.runner import run_sync
from service.sync.trello_history import HISTORY_FILTER
from service.tables import Change, Organization, PersonIdentity, SyncState, Task, Worklog, table
from service.views.budget import budget_view
from service.views.flow import flow_view
from service.views.progress import progress_view
from service.views.selection import ViewParams, resolve_selection
from tests.sync.conftest import FakeSleep, sync_settings

T, C, W, SS, PI = table(Task), table(Change), table(Worklog), table(SyncState), table(PersonIdentity)
ACTIONS = "GET /1/boards/{board_id}/actions"
HOURS = "Hours spent"


class Site:
    def __init__(self, db: Database, tmp_path: Path, *, cards: int, seed: int = 11) -> None:
        self.db = db
        self.state = TrelloState(seed=seed)
        self.boards = generate(self.state, boards=1, cards_per_board=cards, seed=seed)
        self.url, self._stop = start(self.state)
        self.api = self.url + "/1"
        self.settings = sync_settings(tmp_path)
        self.n = 0

    def source(self, *, history_since: str | None = None) -> tuple[int, int]:
        self.n += 1
        scope: dict[str, Any] = {"boards": self.boards}
        if history_since:
            scope["history_since"] = history_since
        with self.db.session() as s:
            from service.security.auth import create_org
            from service.sources import create_source

            org = create_org(s, f"org-{self.n}")
            body = {"kind": "trello", "name": "trello", "base_url": self.api, "scope": scope,
                    "credentials": {"type": "trello", "api_key": self.state.api_key, "token": "sandbox-token",
                                    "app_secret": self.state.app_secret}}
            src = create_source(s, self.settings, org.id, SourceCreate.model_validate(body))
            return org.id, src.id  # type: ignore[return-value]

    def sync(self, source_id: int, mode: str = "backfill", **kw: Any) -> Any:
        return run_sync(self.db, self.settings, source_id, mode=mode, sleep=FakeSleep(), **kw)

    def close(self) -> None:
        self._stop()
        self.state.close()
        set_default_limiter(None)


@pytest.fixture
def big(db: Database, tmp_path: Path) -> Iterator[Site]:
    site = Site(db, tmp_path, cards=400)  # ~2,400 card actions: three 1,000-action pages
    yield site
    site.close()


@pytest.fixture
def small(db: Database, tmp_path: Path) -> Iterator[Site]:
    site = Site(db, tmp_path, cards=60, seed=5)
    yield site
    site.close()


def changes_of(db: Database, source_id: int) -> set[tuple[Any, ...]]:
    with db.read() as c:
        return set(c.execute(sa.select(C.c.task_external_id, C.c.external_id, C.c.field, C.c.to_value)
                             .where(C.c.source_id == source_id, C.c.origin == "changelog")).all())


def worklogs_of(db: Database, source_id: int, card: str | None = None) -> list[Any]:
    with db.read() as c:
        q = (sa.select(W.c.external_id, W.c.task_external_id, W.c.seconds, W.c.carried_in, W.c.started_at,
                       W.c.person_id, PI.c.external_id.label("member"))
             .outerjoin(PI, sa.and_(PI.c.person_id == W.c.person_id, PI.c.tool == "trello"))
             .where(W.c.source_id == source_id, W.c.deleted_at.is_(None))
             .order_by(W.c.started_at, W.c.external_id))
        if card:
            q = q.where(W.c.task_external_id == card)
        return c.execute(q).all()


def history_state(db: Database, source_id: int, board: str) -> dict[str, Any] | None:
    with db.read() as c:
        raw = c.execute(sa.select(SS.c.cursor).where(SS.c.source_id == source_id,
                                                     SS.c.stream == f"history:{board}")).scalar()
    return json.loads(raw) if raw else None


def spent_by_card(db: Database, source_id: int) -> dict[str, int]:
    with db.read() as c:
        return {e: int(s or 0) for e, s in c.execute(
            sa.select(T.c.external_id, T.c.spent_seconds).where(T.c.source_id == source_id,
                                                               T.c.deleted_at.is_(None))).all()}


def logged_by_card(db: Database, source_id: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for w in worklogs_of(db, source_id):
        out[w.task_external_id] = out.get(w.task_external_id, 0) + w.seconds
    return {k: v for k, v in out.items() if v}  # a value entered and removed adds up to nothing


# --- several pages, interrupted and resumed ---------------------------------------------------


def _killed_at_second_history_page(site: Site, source: int, monkeypatch: Any) -> list[str | None]:
    """Sync ``source`` with the connection lost at the second history page; returns the
    ``before`` of each history page asked for. TrelloClient.actions stays patched."""
    real = TrelloClient.actions
    pages: list[str | None] = []

    def flaky(self: TrelloClient, board_id: str, since: Any = None, before: Any = None, limit: int = 1000,
              filter: Any = None) -> Any:  # noqa: A002
        if filter == HISTORY_FILTER:
            pages.append(before)
            if len(pages) == 2:
                raise Fatal("connection lost mid-history")
        return real(self, board_id, since=since, before=before, limit=limit, filter=filter)

    monkeypatch.setattr(TrelloClient, "actions", flaky)
    with pytest.raises(Fatal):
        site.sync(source)
    return pages


def test_a_history_of_several_pages_resumes_where_an_interrupted_run_stopped(big: Site, monkeypatch):
    (board,) = big.boards
    filtered = [a for a in big.state.boards[board].actions
                if a.type in HISTORY_FILTER.split(",")]
    assert len(filtered) > 2000  # three pages
    _, reference = big.source()
    big.sync(reference)
    _, source = big.source()

    real = TrelloClient.actions
    history_pages = _killed_at_second_history_page(big, source, monkeypatch)
    stopped = history_state(big.db, source, board)
    assert stopped is not None and not stopped["done"] and stopped["before"]  # one page stored
    assert stopped["before"] == history_pages[1]
    monkeypatch.setattr(TrelloClient, "actions", real)

    calls: list[str | None] = []
    heads: list[str | None] = []

    def counted(self: TrelloClient, board_id: str, since: Any = None, before: Any = None, limit: int = 1000,
                filter: Any = None) -> Any:  # noqa: A002
        if filter == HISTORY_FILTER:
            (heads if since and not before else calls).append(since if since and not before else before)
            assert limit == 1000
        return real(self, board_id, since=since, before=before, limit=limit, filter=filter)

    monkeypatch.setattr(TrelloClient, "actions", counted)
    progress: list[tuple[str, int, int | None]] = []
    run = big.sync(source, progress=lambda phase, done, total: progress.append((phase, done, total)))
    assert calls[0] == stopped["before"] and len(calls) == 2  # the two pages left, not the first again
    assert heads == [stopped["top"]]  # then what came after the history's start, in one request
    assert run.api_calls == 2 + 2 + 1  # board and cards, those two pages, the head (no newest: the run resumes)
    assert any(p.startswith("history ") for p, _, _ in progress)
    assert history_state(big.db, source, board)["done"]  # type: ignore[index]
    # the same history as a run that was never interrupted
    assert changes_of(big.db, source) == changes_of(big.db, reference)
    assert [(w.external_id, w.seconds) for w in worklogs_of(big.db, source)] == [
        (w.external_id, w.seconds) for w in worklogs_of(big.db, reference)]
    # and read once: the next polls read no history; a full sync reads only what came after
    # the last poll (one request), so hours changed since are worklogs, not carried-in hours
    calls.clear()
    heads.clear()
    big.sync(source, "incremental")
    big.sync(source, "full")
    assert calls == [] and len(heads) == 1


# --- hours up, down and to empty -------------------------------------------------------------


def test_hours_raised_lowered_and_emptied_before_the_first_sync_are_worklogs_by_their_members(small: Site):
    (board,) = small.boards
    state = small.state
    field = next(cf.id for cf in state.boards[board].custom_fields.values() if cf.name == HOURS)
    card = _card_without_hours(small, board, field)
    alice, bob = list(state.boards[board].membership_ids)[:2]
    day = 86_400.0
    now = state.now()
    mutations.set_custom_field(state, card.id, field, "3.5", ts=now - 9 * day, by=alice)
    mutations.set_custom_field(state, card.id, field, "5", ts=now - 8 * day, by=bob)  # up
    mutations.set_custom_field(state, card.id, field, "2", ts=now - 7 * day, by=alice)  # down: a correction
    mutations.set_custom_field(state, card.id, field, None, ts=now - 6 * day, by=bob)  # emptied
    _, source = small.source()
    small.sync(source)
    mine = worklogs_of(small.db, source, card.id)
    assert [(w.seconds, w.member) for w in mine] == [(12600, alice), (5400, bob), (-10800, alice), (-7200, bob)]
    assert not any(w.carried_in for w in mine) and sum(w.seconds for w in mine) == 0
    # every card's worklogs add up to its hours field; the whole life is read: nothing carried in
    assert logged_by_card(small.db, source) == {k: v for k, v in spent_by_card(small.db, source).items() if v}
    assert not any(w.carried_in for w in worklogs_of(small.db, source))


# --- the carried-in rule -------------------------------------------------------------------------


def test_hours_from_before_the_horizon_are_one_carried_in_entry_recomputed_when_they_disagree(small: Site):
    (board,) = small.boards
    state = small.state
    log = state.boards[board].actions
    mid = datetime.fromtimestamp(log[len(log) // 2].ts, UTC)
    since = (mid + timedelta(days=1)).date()
    _, source = small.source(history_since=since.isoformat())
    small.sync(source)
    horizon = datetime(since.year, since.month, since.day, tzinfo=UTC)
    carried = [w for w in worklogs_of(small.db, source) if w.carried_in]
    assert carried and all(w.person_id is None and w.external_id == f"{w.task_external_id}:carried_in"
                           and w.started_at.replace(tzinfo=UTC) >= horizon for w in carried)
    logged = [w for w in worklogs_of(small.db, source) if not w.carried_in]
    assert logged and all(w.started_at.replace(tzinfo=UTC) >= horizon for w in logged)
    spent = {k: v for k, v in spent_by_card(small.db, source).items() if v}
    assert logged_by_card(small.db, source) == spent  # worklogs + carried-in = the hours field
    assert history_state(small.db, source, board)["horizon"] == horizon.isoformat()  # type: ignore[index]

    # A worklog lost (deleted here by hand): the card's hours and its worklogs disagree; the
    # census replaces the carried-in entry (same external id), so they agree again.
    victim = next(w for w in logged if w.seconds > 0)
    with small.db.write() as c:
        c.execute(sa.update(W).where(W.c.source_id == source, W.c.external_id == victim.external_id)
                  .values(deleted_at=datetime.now(UTC)))
    before = {w.external_id: w.seconds for w in carried}
    small.sync(source, "census")
    after = {w.external_id: w.seconds for w in worklogs_of(small.db, source) if w.carried_in}
    key = f"{victim.task_external_id}:carried_in"
    assert after[key] == before.get(key, 0) + victim.seconds
    assert logged_by_card(small.db, source) == spent
    # a card whose carried-in hours the history comes to explain loses its entry
    with small.db.write() as c:
        c.execute(sa.update(W).where(W.c.source_id == source, W.c.external_id == victim.external_id)
                  .values(deleted_at=None))
    small.sync(source, "census")
    now = {w.external_id: w.seconds for w in worklogs_of(small.db, source) if w.carried_in}
    assert now.get(key) == before.get(key) and logged_by_card(small.db, source) == spent


def test_a_horizon_in_the_future_or_without_a_zone_is_refused_with_the_reason():
    body = {"kind": "trello", "name": "t",
            "credentials": {"type": "trello", "api_key": "k", "token": "t", "app_secret": "s"}}
    for bad, words in (("2999-01-01", "is in the future"), ("2025-01-01T10:00:00", "date"),
                       ("soon", "date"), ("0001-01-01T05:00:00+14:00", "from 1970-01-01"),
                       (5, "ISO 8601 text"), ("20260301", "ISO 8601 text"), ("1772323200", "ISO 8601 text"),
                       (" 2026 ", "ISO 8601 text"), ("1.7e9", "ISO 8601 text")):
        with pytest.raises(ValidationError, match=words):
            SourceCreate.model_validate({**body, "scope": {"history_since": bad}})
    ok = SourceCreate.model_validate({**body, "scope": {"history_since": "2025-01-01"}})
    assert ok.scope is not None and ok.scope.model_dump(exclude_none=True)["history_since"] == "2025-01-01"
    # A midnight with an offset is that instant, not the UTC date (a date-first union lost the offset).
    west = SourceCreate.model_validate({**body, "scope": {"history_since": "2026-03-01T00:00:00-08:00"}})
    assert west.scope is not None and west.scope.model_dump()["history_since"] == "2026-03-01T00:00:00-08:00"


# --- sources synced before histories were read --------------------------------------------------


def test_a_board_synced_before_histories_gets_its_history_read_once(small: Site):
    (board,) = small.boards
    _, source = small.source()
    small.sync(source)
    expected_changes, expected_logs = changes_of(small.db, source), worklogs_of(small.db, source)
    with small.db.read() as c:
        started = dict(c.execute(sa.select(T.c.external_id, T.c.started_at).where(T.c.source_id == source)).all())
    # as the sync before this change left it: no history stream, no history rows, the start
    # of work stamped with the card's last activity
    with small.db.write() as c:
        c.execute(sa.delete(SS).where(SS.c.source_id == source, SS.c.stream == f"history:{board}"))
        c.execute(sa.delete(C).where(C.c.source_id == source))
        c.execute(sa.delete(W).where(W.c.source_id == source))
        c.execute(sa.update(T).where(T.c.source_id == source, T.c.started_at.is_not(None))
                  .values(started_at=T.c.remote_updated_at))
    run = small.sync(source, "incremental")
    assert run.api_calls == 1 + 1  # the poll, then the history's one page
    assert history_state(small.db, source, board)["done"]  # type: ignore[index]
    assert changes_of(small.db, source) == expected_changes
    assert [w.external_id for w in worklogs_of(small.db, source)] == [w.external_id for w in expected_logs]
    with small.db.read() as c:
        now = dict(c.execute(sa.select(T.c.external_id, T.c.started_at).where(T.c.source_id == source)).all())
    assert now == started  # the start of work comes from the history again
    again = small.sync(source, "incremental")
    assert again.api_calls == 1


# --- the figures (issue 19) --------------------------------------------------------------------


def test_cycle_time_is_known_and_trello_hours_are_costed_where_progress_shows_them(db: Database, tmp_path: Path):
    site = Site(db, tmp_path, cards=190, seed=7)
    try:
        org, source = site.source()
        with db.write() as c:
            c.execute(sa.update(table(Organization)).where(table(Organization).c.id == org)
                      .values(default_hourly_rate=Decimal(80)))
        site.sync(source)
        state = site.state
        (board,) = site.boards
        lists = state.boards[board].lists
        done_list = next(lst.id for lst in lists.values() if lst.name == "Done")
        wip = {lst.id for lst in lists.values() if lst.name in ("Doing", "Review")}
        passed = [c for c in state.boards[board].cards.values()
                  if c.id_list == done_list and not c.closed
                  and any(a.id_card == c.id and a.field == "idList" and a.new_value in wip
                          for a in state.boards[board].actions)]
        assert len(passed) > 20
        with db.read() as c:
            sel = resolve_selection(c, org, ViewParams(group_by="project"))
            flow = flow_view(c, sel)
            progress = progress_view(c, sel)
            budget = budget_view(c, sel)
        cycle = flow["total"]["cycle_time_days"] if "total" in flow else flow["groups"][0]["cycle_time_days"]
        assert cycle["count"] >= 0.95 * len(passed), (cycle, len(passed))
        spent = {g["group"]["id"]: g["spent_seconds"] / 3600 for g in progress["groups"]}
        costed = {g["group"]["id"]: (g["hours"], g["ac_labour"]) for g in budget["groups"]}
        with db.read() as c:  # the hours fields of the cards out of progress's scope
            out_of_scope = dict(c.execute(
                sa.select(T.c.project_id, sa.func.sum(T.c.spent_seconds))
                .where(T.c.source_id == source, T.c.deleted_at.is_(None),
                       sa.or_(T.c.archived.is_(True), T.c.is_milestone.is_(True)))
                .group_by(T.c.project_id)).all())
        assert spent and all(v > 0 for v in spent.values())
        for project, hours in spent.items():
            budget_hours, labour = costed[project]
            assert labour and labour > 0  # costed, at the organization's rate here
            # the same hours: progress counts the cards in scope, the budget all the labour,
            # archived and milestone cards' too
            assert budget_hours == pytest.approx(hours + float(out_of_scope.get(project) or 0) / 3600, abs=0.01)
            assert float(labour) == pytest.approx(budget_hours * 80, abs=1)
    finally:
        site.close()


# --- defects from the second review ---------------------------------------------------------------


def test_a_board_named_by_its_short_link_syncs_under_its_full_id(db: Database, tmp_path: Path):
    from service.sync.trello_boards import mirrored_boards
    from service.tables import Source

    site = Site(db, tmp_path, cards=8, seed=3)
    try:
        (board,) = site.boards
        short = site.state.boards[board].short_link
        assert short != board
        site.boards = [short]  # the scope names the board as its URL does
        _, source = site.source()
        site.sync(source)  # failed in default_horizon: "not a Trello id"
        state = history_state(db, source, board)
        assert state is not None and state["done"] and history_state(db, source, short) is None
        assert spent_by_card(db, source)  # the cards are stored
        with db.read() as c:
            streams = set(c.execute(sa.select(SS.c.stream).where(SS.c.source_id == source)).scalars())
            src = c.execute(sa.select(table(Source)).where(table(Source).c.id == source)).one()
        assert {f"actions:{board}", f"board:{board}"} <= streams and not any(short in s for s in streams)
        assert src.site_info["board_ids"] == {short: board}
        assert board in (mirrored_boards(src) or set())  # webhooks name the full id
        run = site.sync(source, "incremental")
        assert run.api_calls == 1  # resolved once: the poll alone
    finally:
        site.close()


def _hours_field(site: Site, board: str) -> str:
    return next(cf.id for cf in site.state.boards[board].custom_fields.values() if cf.name == HOURS)


def _card_without_hours(site: Site, board: str, field: str) -> Any:
    """An open card whose hours field is empty and never held a value (its history has no
    hours entered and removed again, so the worklogs a test finds are the test's own)."""
    touched = {a.id_card for a in site.state.boards[board].actions if a.type == "updateCustomFieldItem"}
    return next(c for c in site.state.boards[board].cards.values()
                if field not in c.custom and not c.closed and c.id not in touched)


def _no_last_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hours changes that leave a card's dateLastActivity as it was: whether Trello moves it
    on updateCustomFieldItem is not documented, so nothing may depend on it."""
    import sandbox.trello.mutations.details as details

    monkeypatch.setattr(details, "touch", lambda card, ts: None)


def test_a_census_before_the_poll_counts_an_hours_change_once(small: Site, monkeypatch):
    (board,) = small.boards
    _, source = small.source()
    small.sync(source)
    field = _hours_field(small, board)
    card = _card_without_hours(small, board, field)
    member = next(iter(small.state.boards[board].membership_ids))
    _no_last_activity(monkeypatch)
    mutations.set_custom_field(small.state, card.id, field, "4", by=member)
    # the scheduled census runs before the poll (or before the webhook is processed): it read
    # the card's 4 h but not the change, carried them in, and the poll logged them again
    small.sync(source, "census")
    assert [(w.seconds, w.carried_in, w.member) for w in worklogs_of(small.db, source, card.id)] == [
        (4 * 3600, False, member)]
    small.sync(source, "incremental")
    assert [(w.seconds, w.carried_in, w.member) for w in worklogs_of(small.db, source, card.id)] == [
        (4 * 3600, False, member)]
    assert logged_by_card(small.db, source) == {k: v for k, v in spent_by_card(small.db, source).items() if v}


def test_a_resumed_history_counts_hours_changed_between_the_runs_once(big: Site, monkeypatch):
    (board,) = big.boards
    _, source = big.source()
    real = TrelloClient.actions
    _killed_at_second_history_page(big, source, monkeypatch)
    monkeypatch.setattr(TrelloClient, "actions", real)
    field = _hours_field(big, board)
    card = _card_without_hours(big, board, field)
    member = next(iter(big.state.boards[board].membership_ids))
    _no_last_activity(monkeypatch)
    mutations.set_custom_field(big.state, card.id, field, "3", by=member)  # between the two runs
    big.sync(source)  # resumes: the cards are read now, the history's start is the first run's
    assert history_state(big.db, source, board)["done"]  # type: ignore[index]
    big.sync(source, "incremental")
    assert [(w.seconds, w.carried_in, w.member) for w in worklogs_of(big.db, source, card.id)] == [
        (3 * 3600, False, member)]
    assert logged_by_card(big.db, source) == {k: v for k, v in spent_by_card(big.db, source).items() if v}


@pytest.mark.parametrize("how", ["full", "died after the history"])
def test_a_sync_with_the_history_read_first_reads_the_hours_changed_since_the_last_poll(
        small: Site, monkeypatch, how: str):
    (board,) = small.boards
    _, source = small.source()
    small.sync(source)
    field = _hours_field(small, board)
    card = _card_without_hours(small, board, field)
    member = next(iter(small.state.boards[board].membership_ids))
    _no_last_activity(monkeypatch)
    mutations.set_custom_field(small.state, card.id, field, "2.5", by=member)
    if how == "full":
        small.sync(source, "full")
    else:  # the history was stored, the card list and the actions cursor were not
        with small.db.write() as c:
            c.execute(sa.delete(SS).where(SS.c.source_id == source, SS.c.stream == f"actions:{board}"))
        small.sync(source)
    small.sync(source, "incremental")
    # the member's 2.5 h, not an authorless carried-in entry
    assert [(w.seconds, w.carried_in, w.member) for w in worklogs_of(small.db, source, card.id)] == [
        (9000, False, member)]
    assert logged_by_card(small.db, source) == {k: v for k, v in spent_by_card(small.db, source).items() if v}


def test_hours_changed_while_the_first_sync_reads_the_board_are_counted_once(small: Site, monkeypatch):
    """Between the newest action the backfill starts from and its card list, an hours change
    that leaves dateLastActivity alone: the card holds it, the history logs it, and the
    carried-in entry must not hold it too."""
    (board,) = small.boards
    _, source = small.source()
    field = _hours_field(small, board)
    card = _card_without_hours(small, board, field)
    member = next(iter(small.state.boards[board].membership_ids))
    _no_last_activity(monkeypatch)
    real = TrelloClient.board

    def board_then_change(self: TrelloClient, board_id: str, **kw: Any) -> Any:
        out = real(self, board_id, **kw)
        if not card.custom.get(field):
            mutations.set_custom_field(small.state, card.id, field, "1.5", by=member)
        return out

    monkeypatch.setattr(TrelloClient, "board", board_then_change)
    small.sync(source)
    monkeypatch.setattr(TrelloClient, "board", real)
    small.sync(source, "incremental")
    assert [(w.seconds, w.carried_in, w.member) for w in worklogs_of(small.db, source, card.id)] == [
        (5400, False, member)]
    assert logged_by_card(small.db, source) == {k: v for k, v in spent_by_card(small.db, source).items() if v}


def test_a_card_created_into_progress_after_the_first_sync_has_its_start_from_a_poll(small: Site):
    (board,) = small.boards
    st = small.state
    _, source = small.source()
    small.sync(source)
    doing = next(lst.id for lst in st.boards[board].lists.values() if lst.name == "Doing")
    done = next(lst.id for lst in st.boards[board].lists.values() if lst.name == "Done")
    card = mutations.create_card(st, doing, "new work")
    mutations.move_card(st, card.id, done)
    small.sync(source, "incremental")
    created = next(a for a in st.boards[board].actions if a.type == "createCard" and a.id_card == card.id)
    with small.db.read() as c:
        rows = c.execute(sa.select(C.c.external_id, C.c.to_category).where(
            C.c.source_id == source, C.c.task_external_id == card.id, C.c.field == "status")).all()
        task = c.execute(sa.select(T.c.started_at, T.c.completed_at).where(
            T.c.source_id == source, T.c.external_id == card.id)).one()
    assert (f"{created.id}:entry", "in_progress") in [tuple(r) for r in rows]
    assert abs(task.started_at.replace(tzinfo=UTC).timestamp() - created.ts) < 0.001  # its creation
    assert task.completed_at is not None and task.completed_at >= task.started_at


def test_a_card_moved_to_another_mirrored_board_keeps_its_history_there_and_a_gone_card_none(
        db: Database, tmp_path: Path):
    state = TrelloState(seed=3)
    a, b, other = generate(state, boards=3, cards_per_board=25, seed=3)
    url, stop = start(state)
    try:
        settings = sync_settings(tmp_path)
        from tests.sync.conftest import register_trello

        _, source = register_trello(db, settings, url + "/1", state, [a, b])  # not ``other``
        lists = state.boards[a].lists
        wip = {lst.id for lst in lists.values() if lst.name in ("Doing", "Review")}
        worked = [c for c in state.boards[a].cards.values()
                  if any(x.id_card == c.id and x.field == "idList" and x.new_value in wip
                         for x in state.boards[a].actions)]
        moved, left, deleted = worked[:3]
        done_b = next(lst.id for lst in state.boards[b].lists.values() if lst.name == "Done")
        mutations.move_card_to_board(state, moved.id, b, done_b)
        mutations.move_card_to_board(state, left.id, other)
        mutations.delete_card(state, deleted.id)
        run_sync(db, settings, source, mode="backfill", sleep=FakeSleep())
        with db.read() as c:
            def status_rows(card: str) -> list[Any]:
                return c.execute(sa.select(C.c.to_category, C.c.changed_at).where(
                    C.c.source_id == source, C.c.task_external_id == card, C.c.field == "status")).all()

            task = c.execute(sa.select(T.c.project_id, T.c.started_at, T.c.status_category).where(
                T.c.source_id == source, T.c.external_id == moved.id)).one()
            rows = status_rows(moved.id)
            gone = status_rows(left.id) + status_rows(deleted.id)
        # its moves on the first board: it was in progress there before it moved to Done on b
        wip_rows = [r for r in rows if r.to_category == "in_progress"]
        assert wip_rows and task.status_category == "done"
        assert task.started_at is not None and task.started_at == min(r.changed_at for r in wip_rows)
        assert gone == []  # deleted, or moved to a board the source does not mirror
    finally:
        stop()
        state.close()
        set_default_limiter(None)


def test_moves_into_a_list_renamed_since_take_its_current_category(small: Site):
    (board,) = small.boards
    st = small.state
    now = st.now()
    day = 86400.0
    todo = next(lst.id for lst in st.boards[board].lists.values() if lst.name == "To Do")
    done = next(lst.id for lst in st.boards[board].lists.values() if lst.name == "Done")
    lane = mutations.create_list(st, board, "Next up", ts=now - 10 * day)
    card = mutations.create_card(st, todo, "renamed lane", ts=now - 9 * day)
    mutations.move_card(st, card.id, lane.id, ts=now - 8 * day)  # into the lane while it was "Next up"
    mutations.rename_list(st, lane.id, "Doing", ts=now - 7 * day)  # renamed: in progress now
    mutations.move_card(st, card.id, done, ts=now - 5 * day)
    _, source = small.source()
    small.sync(source)
    with small.db.read() as c:
        rows = c.execute(sa.select(C.c.to_value, C.c.to_category, C.c.to_id).where(
            C.c.source_id == source, C.c.task_external_id == card.id, C.c.field == "status")).all()
        started = c.execute(sa.select(T.c.started_at).where(
            T.c.source_id == source, T.c.external_id == card.id)).scalar()
    assert ("Next up", "in_progress", lane.id) in [tuple(r) for r in rows]  # the name then, the category now
    assert started is not None and abs(started.replace(tzinfo=UTC).timestamp() - (now - 8 * day)) < 1


def test_a_card_moved_to_a_board_synced_before_its_first_gets_both_boards_history(db: Database, tmp_path: Path):
    state = TrelloState(seed=3)
    a, b = generate(state, boards=2, cards_per_board=25, seed=3)
    url, stop = start(state)
    try:
        settings = sync_settings(tmp_path)
        from tests.sync.conftest import register_trello

        _, source = register_trello(db, settings, url + "/1", state, [b, a])  # b is synced first
        field = next(cf.id for cf in state.boards[a].custom_fields.values() if cf.name == HOURS)
        wip = {lst.id for lst in state.boards[a].lists.values() if lst.name in ("Doing", "Review")}
        card = next(c for c in state.boards[a].cards.values()
                    if field not in c.custom and not c.closed
                    and any(x.id_card == c.id and x.field == "idList" and x.new_value in wip
                            for x in state.boards[a].actions))
        member = next(iter(state.boards[a].membership_ids))
        mutations.set_custom_field(state, card.id, field, "6", by=member)  # logged on a
        done_b = next(lst.id for lst in state.boards[b].lists.values() if lst.name == "Done")
        mutations.move_card_to_board(state, card.id, b, done_b)
        run_sync(db, settings, source, mode="backfill", sleep=FakeSleep())
        with db.read() as c:
            task = c.execute(sa.select(T.c.started_at, T.c.spent_seconds).where(
                T.c.source_id == source, T.c.external_id == card.id)).one()
            wip_at = c.execute(sa.select(sa.func.min(C.c.changed_at)).where(
                C.c.source_id == source, C.c.task_external_id == card.id, C.c.to_category == "in_progress")).scalar()
        assert wip_at is not None and task.started_at == wip_at  # its start on a
        b_field = next((cf.id for cf in state.boards[b].custom_fields.values() if cf.name == HOURS), None)
        spent = task.spent_seconds or 0
        mine = [(w.seconds, w.carried_in) for w in worklogs_of(db, source, card.id)]
        # its worklogs add up to its hours on b: the member's 6 h are not also carried in
        assert sum(s for s, _ in mine) == spent, (mine, spent, b_field)
        assert (6 * 3600, False) in mine
    finally:
        stop()
        state.close()
        set_default_limiter(None)
