"""The Sources page (issue 21): add, edit, verify, sync now, webhooks and delete from the dashboard,
against the simulated Jira, on both stores. The forms do what the API does (verification with
the tool, a 422 naming the host and cause, webhooks registered) and need its scopes: admin to
change sources, write to ask for a sync; a read-only session sees the page without forms."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sandbox.jira import JiraState
from sandbox.jira.limits import FaultRule
from service.dashboard.data import table
from service.db import Database
from service.security.auth import create_token
from service.settings import Settings
from service.sync.state import REQUEST_STREAM
from service.tables import Source, SyncState, WebhookRegistration
from tests.conftest import simulated_jira, simulated_trello
from tests.dashboard.world import Org, TestClient, make_settings, sign_in
from tests.sync.conftest import JIRA_EMAIL, JIRA_TOKEN

S, SS = table(Source), table(SyncState)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The loopback sandbox allowed out (as an operator's allow list would); webhook URLs on testserver."""
    return make_settings(tmp_path, outbound_allow="127.0.0.1", public_base_url="http://testserver")


@pytest.fixture
def jira() -> Iterator[tuple[str, JiraState]]:
    with simulated_jira(2, 2) as (url, state):
        yield url, state


def _as(client: TestClient, db: Database, o: Org, scope: str) -> str:
    """Sign in with a new token of ``scope``; the page's CSRF token."""
    with db.session() as s:
        token = create_token(s, o.org_id, scope)[0]  # type: ignore[arg-type]
    sign_in(client, token)
    return _csrf(client.get("/sources").text) if scope != "read" else ""


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token on the page"
    return found[1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _jira_form(csrf: str, url: str, **kw: str) -> dict[str, str]:
    return {"csrf": csrf, "kind": "jira", "name": "jira sandbox", "base_url": url, "auth": "jira_cloud",
            "email": JIRA_EMAIL, "api_token": JIRA_TOKEN, "projects": "APOLLO, BEACON",
            "poll_interval_seconds": "600", **kw}


def _sources(db: Database, org_id: int) -> dict[str, Any]:
    with db.read() as c:
        return {r.name: r for r in c.execute(sa.select(S).where(S.c.org_id == org_id))}


def test_a_read_session_sees_health_and_webhooks_without_forms_and_its_posts_are_refused(client, db, acme, globex):
    sign_in(client, acme.token)  # read scope
    r = client.get("/sources")
    assert r.status_code == 200
    html = r.text
    assert 'aria-current="page">Sources' in html
    rows = re.findall(r'<tr data-source-id="(\d+)">', html)
    assert rows == [str(acme.jira), str(acme.trello)]  # acme's two, not globex's
    trello_row = html.split(f'<tr data-source-id="{acme.trello}">')[1].split("</tr>")[0]
    assert "badge-degraded" in trello_row and "401 from Trello (acme)" in trello_row
    assert "none" in trello_row and "0 of 0 registered" in trello_row
    assert "<form method=\"post\"" not in html and 'name="csrf"' not in html and "admin scope can add" in html
    for path in ("/sources/new", f"/sources/{acme.jira}/sync", f"/sources/{acme.jira}/delete"):
        refused = client.post(path, data={"csrf": "0" * 64, "confirm": f"jira {acme.tag}"}, follow_redirects=False)
        assert refused.status_code == 403, path
    assert set(_sources(db, acme.org_id)) == {"jira acme", "trello acme"}


def test_a_write_session_can_ask_for_a_sync_and_nothing_else(client, db, acme):
    csrf = _as(client, db, acme, "write")
    html = client.get("/sources").text
    assert f'action="/sources/{acme.jira}/sync"' in html and "/edit" not in html and "/sources/new" not in html
    r = client.post(f"/sources/{acme.jira}/sync", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/sources?done=sync#source-{acme.jira}"
    with db.read() as c:
        pending = c.execute(sa.select(SS.c.cursor).where(SS.c.source_id == acme.jira,
                                                         SS.c.stream == REQUEST_STREAM)).scalar()
    assert pending == "incremental"
    assert "Sync requested" in client.get(r.headers["location"]).text
    edit = client.post(f"/sources/{acme.jira}/edit", data={"csrf": csrf, "name": "renamed"}, follow_redirects=False)
    assert edit.status_code == 403 and "admin scope" in edit.text
    assert "jira acme" in _sources(db, acme.org_id)


def test_add_a_jira_source_verified_against_the_tool_with_its_webhook_and_secret_shown_once(client, db, acme, jira):
    url, state = jira
    csrf = _as(client, db, acme, "admin")
    r = client.post("/sources/new", data=_jira_form(csrf, url), follow_redirects=False)
    assert r.status_code == 201, r.text
    stored = _sources(db, acme.org_id)["jira sandbox"]
    assert (stored.base_url, stored.scope) == (url, {"projects": ["APOLLO", "BEACON"]})
    assert stored.poll_interval_seconds == 600
    secret = re.search(r"<code class=\"secret\" data-secret>([^<]+)</code>", r.text)
    assert secret and len(secret[1]) >= 32
    assert "<strong data-webhooks-state>registered</strong> (1 of 1 registered)" in r.text
    assert len(state.webhooks) == 1  # in the (simulated) Jira, not only recorded
    again = client.get("/sources").text
    assert secret[1] not in again and JIRA_TOKEN not in again  # shown once; credentials never
    row = again.split(f'<tr data-source-id="{stored.id}">')[1].split("</tr>")[0]
    assert "badge-ok" in row and "registered <span class=\"sub\">1 of 1 registered" in row


def test_a_failed_verification_is_shown_beside_the_form_keeping_what_was_typed_but_the_secret(client, db, acme):
    port = _closed_port()
    csrf = _as(client, db, acme, "admin")
    form = _jira_form(csrf, f"http://127.0.0.1:{port}", api_token="typed-secret-value")
    r = client.post("/sources/new", data=form)
    assert r.status_code == 422
    error = re.search(r'<p class="error" role="alert" data-add-error>([^<]+)</p>', r.text)
    assert error and f"127.0.0.1:{port}: connection refused" in error[1], r.text
    assert 'value="jira sandbox"' in r.text and f'value="{JIRA_EMAIL}"' in r.text and 'value="APOLLO, BEACON"' in r.text
    assert "typed-secret-value" not in r.text
    assert "jira sandbox" not in _sources(db, acme.org_id)
    odd = client.post("/sources/new", data={**form, "kind": "asana"})  # not offered by the page: still said
    assert odd.status_code == 422
    assert "data-add-error>kind: Input should be &#39;jira&#39; or &#39;trello&#39;" in odd.text
    skipped = client.post("/sources/new", data={**form, "skip_verify": "on", "manual_webhooks": "on"})
    assert skipped.status_code == 201 and "jira sandbox" in _sources(db, acme.org_id)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"name": ""}, "name: Value should have at least 1"),
        ({"poll_interval_seconds": "5"}, "poll_interval_seconds: Input should be greater than or equal to 10"),
        ({"projects": "nope"}, "scope.JiraScope.projects[0]: String should match pattern"),
        ({"name": "trello acme"}, "a source named 'trello acme' already exists"),
    ],
)
def test_a_bad_edit_is_a_422_or_409_beside_the_form_and_changes_nothing(client, db, acme, change, says):
    csrf = _as(client, db, acme, "admin")
    form = {"csrf": csrf, "name": "jira acme", "base_url": "", "projects": "", "jql": "",
            "poll_interval_seconds": "300", "enabled": "on", **change}
    r = client.post(f"/sources/{acme.jira}/edit", data=form)
    assert r.status_code in (409, 422)
    error = re.search(r'<p class="error" role="alert" data-edit-error>([^<]+)</p>', r.text)
    assert error and says in error[1].replace("&#39;", "'"), r.text
    assert _sources(db, acme.org_id)["jira acme"].poll_interval_seconds == 300


