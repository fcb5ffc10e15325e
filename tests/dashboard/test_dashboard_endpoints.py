"""The Endpoints page (issue 22): the organization's webhook endpoints from the dashboard, on both
stores. The forms do what the API does (``service.events.endpoints``) and need its scope: admin
for every post; a read session sees the page without forms. The secret is shown once."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from service.dashboard.data import table
from service.db import Database
from service.tables import EventDelivery, WebhookEndpoint
from tests.dashboard.world import Org, TestClient, sign_in, signed_in

EP, DL = table(WebhookEndpoint), table(EventDelivery)
URL = "https://hooks.example.com/taskhub"


def _admin(client: TestClient, db: Database, o: Org) -> str:
    """Sign in with a new admin token; the page's CSRF token."""
    return signed_in(client, db, o, "admin", "/endpoints")


def _endpoints(db: Database, org_id: int) -> list[Any]:
    with db.read() as c:
        return list(c.execute(sa.select(EP).where(EP.c.org_id == org_id).order_by(EP.c.id)))


def _add(client: TestClient, csrf: str, url: str = URL) -> Any:
    return client.post("/endpoints/new", data={"csrf": csrf, "url": url, "event_types": "task.created, milestone.*",
                                               "description": "ops"}, follow_redirects=False)


def _secret(html: str) -> str | None:
    found = re.search(r"<code class=\"secret\" data-secret>([^<]+)</code>", html)
    return found[1] if found else None


def test_an_admin_adds_rotates_tests_disables_and_deletes_an_endpoint(client, db, acme):
    csrf = _admin(client, db, acme)
    r = _add(client, csrf)
    assert r.status_code == 201, r.text
    (ep,) = _endpoints(db, acme.org_id)
    assert (ep.url, ep.event_types, ep.description, ep.enabled) == (URL, ["task.created", "milestone.*"], "ops", True)
    secret = _secret(r.text)
    assert secret and secret.startswith("whsec_")
    page = client.get("/endpoints").text
    assert secret not in page  # shown once
    row = page.split(f'<tr data-endpoint-id="{ep.id}">')[1].split("</tr>")[0]
    assert URL in row and "task.created, milestone.*" in row and "badge-ok" in row

    rotated = client.post(f"/endpoints/{ep.id}/rotate", data={"csrf": csrf}, follow_redirects=False)
    new = _secret(rotated.text)
    assert rotated.status_code == 200 and new and new.startswith("whsec_") and new != secret
    page = client.get("/endpoints").text
    assert new not in page and 'name="force"' in page  # the replaced secret still signs: offered
    again = client.post(f"/endpoints/{ep.id}/rotate", data={"csrf": csrf})
    assert again.status_code == 409 and "still signs until" in again.text and _secret(again.text) is None
    forced = client.post(f"/endpoints/{ep.id}/rotate", data={"csrf": csrf, "force": "on"})
    assert forced.status_code == 200 and _secret(forced.text) not in (None, new)

    tested = client.post(f"/endpoints/{ep.id}/test", data={"csrf": csrf}, follow_redirects=False)
    assert tested.status_code == 303 and tested.headers["location"] == f"/endpoints?done=test#endpoint-{ep.id}"
    page = client.get(tested.headers["location"]).text
    assert "Test event queued" in page
    assert re.search(r'<tr data-delivery-id="\d+"><th scope="row">webhook.test', page)

    off = client.post(f"/endpoints/{ep.id}/disable", data={"csrf": csrf}, follow_redirects=False)
    assert off.status_code == 303
    assert _endpoints(db, acme.org_id)[0].enabled is False
    page = client.get("/endpoints").text
    assert "badge-disabled" in page and f'action="/endpoints/{ep.id}/enable"' in page
    refused = client.post(f"/endpoints/{ep.id}/test", data={"csrf": csrf})  # nothing would send it
    assert refused.status_code == 409 and "is disabled; enable it first" in refused.text

    wrong = client.post(f"/endpoints/{ep.id}/delete", data={"csrf": csrf, "confirm": "https://other.example.com"})
    assert wrong.status_code == 422 and f"Type the endpoint&#39;s URL or its id, {ep.id}" in wrong.text
    gone = client.post(f"/endpoints/{ep.id}/delete", data={"csrf": csrf, "confirm": URL}, follow_redirects=False)
    assert gone.status_code == 303 and _endpoints(db, acme.org_id) == []


def test_a_failed_delivery_can_be_sent_again(client, db, acme):
    csrf = _admin(client, db, acme)
    _add(client, csrf)
    (ep,) = _endpoints(db, acme.org_id)
    client.post(f"/endpoints/{ep.id}/test", data={"csrf": csrf})
    with db.write() as c:
        c.execute(sa.update(DL).where(DL.c.endpoint_id == ep.id).values(
            status="failed", attempts=8, response_code=500, latency_ms=42, error="HTTP 500"))
        event_id = c.execute(sa.select(DL.c.event_id).where(DL.c.endpoint_id == ep.id)).scalar_one()
    page = client.get("/endpoints").text
    row = page.split("<tr data-delivery-id=")[1].split("</tr>")[0]
    assert "<td data-status>failed</td><td>500</td>" in row and "42 ms</td><td>8</td>" in row
    assert "HTTP 500" in row and f'name="event_id" value="{event_id}"' in row
    r = client.post(f"/endpoints/{ep.id}/redeliver", data={"csrf": csrf, "event_id": str(event_id)},
                    follow_redirects=False)
    assert r.status_code == 303
    with db.read() as c:
        assert c.execute(sa.select(DL.c.status, DL.c.attempts).where(DL.c.endpoint_id == ep.id)).one() == ("pending", 0)


