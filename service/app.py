"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import dashboard
from service.api import (
    automation_secret,
    inbox,
    milestones,
    ops,
    portfolio,
    reports,
    risks,
    source_webhooks,
    sources,
    sync_runs,
    tasks,
    tokens,
    views,
    webhook_endpoints,
    webhooks,
)
from service.api.edge import EdgeGuard
from service.api.problems import PROBLEM_RESPONSES, RequestIdMiddleware, install_problem_handlers
from service.api.webhooks import WebhookFastPath
from service.dashboard.report_render import RENDERER
from service.db import Database, get_database
from service.events.openapi import document_webhooks
from service.ingest.receive import InboxWriter, SourceCache
from service.outage import OutageMonitor, watch_engine
from service.settings import Settings, get_settings
from service.worker import Worker

__all__ = ["create_app"]

log = logging.getLogger("taskhub")


def create_app(settings: Settings | None = None, db: Database | None = None, *,
               run_worker: bool | None = None, migrate: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = db or get_database(settings)
    # The embedded default migrates on start and runs one worker in-process.
    do_migrate = db.is_sqlite if migrate is None else migrate
    do_worker = (db.is_sqlite and settings.embedded_worker) if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if do_migrate:
            db.migrate()
        # Each (pre-pinged) checkout of either engine is a success: it ends an outage after its quiet period.
        unwatch = [watch_engine(db.engine, app.state.db_outage),
                   watch_engine(db.async_engine.sync_engine, app.state.db_outage)]
        worker = None
        if do_worker:
            worker = Worker(db, settings, monitor=app.state.db_outage)
            worker.start_thread()
        app.state.worker = worker
        # What is loaded by now (modules, the app, the engines) lives as long as the server. Frozen,
        # the collector no longer rescans it in every full collection, which a view answering with
        # thousands of rows used to trigger: ~30 ms of a grouped workload view on bench/views.py's
        # data. Unfrozen at shutdown, so a process that starts many apps frees them. The collection
        # costs each start a full pass over the heap: the test suite, which starts hundreds of apps
        # in one process, turns it off (TASKHUB_GC_FREEZE=0 in tests/conftest.py).
        if settings.gc_freeze:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if settings.gc_freeze:
                gc.unfreeze()
            for stop_watching in unwatch:
                stop_watching()
            if worker is not None:
                worker.stop()
            await app.state.inbox_writer.close()
            if db._async_engine is not None:
                await db._async_engine.dispose()
                db._async_engine = None

    app = FastAPI(
        title="taskhub",
        version="0.1.0",
        description="One live portfolio over Jira and Trello: progress, budget burn, overdue milestones.",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,  # every operation documents its problem+json answers
    )
    app.state.settings = settings
    app.state.db = db
    app.state.source_cache = SourceCache(settings)
    # One outage state for the request paths, /readyz and the in-process worker: one warning
    # and one recovery line per outage (service.outage).
    app.state.db_outage = OutageMonitor()
    app.state.inbox_writer = InboxWriter(db.url, app.state.db_outage)
    app.state.report_renderer = RENDERER  # the status reports' HTML and PDF (service.api.reports)
    install_problem_handlers(app)
    # Outermost first: the request id wraps everything; the edge guard refuses oversized
    # headers (431) before anything answers and stamps the security headers; the webhook
    # fast path answers deliveries before FastAPI's own middleware stack.
    app.add_middleware(WebhookFastPath, fastapi_app=app)
    app.add_middleware(EdgeGuard, settings=settings)
    app.add_middleware(RequestIdMiddleware)
    for module in (ops, webhooks, sources, source_webhooks, automation_secret, inbox, portfolio, risks, views, tasks,
                   reports, milestones, sync_runs, tokens, webhook_endpoints, dashboard):
        app.include_router(module.router)
    document_webhooks(app)  # the events taskhub sends (issue 22)
    return app
