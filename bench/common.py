"""Helpers shared by the benchmarks: a throw-away PostgreSQL database per run."""

from __future__ import annotations

import os
import resource
import uuid

import sqlalchemy as sa

from service.settings import normalize_url

__all__ = ["PG_ADMIN", "cpu_seconds", "create_pg_database", "drop_pg_database"]

PG_ADMIN = normalize_url(os.environ.get("TASKHUB_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))


def create_pg_database(prefix: str = "taskhub_bench") -> tuple[str, str]:
    """Create a fresh database next to ``PG_ADMIN``; returns ``(url, name)``."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def drop_pg_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def cpu_seconds() -> float:
    """User + system CPU of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
