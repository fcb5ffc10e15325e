"""The ingest baseline: FastAPI + the raw async driver, inserting the body and nothing else.

``BENCH_DSN`` is a PostgreSQL DSN (asyncpg) or ``sqlite:///path`` (aiosqlite).
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request, Response

DSN = os.environ["BENCH_DSN"]
app = FastAPI()
state: dict[str, object] = {}

if DSN.startswith("sqlite"):
    import aiosqlite

    @app.on_event("startup")
    async def _open() -> None:
        conn = await aiosqlite.connect(DSN.split("sqlite:///", 1)[1])
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=10000")
        state["conn"] = conn

    @app.post("/ingest")
    async def ingest(request: Request) -> Response:
        body = await request.body()
        conn = state["conn"]
        cur = await conn.execute("INSERT INTO bench_raw(body) VALUES (?)", (body,))  # type: ignore[attr-defined]
        await conn.commit()  # type: ignore[attr-defined]
        return Response(b'{"id":%d}' % cur.lastrowid, status_code=202, media_type="application/json")

else:
    import asyncpg

    @app.on_event("startup")
    async def _open() -> None:
        state["pool"] = await asyncpg.create_pool(DSN, min_size=5, max_size=20)

    @app.post("/ingest")
    async def ingest(request: Request) -> Response:
        body = await request.body()
        async with state["pool"].acquire() as conn:  # type: ignore[attr-defined]
            new_id = await conn.fetchval("INSERT INTO bench_raw(body) VALUES ($1) RETURNING id", body)
        return Response(b'{"id":%d}' % new_id, status_code=202, media_type="application/json")
