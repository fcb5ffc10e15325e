"""Webhook management and ``/batch`` handlers of the ``/1`` API.

- ``POST /1/webhooks`` (also the legacy ``POST /1/tokens/{token}/webhooks``): Trello
  HEADs the ``callbackURL`` first and refuses (400) unless it answers 200.
- ``GET /1/tokens/{token}/webhooks``, ``GET|PUT|DELETE /1/webhooks/{id}``.
- ``GET /1/batch?urls=/a,/b``: up to 10 GET routes without the ``/1`` prefix; the
  answer is one ``{"<status>": body}`` object per route. The error body shape inside a
  batch is not documented [UNVERIFIED]; we answer ``{"message": text, "error": code}``.
References: https://developer.atlassian.com/cloud/trello/rest/api-group-webhooks/,
https://developer.atlassian.com/cloud/trello/rest/api-group-batch/
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.trello.errors import ApiError
from sandbox.trello.ids import ID_RE
from sandbox.trello.records import Webhook
from sandbox.trello.routes import ROUTES, Ctx, check_id
from sandbox.trello.serialize import webhook_json
from sandbox.trello.webhooks import head_check

__all__ = ["split_batch_urls", "MAX_BATCH"]

MAX_BATCH = 10


def _write_params(ctx: Ctx) -> dict[str, str]:
    """Parameters of a write: query string, then a JSON or form body on top."""
    params = dict(ctx.params)
    raw = ctx.body.strip()
    if raw:
        if raw.startswith(b"{"):
            try:
                body = json.loads(raw)
            except ValueError:
                raise ApiError(400, "invalid JSON body") from None
            params.update({k: _text(v) for k, v in body.items()})
        else:
            params.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
    return params


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _active(raw: str | None, default: bool = True) -> bool:
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("true", "false"):
        raise ApiError(400, "invalid value for active")
    return raw.lower() == "true"


@ROUTES.add("POST", "/webhooks")
def create_webhook(ctx: Ctx) -> dict[str, Any]:
    return _create(ctx, _write_params(ctx))


@ROUTES.add("POST", "/tokens/{token}/webhooks")
def create_token_webhook(ctx: Ctx, token: str) -> dict[str, Any]:
    _own_token(ctx, token)
    return _create(ctx, _write_params(ctx))


def _create(ctx: Ctx, params: dict[str, str]) -> dict[str, Any]:
    state = ctx.state
    callback = params.get("callbackURL", "")
    id_model = params.get("idModel", "")
    if not re.match(r"^https?://", callback):
        raise ApiError(400, "invalid value for callbackURL")
    if not ID_RE.match(id_model):
        raise ApiError(400, "invalid value for idModel")
    with state.lock:
        board = state.board_for_model(id_model)
        if board is None or ctx.member_id not in board.member_ids:
            raise ApiError(400, "invalid value for idModel")
        for hook in state.webhooks.values():
            if (hook.token, hook.id_model, hook.callback_url) == (ctx.token, id_model, callback):
                raise ApiError(400, "A webhook with that callback, model, and token already exists")
        timeout = state.config.head_timeout
    # Trello probes the callback with a HEAD and refuses the webhook unless it answers 200.
    refusal = head_check(callback, timeout)
    if refusal is not None:
        raise ApiError(400, refusal)
    with state.lock:
        hook = Webhook(
            id=state.ids.new(state.now()),
            token=ctx.token,
            id_model=id_model,
            callback_url=callback,
            description=params.get("description", ""),
            active=_active(params.get("active")),
            api_key=ctx.api_key,
        )
        state.webhooks[hook.id] = hook
        return webhook_json(hook)


def _own_token(ctx: Ctx, token: str) -> None:
    if token != ctx.token:
        raise ApiError(401, "invalid token")


@ROUTES.get("/tokens/{token}/webhooks")
def token_webhooks(ctx: Ctx, token: str) -> list[dict[str, Any]]:
    _own_token(ctx, token)
    with ctx.state.lock:
        return [webhook_json(h) for h in ctx.state.webhooks.values() if h.token == token]


def _hook(ctx: Ctx, webhook_id: str) -> Webhook:
    hook = ctx.state.webhooks.get(check_id(webhook_id))
    if hook is None or hook.token != ctx.token:
        raise ApiError.not_found()
    return hook


@ROUTES.get("/webhooks/{webhook_id}")
def get_webhook(ctx: Ctx, webhook_id: str) -> dict[str, Any]:
    return webhook_json(_hook(ctx, webhook_id))


@ROUTES.add("PUT", "/webhooks/{webhook_id}")
def update_webhook(ctx: Ctx, webhook_id: str) -> dict[str, Any]:
    params = _write_params(ctx)
    with ctx.state.lock:
        hook = _hook(ctx, webhook_id)
        if "description" in params:
            hook.description = params["description"]
        if "active" in params:
            hook.active = _active(params["active"])
        if params.get("callbackURL"):
            hook.callback_url = params["callbackURL"]
        return webhook_json(hook)


@ROUTES.add("DELETE", "/webhooks/{webhook_id}")
def delete_webhook(ctx: Ctx, webhook_id: str) -> dict[str, Any]:
    with ctx.state.lock:
        hook = _hook(ctx, webhook_id)
        del ctx.state.webhooks[hook.id]
    return {"_value": None}


# -- batch ---------------------------------------------------------------------------


def split_batch_urls(raw: str) -> list[str]:
    """Split ``urls`` on commas, re-joining commas inside a route's own query
    (``/boards/1?fields=name,desc``): a new route starts with ``/`` or ``word/``."""
    urls: list[str] = []
    for part in raw.split(","):
        starts_route = part.startswith("/") or re.match(r"^[A-Za-z]+/", part)
        if urls and not starts_route and "?" in urls[-1]:
            urls[-1] += "," + part
        elif part:
            urls.append(part)
    return urls


_ERROR_CODES = {400: "INVALID_REQUEST", 401: "UNAUTHORIZED", 404: "NOT_FOUND"}


@ROUTES.get("/batch")
def batch(ctx: Ctx) -> list[dict[str, Any]]:
    urls = split_batch_urls(ctx.params.get("urls", ""))
    if not urls:
        raise ApiError(400, "invalid value for urls")
    if len(urls) > MAX_BATCH:
        raise ApiError(400, f"Too many urls in batch: {len(urls)} > {MAX_BATCH}")
    out: list[dict[str, Any]] = []
    for url in urls:
        parts = urlsplit(url if url.startswith("/") else "/" + url)
        path = unquote(parts.path)
        if path.startswith("/1/"):
            path = path[2:]
        sub = Ctx(
            ctx.state,
            "GET",
            ctx.token,
            ctx.member_id,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
        )
        found = ROUTES.match("GET", path)
        try:
            if found is None or found[0].template == "/batch":
                raise ApiError(404, f"Cannot GET /1{path}")
            route, path_params = found
            with ctx.state.lock:
                out.append({"200": route.handler(sub, **path_params)})
        except ApiError as exc:
            out.append(
                {
                    str(exc.status): {
                        "message": exc.text,
                        "error": _ERROR_CODES.get(exc.status, "ERROR"),
                    }
                }
            )
    return out
