"""The Endpoints page (issue 22): the organization's outbound webhook endpoints without curl.

A table of the endpoints (URL, event types, enabled, health with its reason, last success) and,
per endpoint, its last 20 deliveries with a "Redeliver" button on each failed one, and forms to
edit its URL, event types and description, enable or disable it, rotate its secret, send a test
event and delete it; an "Add an endpoint"
form. Everything is done by ``service.events.endpoints``, the functions behind the API
(``service.api.webhook_endpoints``, whose input models check the add form) and the CLI.

Like the Sources page (``sources_page``), whose helpers it shares: reading needs a signed-in
session; every post needs the admin scope (the API's AdminCaller), the session's CSRF token and
this site as its origin, or it is refused (403). A read session sees the page without forms.
The ``whsec_`` secret is shown on the answer to the post that made it (add, rotate), once.
A refused URL (the outbound guard) or another domain error is shown beside the form (422/409);
actions whose result the page itself shows redirect to it (303), so a reload does not post again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from service import errors
from service.api.webhook_endpoints import EndpointCreate, EndpointUpdate, public
from service.dashboard.pages import Page, PageError, _error, _parse_id, _serve, checked_post, form_post, load_detached
from service.dashboard.render import render
from service.dashboard.session import csrf_token
from service.dashboard.sources_page import _split
from service.events import endpoints as svc
from service.portfolio.apply_sources import validation_message
from service.security.auth import scope_allows
from service.settings import Settings
from service.tables import WebhookEndpoint, stored_id

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PATH = "/endpoints"
# A post's form: its bytes and fields at the most (``pages._form``).
FORM_LIMIT, MAX_FIELDS = 16384, 10
DELIVERIES_SHOWN = 20
DONE = {
    "enable": "Enabled: its health starts afresh.",
    "disable": "Disabled: its pending deliveries wait until it is enabled again.",
    "test": "Test event queued: its delivery is in the list below within seconds.",
    "redeliver": "Queued again, with the same webhook-id.",
    "delete": "The endpoint and its delivery log were deleted.",
    "edit": "Saved.",
}
KEPT = ("url", "event_types", "description")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# --- the page ----------------------------------------------------------------------------------


def _rows(page: Page) -> list[dict[str, Any]]:
    """Per endpoint: its public fields (as the API shows them) and its last deliveries."""
    with page.db.session() as s:
        return [{"ep": public(ep), "deliveries": svc.list_deliveries(s, page.org.id, stored_id(ep),
                                                                     limit=DELIVERIES_SHOWN)}
                for ep in svc.list_endpoints(s, page.org.id)]


def _body(request: Request, page: Page, **shown: Any) -> dict[str, Any]:
    return {
        "title": "Endpoints",
        "rows": _rows(page),
        "can_admin": scope_allows(page.session.scope, "admin"),
        "csrf": csrf_token(request),
        "notice": DONE.get(request.query_params.get("done") or ""),
        "add": {"event_types": "*"},
        **shown,
    }


def _show(request: Request, page: Page, status: int, **shown: Any) -> Response:
    """The page again with the outcome of a post (``shown``: secret, add_error, failed)."""
    return render("endpoints.html", {**page.context(), **_body(request, page, **shown)}, status=status)


@router.get(PATH)
def endpoints_page(request: Request) -> Response:
    return _serve(request, "endpoints.html", "sources", None, None, lambda page: _body(request, page))


# --- the posts ---------------------------------------------------------------------------------


@router.post(f"{PATH}/new")
async def add_endpoint(request: Request) -> Response:
    return await form_post(request, _act, None, "new", limit=FORM_LIMIT, max_fields=MAX_FIELDS)


@router.post(PATH + "/{endpoint_id}/{action}")
async def endpoint_action(request: Request, endpoint_id: str, action: str) -> Response:
    return await form_post(request, _act, endpoint_id, action, limit=FORM_LIMIT, max_fields=MAX_FIELDS)


def _act(request: Request, raw_id: str | None, action: str, form: dict[str, str]) -> Response:
    checked = checked_post(request, form, nav="sources", back="/endpoints", label="Endpoints",
                           action=action, actions={"new", *ACTIONS}, scope="admin")
    if isinstance(checked, Response):
        return checked
    page, _ = checked
    try:
        if raw_id is None:
            return _create(request, page, form)
        ep = load_detached(page, raw_id, "endpoint", svc.get_endpoint)
        try:
            return ACTIONS[action](request, page, ep, form)
        except (errors.Invalid, errors.Conflict) as exc:  # beside the endpoint, not a page of its own
            status = 409 if isinstance(exc, errors.Conflict) else 422
            return _show(request, page, status, failed={"id": ep.id, "message": exc.message})
    except PageError as exc:
        return _error(page, exc.status, exc.title, exc.detail)
    except errors.NotFound as exc:
        return _error(page, 404, "Not found", f"{exc.message} in {page.org.name}.")


def _done(action: str, endpoint_id: int | None = None) -> Response:
    anchor = f"#endpoint-{endpoint_id}" if endpoint_id is not None else ""
    return RedirectResponse(f"{PATH}?done={action}{anchor}", status_code=303)


def _create(request: Request, page: Page, form: dict[str, str]) -> Response:
    typed = {k: form.get(k, "") for k in KEPT}
    try:
        body = EndpointCreate.model_validate({"url": typed["url"].strip(), "event_types": _split(typed["event_types"]),
                                              "description": typed["description"].strip() or None})
        with page.db.session() as s:
            ep, secret = svc.create_endpoint(s, _settings(request), page.org.id, url=body.url,
                                             event_types=body.event_types, description=body.description)
    except ValidationError as exc:
        return _show(request, page, 422, add=typed, add_error=validation_message(exc))
    except errors.Invalid as exc:
        return _show(request, page, 422, add=typed, add_error=exc.message)
    return _show(request, page, 201, secret={"id": ep.id, "url": ep.url, "value": secret, "why": "Added"})


def _edit(request: Request, page: Page, ep: WebhookEndpoint, form: dict[str, str]) -> Response:
    """Change the URL, event types and description: the API's ``EndpointUpdate`` checks them and
    the outbound guard the URL. A refusal is shown beside the endpoint with what was typed; an
    emptied description clears it."""
    typed = {k: form.get(k, "") for k in KEPT}
    try:
        body = EndpointUpdate.model_validate({"url": typed["url"].strip(), "event_types": _split(typed["event_types"]),
                                              "description": typed["description"].strip()})
        with page.db.session() as s:
            svc.update_endpoint(s, _settings(request), page.org.id, stored_id(ep), url=body.url,
                                event_types=body.event_types, description=body.description)
    except ValidationError as exc:
        return _show(request, page, 422, failed={"id": ep.id, "message": validation_message(exc)},
                     edit={"id": ep.id, **typed})
    except errors.Invalid as exc:
        return _show(request, page, 422, failed={"id": ep.id, "message": exc.message}, edit={"id": ep.id, **typed})
    return _done("edit", ep.id)


def _enable(request: Request, page: Page, ep: WebhookEndpoint, form: dict[str, str]) -> Response:
    with page.db.session() as s:
        svc.update_endpoint(s, _settings(request), page.org.id, stored_id(ep), enabled=True)
    return _done("enable", ep.id)


def _disable(request: Request, page: Page, ep: WebhookEndpoint, form: dict[str, str]) -> Response:
    with page.db.session() as s:
        svc.update_endpoint(s, _settings(request), page.org.id, stored_id(ep), enabled=False)
    return _done("disable", ep.id)


def _rotate(request: Request, page: Page, ep: WebhookEndpoint, form: dict[str, str]) -> Response:
    """A new secret, shown once; the replaced one signs for the API's default overlap too."""
    with page.db.session() as s:
        _, secret = svc.rotate_secret(s, _settings(request), page.org.id, stored_id(ep),
                                      force=form.get("force") == "on")
    return _show(request, page, 200, secret={"id": ep.id, "url": ep.url, "value": secret, "why": "Rotated"})


