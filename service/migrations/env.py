"""Alembic environment: runs against the engine handed in by service.db, or the URL."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

import service.tables  # noqa: F401 - registers the tables on SQLModel.metadata

config = context.config
target_metadata = SQLModel.metadata


def _local_day(stored: str | None, zone: str | None) -> str | None:
    """SQLite's ``taskhub_local_day(started_at, zone)``: the ISO local date of a stored UTC
    timestamp in an IANA zone. The worklog triggers that revisions 0008 to 0013 keep on SQLite
    call it on every worklog write, and so do the backfill of 0008 and the rebuild in 0014's
    downgrade, so an old database cannot be migrated through those revisions without it; taskhub
    itself no longer registers it (from 0014 on nothing calls it). A frozen copy of
    ``service.store.worklog_day.local_day`` as of revision 0013, part of the migrations' history."""
    if stored is None or zone is None:
        return None
    at = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(zone)).date().isoformat()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.connection.driver_connection.create_function(
                "taskhub_local_day", 2, _local_day, deterministic=True)
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
