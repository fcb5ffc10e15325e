"""Dashboard sign-in: an API token becomes a signed, HttpOnly, SameSite=Lax session cookie."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie

import sqlalchemy as sa
from cryptography.fernet import Fernet

from service.dashboard.data import table
from service.dashboard.session import COOKIE_NAME, SESSION_SECONDS, open_session, seal, unseal
from service.db import Database
from service.security.crypto import Vault, get_vault
from service.tables import ApiToken, DashboardSession, utcnow
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
    other_key = seal(Vault(Fernet.generate_key()), "a-session-secret")
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
    value = seal(vault, "s3", now=now, ttl=60)
    assert unseal(vault, value, now=now + 59) == ("s3", int(now + 60))
    assert unseal(vault, value, now=now + 61) is None


def test_expired_cookie_redirects_to_login(client: TestClient, tenant: Org) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with client.app.state.db.read() as conn:  # type: ignore[attr-defined]
        tid = conn.execute(
            sa.select(table(ApiToken).c.id).where(table(ApiToken).c.org_id == tenant.org_id)
        ).scalar_one()
    db = client.app.state.db  # type: ignore[attr-defined]
    secret, _ = open_session(db, tid, tenant.org_id)
    client.cookies.set(
        COOKIE_NAME,
        seal(get_vault(settings), secret, now=time.time() - SESSION_SECONDS - 1),
    )
    assert client.get("/people", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, seal(get_vault(settings), secret))
    assert client.get("/people", follow_redirects=False).status_code == 200
    # A session whose row has expired is refused even under a fresh seal.
    old, _ = open_session(db, tid, tenant.org_id, now=time.time() - SESSION_SECONDS - 1)
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, seal(get_vault(settings), old))
    assert client.get("/people", follow_redirects=False).status_code == 303
    # A cookie sealed with our key for a session that was never opened opens nothing.
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, seal(get_vault(settings), "never-opened"))
    assert client.get("/people", follow_redirects=False).status_code == 303


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


def test_logout_ends_the_session_in_the_store(client: TestClient, db: Database, tenant: Org) -> None:
    """A cookie kept from before the sign-out (copied, or a client ignoring Set-Cookie) is dead."""
    sign_in(client, tenant.token)
    kept = client.cookies[COOKIE_NAME]
    other = TestClient(client.app)  # a second browser signed in with the same token
    sign_in(other, tenant.token)
    assert client.get("/people", follow_redirects=False).status_code == 200
    client.post("/logout", follow_redirects=False)
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, kept)
    r = client.get("/people", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/login").status_code == 200  # the sign-in form, not a redirect away
    assert other.get("/people", follow_redirects=False).status_code == 200  # only that session ended
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(table(DashboardSession))).scalar() == 1


def test_an_expired_token_ends_its_sessions_and_cannot_sign_in(
    client: TestClient, db: Database, tenant: Org
) -> None:
    sign_in(client, tenant.token)
    assert client.get("/people", follow_redirects=False).status_code == 200
    A = table(ApiToken)
    with db.write() as c:
        c.execute(sa.update(A).where(A.c.org_id == tenant.org_id).values(expires_at=utcnow()))
    assert client.get("/people", follow_redirects=False).status_code == 303
    r = client.post("/login", data={"token": tenant.token}, follow_redirects=False)
    assert r.status_code == 401 and "set-cookie" not in r.headers


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
