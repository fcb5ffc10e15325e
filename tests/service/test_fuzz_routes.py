"""A property test over every route (issue 16, "Tests that must exist"): any integer, string or
byte sequence in any path or query parameter, and for routes taking a body any JSON object over
the body's fields, with an admin token or none, never gets a 5xx.

Routes, their parameters and body fields are read from ``app.routes``, so a route added later is
covered without touching this file. Besides arbitrary values, the strategies draw well-formed
values at the edges a parser lets through: dates and datetimes at Python's limits (0001-01-01,
9999-12-31, offsets of ±23:59, leap days) and text with NUL and other control characters, and
ids of objects that exist, so that a request gets past a 404 to the database.
``test_every_query_parameter_takes_edge_values`` tries each edge value on every query
parameter in turn, so those cases do not depend on the draw.

Bounded (``EXAMPLES``) and deterministic (derandomized) for CI; ``TASKHUB_FUZZ_EXAMPLES=5000
TASKHUB_FUZZ_RANDOM=1`` runs longer with a fresh seed, by hand.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from service.app import create_app
from service.db import Database
from service.tables import PersonIdentity, Task
from tests.service.conftest import JIRA_SOURCE, make_settings
from tests.views.conftest import tokens_for
from tests.views.portfolio_data import build

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLES = int(os.environ.get("TASKHUB_FUZZ_EXAMPLES", "450"))  # shared by every route
RANDOM = bool(os.environ.get("TASKHUB_FUZZ_RANDOM"))

_INTS = st.one_of(st.integers(), st.sampled_from([0, -1, 2**31, 2**31 - 1, 2**63, 2**63 - 1, -(2**63), 10**40]))
_CONTROLS = "".join(chr(c) for c in [*range(0x20), 0x7F])
_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\r\n", "\x1b[31m", "%", "..", "é", "\ud7ff", "١", "１"]),
    st.text(alphabet=st.sampled_from(_CONTROLS + "a1-:"), max_size=12),
)
_BYTES = st.binary(max_size=40)

# Well-formed dates and datetimes at and near Python's limits, with the most extreme offsets.
_EDGE_DATES = [date(1, 1, 1), date(1, 1, 9), date(1, 12, 31), date(9999, 12, 31), date(9999, 12, 25),
               date(1969, 12, 31), date(1970, 1, 1), date(9000, 12, 31), date(9001, 1, 1),
               date(2024, 2, 29), date(2000, 2, 29), date(8996, 2, 29)]
_OFFSETS = [timedelta(hours=23, minutes=59), -timedelta(hours=23, minutes=59), timedelta(hours=14),
            timedelta(hours=-12), timedelta(0)]
_DAYS = st.one_of(st.sampled_from(_EDGE_DATES), st.sampled_from(_EDGE_DATES), st.dates())
_ZONES = st.one_of(st.none(), st.sampled_from(_OFFSETS).map(timezone))


@st.composite
def _moments(draw: st.DrawFn) -> str:
    """A date, or a datetime on such a day (00:00 or 23:59:59), naive or with an offset; ISO text."""
    day = draw(_DAYS)
    if draw(st.booleans()):
        return day.isoformat()
    clock = draw(st.sampled_from([(0, 0, 0), (23, 59, 59), (12, 0, 0)]))
    text = datetime(day.year, day.month, day.day, *clock, tzinfo=draw(_ZONES)).isoformat()
    return text.replace("+00:00", "Z") if draw(st.booleans()) else text


_DATES = _moments()
def _encoded(value: int | str | bytes) -> str:
    """A value as it travels in a URL: percent-encoded (bytes raw, so not always UTF-8)."""
    if isinstance(value, bytes):
        return quote_from_bytes(value, safe="")
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


_VALUES = st.one_of(_INTS, _TEXT, _BYTES, _DATES)
_JSON_SCALARS = st.one_of(st.none(), st.booleans(), _INTS, _TEXT, _DATES, st.floats(allow_nan=False))
# Text with a control character in it (PostgreSQL cannot store NUL): as often as any JSON value.
_CONTROL_TEXT = st.builds(lambda a, c, b: a + c + b, st.text(max_size=6),
                          st.one_of(st.just("\x00"), st.sampled_from(_CONTROLS)), st.text(max_size=6))
_JSON = st.recursive(_JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)), max_leaves=6)


Route = tuple[str, str, list[str], list[str], list[str]]


def _body_fields(route: Any) -> list[str]:
    """The top-level field names of a route's JSON body model (none without a body)."""
    names: list[str] = []
    for param in route.dependant.body_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names += [f.alias or n for n, f in model.model_fields.items()]
        else:
            names.append(param.alias)
    return names


