"""The migrations build exactly the schema the models declare, and go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import service.tables  # noqa: F401 - registers the tables


def _diff(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        return compare_metadata(ctx, SQLModel.metadata)


def test_migrated_schema_matches_the_models(db):
    assert _diff(db) == []


def test_downgrade_two_steps_and_upgrade_again(db):
    head = db.head_revision()
    db.migrate()
    from alembic import command

    command.downgrade(db.alembic_config(), "-2")  # 0008, then 0007
    try:
        assert db.current_revision() != head
        assert _diff(db) != []  # the previous schema really differs
    finally:
        db.migrate()  # the store is shared by the session's other tests
    assert db.current_revision() == head
    assert _diff(db) == []
