"""The quality view (issue 23): every figure equals a hand computation, Jira and Trello together,
in a non-UTC organization (Asia/Tokyo, UTC+9, no DST), on both stores.

The world, written through the store (tasks, changes, versions) with the links and the Trello bug
type inserted as the sync will store them. Times are UTC; "Tokyo" is the local date (+9 h).

    ALP (Jira, project "100")       versions: v1 "1.0" released 2026-02-10, v2 "1.1" released
                                    2026-03-10, v3 "2.0" unreleased (2026-04-30)
      S1 story  created 01-05  done 03-03 03:00
      S2 story  created 01-05  in progress 03-02, done 03-16 03:00; fixed in v2
      S3 story  created 01-05  done 02-05 03:00; fixed in v1
      S4 story  created 03-01  todo; affected v1 (not a bug: never escaped)
      B1 bug    created 02-11 12:00 (Tokyo 02-11 21:00)  todo; affected v1
      B2 bug    created 02-10 10:00 (Tokyo 02-10 19:00, v1's release day)  in progress 03-02,
                done 03-18 01:00 (Tokyo 03-18); affected v1
      B3 bug    created 03-01 20:00 (Tokyo Mon 03-02 05:00: W10; in UTC it would be W09)
                in progress 03-05 03:00; links to S3 (made 03-05) and to S2 (made 03-05)
      B4 bug    created 03-12 03:00  done 03-13 05:00, reopened 03-15 00:00 (Tokyo Sun 03-15 09:00)
                → in progress; link to S2 made 03-12 04:00 (S2 also holds the other side)
      B5 bug    created 2025-12-10  done 2026-01-10 03:00, reopened 02-01 03:00 (Tokyo Sun 02-01),
                done again 02-20 03:00
      B6 bug    created 03-11 03:00  in progress 03-12 03:00, done 03-17 03:00; affected v3;
                link to S2 made 03-11 04:00, deleted 03-14
    BETA (Trello, board "b1")
      TB1 bug card  created 03-08 16:00 (Tokyo Mon 03-09 01:00: W11)  done 03-19 03:00
      TB2 bug card  created 03-10 03:00  todo
      TC1 card  created 02-01  done 03-05 03:00;   TC2 card  created 02-01  done 02-25 03:00

ISO weeks of 2026: W01 = 2025-12-29..01-04, W05 = 01-26..02-01, W07 = 02-09..02-15,
W08 = 02-16..02-22, W10 = 03-02..03-08, W11 = 03-09..03-15, W12 = 03-16..03-22.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from mappings.model import Change, Milestone, MilestoneRef, MilestoneUpsert, StatusCategory, Task, TaskType, TaskUpsert
from service import store
from service.api.responses import QualityView
from service.db import Database
from service.store import rollups
from service.tables import Project, TaskLink
from service.tables import Task as TaskRow
from tests.views.conftest import Org, by_name, get_view, tokens_for
from tests.views.portfolio_data import make_world

TODO, WIP, DONE = StatusCategory.todo, StatusCategory.in_progress, StatusCategory.done


def at(month: int, day: int, hour: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _moves(ext: str, *steps: tuple[StatusCategory, StatusCategory, datetime]) -> list[Change]:
    return [
        Change(task_external_id=ext, external_id=f"{ext}-{i}", field="status", from_value=a.value, to_value=b.value,
               from_category=a, to_category=b, changed_at=when)
        for i, (a, b, when) in enumerate(steps)
    ]


def _task(ext: str, project: str, created: datetime, cat: StatusCategory, steps: list[Change], *,
          type: TaskType, ms: str | None = None, affected: list[str] | None = None) -> TaskUpsert:  # noqa: A002
    updated = max([created, *(c.changed_at for c in steps)])
    return TaskUpsert(task=Task(
        external_id=ext, key=ext, title=f"Task {ext}", project_external_id=project,
        project_key={"100": "ALP", "b1": "BETA"}[project],
        type=type, status=cat.value, status_category=cat, created_at=created, updated_at=updated,
        milestones=[MilestoneRef(external_id=ms)] if ms else [], affected_versions=affected or [],
    ), changes=steps, raw={"id": ext})


def _version(ext: str, name: str, release: date, released: bool) -> MilestoneUpsert:
    return MilestoneUpsert(milestone=Milestone(
        external_id=ext, project_external_id="100", name=name, due_date=release, released=released,
        completed_at=datetime(release.year, release.month, release.day, tzinfo=UTC) if released else None,
        updated_at=at(1, 2)))


def _link(org: int, source: int, holder: str, other: str, made: datetime, deleted: datetime | None = None) -> dict:
    return {"org_id": org, "source_id": source, "task_external_id": holder, "external_id": f"{holder}>{other}",
            "link_type": "Relates", "direction": "outward", "phrase": "relates to", "role": "other",
            "other_external_id": other, "created_at": made, "deleted_at": deleted, "synced_at": at(3, 20)}


BUG, STORY, CARD = TaskType.bug, TaskType.story, TaskType.card


def build_quality(db: Database, name: str = "q") -> Org:
    w = make_world(db, name, "Asia/Tokyo")
    with db.write() as c:
        store.upsert_milestones(c, w.org_id, w.jira, [
            _version("v1", "1.0", date(2026, 2, 10), True),
            _version("v2", "1.1", date(2026, 3, 10), True),
            _version("v3", "2.0", date(2026, 4, 30), False),
        ])
        store.upsert_tasks(c, w.org_id, w.jira, [
            _task("S1", "100", at(1, 5), DONE, _moves("S1", (TODO, DONE, at(3, 3))), type=STORY),
            _task("S2", "100", at(1, 5), DONE, _moves("S2", (TODO, WIP, at(3, 2)), (WIP, DONE, at(3, 16))),
                  type=STORY, ms="v2"),
            _task("S3", "100", at(1, 5), DONE, _moves("S3", (TODO, DONE, at(2, 5))), type=STORY, ms="v1"),
            _task("S4", "100", at(3, 1), TODO, [], type=STORY, affected=["v1"]),
            _task("B1", "100", at(2, 11, 12), TODO, [], type=BUG, affected=["v1"]),
            _task("B2", "100", at(2, 10, 10), DONE, _moves("B2", (TODO, WIP, at(3, 2)), (WIP, DONE, at(3, 18, 1))),
                  type=BUG, affected=["v1"]),
            _task("B3", "100", at(3, 1, 20), WIP, _moves("B3", (TODO, WIP, at(3, 5))), type=BUG),
            _task("B4", "100", at(3, 12), WIP, _moves("B4", (TODO, DONE, at(3, 13, 5)), (DONE, WIP, at(3, 15, 0))),
                  type=BUG),
            _task("B5", "100", at(12, 10, year=2025), DONE,
                  _moves("B5", (TODO, DONE, at(1, 10)), (DONE, WIP, at(2, 1)), (WIP, DONE, at(2, 20))), type=BUG),
            _task("B6", "100", at(3, 11), DONE, _moves("B6", (TODO, WIP, at(3, 12)), (WIP, DONE, at(3, 17))),
                  type=BUG, affected=["v3"]),
        ])
        store.upsert_tasks(c, w.org_id, w.trello, [
            _task("TB1", "b1", at(3, 8, 16), DONE, _moves("TB1", (TODO, DONE, at(3, 19))), type=BUG),
            _task("TB2", "b1", at(3, 10), TODO, [], type=BUG),
            _task("TC1", "b1", at(2, 1), DONE, _moves("TC1", (TODO, DONE, at(3, 5))), type=CARD),
            _task("TC2", "b1", at(2, 1), DONE, _moves("TC2", (TODO, DONE, at(2, 25))), type=CARD),
        ])
        c.execute(sa.insert(TaskLink.__table__), [
            _link(w.org_id, w.jira, "B3", "S3", at(3, 5)),
            _link(w.org_id, w.jira, "B3", "S2", at(3, 5)),
            _link(w.org_id, w.jira, "B4", "S2", at(3, 12, 4)),
            _link(w.org_id, w.jira, "S2", "B4", at(3, 12, 4)),  # the other side, held by the story
            _link(w.org_id, w.jira, "B6", "S2", at(3, 11, 4), deleted=at(3, 14)),
        ])
        rollups.rebuild(c, w.org_id)
        P = Project.__table__
        w.alp = c.execute(sa.select(P.c.id).where(P.c.source_id == w.jira)).scalar_one()
        w.beta = c.execute(sa.select(P.c.id).where(P.c.source_id == w.trello)).scalar_one()
    return Org(w, tokens_for(db, w.org_id))


@pytest.fixture
def quality(db: Database) -> Org:
    return build_quality(db)


def _ids(db: Database, org: Org) -> dict[str, int]:
    T = TaskRow.__table__
    with db.read() as c:
        return {e: i for e, i in c.execute(sa.select(T.c.external_id, T.c.id).where(T.c.org_id == org.world.org_id))}


def _weeks(series: list[dict]) -> dict[str, tuple[int, int]]:
    return {w["week"]: (w["created"], w["done"]) for w in series if w["created"] or w["done"]}


def test_figures_at_a_friday_in_tokyo(client, db, quality):
    r = get_view(client, quality, "quality", as_of="2026-03-20", group_by="project")
    ids = _ids(db, quality)
    # as_of = the end of Fri 03-20 in Tokyo = 03-20 15:00 UTC; its week W12 starts Mon 03-16; the
    # window is the 12 weeks W01..W12: 2025-12-29 .. 2026-03-20.
    assert r["window"] == {"weeks": 12, "start": "2025-12-29", "end": "2026-03-20"}
    series = r["series"]["defects"]
    assert len(series) == 12 and series[0]["week"] == "2026-W01" and series[-1]["week"] == "2026-W12"
    # Created in the window (local days): B1, B2 on 02-11/02-10 (W07); B3 Tokyo Mon 03-02 (W10, not
    # W09 as in UTC); B4 03-12, B6 03-11, TB1 Tokyo Mon 03-09 (W11, not W10), TB2 03-10 (W11).
    # B5 (2025-12-10) is before the window. Done (last move to done as of as_of): B5 02-20 (W08;
    # its first completion 01-10 and the reopening do not count), B6 03-17, B2 Tokyo 03-18,
    # TB1 03-19 (W12). B4 was done on 03-13 but is open again at as_of: in no week.
    assert _weeks(series) == {"2026-W07": (2, 0), "2026-W08": (0, 1), "2026-W10": (1, 0),
                              "2026-W11": (4, 0), "2026-W12": (0, 3)}
    t = r["total"]
    assert t["defects"] == 8  # B1..B6, TB1, TB2
    assert (t["inflow"], t["outflow"]) == (7, 4)  # 2 + 1 + 4; 1 + 3
    assert t["open_defects"] == 4  # B1, B3, B4, TB2
    # Ages at 03-20 15:00 UTC: B4 8 d 12 h = 8.5; TB2 10 d 12 h = 10.5; B3 18 d 19 h = 18.791667;
    # B1 37 d 3 h = 37.125. p50 at rank 1.5: 10.5 + 0.5 × 8.291667 = 14.645833; p85 at 2.55:
    # 18.791667 + 0.55 × 18.333333 = 28.875; p95 at 2.85: 18.791667 + 0.85 × 18.333333 = 34.375.
    assert t["open_defect_age_days"] == {"count": 4, "p50": 14.646, "p85": 28.875, "p95": 34.375, "unknown": 0}
    # Trailing 4 weeks = local 02-22 .. 03-20: done S1 03-03, S2 03-16, TC1 03-05, TC2 02-25, B2,
    # B6, TB1 = 7 (S3 02-05 and B5 02-20 are earlier); 3 of them bugs: 3 / 7.
    assert (t["done_trailing"], t["defects_done_trailing"]) == (7, 3)
    assert t["bug_share_of_throughput"] == 0.4286
    assert t["defect_throughput_per_week"] == 0.75  # 3 / 4
    # Reopened in the window: B5 on 02-01, B4 on 03-15 (done → in progress).
    assert (t["reopened"], t["reopened_defects"]) == (2, 2)
    assert [(x["key"], x["reopened_at"], x["to_category"]) for x in r["reopened"]] == [
        ("B5", "2026-02-01T03:00:00+00:00", "in_progress"), ("B4", "2026-03-15T00:00:00+00:00", "in_progress")]
    assert r["reopened_not_listed"] == 0
    # Escaped: v1 (released 02-10): B1 (affects v1, created Tokyo 02-11) and B3 (links to S3, fixed
    # in v1; created 03-02); not B2 (created on the release day) nor S4 (a story). v2 (03-10): B4
    # (links to S2, fixed in v2; created 03-12); not B3 (created before), not B6 (its link was
    # deleted on 03-14, before as_of). v3 is not released.
    versions = {v["name"]: v for v in r["versions"]}
    assert set(versions) == {"1.0", "1.1"}
    v1, v2 = versions["1.0"], versions["1.1"]
    assert (v1["release_date"], v1["escaped"], v1["by_affected_version"], v1["by_link"]) == ("2026-02-10", 2, 1, 1)
    assert [(b["key"], b["via"]) for b in v1["bugs"]] == [("B1", ["affected_version"]), ("B3", ["link"])]
    assert v1["bugs"][0]["id"] == ids["B1"] and v1["bugs_not_listed"] == 0
    assert (v2["release_date"], v2["escaped"], [b["key"] for b in v2["bugs"]]) == ("2026-03-10", 1, ["B4"])
    assert t["escaped_defects"] == 3  # B1, B3, B4

    g = by_name(r["groups"])
    alp, beta = g["ALP"], g["BETA"]
    # ALP: bugs B1..B6; created in the window B1, B2, B3, B4, B6 = 5; done B5, B2, B6 = 3; open B1,
    # B3, B4 (8.5, 18.791667, 37.125: p50 = 18.792; p85 at 1.7: 18.791667 + 0.7 × 18.333333 =
    # 31.625; p95 at 1.9: + 0.9 × 18.333333 = 35.291667); trailing S1, S2, B2, B6 → 2 / 4.
    assert (alp["defects"], alp["inflow"], alp["outflow"], alp["open_defects"]) == (6, 5, 3, 3)
    assert alp["open_defect_age_days"] == {"count": 3, "p50": 18.792, "p85": 31.625, "p95": 35.292, "unknown": 0}
    assert (alp["done_trailing"], alp["defects_done_trailing"], alp["bug_share_of_throughput"]) == (4, 2, 0.5)
    assert (alp["reopened"], alp["escaped_defects"]) == (2, 3)
    # BETA: TB1, TB2 created in W11; TB1 done; TB2 open 10.5 days; trailing TC1, TC2, TB1 → 1 / 3.
    assert (beta["defects"], beta["inflow"], beta["outflow"], beta["open_defects"]) == (2, 2, 1, 1)
    assert beta["open_defect_age_days"] == {"count": 1, "p50": 10.5, "p85": 10.5, "p95": 10.5, "unknown": 0}
    assert (beta["done_trailing"], beta["bug_share_of_throughput"]) == (3, 0.3333)
    assert (beta["reopened"], beta["escaped_defects"]) == (0, 0)
    assert "Trello has no versions" in r["definitions"]["trello"]
    QualityView.model_validate(r)  # the documented response model (OpenAPI) holds every field
    assert "12 ISO weeks" in r["definitions"]["window"]
    # Every figure of a row has its definition in the response.
    figures = [k for k in r["total"] if k not in ("group", "reasons")]
    assert [k for k in figures if k not in r["definitions"]] == []


def test_as_of_in_the_past_replays_the_history(client, quality):
    # As of Fri 03-13 (Tokyo; 03-13 15:00 UTC): window W52 of 2025 .. 2026-W11 (2025-12-22 .. 03-13).
    r = get_view(client, quality, "quality", as_of="2026-03-13")
    assert r["window"] == {"weeks": 12, "start": "2025-12-22", "end": "2026-03-13"}
    t = r["total"]
    # Then B2, B3, B6 were in progress, TB1 todo; B4 done (03-13 05:00 UTC, W11); B5 done 02-20.
    assert _weeks(r["series"]["defects"]) == {"2026-W07": (2, 0), "2026-W08": (0, 1), "2026-W10": (1, 0),
                                              "2026-W11": (4, 1)}
    assert (t["defects"], t["inflow"], t["outflow"], t["open_defects"]) == (8, 7, 2, 6)
    # Open: B6 2 d 12 h = 2.5; TB2 3.5; TB1 4 d 23 h = 4.958333; B3 11 d 19 h = 11.791667; B1 30 d 3 h
    # = 30.125; B2 31 d 5 h = 31.208333. p50 at 2.5: 4.958333 + 0.5 × 6.833333 = 8.375; p85 at 4.25:
    # 30.125 + 0.25 × 1.083333 = 30.395833; p95 at 4.75: 30.125 + 0.75 × 1.083333 = 30.9375.
    age = t["open_defect_age_days"]
    assert (age["count"], age["p50"], age["p85"]) == (6, 8.375, 30.396)
    assert age["p95"] == pytest.approx(30.9375, abs=0.0011)
    # Trailing 02-14 .. 03-13: S1, TC1, TC2, B5, B4 → 2 / 5 (S2 was still in progress).
    assert (t["done_trailing"], t["defects_done_trailing"], t["bug_share_of_throughput"]) == (5, 2, 0.4)
    # Reopened by then: B5 only (B4's reopening on 03-15 is later).
    assert (t["reopened"], [x["key"] for x in r["reopened"]]) == (1, ["B5"])
    # B6's link to S2 still existed: v2 lost B4 and B6; v1 as before.
    versions = {v["name"]: v for v in r["versions"]}
    assert [b["key"] for b in versions["1.1"]["bugs"]] == ["B6", "B4"]  # by creation
    assert (versions["1.0"]["escaped"], versions["1.1"]["escaped"], t["escaped_defects"]) == (2, 2, 4)


def test_a_project_filter_and_no_defects(client, quality):
    r = get_view(client, quality, "quality", as_of="2026-03-20", project=quality.world.beta)
    t = r["total"]
    assert (t["defects"], t["open_defects"], t["escaped_defects"]) == (2, 1, 0)
    assert r["versions"] == []  # Trello has no versions
    # Long before anything: nothing done in the trailing weeks, no open defect → null with reasons.
    early = get_view(client, quality, "quality", as_of="2025-11-01")["total"]
    assert early["defects"] == 0 and early["bug_share_of_throughput"] is None
    assert early["open_defect_age_days"]["p50"] is None
    assert set(early["reasons"]) == {"open_defect_age_days", "bug_share_of_throughput"}


def test_grouped_by_person_counts_each_defect_once_in_the_total(client, quality):
    plain = get_view(client, quality, "quality", as_of="2026-03-20")["total"]
    by_person = get_view(client, quality, "quality", as_of="2026-03-20", group_by="person")
    assert by_person["total"] == plain
    (nobody,) = by_person["groups"]  # nobody is assigned: one group, the whole
    assert {k: v for k, v in nobody.items() if k != "group"} == {k: v for k, v in plain.items() if k != "group"}


def test_csv_export(client, quality):
    r = client.get("/api/v1/views/quality", params={"as_of": "2026-03-20", "group_by": "project", "format": "csv"},
                   headers=quality.h())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["group.name"] for x in rows] == ["total", "ALP", "BETA"]
    total = rows[0]
    assert (total["defects"], total["inflow"], total["outflow"], total["open_defects"]) == ("8", "7", "4", "4")
    assert (total["open_defect_age_days.p50"], total["bug_share_of_throughput"]) == ("14.646", "0.4286")
    assert (total["reopened"], total["escaped_defects"]) == ("2", "3")
    assert list(rows[0])[-1] == "reasons"


def test_another_organizations_ids_are_not_found(client, db, quality):
    other = build_quality(db, "other")
    for param in ("project", "source"):
        ident = other.world.alp if param == "project" else other.world.jira
        r = client.get("/api/v1/views/quality", params={param: ident}, headers=quality.h())
        assert r.status_code == 404, r.text


def test_a_version_released_without_a_release_date(client, db, quality):
    # Jira lets a version be released with no releaseDate: nothing to compare creation with, so it
    # is listed with escaped null and the reason, and its bugs count nowhere.
    with db.write() as c:
        store.upsert_milestones(c, quality.world.org_id, quality.world.jira, [MilestoneUpsert(milestone=Milestone(
            external_id="v4", project_external_id="100", name="0.1", due_date=None, released=True,
            updated_at=at(1, 2)))])
    r = get_view(client, quality, "quality", as_of="2026-03-20")
    (v4,) = [v for v in r["versions"] if v["name"] == "0.1"]
    assert (v4["release_date"], v4["escaped"], v4["bugs"]) == (None, None, [])
    assert "without a release date" in v4["reasons"]["escaped"]
    assert r["total"]["escaped_defects"] == 3  # as before: B1, B3, B4


def test_a_version_unreleased_after_as_of_counts_as_released_then(client, db):
    # 1.0 is unreleased on 03-25 (its released flag's change is after as_of 03-20): as of 03-20 it was
    # released and its escaped bugs count as before; as of 03-26 it is not listed.
    q = build_quality(db, "unreleased")
    before = get_view(client, q, "quality", as_of="2026-03-20")
    with db.write() as c:
        store.upsert_milestones(c, q.world.org_id, q.world.jira, [MilestoneUpsert(milestone=Milestone(
            external_id="v1", project_external_id="100", name="1.0", due_date=date(2026, 2, 10), released=False,
            updated_at=at(3, 25)))])
    then = get_view(client, q, "quality", as_of="2026-03-20")
    assert then["versions"] == before["versions"] and then["total"] == before["total"]
    later = get_view(client, q, "quality", as_of="2026-03-26")
    assert "1.0" not in [v["name"] for v in later["versions"]]
