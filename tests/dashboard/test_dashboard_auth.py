"""Dashboard sign-in: an API token becomes a signed, HttpOnly, SameSite=Lax session cookie."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

import sqlalchemy as sa
from cryptography.fernet import Fernet

from service.crypto import Vault, get_vault
from service.dashboard.data import table
from service.dashboard.session import COOKIE_NAME, SESSION_SECONDS, seal, unseal
from service.db import Database
from service.tables import ApiToken, utcnow
from tests.dashboard.world import Org, TestClient, make_settings, sign_in


def _set_cookie(resp) -> SimpleCookie:  # type: ignore[no-untyped-def]
    jar = SimpleCookie()
    jar.load(resp.headers["set-cookie"])
    return jar


def test_signed_out_root_redirects_to_login(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login"


def test_signed_out_pages_redirect_to_login_and_come_back(client: TestClient, tenant: Org) -> None:
    for path in ("/milestones?as_of=2026-03-12", "/people", "/projects/1"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
        form = client.get(r.headers["location"])
        assert f'name="next" value="{path}"' in form.text
        back = client.post(
            "/login", data={"token": tenant.token, "next": path}, follow_redirects=False
        )
        assert back.status_code == 303 and back.headers["location"] == path
        client.cookies.clear()


def test_login_form_asks_for_a_token(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    assert '<form method="post" action="/login">' in r.text
    assert 'name="token" type="password"' in r.text


def test_bad_token_shows_the_form_again_with_an_error(client: TestClient, tenant: Org) -> None:
    cases = {
        "th_not-a-real-token": "not valid, or it has been revoked",
        "nonsense": "not valid",
        "": "Paste an API token",
    }
    for token, message in cases.items():
        r = client.post("/login", data={"token": token}, follow_redirects=False)
        assert r.status_code == 401
        assert 'role="alert"' in r.text and message in r.text
        assert '<form method="post" action="/login">' in r.text
        assert "set-cookie" not in r.headers
        assert not token or token not in r.text  # never echoed back


def test_good_token_sets_a_signed_httponly_lax_cookie(client: TestClient, tenant: Org) -> None:
    r = client.post("/login", data={"token": tenant.token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    raw = r.headers["set-cookie"]
    morsel = _set_cookie(r)[COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == SESSION_SECONDS
    assert "secure" not in raw.lower()  # plain http here
    assert tenant.token not in raw  # the token itself never goes into the cookie
    page = client.get("/")
    assert page.status_code == 200 and "initech" in page.text


def test_cookie_is_secure_behind_an_https_base_url(db: Database, tmp_path, tenant: Org) -> None:  # type: ignore[no-untyped-def]
    from service.app import create_app

    app = create_app(
        make_settings(tmp_path, public_base_url="https://taskhub.example.com"),
        db,
        run_worker=False,
        migrate=False,
    )
    with TestClient(app) as c:
        r = c.post("/login", data={"token": tenant.token}, follow_redirects=False)
    assert _set_cookie(r)[COOKIE_NAME]["secure"] is True


def test_tampered_or_foreign_cookies_are_rejected(client: TestClient, tenant: Org) -> None:
    sign_in(client, tenant.token)
    good = client.cookies[COOKIE_NAME]
    forged = good[:40] + ("A" if good[40] != "A" else "B") + good[41:]
    other_key = seal(Vault(Fernet.generate_key()), 1, tenant.org_id)
    for value in (forged, other_key, "garbage", ""):
        client.cookies.clear()
        client.cookies.set(COOKIE_NAME, value)
        r = client.get("/people", follow_redirects=False)
        assert r.status_code == 303, value
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, good)
    assert client.get("/people", follow_redirects=False).status_code == 200


def test_session_expires() -> None:
    vault = Vault(Fernet.generate_key())
    now = time.time()
    value = seal(vault, 7, 3, now=now, ttl=60)
    assert unseal(vault, value, now=now + 59) == (7, 3, int(now + 60))
    assert unseal(vault, value, now=now + 61) is None


def test_expired_cookie_redirects_to_login(client: TestClient, tenant: Org) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with client.app.state.db.read() as conn:  # type: ignore[attr-defined]
        tid = conn.execute(
            sa.select(table(ApiToken).c.id).where(table(ApiToken).c.org_id == tenant.org_id)
        ).scalar_one()
    client.cookies.set(
        COOKIE_NAME,
        seal(get_vault(settings), tid, tenant.org_id, now=time.time() - SESSION_SECONDS - 1),
    )
    assert client.get("/people", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, seal(get_vault(settings), tid, tenant.org_id))
    assert client.get("/people", follow_redirects=False).status_code == 200


def test_revoking_the_token_ends_its_sessions(
    client: TestClient, db: Database, tenant: Org
) -> None:
    sign_in(client, tenant.token)
    assert client.get("/people", follow_redirects=False).status_code == 200
    A = table(ApiToken)
    with db.write() as c:
        c.execute(sa.update(A).where(A.c.org_id == tenant.org_id).values(revoked_at=utcnow()))
    assert client.get("/people", follow_redirects=False).status_code == 303


def test_logout_clears_the_cookie(client: TestClient, tenant: Org) -> None:
    sign_in(client, tenant.token)
    r = client.get("/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    morsel = _set_cookie(r)[COOKIE_NAME]
    assert morsel.value in ("", '""') and int(morsel["max-age"]) == 0
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_sign_in_only_returns_to_pages_of_this_site(client: TestClient, tenant: Org) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "people"):
        r = client.post(
            "/login", data={"token": tenant.token, "next": target}, follow_redirects=False
        )
        assert r.headers["location"] == "/", target


def test_sign_in_posted_from_another_site_is_refused(client: TestClient, tenant: Org) -> None:
    r = client.post(
        "/login",
        data={"token": tenant.token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "set-cookie" not in r.headers
