"""The People page's "Suggested links" (issue 20): each suggestion with its evidence, and
Accept / Reject forms that need the session's CSRF token, a post from this site and a token
with the write scope. Both stores."""

from __future__ import annotations

import re

import pytest

from mappings.model import PersonRef
from service import store
from service.db import Database
from service.security.auth import create_token
from tests.dashboard.world import AS_OF, Org, TestClient, sign_in

PEOPLE = f"/people?as_of={AS_OF}"


def _twins(db: Database, o: Org) -> None:
    """A Trello "bob.acme" (Bob-acme's name, normalized) and a Jira "Çy acme" (Cy-acme's)."""
    with db.write() as c:
        store.resolve_people(c, o.org_id, [
            PersonRef(tool="trello", external_id=f"m-bob-{o.tag}", display_name=f"bob.{o.tag}"),
            PersonRef(tool="jira", external_id=f"acc-cy-{o.tag}", display_name=f"Çy {o.tag}"),
        ])


def _writer(client: TestClient, db: Database, o: Org) -> None:
    with db.session() as s:
        token = create_token(s, o.org_id, "write")[0]
    sign_in(client, token)


def _suggestions(html: str) -> list[str]:
    return re.findall(r'<tr data-suggestion-id="([^"]+)"', html)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token on the page"
    return found[1]


@pytest.fixture
def twins(db: Database, acme: Org, globex: Org) -> Org:
    _twins(db, acme)
    _twins(db, globex)
    return acme


def test_suggestions_show_their_evidence_and_a_read_token_gets_no_forms(client, twins):
    sign_in(client, twins.token)  # read scope
    html = client.get(PEOPLE).text
    ids = _suggestions(html)
    assert len(ids) == 2
    assert "<strong>Same name</strong>" in html and "trello display name “bob.acme”" in html
    assert html.count('class="confidence confidence-medium">Medium confidence</span>') == 2  # a name: medium
    assert "jira display name “Çy acme”" in html and "globex" not in html.split('id="suggestions"')[1]
    assert 'name="csrf"' not in html and "write scope can accept" in html
    r = client.post(f"/people/suggestions/{ids[0]}/accept", data={"csrf": "0" * 64}, follow_redirects=False)
    assert r.status_code == 403


def test_accept_and_reject_from_the_page(client, db, twins):
    _writer(client, db, twins)
    html = client.get(PEOPLE).text
    bob, cy = _suggestions(html)  # in person-id order: Bob-acme's pair first (same strength)
    token = _csrf(html)
    r = client.post(f"/people/suggestions/{bob}/accept", data={"csrf": token, "next": PEOPLE},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == PEOPLE
    r = client.post(f"/people/suggestions/{cy}/reject", data={"csrf": token, "next": PEOPLE},
                    follow_redirects=False)
    assert r.status_code == 303
    html = client.get(PEOPLE).text
    assert _suggestions(html) == [] and "No suggested links" in html
    people = html.split('<table class="people">')[1].split("</table>")[0]
    # Bob-acme now has both tools; Cy-acme keeps only Trello (the Jira "Çy" was rejected, and
    # as a person without work is not in the workload table).
    assert "jira: Bob-acme</span> <span class=\"tool tool-trello\">trello: bob.acme" in people
    assert "trello: Cy-acme</span> </td>" in people and "Çy" not in people
    again = client.post(f"/people/suggestions/{bob}/accept", data={"csrf": token}, follow_redirects=False)
    assert again.status_code == 404 and "no longer exists" in again.text
    stale = client.post(f"/people/suggestions/{cy}/accept", data={"csrf": token}, follow_redirects=False)
    assert stale.status_code == 409 and "no longer offered" in stale.text


@pytest.mark.parametrize(
    ("csrf", "headers", "path", "status", "says"),
    [
        (None, {}, "accept", 403, "did not come from your People page"),
        ("f" * 64, {}, "accept", 403, "did not come from your People page"),
        ("ok", {"origin": "https://evil.example"}, "accept", 403, "did not come from your People page"),
        ("ok", {}, "merge", 404, "accept or reject"),
    ],
)
def test_forms_without_the_token_or_from_another_site_are_refused(client, db, twins, csrf, headers, path, status,
                                                                   says):
    _writer(client, db, twins)
    html = client.get(PEOPLE).text
    sid = _suggestions(html)[0]
    data = {} if csrf is None else {"csrf": _csrf(html) if csrf == "ok" else csrf}
    r = client.post(f"/people/suggestions/{sid}/{path}", data=data, headers=headers, follow_redirects=False)
    assert r.status_code == status and says in r.text
    assert _suggestions(client.get(PEOPLE).text) == _suggestions(html)  # nothing changed


def test_another_organizations_suggestion_is_not_found(client, db, twins, globex):
    sign_in(client, globex.token)
    theirs = _suggestions(client.get(PEOPLE).text)
    client.cookies.clear()
    _writer(client, db, twins)
    token = _csrf(client.get(PEOPLE).text)
    r = client.post(f"/people/suggestions/{theirs[0]}/accept", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 404


def test_signed_out_posts_go_to_sign_in(client, twins):
    r = client.post("/people/suggestions/p1-p2/accept", data={"csrf": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fpeople"


def test_the_page_shows_the_strongest_and_says_how_many_more(client, twins, monkeypatch):
    monkeypatch.setattr("service.dashboard.pages.SUGGESTIONS_SHOWN", 1)
    sign_in(client, twins.token)
    html = client.get(PEOPLE).text
    assert len(_suggestions(html)) == 1 and "The strongest 1 of 2" in html