def _routes(app: Any) -> list[Route]:
    """(method, path template, path parameters, query parameters, body fields) of every route."""
    out = []
    for route in iter_route_contexts(app.routes):  # included routers flattened, full paths
        path, methods, original = route.path, route.methods, route.original_route
        if path is None or not methods:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        query = [p.alias for p in original.dependant.query_params] if isinstance(original, APIRoute) else []
        body = _body_fields(original) if isinstance(original, APIRoute) else []
        out.extend((m, path, names, query, body) for m in sorted(methods))
    return out


def _seeded(db: Database, tmp_path: Path) -> tuple[Any, dict[str, str], dict[str, int]]:
    """The app over the hand-computed portfolio, an admin header, and the id of an object that
    exists per path parameter name (drawn as often as any value, so requests reach the store)."""
    world = build(db)
    admin = {"Authorization": f"Bearer {tokens_for(db, world.org_id)['admin']}"}
    with db.read() as c:
        task = c.execute(sa.select(sa.func.min(Task.__table__.c.id))).scalar()
        identity = c.execute(sa.select(sa.func.min(PersonIdentity.__table__.c.id))).scalar()
    known = {"source_id": world.jira, "project_id": world.alp, "portfolio_id": world.portfolio,
             "person_id": world.ann, "task_id": task, "identity_id": identity}
    app = create_app(make_settings(tmp_path), db, run_worker=False, migrate=False)
    return app, admin, known


@pytest.mark.slow
def test_no_route_answers_5xx_for_any_parameter(db: Database, tmp_path: Path) -> None:
    app, admin, known = _seeded(db, tmp_path)
    routes = _routes(app)
    assert len(routes) >= 30 and sum(1 for r in routes if r[2]) >= 15, routes  # the generator sees them
    assert sum(1 for r in routes if r[4]) >= 8, routes  # and the bodies
    ids = st.sampled_from(sorted(known.values()))
    # A query parameter is as often a date as anything else: most of them take one, or text.
    query_values = st.one_of(_DATES, _VALUES, ids)
    body_values = st.one_of(_CONTROL_TEXT, _JSON)

    def path_values(name: str) -> st.SearchStrategy[Any]:
        return st.one_of(_VALUES, st.just(known[name])) if name in known else _VALUES

    with TestClient(app, raise_server_exceptions=False) as client:
        client.post("/api/v1/sources", params={"verify": "false"}, json=JIRA_SOURCE, headers=admin)

        @given(route=st.sampled_from(routes), data=st.data(), admin_token=st.sampled_from([True, True, True, False]))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
                  suppress_health_check=list(HealthCheck))
        def fuzz(route: Route, data: st.DataObject, admin_token: bool) -> None:
            method, template, names, query, fields = route
            path = template
            for name in names:
                path = re.sub(r"{" + name + r"(?::\w+)?}", _encoded(data.draw(path_values(name), label=name)), path)
            chosen = data.draw(st.lists(st.sampled_from(query), unique=True), label="query") if query else []
            qs = "&".join(f"{q}={_encoded(data.draw(query_values, label=q))}" for q in chosen)
            url = path + (f"?{qs}" if qs else "")
            kw: dict[str, Any] = {"headers": admin if admin_token else {}}
            if fields:
                bodies = st.dictionaries(st.sampled_from(fields), body_values, min_size=1, max_size=3)
                body = data.draw(bodies, label="body")
                kw["content"] = json.dumps(body)  # not orjson: it refuses integers past 64 bits
                kw["headers"] = {**kw["headers"], "Content-Type": "application/json"}
            response = client.request(method, url, **kw)
            assert response.status_code < 500, (method, url, kw.get("content"), admin_token,
                                                 response.status_code, response.text[:300])

        fuzz()


# Each overflowed, or reached the store as text it cannot hold, before issue 16's fixes.
EDGE_VALUES = ["0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:59",
               "8996-02-29", "a\x00b", "\x1b", "١"]


@pytest.mark.slow
def test_every_query_parameter_takes_edge_values(db: Database, tmp_path: Path) -> None:
    """Each edge value on each query parameter of each GET route, with an admin token and the
    other parameters absent: never a 5xx. Not left to the draw: every case, every run."""
    app, admin, known = _seeded(db, tmp_path)
    wrong, tried = [], 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, template, names, query, _ in _routes(app):
            if method != "GET":
                continue
            path = template
            for name in names:
                path = re.sub(r"{" + name + r"(?::\w+)?}", str(known.get(name, 1)), path)
            for q in query:
                for value in EDGE_VALUES:
                    tried += 1
                    r = client.get(path, params={q: value}, headers=admin, follow_redirects=False)
                    if r.status_code >= 500:
                        wrong.append((path, q, value, r.status_code, r.text[:200]))
    assert tried > 100 and wrong == []
