"""The Sources page (issue 21): connect Jira and Trello without curl.

A table of the organization's sources (health with its reason, last sync, webhooks), and per
source its webhooks (each registration's state, the Jira paste block when taskhub could not
register) with forms to verify, sync now, register the webhooks again, ping, edit and
delete; an "Add source" form for Jira (Cloud: email and API token; Data Center: a personal
access token) and Trello (API key, token, app secret).

Every form does what the API route of the same name does, with the same functions
(``service.sources``, ``service.source_check``, ``service.webhook_registration`` through
``service.api.source_webhooks``' hooks), and needs what that route needs: the admin scope
to add, change, verify, delete a source or its webhooks, the write scope to ask for a sync.
A session without it sees the page without those forms, and its posts are refused (403).
Every post carries the session's CSRF token and must come from this site (``pages``).

Outcomes: a failed verification or a bad field answers the page again (422) with the
message beside the form and what was typed kept, secrets excepted (never sent back to the
browser, like the stored ones, which no page shows). A created source's webhook secret
(Jira) is shown on the answer to the post that created it, once. Actions whose result the
page itself shows (sync, webhooks, save, delete) redirect to it (303), so a reload does not
post again.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from service import errors
from service import sources as svc
from service import webhook_registration as wh
from service.api import source_webhooks as hooks
from service.dashboard import data
from service.dashboard.pages import Page, PageError, _error, _serve, checked_post, form_post, load_detached
from service.dashboard.render import render
from service.dashboard.session import csrf_token
from service.portfolio.apply_sources import validation_message
from service.schemas import SourceCreate, SourceCreated
from service.security.auth import scope_allows
from service.settings import Settings
from service.source_changes import source_changes
from service.source_check import verify_source
from service.store.rollups import delete_source as delete_source_rows
from service.sync.state import request_run
from service.sync.trello import TRELLO_API
from service.tables import Source, utcnow

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PATH = "/sources"
# A post's form: its bytes and fields at the most (``pages._form``).
FORM_LIMIT, MAX_FIELDS = 16384, 40
# The scope each action needs: the API's for the same thing (sources: admin; a sync: write).
NEEDS = {"new": "admin", "edit": "admin", "verify": "admin", "register": "admin", "ping": "admin",
         "delete": "admin", "sync": "write"}
DONE = {
    "sync": "Sync requested: the worker starts it within seconds (see Last sync).",
    "register": "Webhooks registered again: each one's state is below.",
    "ping": "Pinged: the result is beside each webhook; a delivery accepted after it proves it end to end.",
    "edit": "Saved.",
    "delete": "The source and everything synced from it were deleted.",
}
# What the add form keeps when it is shown again: everything typed except the secrets.
KEPT = ("kind", "name", "base_url", "projects", "jql", "boards", "auth", "email", "api_key",
        "poll_interval_seconds", "skip_verify", "manual_webhooks")
SECRETS = {"jira_cloud": ("api_token",), "jira_datacenter": ("personal_access_token",),
           "trello": ("token", "app_secret")}


# --- the page ----------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _rows(page: Page, settings: Settings) -> list[dict[str, Any]]:
    """Per source: its public fields, health (data.source_health) and webhooks (as the API shows)."""
    with page.db.read() as conn:
        health = {h["id"]: h for h in data.source_health(conn, page.org.id, utcnow())}
    out = []
    with page.db.session() as s:
        for src in svc.list_sources(s, page.org.id):
            out.append({"src": svc.source_public(settings, src), "health": health.get(src.id, {}),
                        "hooks": wh.status(s, settings, src)})
    return out


def _body(request: Request, page: Page, **shown: Any) -> dict[str, Any]:
    scope = page.session.scope
    done = request.query_params.get("done")
    return {
        "title": "Sources",
        "rows": _rows(page, _settings(request)),
        "can_admin": scope_allows(scope, "admin"),
        "can_sync": scope_allows(scope, "write"),
        "csrf": csrf_token(request),
        "notice": DONE.get(done or ""),
        "add": {"kind": "jira", "auth": "jira_cloud", "poll_interval_seconds": "300"},
        **shown,
    }


def _show(request: Request, page: Page, status: int = 200, **shown: Any) -> Response:
    """The page again with the outcome of a post (``shown``: add_error, edit_error, verified ...)."""
    return render("sources.html", {**page.context(), **_body(request, page, **shown)}, status=status)


@router.get(PATH)
def sources_page(request: Request) -> Response:
    return _serve(request, "sources.html", "sources", None, None, lambda page: _body(request, page))


# --- form fields -> the API's bodies ---------------------------------------------------------


def _split(raw: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", raw.strip()) if part]


def _scope(kind: str, form: dict[str, str]) -> dict[str, Any]:
    if kind == "trello":
        return {"boards": _split(form.get("boards", ""))}
    jql = form.get("jql", "").strip()
    return {"projects": _split(form.get("projects", "")), **({"jql": jql} if jql else {})}


def _credentials(kind: str, form: dict[str, str], *, required: bool) -> dict[str, str] | None:
    """The credentials typed; ``None`` when none of their fields was (an edit keeps the stored).
    Some typed without the rest (an email without its token) is refused by validation, never
    silently dropped."""
    ctype = "trello" if kind == "trello" else form.get("auth", "jira_cloud")
    fields = {"trello": ("api_key", "token", "app_secret"), "jira_cloud": ("email", "api_token"),
              "jira_datacenter": ("personal_access_token",)}.get(ctype, ())
    values = {f: form.get(f, "").strip() for f in fields}
    if not required and not any(values.values()):
        return None
    return {"type": ctype, **values}


def _interval(raw: str | None) -> int | str | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else (raw or None)


def _create_body(form: dict[str, str]) -> dict[str, Any]:
    kind = form.get("kind", "")
    scope = _scope(kind, form)
    body = {"kind": kind, "name": form.get("name", "").strip(), "base_url": form.get("base_url", "").strip() or None,
            "credentials": _credentials(kind, form, required=True),
            "scope": scope if any(scope.values()) else None,
            "poll_interval_seconds": _interval(form.get("poll_interval_seconds"))}
    return {k: v for k, v in body.items() if v is not None}


def _edit_want(src: Source, form: dict[str, str]) -> dict[str, Any]:
    """The edit form as wanted values (``source_changes`` keeps only what differs). The scope's
    fields the form does not show (Trello's history_since) are kept; an emptied JQL field
    removes the JQL, and an emptied Trello base URL means api.trello.com, as the form says."""
    scope = {**(src.scope or {}), **_scope(src.kind, form)}
    if src.kind == "jira" and not form.get("jql", "").strip():
        scope.pop("jql", None)
    base_url = form.get("base_url", "").strip() or None
    if base_url is None and src.kind == "trello" and src.base_url:
        base_url = TRELLO_API
    return {"name": form.get("name", "").strip(), "base_url": base_url,
            "scope": scope,
            "credentials": _credentials(src.kind, form, required=False),
            "poll_interval_seconds": _interval(form.get("poll_interval_seconds")),
            "enabled": form.get("enabled") == "on"}


# --- the posts ---------------------------------------------------------------------------------


@router.post(f"{PATH}/new")
async def add_source(request: Request) -> Response:
    return await form_post(request, _act, None, "new", limit=FORM_LIMIT, max_fields=MAX_FIELDS)


@router.post(PATH + "/{source_id}/{action}")
async def source_action(request: Request, source_id: str, action: str) -> Response:
    return await form_post(request, _act, source_id, action, limit=FORM_LIMIT, max_fields=MAX_FIELDS)


def _act(request: Request, raw_id: str | None, action: str, form: dict[str, str]) -> Response:
    checked = checked_post(request, form, nav="sources", back="/sources", label="Sources",
                           action=action, actions=NEEDS, scope=NEEDS.get(action, "admin"))
    if isinstance(checked, Response):
        return checked
    page, _ = checked
    try:
        if raw_id is None:
            return _create(request, page, form)
        src = load_detached(page, raw_id, "source", svc.get_source)
        return ACTIONS[action](request, page, src, form)
    except PageError as exc:
        return _error(page, exc.status, exc.title, exc.detail)
    except errors.NotFound:
        return _error(page, 404, "Not found", f"There is no source {raw_id!r} in {page.org.name}.")
    except errors.Conflict as exc:  # e.g. webhooks of a source stored without credentials
        return _error(page, 409, "Not possible now", exc.message)


def _done(action: str, source_id: int | None = None) -> Response:
    anchor = f"#source-{source_id}" if source_id is not None else ""
    return RedirectResponse(f"{PATH}?done={action}{anchor}", status_code=303)


def _create(request: Request, page: Page, form: dict[str, str]) -> Response:
    settings = _settings(request)
    typed = {k: form.get(k, "") for k in KEPT}
    check = None if form.get("skip_verify") == "on" else partial(verify_source, settings)
    try:
        body = SourceCreate.model_validate(_create_body(form))
        with page.db.session() as s:
            out = svc.create_source(s, settings, page.org.id, body, check)
            created = hooks.after_create(s, page.db, settings, page.org.id, out, form.get("manual_webhooks") != "on")
    except ValidationError as exc:
        return _show(request, page, 422, add=typed, add_error=validation_message(exc))
    except errors.DomainError as exc:
        return _show(request, page, 409 if isinstance(exc, errors.Conflict) else 422, add=typed,
                     add_error=exc.message.removeprefix("invalid request: "))
    return _show(request, page, 201, created=created)


def _edit(request: Request, page: Page, src: Source, form: dict[str, str]) -> Response:
    settings, sid = _settings(request), int(src.id or 0)
    check = None if form.get("skip_verify") == "on" else partial(verify_source, settings)
    try:
        with page.db.session() as s:
            update = source_changes(settings, svc.get_source(s, page.org.id, sid), _edit_want(src, form))
            out = svc.update_source(s, settings, page.org.id, sid, update, check)
            request.app.state.source_cache.evict(sid)
            hooks.after_update(s, page.db, settings, page.org.id, out, update)
    except ValidationError as exc:
        return _show(request, page, 422, edit_error={"id": sid, "message": validation_message(exc)})
    except errors.DomainError as exc:
        return _show(request, page, 409 if isinstance(exc, errors.Conflict) else 422,
                     edit_error={"id": sid, "message": exc.message.removeprefix("invalid request: ")})
    if isinstance(out, SourceCreated):  # not from this form (it never rotates), but never lose a secret
        return _show(request, page, 200, created=out)
    return _done("edit", sid)


def _verify(request: Request, page: Page, src: Source, form: dict[str, str]) -> Response:
    """Verification again, as on registration: the result beside the source."""
    if not src.credentials_enc:  # stored without any (not through the API): nothing to verify with
        return _show(request, page, 422, verified={"id": src.id, "ok": False, "message": (
            "This source has no stored credentials: give them under Edit (Replace the credentials).")})
    try:
        verify_source(_settings(request), src)
    except errors.Invalid as exc:
        return _show(request, page, 422, verified={"id": src.id, "ok": False, "message": exc.message})
    return _show(request, page, 200, verified={
        "id": src.id, "ok": True,
        "message": "Verified: the site answers, the credentials are accepted and every project or board "
                   "in the scope is readable."})


def _sync(request: Request, page: Page, src: Source, form: dict[str, str]) -> Response:
    with page.db.write() as conn:
        request_run(conn, int(src.id or 0), "incremental")
    return _done("sync", src.id)


def _register(request: Request, page: Page, src: Source, form: dict[str, str]) -> Response:
    wh.reconcile(page.db, _settings(request), int(src.id or 0))
    return _done("register", src.id)


def _ping(request: Request, page: Page, src: Source, form: dict[str, str]) -> Response:
    wh.ping(page.db, _settings(request), int(src.id or 0))
    return _done("ping", src.id)


def _delete(request: Request, page: Page, src: Source, form: dict[str, str]) -> Response:
    """Deleted only when the form names the source (the confirmation), as the API's DELETE does it."""
    if form.get("confirm", "").strip() != src.name:
        return _show(request, page, 422, delete_error={
            "id": src.id, "message": f"Type the source's name, {src.name}, to delete it."})
    sid = int(src.id or 0)
    with page.db.session() as s:
        hooks.before_delete(s, page.db, _settings(request), sid)
        delete_source_rows(s.connection(), sid)
        s.commit()
    request.app.state.source_cache.evict(sid)
    return _done("delete")


ACTIONS = {"edit": _edit, "verify": _verify, "sync": _sync, "register": _register, "ping": _ping,
           "delete": _delete}