def _test(request: Request, page: Page, ep: WebhookEndpoint, form: dict[str, str]) -> Response:
    with page.db.session() as s:
        svc.send_test(s, page.org.id, stored_id(ep))
    return _done("test", ep.id)


def _redeliver(request: Request, page: Page, ep: WebhookEndpoint, form: dict[str, str]) -> Response:
    event_id = _parse_id(form.get("event_id", ""), "event")
    if event_id is None:
        raise errors.Invalid("choose the delivery to send again")
    with page.db.session() as s:
        svc.redeliver(s, page.org.id, stored_id(ep), event_id=event_id)
    return _done("redeliver", ep.id)


def _delete(request: Request, page: Page, ep: WebhookEndpoint, form: dict[str, str]) -> Response:
    """Deleted only when the form names the endpoint (its URL or id): the confirmation."""
    if form.get("confirm", "").strip() not in (ep.url, str(ep.id)):
        raise errors.Invalid(f"Type the endpoint's URL or its id, {ep.id}, to delete it.")
    with page.db.session() as s:
        svc.delete_endpoint(s, page.org.id, stored_id(ep))
    return _done("delete")


ACTIONS = {"edit": _edit, "enable": _enable, "disable": _disable, "rotate": _rotate, "test": _test,
           "redeliver": _redeliver, "delete": _delete}