def test_a_loopback_url_is_refused_beside_the_form_keeping_what_was_typed(client, db, acme):
    csrf = _admin(client, db, acme)
    r = _add(client, csrf, url="https://127.0.0.1:9000/hook")
    assert r.status_code == 422
    error = re.search(r'<p class="error" role="alert" data-add-error>([^<]+)</p>', r.text)
    assert error and "loopback" in error[1] and "url" in error[1], r.text
    assert 'value="https://127.0.0.1:9000/hook"' in r.text and 'value="task.created, milestone.*"' in r.text
    unknown = client.post("/endpoints/new", data={"csrf": csrf, "url": URL, "event_types": "task.exploded"})
    assert unknown.status_code == 422 and "unknown event type(s) &#39;task.exploded&#39;" in unknown.text
    assert _endpoints(db, acme.org_id) == []


def test_an_admin_edits_the_url_types_and_description_and_a_refusal_keeps_what_was_typed(client, db, acme):
    csrf = _admin(client, db, acme)
    _add(client, csrf)
    (ep,) = _endpoints(db, acme.org_id)
    page = client.get("/endpoints").text
    assert f'action="/endpoints/{ep.id}/edit"' in page and f'value="{URL}"' in page

    r = client.post(f"/endpoints/{ep.id}/edit", data={"csrf": csrf, "url": "https://hooks.example.com/v2",
                                                      "event_types": "budget.*, task.deleted", "description": ""},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/endpoints?done=edit#endpoint-{ep.id}"
    (ep,) = _endpoints(db, acme.org_id)
    assert (ep.url, ep.event_types, ep.description) == ("https://hooks.example.com/v2",
                                                         ["budget.*", "task.deleted"], None)

    for url, types, said in [("https://10.0.0.8/hook", "*", "private"), (URL, "task.exploded", "task.exploded"),
                             (URL, "", "event_types")]:
        refused = client.post(f"/endpoints/{ep.id}/edit",
                              data={"csrf": csrf, "url": url, "event_types": types, "description": "typed"})
        assert refused.status_code == 422, (url, types, refused.text)
        error = re.search(r'<p class="error" role="alert" data-failed>([^<]+)</p>', refused.text)
        assert error and said in error[1].replace("&#39;", "'"), (said, error and error[1])
        section = refused.text.split(f'id="endpoint-{ep.id}"')[1]
        assert '<details class="edit" open>' in section and f'value="{url}"' in section and 'value="typed"' in section
    assert _endpoints(db, acme.org_id)[0].url == "https://hooks.example.com/v2"  # nothing saved


def test_a_read_session_sees_the_endpoints_without_forms_and_its_posts_are_refused(client, db, acme):
    csrf = _admin(client, db, acme)
    _add(client, csrf)
    (ep,) = _endpoints(db, acme.org_id)
    sign_in(client, acme.token)  # read scope
    html = client.get("/endpoints").text
    assert f'<tr data-endpoint-id="{ep.id}">' in html and URL in html
    assert '<form method="post"' not in html and 'name="csrf"' not in html and "admin scope can add" in html
    for path in ("/endpoints/new", f"/endpoints/{ep.id}/disable", f"/endpoints/{ep.id}/delete"):
        refused = client.post(path, data={"csrf": csrf, "confirm": URL, "url": URL, "event_types": "*"},
                              follow_redirects=False)
        assert refused.status_code == 403, path
    assert len(_endpoints(db, acme.org_id)) == 1 and _endpoints(db, acme.org_id)[0].enabled is True


def test_a_post_without_the_csrf_token_is_refused(client, db, acme):
    csrf = _admin(client, db, acme)
    _add(client, csrf)
    (ep,) = _endpoints(db, acme.org_id)
    assert client.post(f"/endpoints/{ep.id}/disable", data={}).status_code == 403
    assert client.post("/endpoints/new", data={"url": URL, "event_types": "*"}).status_code == 403
    foreign = client.post(f"/endpoints/{ep.id}/disable", data={"csrf": csrf}, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert _endpoints(db, acme.org_id)[0].enabled is True


def test_another_organizations_endpoint_is_not_found(client, db, acme, globex):
    csrf = _admin(client, db, globex)
    _add(client, csrf)
    (theirs,) = _endpoints(db, globex.org_id)
    csrf = _admin(client, db, acme)
    assert str(theirs.id) not in re.findall(r'data-endpoint-id="(\d+)"', client.get("/endpoints").text)
    for action in ("disable", "rotate", "test", "delete"):
        r = client.post(f"/endpoints/{theirs.id}/{action}", data={"csrf": csrf, "confirm": URL})
        assert r.status_code == 404, action
    assert client.post("/endpoints/abc/disable", data={"csrf": csrf}).status_code == 404
    assert client.post(f"/endpoints/{theirs.id}/explode", data={"csrf": csrf}).status_code == 404
    assert _endpoints(db, globex.org_id)[0].enabled is True
