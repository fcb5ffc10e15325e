"""Tenant isolation on every dashboard page: an organization never sees another's data,
and another organization's ids are a 404 page, exactly like ids that do not exist."""

from __future__ import annotations

from tests.dashboard.world import AS_OF, Org, TestClient, charts, sign_in


def _pages(o: Org) -> list[str]:
    return [
        "/",
        f"/?portfolio={o.portfolio}",
        "/milestones",
        f"/milestones?portfolio={o.portfolio}",
        "/people",
        f"/people?portfolio={o.portfolio}",
        f"/projects/{o.apollo}",
        f"/projects/{o.borealis}",
        f"/projects/{o.nimbus}",
    ]


def test_each_organization_sees_only_its_own_data(
    client: TestClient, acme: Org, globex: Org
) -> None:
    for me, other in ((acme, globex), (globex, acme)):
        client.cookies.clear()
        sign_in(client, me.token)
        for path in _pages(me):
            sep = "&" if "?" in path else "?"
            r = client.get(f"{path}{sep}as_of={AS_OF}")
            assert r.status_code == 200, (me.tag, path)
            text = r.text.lower()
            assert me.tag in text, (me.tag, path)  # the page does show this organization's data ...
            assert other.tag not in text, (me.tag, path)  # ... and nothing of the other's
            assert charts(r.text)


def test_another_organizations_ids_are_not_found(
    client: TestClient, acme: Org, globex: Org
) -> None:
    sign_in(client, globex.token)
    foreign = [
        f"/projects/{acme.apollo}",
        f"/projects/{acme.borealis}",
        f"/projects/{acme.nimbus}",
        f"/?portfolio={acme.portfolio}",
        f"/milestones?portfolio={acme.portfolio}",
        f"/people?portfolio={acme.portfolio}",
    ]
    missing = client.get("/projects/987654")
    assert missing.status_code == 404
    for path in foreign:
        r = client.get(path)
        assert r.status_code == 404, path
        assert "acme" not in r.text.lower(), path  # not even the name of what was asked for
        assert "Not found" in r.text and "globex" in r.text  # the page still says who is signed in
