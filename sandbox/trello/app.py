"""``create_app(state)``: the simulated Trello as a FastAPI app (``/1`` API, ``/_sandbox``)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from sandbox.trello.api import build_api_router
from sandbox.trello.control import build_control_router
from sandbox.trello.errors import ApiError
from sandbox.trello.state import TrelloState

__all__ = ["create_app"]


def create_app(state: TrelloState) -> FastAPI:
    app = FastAPI(title="Trello sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.trello = state
    app.include_router(build_api_router(state))
    app.include_router(build_control_router(state))

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return Response(exc.text, status_code=exc.status, media_type="text/plain; charset=utf-8")

    return app