def test_emptied_jql_and_trello_base_url_fields_are_not_kept(client, db, acme):
    """An emptied JQL field removes the JQL; an emptied Trello base URL is api.trello.com, as the
    form's hint says (both were kept as stored; found in review)."""
    with db.write() as c:
        c.execute(sa.update(S).where(S.c.id == acme.jira).values(scope={"projects": ["PRJ"], "jql": "labels = x"}))
        c.execute(sa.update(S).where(S.c.id == acme.trello).values(base_url="https://trello.example.com/1"))
    csrf = _as(client, db, acme, "admin")
    form = {"csrf": csrf, "name": "jira acme", "base_url": "", "projects": "PRJ", "jql": "",
            "poll_interval_seconds": "300", "enabled": "on", "skip_verify": "on"}
    r = client.post(f"/sources/{acme.jira}/edit", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert _sources(db, acme.org_id)["jira acme"].scope == {"projects": ["PRJ"]}
    form = {**form, "name": "trello acme", "boards": ""}
    r = client.post(f"/sources/{acme.trello}/edit", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert _sources(db, acme.org_id)["trello acme"].base_url == "https://api.trello.com/1"


def test_an_email_typed_without_its_token_is_refused_not_silently_dropped(client, db, acme):
    """The edit kept the stored credentials and said "Saved." when only the email was typed (found
    in review)."""
    csrf = _as(client, db, acme, "admin")
    before = _sources(db, acme.org_id)["jira acme"].credentials_enc
    form = {"csrf": csrf, "name": "jira acme", "base_url": "", "projects": "", "jql": "",
            "poll_interval_seconds": "300", "enabled": "on", "skip_verify": "on", "auth": "jira_cloud",
            "email": "new-bot@acme.io"}
    r = client.post(f"/sources/{acme.jira}/edit", data=form, follow_redirects=False)
    assert r.status_code == 422 and "api_token" in r.text
    assert _sources(db, acme.org_id)["jira acme"].credentials_enc == before


def test_edit_verify_webhooks_and_delete_a_source(client, db, acme, jira):
    url, state = jira
    csrf = _as(client, db, acme, "admin")
    state.faults.rules.append(FaultRule(403, count=1, path="/rest/webhooks", method="POST"))  # not an admin yet
    created = client.post("/sources/new", data=_jira_form(csrf, url))
    assert created.status_code == 201
    assert "could not register the Jira webhook" in created.text and "<dt>Secret</dt><dd><code>" in created.text
    sid = _sources(db, acme.org_id)["jira sandbox"].id

    # Renamed and polled less often: nothing to verify, no tool call.
    calls = dict(state.stats.snapshot()["by_route"])
    form = {"csrf": csrf, "name": "jira main", "base_url": url, "projects": "APOLLO, BEACON", "jql": "",
            "poll_interval_seconds": "900", "enabled": "on"}
    r = client.post(f"/sources/{sid}/edit", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/sources?done=edit#source-{sid}"
    assert dict(state.stats.snapshot()["by_route"]) == calls
    row = _sources(db, acme.org_id)["jira main"]
    assert (row.poll_interval_seconds, row.enabled) == (900, True)

    # A project the user cannot read: the edit is verified first, refused, and says which.
    r = client.post(f"/sources/{sid}/edit", data={**form, "projects": "APOLLO, ZZZ"})
    assert r.status_code == 422 and "project ZZZ" in r.text
    assert _sources(db, acme.org_id)["jira main"].scope == {"projects": ["APOLLO", "BEACON"]}

    verified = client.post(f"/sources/{sid}/verify", data={"csrf": csrf})
    assert verified.status_code == 200 and "Verified: the site answers" in verified.text
    with db.write() as c:  # the site moved away
        c.execute(sa.update(S).where(S.c.id == sid).values(base_url=f"http://127.0.0.1:{_closed_port()}"))
    failed = client.post(f"/sources/{sid}/verify", data={"csrf": csrf})
    assert failed.status_code == 422 and "connection refused" in failed.text
    with db.write() as c:
        c.execute(sa.update(S).where(S.c.id == sid).values(base_url=url))

    section = client.get("/sources").text.split(f'id="source-{sid}"')[1]
    assert '<td data-state>manual</td>' in section and "Retry webhooks" in section
    r = client.post(f"/sources/{sid}/register", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and len(state.webhooks) == 1
    section = client.get("/sources").text.split(f'id="source-{sid}"')[1]
    assert '<td data-state>registered</td>' in section and "could not register" not in section
    with db.write() as c:  # registered before issue 23: the page says what the webhook lacks
        c.execute(sa.update(table(WebhookRegistration)).where(table(WebhookRegistration).c.source_id == sid)
                  .values(events=["jira:issue_created", "jira:issue_updated"]))
    page = client.get("/sources").text
    missing = "outdated: missing "
    assert missing in page.split(f'data-source-id="{sid}"')[1].split("</tr>")[0]  # the list's row
    section = page.split(f'id="source-{sid}"')[1]
    assert '<td data-state>registered</td>' in section and missing in section  # and the registration's
    r = client.post(f"/sources/{sid}/register", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "outdated" not in client.get("/sources").text
    r = client.post(f"/sources/{sid}/ping", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert "Pinged" in client.get("/sources").text.split(f'id="source-{sid}"')[1]

    wrong = client.post(f"/sources/{sid}/delete", data={"csrf": csrf, "confirm": "jira"})
    assert wrong.status_code == 422 and "Type the source" in wrong.text and "jira main" in _sources(db, acme.org_id)
    r = client.post(f"/sources/{sid}/delete", data={"csrf": csrf, "confirm": "jira main"}, follow_redirects=False)
    assert r.status_code == 303 and "jira main" not in _sources(db, acme.org_id)
    assert state.webhooks == {}  # removed from the tool too


@pytest.mark.parametrize(
    ("path", "data", "headers", "status", "says"),
    [
        ("/sources/{jira}/sync", {}, {}, 403, "did not come from your Sources page"),
        ("/sources/{jira}/sync", {"csrf": "ok"}, {"origin": "https://evil.example"}, 403, "did not come from"),
        ("/sources/{jira}/merge", {"csrf": "ok"}, {}, 404, "no action"),
        ("/sources/{theirs}/sync", {"csrf": "ok"}, {}, 404, "There is no source"),
        ("/sources/12x/sync", {"csrf": "ok"}, {}, 404, "There is no source"),
    ],
)
def test_posts_without_the_token_from_elsewhere_or_to_another_organization_are_refused(
        client, db, acme, globex, path, data, headers, status, says):
    csrf = _as(client, db, acme, "admin")
    data = {k: csrf if v == "ok" else v for k, v in data.items()}
    r = client.post(path.format(jira=acme.jira, theirs=globex.jira), data=data, headers=headers,
                    follow_redirects=False)
    assert r.status_code == status and says in r.text
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(SS).where(SS.c.stream == REQUEST_STREAM)).scalar() == 0


def test_behind_a_proxy_a_post_from_the_public_url_is_accepted_and_another_origin_refused(db, acme, tmp_path):
    """A proxy that passes its own upstream Host (nginx's default): the browser's Origin is
    PUBLIC_BASE_URL's, which is this site too (every post was refused; found in review)."""
    from service.app import create_app

    app = create_app(make_settings(tmp_path, public_base_url="https://taskhub.example.com"), db,
                     run_worker=False, migrate=False)
    with TestClient(app, base_url="https://upstream:8000") as proxied:
        csrf = _as(proxied, db, acme, "write")
        r = proxied.post(f"/sources/{acme.jira}/sync", data={"csrf": csrf},
                         headers={"origin": "https://taskhub.example.com"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        r = proxied.post(f"/sources/{acme.jira}/sync", data={"csrf": csrf},
                         headers={"origin": "https://evil.example.com"}, follow_redirects=False)
        assert r.status_code == 403


def test_signed_out_posts_go_to_sign_in(client, acme):
    r = client.post(f"/sources/{acme.jira}/sync", data={"csrf": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fsources"


def test_verifying_a_source_without_a_site_or_credentials_says_so(client, db, acme):
    """acme's sources were stored without a site or credentials (as by a test or an old import)."""
    csrf = _as(client, db, acme, "admin")
    r = client.post(f"/sources/{acme.jira}/verify", data={"csrf": csrf})
    assert r.status_code == 422, r.text[:300]
    assert "This source has no stored credentials" in r.text
    for action in ("register", "ping"):  # nothing to call the tool with: said, not a 500
        r = client.post(f"/sources/{acme.jira}/{action}", data={"csrf": csrf})
        assert r.status_code == 409 and "has no stored credentials" in r.text, action


@pytest.fixture
def trello() -> Iterator[tuple[str, Any, list[str]]]:
    with simulated_trello(cards_per_board=2) as site:
        yield site


def test_a_trello_source_added_and_its_credentials_replaced_from_the_page(client, db, acme, trello, settings):
    from service.security.crypto import get_vault

    api, state, boards = trello
    csrf = _as(client, db, acme, "admin")
    form = {"csrf": csrf, "kind": "trello", "name": "boards", "base_url": api, "api_key": state.api_key,
            "token": "sandbox-token", "app_secret": state.app_secret, "boards": ", ".join(boards)}
    r = client.post("/sources/new", data=form)
    assert r.status_code == 201, r.text
    # Trello HEADs the callback before it creates a webhook: http://testserver is not reachable.
    assert "<strong data-webhooks-state>failed</strong> (0 of 2 registered)" in r.text
    assert "data-secret" not in r.text  # Trello signs with its app secret: no secret of ours
    sid = _sources(db, acme.org_id)["boards"].id
    section = client.get("/sources").text.split(f'id="source-{sid}"')[1]
    assert section.count("<td data-state>failed</td>") == 2 and state.app_secret not in section

    edit = {"csrf": csrf, "name": "boards", "base_url": api, "boards": ", ".join(boards),
            "poll_interval_seconds": "300", "enabled": "on", "api_key": state.api_key}
    wrong = client.post(f"/sources/{sid}/edit", data={**edit, "token": "stolen", "app_secret": "x"})
    assert wrong.status_code == 422 and "HTTP 401" in wrong.text and "members/me" in wrong.text
    state.add_token("new-token")
    r = client.post(f"/sources/{sid}/edit", data={**edit, "token": "new-token", "app_secret": "rotated-app-secret"},
                    follow_redirects=False)
    assert r.status_code == 303
    creds = get_vault(settings).decrypt(_sources(db, acme.org_id)["boards"].credentials_enc)
    assert creds == {"type": "trello", "api_key": state.api_key, "token": "new-token",
                     "app_secret": "rotated-app-secret"}
