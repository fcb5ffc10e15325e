"""Migration 0027: Jira Flagged change rows stored before issue 23 (``field = 'Flagged'``, the
option's text) become ``flagged`` rows with ``'true'`` / ``'false'``, and ``task.flagged`` follows
the latest one; the risk view then replays them (review of issue 23)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from service.tables import Change, Organization, Source, Task
from tests.service.test_migrations import new_database  # noqa: F401 - the fixture

C, ORG, S, T = (m.__table__ for m in (Change, Organization, Source, Task))


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 9, tzinfo=UTC)


def test_old_flagged_rows_read_as_the_flagged_field(new_database):  # noqa: F811
    db = new_database()
    db.migrate("0026")
    with db.write() as c:
        org = c.execute(sa.insert(ORG).values(name="o", timezone="UTC", created_at=at(1))
                        .returning(ORG.c.id)).scalar_one()
        src = {k: c.execute(sa.insert(S).values(org_id=org, kind=k, name=k, created_at=at(1)).returning(S.c.id))
               .scalar_one() for k in ("jira", "trello")}
        for ext in ("J1", "J2", "J3"):
            c.execute(sa.insert(T).values(org_id=org, source_id=src["jira"], external_id=ext, title=ext, type="task",
                                          status="Open", status_category="todo", synced_at=at(20)))

        def row(source: str, task: str, ext: str, old: str | None, new: str | None, day: int) -> dict:
            return {"org_id": org, "source_id": src[source], "task_external_id": task, "external_id": ext,
                    "field": "Flagged", "from_value": old, "to_value": new, "changed_at": at(day),
                    "origin": "changelog"}

        c.execute(sa.insert(C), [
            row("jira", "J1", "1", None, "Impediment", 2),  # set, still set
            row("jira", "J2", "2", None, "Impediment", 2),  # set, then cleared
            row("jira", "J2", "3", "Impediment", None, 5),
            row("trello", "X", "4", None, "Impediment", 2),  # not Jira: left alone
        ])
    db.migrate()
    with db.read() as c:
        rows = c.execute(sa.select(C.c.external_id, C.c.field, C.c.from_value, C.c.to_value)
                         .order_by(C.c.external_id)).all()
        flagged = dict(c.execute(sa.select(T.c.external_id, T.c.flagged)).all())
    assert [tuple(r) for r in rows] == [("1", "flagged", "false", "true"), ("2", "flagged", "false", "true"),
                                        ("3", "flagged", "true", "false"), ("4", "Flagged", None, "Impediment")]
    assert flagged == {"J1": True, "J2": False, "J3": False}
