"""A property test over every route (issue 16, "Tests that must exist"): any integer, string or
byte sequence in any path or query parameter, with an admin token or none, never gets a 5xx.

Routes and their parameters are read from ``app.routes``, so a route added later is covered
without touching this file. Bounded (``EXAMPLES``); run longer by raising it by hand.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes

from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app
from service.db import Database
from tests.service.conftest import make_settings, make_tenant

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLES = 250  # shared by every route: each example picks a route, method, values and caller

_INTS = st.one_of(st.integers(), st.sampled_from([0, -1, 2**31, 2**31 - 1, 2**63, 2**63 - 1, -(2**63), 10**40]))
_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "\x00", "\r\n", "%", "..", "é", "\ud7ff"]))
_BYTES = st.binary(max_size=40)


def _encoded(value: int | str | bytes) -> str:
    """A value as it travels in a URL: percent-encoded (bytes raw, so not always UTF-8)."""
    if isinstance(value, bytes):
        return quote_from_bytes(value, safe="")
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


_VALUES = st.one_of(_INTS, _TEXT, _BYTES)


def _routes(app: Any) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path template, path parameter names, query parameter names) of every route."""
    out = []
    for route in iter_route_contexts(app.routes):  # included routers flattened, full paths
        path, methods, original = route.path, route.methods, route.original_route
        if path is None or not methods:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        query = [p.alias for p in original.dependant.query_params] if isinstance(original, APIRoute) else []
        out.extend((m, path, names, query) for m in sorted(methods))
    return out


def test_no_route_answers_5xx_for_any_parameter(db: Database, tmp_path: Path) -> None:
    tenant = make_tenant(db, "acme")
    app = create_app(make_settings(tmp_path), db, run_worker=False, migrate=False)
    routes = _routes(app)
    assert len(routes) >= 30 and sum(1 for r in routes if r[2]) >= 15, routes  # the generator sees them

    with TestClient(app, raise_server_exceptions=False) as client:

        @given(route=st.sampled_from(routes), data=st.data(), admin=st.booleans())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(route: tuple[str, str, list[str], list[str]], data: st.DataObject, admin: bool) -> None:
            method, template, names, query = route
            path = template
            for name in names:
                path = re.sub(r"{" + name + r"(?::\w+)?}", _encoded(data.draw(_VALUES, label=name)), path)
            chosen = data.draw(st.lists(st.sampled_from(query), unique=True), label="query") if query else []
            qs = "&".join(f"{q}={_encoded(data.draw(_VALUES, label=q))}" for q in chosen)
            url = path + (f"?{qs}" if qs else "")
            headers = tenant.h("admin") if admin else {}
            response = client.request(method, url, headers=headers)
            assert response.status_code < 500, (method, url, admin, response.status_code, response.text[:300])

        fuzz()
