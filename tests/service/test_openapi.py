"""The OpenAPI document is valid OpenAPI 3.1 and says what the server answers (issue 16 §5)."""

from __future__ import annotations

import jsonschema
from schemathesis.specs.openapi.definitions import OPENAPI_31

from tests.service.conftest import JIRA_SOURCE

PROBLEMS = {"400", "401", "403", "404", "409", "413", "422", "503"}

# The document is built from the routes alone (the same bytes on PostgreSQL) and a 405 is the
# router's: those tests run on SQLite only (sqlite_client).


def test_the_document_is_valid_openapi_31(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    doc = sqlite_client.get("/openapi.json").json()
    jsonschema.Draft202012Validator(OPENAPI_31).validate(doc)
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)  # each component is valid JSON Schema


def test_every_operation_documents_problem_json_errors(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    doc = sqlite_client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status in PROBLEMS:
                content = op["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)


def test_credentials_without_type_is_422_naming_the_types(client, acme) -> None:  # type: ignore[no-untyped-def]
    body = {**JIRA_SOURCE, "credentials": {"email": "bot@acme.io", "api_token": "x"}}
    r = client.post("/api/v1/sources", json=body, headers=acme.h("admin"))
    assert r.status_code == 422
    assert "jira_cloud, jira_datacenter, trello" in r.json()["detail"]


def test_405_allow_lists_every_method_of_the_path(sqlite_client) -> None:  # type: ignore[no-untyped-def]
    r = sqlite_client.options("/api/v1/sources/1")
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
