"""Helpers shared by the benchmarks: a throw-away PostgreSQL database per run."""

from __future__ import annotations

import os
import resource
import uuid

import sqlalchemy as sa

from service.settings import normalize_url

__all__ = ["PG_ADMIN", "cpu_seconds", "create_pg_database", "drop_pg_database", "pg_server_cpu"]

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


def pg_server_cpu(url: str) -> float | None:
    """CPU-s the local PostgreSQL server has used so far: its postmaster with the backends it has
    reaped, plus the live processes (``/proc``). ``None`` for SQLite or a server on another host.
    The whole server counts, so other clients' work shows too: read it on a quiet machine.

    It is printed beside the sync's own CPU because work can move between them (the rollups were
    kept by triggers inside the server before issue 17, by the store's statements after)."""
    if not url.startswith("postgresql") or not any(h in url for h in ("@127.0.0.1", "@localhost", "@/")):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    comm: dict[int, str] = {}
    stats: dict[int, list[str]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm[int(entry)] = f.read().strip()
            with open(f"/proc/{entry}/stat") as f:
                stats[int(entry)] = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
    for pid, fields in stats.items():
        if comm.get(pid) != "postgres":
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if comm.get(int(fields[1])) != "postgres":  # the postmaster: + the children it reaped
            total += int(fields[13]) + int(fields[14])
    return total / tick if total else None

