"""The migrations build exactly the schema the models declare, and go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from service.tables import for_dialect  # also registers the tables


def _diff(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": False,
            # Items of one store only (ix_task_alive_key: SQLite) are expected on that store only.
            "include_object": lambda obj, name, type_, reflected, compare_to: reflected
            or for_dialect(obj, conn.dialect.name),
        })
        return compare_metadata(ctx, SQLModel.metadata)


def test_migrated_schema_matches_the_models(db):
    assert _diff(db) == []


def test_downgrade_two_steps_and_upgrade_again(db):
    head = db.head_revision()
    db.migrate()
    from alembic import command

    command.downgrade(db.alembic_config(), "-2")  # 0006 changes SQLite only; 0005 both stores
    try:
        assert db.current_revision() != head
        assert _diff(db) != []  # the previous schema really differs
    finally:
        db.migrate()  # the store is shared by the session's other tests
    assert db.current_revision() == head
    assert _diff(db) == []
