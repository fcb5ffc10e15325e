"""Issue 16 §5: token lifecycle (API and CLI), key rotation, webhook-secret rotation from the CLI.

Revoked and expired tokens are refused on the very next request, by the API and the dashboard.
The CLI runs against the ``db`` store under test (both stores) with one-line errors, exit 2.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from service.cli.main import app as cli_app
from service.db import reset_database_cache
from service.schemas import SourceCreate
from service.security.auth import create_token
from service.security.crypto import Vault
from service.settings import Settings, get_settings
from service.sources import create_source
from service.tables import ApiToken, Source, utcnow
from tests.service.conftest import JIRA_SOURCE, TRELLO_SOURCE

A = ApiToken.__table__
S = Source.__table__


# --- the API -----------------------------------------------------------------------------------


def test_create_list_and_revoke_a_token(client, acme):
    r = client.post("/api/v1/tokens", json={"scope": "write", "name": "ci", "expires_in_days": 30},
                    headers=acme.h())
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["token"].startswith("th_") and made["prefix"] == made["token"][:10]
    assert made["expires_at"] is not None and made["revoked_at"] is None
    new = {"Authorization": f"Bearer {made['token']}"}
    assert client.get("/api/v1/sources", headers=new).status_code == 200

    listed = client.get("/api/v1/tokens", headers=acme.h())
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()][-1] == "ci"
    assert made["token"] not in listed.text and "token_hash" not in listed.text
    assert all("token" not in t for t in listed.json())

    gone = client.delete(f"/api/v1/tokens/{made['id']}", headers=acme.h())
    assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
    r = client.get("/api/v1/sources", headers=new)  # the very next request
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    again = client.delete(f"/api/v1/tokens/{made['id']}", headers=acme.h())
    assert again.status_code == 200 and again.json()["revoked_at"] == gone.json()["revoked_at"]


def test_an_expired_token_is_refused_at_once(client, acme, db):
    r = client.post("/api/v1/tokens", json={"scope": "read", "expires_in_days": 1}, headers=acme.h()).json()
    h = {"Authorization": f"Bearer {r['token']}"}
    assert client.get("/api/v1/sources", headers=h).status_code == 200
    with db.write() as c:
        c.execute(sa.update(A).where(A.c.id == r["id"]).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/api/v1/sources", headers=h).status_code == 401


def test_admins_see_and_revoke_only_their_own_organizations_tokens(client, acme, globex, db):
    with db.read() as c:
        acme_ids = set(c.execute(sa.select(A.c.id).where(A.c.org_id == acme.org_id)).scalars())
    seen = {t["id"] for t in client.get("/api/v1/tokens", headers=globex.h()).json()}
    assert seen and not seen & acme_ids
    victim = min(acme_ids)
    r = client.delete(f"/api/v1/tokens/{victim}", headers=globex.h())
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/sources", headers=acme.h()).status_code == 200  # untouched


def test_tokens_need_admin_and_bad_input_is_named(client, acme):
    assert client.get("/api/v1/tokens", headers=acme.h("write")).status_code == 403
    assert client.post("/api/v1/tokens", json={}, headers=acme.h("read")).status_code == 403
    assert client.get("/api/v1/tokens").status_code == 401
    for body, field in (({"scope": "root"}, "scope"), ({"expires_in_days": 0}, "expires_in_days"),
                        ({"expires_in_days": "soon"}, "expires_in_days"), ({"bogus": 1}, "bogus")):
        r = client.post("/api/v1/tokens", json=body, headers=acme.h())
        assert r.status_code == 422 and field in r.text, body
    assert client.delete("/api/v1/tokens/999999", headers=acme.h()).status_code == 404


def test_a_dashboard_session_ends_when_its_token_is_revoked_through_the_api(client, acme):
    made = client.post("/api/v1/tokens", json={"scope": "read"}, headers=acme.h()).json()
    r = client.post("/login", data={"token": made["token"]}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=acme.h()).status_code == 200
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


# --- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def keys() -> tuple[str, str]:
    return Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def cli(db, tmp_path, monkeypatch, keys):
    """Runs ``taskhub`` against the store under test; ``key=`` sets TASKHUB_SECRET_KEY."""
    monkeypatch.setenv("TASKHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TASKHUB_DATABASE_URL", db.url)
    runner = CliRunner()

    def run(*args: str, key: str | None = None):  # type: ignore[no-untyped-def]
        monkeypatch.setenv("TASKHUB_SECRET_KEY", key or keys[0])
        get_settings.cache_clear()
        reset_database_cache()
        return runner.invoke(cli_app, list(args))

    yield run
    get_settings.cache_clear()
    reset_database_cache()


def test_cli_token_lifecycle(cli, acme, db):
    r = cli("token", "create", "--org", str(acme.org_id), "--name", "deploy", "--expires-in", "7")
    assert r.exit_code == 0, r.output
    made = json.loads(r.stdout)
    assert made["expires_at"] is not None
    listed = cli("token", "list", "--org", str(acme.org_id))
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["name"] for r in rows][-1] == "deploy"
    assert made["token"] not in listed.stdout and acme.admin not in listed.stdout
    assert cli("token", "revoke", str(made["id"])).exit_code == 0
    with db.session() as s:
        from service.security.auth import lookup_token

        assert lookup_token(s, made["token"]) is None
    assert cli("token", "revoke", str(made["id"])).exit_code == 0  # idempotent


@pytest.mark.parametrize("args, needle", [
    (("token", "revoke", "999999"), "no API token with id 999999"),
    (("token", "revoke", "abc"), "token id must be a positive whole number, not 'abc'"),
    (("token", "revoke", "99999999999999999999999"), "token id must be a positive whole number"),
    (("source", "rotate-secret", "x1"), "source id must be a positive whole number"),
    (("token", "list", "--org", "nope"), "no organization"),
    (("token", "create", "--org", "acme", "--expires-in", "0"), "--expires-in must be between"),
    (("source", "rotate-secret", "999999"), "source 999999 not found"),
    (("source", "rotate-secret", "{jira}", "--overlap", "-1"), "--overlap must be between"),
    (("source", "rotate-secret", "{trello}"), "Trello"),
])
def test_cli_bad_input_exits_2_with_one_line(cli, acme, db, keys, args, needle):
    ids = _sources(db, acme.org_id, keys[0])
    r = cli(*(a.format(**ids) for a in args))
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and r.stderr.startswith("taskhub: ")
    assert len(r.stderr.strip().splitlines()) == 1 and not r.stdout


def _sources(db, org_id: int, key: str) -> dict[str, str]:
    settings = Settings(database_url=db.url, secret_key=key, _env_file=None)  # type: ignore[call-arg]
    with db.session() as s:
        existing = {r.kind: str(r.id) for r in s.exec(sa.select(S.c.id, S.c.kind)).all()}  # type: ignore[call-overload]
        if existing:
            return existing
        jira = create_source(s, settings, org_id, SourceCreate.model_validate(JIRA_SOURCE))
        trello = create_source(s, settings, org_id, SourceCreate.model_validate(TRELLO_SOURCE))
    return {"jira": str(jira.id), "trello": str(trello.id)}


def _encrypted(db) -> list[str]:
    with db.read() as c:
        rows = c.execute(sa.select(S.c.credentials_enc, S.c.webhook_secret_enc, S.c.webhook_secret_prev_enc)
                         .order_by(S.c.id)).all()
    return [v for row in rows for v in row if v]


def test_secrets_rotate_reencrypts_everything_under_the_newest_key(cli, acme, db, keys):
    old, new = keys
    ids = _sources(db, acme.org_id, old)
    r = cli("source", "rotate-secret", ids["jira"], "--overlap", "2", key=old)  # a previous secret too
    assert r.exit_code == 0, r.output
    before = _encrypted(db)
    assert len(before) == 4  # 2 credentials, Jira's secret (Trello has none: it signs with its app secret), 1 previous
    plain = [Vault(old).decrypt_str(v) for v in before]

    # During the rotation both keys are configured, newest first: old ciphertexts still open.
    both = f"{new},{old}"
    assert [Vault(both).decrypt_str(v) for v in before] == plain
    r = cli("secrets", "rotate", key=both)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["keys"] == 2 and report["complete"] is False  # it rotated: run again to confirm
    assert report["rotated"] == {"credentials_enc": 2, "webhook_secret_enc": 1, "webhook_secret_prev_enc": 1,
                                 "automation_secret_enc": 0, "automation_secret_prev_enc": 0,
                                 "webhook_endpoint.secret_enc": 0, "webhook_endpoint.secret_prev_enc": 0}
    after = _encrypted(db)
    assert [Vault(new).decrypt_str(v) for v in after] == plain  # the new key alone opens everything
    with pytest.raises(Exception):  # noqa: B017 - ConfigError: the old key alone no longer does
        Vault(old).decrypt_str(after[0])

    again = json.loads(cli("secrets", "rotate", key=both).stdout)
    assert sum(again["rotated"].values()) == 0 and sum(again["already_current"].values()) == 4
    assert again["complete"] is True
    assert _encrypted(db) == after


def test_secrets_rotate_leaves_a_row_changed_meanwhile_and_says_so(db, acme, keys, monkeypatch):
    """A replica still writing under the old key between our read and our write: its value is
    kept (compare-and-set), the report names the source, and the next run rotates it."""
    from service.security import rotation as secret_rotation

    old, new = keys
    ids = _sources(db, acme.org_id, old)
    both = f"{new},{old}"
    settings = Settings(database_url=db.url, secret_key=both, _env_file=None)  # type: ignore[call-arg]
    written_meanwhile = Vault(old).encrypt("written by a replica on the old key order")
    real = secret_rotation.get_vault(settings)

    class Racing:
        key_count = real.key_count
        is_current = staticmethod(real.is_current)

        @staticmethod
        def rotate(value: str) -> str:
            with db.write() as conn:  # another writer gets in first
                conn.execute(sa.update(S).where(S.c.id == int(ids["jira"]))
                             .values(credentials_enc=written_meanwhile))
            return real.rotate(value)

    monkeypatch.setattr(secret_rotation, "get_vault", lambda _settings: Racing)
    report = secret_rotation.rotate_stored_secrets(db, settings)
    assert int(ids["jira"]) in report.changed_meanwhile and report.complete is False
    with db.read() as c:
        kept = c.execute(sa.select(S.c.credentials_enc).where(S.c.id == int(ids["jira"]))).scalar_one()
    assert kept == written_meanwhile
    monkeypatch.undo()
    secret_rotation.rotate_stored_secrets(db, settings)
    final = secret_rotation.rotate_stored_secrets(db, settings)
    assert final.complete and final.changed_meanwhile == []


def test_secrets_rotate_names_what_no_key_opens(cli, acme, db, keys):
    _sources(db, acme.org_id, keys[0])
    stranger = Fernet.generate_key().decode()
    r = cli("secrets", "rotate", key=stranger)
    assert r.exit_code == 1 and "TASKHUB_SECRET_KEY" in r.stderr


def test_cli_rotate_secret_prints_it_once_with_the_overlap(cli, acme, db, keys):
    ids = _sources(db, acme.org_id, keys[0])
    with db.read() as c:
        old_enc = c.execute(sa.select(S.c.webhook_secret_enc).where(S.c.id == int(ids["jira"]))).scalar()
    r = cli("source", "rotate-secret", ids["jira"], "--overlap", "1")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out["webhook_secret"]) >= 32 and out["previous_accepted_until"] is not None
    with db.read() as c:
        row = c.execute(sa.select(S).where(S.c.id == int(ids["jira"]))).one()
    vault = Vault(keys[0])
    assert vault.decrypt_str(row.webhook_secret_enc) == out["webhook_secret"]
    assert vault.decrypt_str(row.webhook_secret_prev_enc) == vault.decrypt_str(old_enc)
    assert abs((row.webhook_secret_prev_until - utcnow()) - timedelta(hours=1)) < timedelta(minutes=5)


def test_create_token_refuses_a_bad_expiry(db, acme):
    with db.session() as s, pytest.raises(ValueError, match="between 1 and"):
        create_token(s, acme.org_id, "read", expires_in_days=0)


def test_a_bad_key_in_the_list_is_named(keys):
    from service.security.crypto import ConfigError

    with pytest.raises(ConfigError, match="key 2 of 2 is not a valid Fernet key"):
        Vault(f"{keys[0]},not-a-key")
    with pytest.raises(ConfigError, match="empty"):
        Vault(" , ")
    both = Vault(f" {keys[1]} , {keys[0]} ")  # spaces around the commas are ignored
    assert both.key_count == 2 and both.is_current(both.encrypt("x"))
    assert not both.is_current(Vault(keys[0]).encrypt("x"))
