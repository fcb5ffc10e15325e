"""Jira Automation "Send web request" into taskhub (issue 22): both issue-data bodies end to end
into the views, the X-Taskhub-Secret door (401s, rotation overlap), bad bodies (422, never 500),
dedupe, and tenancy. The bodies are ours, in the shape of VENDOR_FACTS A13 and Atlassian's
support pages (tests/fixtures/jira_automation), plus a real captured issue re-shaped into both.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr

from connectors.jira.automation import AutomationBodyError, to_webhook_payload
from connectors.jira.webhooks import sign
from service.security.crypto import Vault
from service.security.rotation import rotate_stored_secrets
from service.tables import InboxEvent, Source
from service.worker import Worker
from tests.realdata import REALDATA
from tests.service.conftest import JIRA_SOURCE, TRELLO_SOURCE

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "jira_automation"
AUTOMATION_BODY = (FIXTURES / "automation_format.json").read_bytes()
JIRA_BODY = (FIXTURES / "jira_format.json").read_bytes()
CAPTURED = REALDATA / "jira-rest" / "jirametrics" / "testdata" / "SP-1.json"


def _jira(client, acme) -> int:
    return client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]


def _secret(client, tenant, sid: int, **params: Any) -> str:
    r = client.post(f"/api/v1/sources/{sid}/automation-secret", params=params, headers=tenant.h())
    assert r.status_code == 200, r.text
    return r.json()["automation_secret"]


def _post(client, sid: int, body: bytes, secret: str | bytes | None, kind: str = "jira"):
    headers: dict[str, str | bytes] = {"content-type": "application/json"}
    if secret is not None:
        headers["X-Taskhub-Secret"] = secret
    return client.post(f"/webhooks/{kind}/{sid}/automation", content=body, headers=headers)


def _drain(db, settings) -> None:
    worker = Worker(db, settings, worker_id="automation-test", poll_sources=False)
    for _ in range(20):
        if not worker.run_once():
            return
    raise AssertionError("the inbox did not drain")


def _inbox(db) -> list[Any]:
    with db.read() as c:
        return c.execute(sa.select(InboxEvent.__table__).order_by(InboxEvent.__table__.c.id)).all()


def _project_progress(client, tenant, project_id: int) -> dict[str, Any]:
    r = client.get("/api/v1/views/progress", params={"project": project_id, "as_of": "2026-12-02"},
                   headers=tenant.h("read"))
    assert r.status_code == 200, r.text
    return r.json()["total"]


def test_both_bodies_reach_the_tasks_and_their_projects_progress(client, acme, db, settings):
    sid = _jira(client, acme)
    secret = _secret(client, acme, sid)
    first = _post(client, sid, AUTOMATION_BODY, secret)
    second = _post(client, sid, JIRA_BODY, secret)
    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    assert first.json()["duplicate"] is False and second.json()["duplicate"] is False
    _drain(db, settings)
    rows = _inbox(db)
    assert [(r.status, r.kind, r.org_id) for r in rows] == [("done", "jira", acme.org_id)] * 2
    assert [r.headers["x-taskhub-automation-format"] for r in rows] == ["automation", "jira"]

    tasks = {t["key"]: t for t in client.get("/api/v1/tasks", headers=acme.h("read")).json()["items"]}
    assert set(tasks) == {"ORB-7", "ORB-8"}
    star, report = tasks["ORB-7"], tasks["ORB-8"]
    # The Automation format's numeric id is the same task id a REST sync or a webhook gives (a string).
    assert (star["external_id"], report["external_id"]) == ("20417", "20418")
    assert (star["title"], star["status_category"], star["due_date"]) == ("Calibrate the star tracker",
                                                                         "in_progress", "2026-12-18")
    assert star["estimate_seconds"] == 28800 and star["labels"] == ["firmware"]
    assert star["remote_updated_at"] == "2026-11-30T08:12:44.105000Z"  # +0100 in the body
    assert (report["status_category"], report["completed_at"]) == ("done", "2026-12-01T15:40:02.310000Z")
    assert star["project_id"] == report["project_id"]

    total = _project_progress(client, acme, star["project_id"])
    assert (total["scope"], total["done"], total["in_progress"], total["todo"]) == (2, 1, 1, 0)
    assert total["percent_complete_count"] == 0.5


def test_a_byte_identical_request_is_a_duplicate_and_a_changed_one_is_not(client, acme, db):
    sid = _jira(client, acme)
    secret = _secret(client, acme, sid)
    r1 = _post(client, sid, AUTOMATION_BODY, secret)
    r2 = _post(client, sid, AUTOMATION_BODY, secret)
    assert r2.json() == {"id": r1.json()["id"], "duplicate": True}
    changed = AUTOMATION_BODY.replace(b"Calibrate the star tracker", b"Calibrate the star tracker again")
    r3 = _post(client, sid, changed, secret)
    assert r3.status_code == 202 and r3.json()["duplicate"] is False
    assert len(_inbox(db)) == 2


def _numbered_ids(value: Any) -> Any:
    """A REST issue as the Automation format writes it: ids as numbers, ``namedValue`` beside names."""
    if isinstance(value, dict):
        out = {k: (int(v) if k == "id" and isinstance(v, str) and v.isdigit() else _numbered_ids(v))
               for k, v in value.items()}
        if isinstance(out.get("name"), str):
            out["namedValue"] = out["name"]
        return out
    if isinstance(value, list):
        return [_numbered_ids(v) for v in value]
    return value


@pytest.mark.skipif(not CAPTURED.exists(), reason="the captured Jira issue (shared/realdata) is not here")
def test_a_real_captured_issue_in_both_formats_maps_to_the_same_task(client, acme, db, settings):
    issue = json.loads(CAPTURED.read_text())
    automation = _numbered_ids(copy.deepcopy(issue))
    automation["changelog"] = {"startAt": 0, "maxResults": 0, "total": 0, "histories": None}
    assert automation["id"] == 10008 and automation["fields"]["project"]["id"] == 10000
    sources = []
    for name, body in (("automation", automation), ("jira", {"issue": issue})):
        created = client.post("/api/v1/sources", json={**JIRA_SOURCE, "name": f"site-{name}"}, headers=acme.h())
        sid = created.json()["id"]
        r = _post(client, sid, json.dumps(body).encode(), _secret(client, acme, sid))
        assert r.status_code == 202, r.text
        sources.append(sid)
    _drain(db, settings)
    assert [r.status for r in _inbox(db)] == ["done", "done"]
    tasks = client.get("/api/v1/tasks", headers=acme.h("read")).json()["items"]
    seen = {t["source_id"]: (t["external_id"], t["key"], t["title"], t["status"], t["status_category"],
                             t["remote_created_at"]) for t in tasks}
    expected = ("10008", "SP-1", "Create new draft event", "In Progress", "in_progress", "2021-06-18T18:41:29.398000Z")
    assert seen == {sources[0]: expected, sources[1]: expected}


def test_to_webhook_payload_gives_the_issue_webhook_shape_with_rest_ids():
    payload, fmt = to_webhook_payload(json.loads(AUTOMATION_BODY))
    assert fmt == "automation" and payload["webhookEvent"] == "jira:issue_updated"
    issue = payload["issue"]
    assert issue["id"] == "20417" and issue["fields"]["project"]["id"] == "10310"
    assert issue["fields"]["status"]["statusCategory"]["id"] == "4" and "timestamp" not in payload
    wrapped = {"issue": json.loads(AUTOMATION_BODY), "timestamp": 1764600000000, "user": {"accountId": "u1"}}
    payload, fmt = to_webhook_payload(wrapped)
    assert fmt == "jira" and payload["timestamp"] == 1764600000000 and payload["user"] == {"accountId": "u1"}
    assert payload["issue"]["id"] == "20417"


BAD_BODIES = [
    (b"[1, 2]", "not an object"),
    (b'"ORB-7"', "not an object"),
    (b"{}", "neither 'issue' nor a top-level 'id' and 'fields'"),
    (b'{"issue": "ORB-7"}', "'issue' is not an object"),
    (b'{"issue": {"key": "ORB-7", "fields": {}}}', "missing 'issue.id'"),
    (b'{"id": "ORB-7", "key": "ORB-7", "fields": {}}', "'id' is 'ORB-7'"),
    (b'{"id": true, "key": "ORB-7", "fields": {}}', "'id' is True"),
    (b'{"id": 0, "key": "ORB-7", "fields": {}}', "'id' is 0"),
    (b'{"id": 99999999999999999999, "key": "ORB-7", "fields": {}}', "'id' is 1e+20"),  # parsed as a float
    (b'{"id": 20417, "fields": {}}', "missing 'key'"),
    (b'{"id": 20417, "key": "ORB-7"}', "missing 'fields'"),
    (b'{"issue": {"id": "20417", "key": "ORB-7", "fields": null}}', "missing 'issue.fields'"),
]


@pytest.mark.parametrize(("body", "named"), BAD_BODIES)
def test_a_body_of_another_shape_is_a_422_naming_what_is_missing(client, acme, db, body, named):
    sid = _jira(client, acme)
    r = _post(client, sid, body, _secret(client, acme, sid))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert named in r.json()["detail"], r.json()["detail"]
    assert _inbox(db) == []


def test_empty_or_unparseable_json_is_a_400(client, acme, db):
    sid = _jira(client, acme)
    secret = _secret(client, acme, sid)
    for body in (b"", b"{nope", b'{"id": 1,'):
        r = _post(client, sid, body, secret)
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", (body, r.text)
    assert _inbox(db) == []


def test_a_missing_wrong_or_signing_secret_is_a_401(client, acme, db):
    created = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()
    sid, webhook_secret = created["id"], created["webhook_secret"]
    r = _post(client, sid, AUTOMATION_BODY, "anything")
    assert r.status_code == 401 and "has no automation secret" in r.json()["detail"]
    secret = _secret(client, acme, sid)
    assert secret != webhook_secret and len(secret) >= 43  # token_urlsafe(32): 256 bits
    for given, why in ((None, "missing X-Taskhub-Secret"), ("wrong", "does not match"),
                       (webhook_secret, "does not match"), (secret[:-1], "does not match"),
                       ("é".encode("latin-1") + secret.encode(), "does not match")):
        r = _post(client, sid, AUTOMATION_BODY, given)
        assert r.status_code == 401 and why in r.json()["detail"], (given, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    # Nor does the automation secret sign a webhook: the two doors have their own secrets.
    signed = {"X-Hub-Signature": sign(secret, AUTOMATION_BODY)}
    r = client.post(f"/webhooks/jira/{sid}", content=AUTOMATION_BODY, headers=signed)
    assert r.status_code == 401
    assert _inbox(db) == []


def test_a_rotated_secret_is_accepted_during_the_overlap_then_refused(client, acme, db):
    sid = _jira(client, acme)
    old = _secret(client, acme, sid)
    now = [1_800_000_000.0]
    client.app.state.clock = lambda: now[0]
    r = client.post(f"/api/v1/sources/{sid}/automation-secret", params={"overlap_hours": 2}, headers=acme.h())
    assert r.status_code == 200, r.text
    new, until = r.json()["automation_secret"], r.json()["previous_accepted_until"]
    assert new != old and until is not None

    def post(secret: str, n: int) -> int:
        body = AUTOMATION_BODY.replace(b"20417", str(30000 + n).encode())
        return _post(client, sid, body, secret).status_code

    import datetime as dt

    now[0] = dt.datetime.fromisoformat(until).timestamp() - 1  # the last second of the overlap
    assert (post(new, 1), post(old, 2)) == (202, 202)
    now[0] += 1  # the overlap is over
    assert (post(old, 3), post(new, 4)) == (401, 202)
    assert len(_inbox(db)) == 3
    # A second rotation inside the running overlap (real time: 2 h) would cut the old one off:
    # 409 unless forced.
    url = f"/api/v1/sources/{sid}/automation-secret"
    r = client.post(url, headers=acme.h())
    assert r.status_code == 409 and "previous automation secret is still accepted" in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"
    forced = client.post(url, params={"force": "true"}, headers=acme.h())
    assert forced.status_code == 200
    assert _post(client, sid, AUTOMATION_BODY, forced.json()["automation_secret"]).status_code == 202


def test_no_overlap_refuses_the_old_secret_at_once(client, acme):
    sid = _jira(client, acme)
    old = _secret(client, acme, sid)
    r = client.post(f"/api/v1/sources/{sid}/automation-secret", params={"overlap_hours": 0}, headers=acme.h())
    assert r.json()["previous_accepted_until"] is None
    assert _post(client, sid, AUTOMATION_BODY, old).status_code == 401
    assert _post(client, sid, AUTOMATION_BODY, r.json()["automation_secret"]).status_code == 202


def test_another_organizations_source_is_closed_to_this_ones_secret(client, acme, globex, db, settings):
    mine, theirs = _jira(client, acme), _jira(client, globex)
    my_secret, their_secret = _secret(client, acme, mine), _secret(client, globex, theirs)
    assert _post(client, mine, AUTOMATION_BODY, their_secret).status_code == 401
    assert _post(client, theirs, AUTOMATION_BODY, my_secret).status_code == 401
    # Their source's secret is theirs to see and rotate: for acme it does not exist.
    for method in ("get", "post"):
        r = getattr(client, method)(f"/api/v1/sources/{theirs}/automation-secret", headers=acme.h())
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert _post(client, theirs, JIRA_BODY, their_secret).status_code == 202
    _drain(db, settings)
    assert [r.org_id for r in _inbox(db)] == [globex.org_id]
    assert client.get("/api/v1/tasks", headers=acme.h("read")).json()["items"] == []
    assert [t["key"] for t in client.get("/api/v1/tasks", headers=globex.h("read")).json()["items"]] == ["ORB-8"]


def test_unknown_sources_trello_and_disabled_sources(client, acme, db):
    sid = _jira(client, acme)
    secret = _secret(client, acme, sid)
    assert _post(client, 999999, AUTOMATION_BODY, secret).status_code == 404
    trello = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h()).json()["id"]
    r = _post(client, trello, AUTOMATION_BODY, secret, kind="trello")
    assert r.status_code == 404 and "Trello signs" in r.json()["detail"]
    assert _post(client, trello, AUTOMATION_BODY, secret).status_code == 404  # not a jira source
    r = client.post(f"/api/v1/sources/{trello}/automation-secret", headers=acme.h())
    assert r.status_code == 422 and "signs its webhooks" in r.json()["detail"]
    assert client.post(f"/api/v1/sources/{sid}/automation-secret", headers=acme.h("write")).status_code == 403
    client.patch(f"/api/v1/sources/{sid}", json={"enabled": False}, headers=acme.h())
    assert _post(client, sid, AUTOMATION_BODY, secret).status_code == 403
    assert _inbox(db) == []


def test_get_says_whether_the_door_is_open_and_where_never_the_secret(client, acme):
    sid = _jira(client, acme)
    url = f"/api/v1/sources/{sid}/automation-secret"
    closed = client.get(url, headers=acme.h("read")).json()
    assert closed == {"source_id": sid, "url": f"http://testserver/webhooks/jira/{sid}/automation",
                      "header": "X-Taskhub-Secret", "configured": False, "previous_accepted_until": None}
    issued = client.post(url, headers=acme.h())
    assert issued.headers["cache-control"] == "no-store"  # the secret is shown once, and kept nowhere
    secret = issued.json()["automation_secret"]
    opened = client.get(url, headers=acme.h("read")).json()
    assert opened["configured"] is True and secret not in json.dumps(opened)


def test_the_normalizer_raises_its_own_error_type():
    with pytest.raises(AutomationBodyError):
        to_webhook_payload({"id": 1, "key": "A-1"})


def test_the_automation_secrets_are_encrypted_at_rest_and_follow_a_key_rotation(client, acme, db, settings):
    sid = _jira(client, acme)
    first = _secret(client, acme, sid)
    second = _secret(client, acme, sid)  # the first one is now the previous, in its overlap
    source = Source.__table__
    cols = (source.c.automation_secret_enc, source.c.automation_secret_prev_enc)
    with db.read() as c:
        stored = c.execute(sa.select(*cols).where(source.c.id == sid)).one()
    assert first not in stored and second not in stored
    old = settings.secret_key.get_secret_value()
    new = Fernet.generate_key().decode()
    report = rotate_stored_secrets(db, settings.model_copy(update={"secret_key": SecretStr(f"{new},{old}")}))
    assert (report.rotated["automation_secret_enc"], report.rotated["automation_secret_prev_enc"]) == (1, 1)
    with db.read() as c:
        rotated = c.execute(sa.select(*cols).where(source.c.id == sid)).one()
    assert [Vault(new).decrypt_str(v) for v in rotated] == [second, first]


def test_an_older_body_arriving_late_does_not_undo_a_newer_one(client, acme, db, settings):
    """The issue webhook's guard on ``fields.updated`` holds for automation bodies too."""
    sid = _jira(client, acme)
    secret = _secret(client, acme, sid)
    newer = AUTOMATION_BODY.replace(b"Calibrate the star tracker", b"Star tracker calibrated").replace(
        b'"updated": "2026-11-30T09:12:44.105+0100"', b'"updated": "2026-12-01T10:00:00.000+0100"')
    assert newer != AUTOMATION_BODY
    assert _post(client, sid, newer, secret).status_code == 202
    _drain(db, settings)
    assert _post(client, sid, AUTOMATION_BODY, secret).status_code == 202
    _drain(db, settings)
    tasks = client.get("/api/v1/tasks", headers=acme.h("read")).json()["items"]
    assert [(t["title"], t["remote_updated_at"]) for t in tasks] == [
        ("Star tracker calibrated", "2026-12-01T09:00:00Z")]


def test_an_oversized_body_is_a_413_and_a_deeply_nested_one_a_422_not_a_500(client, acme, db, settings):
    """Found in review: a body nested ~1,000 levels (orjson reads it) hit RecursionError copying the
    ids, and a Jira-format ``user`` nested past 254 levels failed orjson's write: both were 500s."""
    import orjson

    sid = _jira(client, acme)
    secret = _secret(client, acme, sid)
    big = b'{"id": 1, "key": "A-1", "fields": {}, "pad": "' + b"x" * (settings.webhook_max_body + 10) + b'"}'
    assert _post(client, sid, big, secret).status_code == 413
    deep = orjson.dumps(orjson.loads(AUTOMATION_BODY))[:-1] + b', "deep": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    user = orjson.dumps(orjson.loads(JIRA_BODY))[:-1] + b', "user": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}"
    for raw in (deep, user):
        r = _post(client, sid, raw, secret)
        assert r.status_code == 422 and "nests deeper" in r.json()["detail"], r.text[:300]
    assert _inbox(db) == []
