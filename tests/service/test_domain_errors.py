"""Domain errors (``service.errors``) are not HTTP: the domain raises them, the API answers each
class with its status and the same problem+json body as when the domain raised the API's
``Problem``, and no module outside ``service/api`` (the app factory aside) imports
``service.api.problems``."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

from fastapi import FastAPI

from service import errors
from service.api.problems import RequestIdMiddleware, install_problem_handlers
from tests.service.conftest import JIRA_SOURCE, TRELLO_SOURCE

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SERVICE = Path(__file__).resolve().parents[2] / "service"
# The app factory assembles the API (middleware, handlers): it is the HTTP edge, not the domain.
EDGE = {"service/app.py"}


def _imports_problems(path: Path) -> list[int]:
    """Lines of ``path`` importing ``service.api.problems`` (in any spelling, lazily or not)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            if any(a.name == "service.api.problems" or a.name.startswith("service.api.problems.") for a in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module == "service.api.problems" or (
                node.module == "service.api" and any(a.name == "problems" for a in node.names)
            ):
                lines.append(node.lineno)
    return lines


def test_no_module_outside_the_api_imports_its_problems():
    root = SERVICE.parent
    offenders = [
        f"{path.relative_to(root)}:{line}"
        for path in sorted(SERVICE.rglob("*.py"))
        if not path.relative_to(SERVICE).parts[0] == "api" and str(path.relative_to(root)) not in EDGE
        for line in _imports_problems(path)
    ]
    assert offenders == [], f"raise service.errors in domain code, not the API's Problem: {offenders}"


def test_the_import_check_sees_every_spelling(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import service.api.problems\n"
        "from service.api.problems import Problem\n"
        "from service.api import problems, schemas\n"
        "from service.api import schemas\n"
        "def later():\n"
        "    from service.api.problems import Problem\n"
    )
    assert _imports_problems(sample) == [1, 2, 3, 6]


# --- the API's translation ------------------------------------------------------------------------


def _body(r) -> dict:
    assert r.headers["content-type"] == "application/problem+json", r.text
    body = r.json()
    assert body.pop("request_id")
    return body


def _problem(status: int, title: str, detail: str, **extra: object) -> dict:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}


def _raiser(exc: Exception):
    def route() -> None:
        raise exc

    return route


def test_each_domain_error_class_has_its_status_and_a_subclass_its_parents():
    class Gone(errors.NotFound):
        pass

    class Odd(errors.DomainError):
        pass

    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    raised = {
        "missing": errors.NotFound("widget 7 not found"),
        "gone": Gone("widget 8 is gone"),
        "taken": errors.Conflict("a widget named 'w' already exists"),
        "bad": errors.Invalid("invalid request: size: must be positive", field="size", reason="must be positive"),
        "ruled": errors.Invalid("size refused: too big", field="size", rule="size_cap"),
        "vague": errors.Invalid("two widgets on one day"),
        "odd": Odd("something the caller did"),
    }
    for name, exc in raised.items():
        app.add_api_route(f"/{name}", _raiser(exc))
    client = TestClient(app)
    assert _body(client.get("/missing")) == _problem(404, "Not Found", "widget 7 not found")
    assert _body(client.get("/gone")) == _problem(404, "Not Found", "widget 8 is gone")
    assert _body(client.get("/taken")) == _problem(409, "Conflict", "a widget named 'w' already exists")
    assert _body(client.get("/bad")) == _problem(
        422, "Unprocessable Content", "invalid request: size: must be positive",
        errors=[{"field": "size", "message": "must be positive"}])
    assert _body(client.get("/ruled")) == _problem(
        422, "Unprocessable Content", "size refused: too big",
        errors=[{"field": "size", "message": "size refused: too big", "type": "size_cap"}])
    assert _body(client.get("/vague")) == _problem(422, "Unprocessable Content", "two widgets on one day")
    assert _body(client.get("/odd")) == _problem(400, "Bad Request", "something the caller did")


def test_domain_errors_answer_the_bodies_the_api_always_gave(client, acme, settings):
    h = acme.h()
    r = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=h)
    assert r.status_code == 201, r.text
    jira = r.json()["id"]
    trello = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=h).json()["id"]

    r = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=h)
    assert r.status_code == 409
    assert _body(r) == _problem(409, "Conflict", "a source named 'jira-cloud' already exists in this organization")

    r = client.get("/api/v1/sources/999999", headers=h)
    assert r.status_code == 404 and _body(r) == _problem(404, "Not Found", "source 999999 not found")

    url = "https://127.0.0.1/jira"
    refused = settings.outbound_policy.registration_problem(url)
    assert refused
    r = client.patch(f"/api/v1/sources/{jira}", json={"base_url": url}, headers=h)
    assert r.status_code == 422 and _body(r) == _problem(
        422, "Unprocessable Content", refused,
        errors=[{"field": "base_url", "message": refused, "type": "outbound_guard"}])

    r = client.patch(f"/api/v1/sources/{trello}", json={"credentials": JIRA_SOURCE["credentials"]}, headers=h)
    assert r.status_code == 422 and _body(r) == _problem(
        422, "Unprocessable Content", "credentials of type 'jira_cloud' do not fit a trello source")

    r = client.post(f"/api/v1/sources/{trello}/webhook-secret/rotate", headers=h)
    assert r.status_code == 422 and _body(r)["detail"].startswith(f"source {trello} is a trello source: Trello signs")
    assert client.post(f"/api/v1/sources/{jira}/webhook-secret/rotate", headers=h).status_code == 200
    r = client.post(f"/api/v1/sources/{jira}/webhook-secret/rotate", headers=h)
    assert r.status_code == 409
    body = _body(r)
    assert body.pop("detail").startswith(f"source {jira}'s previous webhook secret is still accepted until ")
    assert body == {"type": "about:blank", "title": "Conflict", "status": 409}

    r = client.patch("/api/v1/organization", json={"timezone": None}, headers=h)
    assert r.status_code == 422 and _body(r) == _problem(
        422, "Unprocessable Content", "invalid request: timezone: cannot be null",
        errors=[{"field": "timezone", "message": "cannot be null"}])

    assert client.post("/api/v1/portfolios", json={"name": "Main"}, headers=h).status_code == 201
    r = client.post("/api/v1/portfolios", json={"name": "Main"}, headers=h)
    assert r.status_code == 409 and _body(r) == _problem(409, "Conflict", "a portfolio named 'Main' already exists")

    r = client.get("/api/v1/people/999999", headers=h)
    assert r.status_code == 404 and _body(r) == _problem(404, "Not Found", "person 999999 not found")
