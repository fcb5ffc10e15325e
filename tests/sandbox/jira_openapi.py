"""Validate sandbox responses against the Jira platform OpenAPI document (component schemas).

OpenAPI 3.0 ``nullable: true`` is translated to JSON Schema (``type: [t, "null"]``);
``$ref`` resolves within the document. Issue ``fields`` are free-form in the spec, so this
checks envelopes; field values are checked by the tests themselves.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.realdata import REALDATA

SPEC = REALDATA / "openapi" / "jira-platform-v3-2025-12.json"
_URI = "urn:jira-platform-v3"


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.pop("nullable", False):
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            elif "enum" not in out:
                out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


# Where the spec is stricter than Jira itself: captured payloads carry nulls here
# (realdata/jira-webhooks/pinpoint/jira__issue_created.json: "from": null, "fromString": null).
_KNOWN_NULLS = {"ChangeDetails": ("from", "fromString", "to", "toString")}


@lru_cache(maxsize=1)
def _registry() -> Registry:
    raw = json.loads(SPEC.read_text())
    for component, props in _KNOWN_NULLS.items():
        for prop in props:
            raw["components"]["schemas"][component]["properties"][prop]["nullable"] = True
    document = _nullable(raw)
    return Registry().with_resource(
        _URI, Resource.from_contents(document, default_specification=DRAFT7)
    )


def validate(instance: Any, component: str, *, array: bool = False) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` matches ``component``."""
    ref = {"$ref": f"{_URI}#/components/schemas/{component}"}
    schema = {"type": "array", "items": ref} if array else ref
    jsonschema.Draft7Validator(schema, registry=_registry()).validate(instance)
