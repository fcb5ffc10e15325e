"""Schemathesis against the app on both stores: every operation of the OpenAPI document, positive
and negative data, with an admin token over a seeded organization (issue 16, "Tests that must
exist"). Zero server errors, zero responses outside the documented statuses, media types or
schemas.

The budget is bounded (``EXAMPLES`` per operation and mode); longer runs: raise it by hand, or
run the schemathesis CLI against a server.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.db import Database
from service.tables import PersonIdentity, PersonRate, Task
from tests.service.conftest import make_settings
from tests.views.conftest import tokens_for
from tests.views.portfolio_data import build

EXAMPLES = 6  # per operation and generation mode: ~29 operations x 2 modes x 6 ≈ 350 requests per store

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _known_ids(db: Database, w: Any) -> dict[str, Any]:
    """Ids of real objects of the seeded organization, so requests reach more than a 404."""
    with db.read() as c:
        task = c.execute(sa.select(Task.__table__.c.id).where(Task.__table__.c.org_id == w.org_id)).scalar()
        identity = c.execute(sa.select(PersonIdentity.__table__.c.id)
                             .where(PersonIdentity.__table__.c.person_id == w.ann)).scalar()
        rate = c.execute(sa.select(PersonRate.__table__.c.id)).scalar()
    return {"source_id": w.jira, "kind": "jira", "project_id": w.alp, "person_id": w.ann,
            "portfolio_id": w.portfolio, "task_id": task, "identity_id": identity, "rate_id": rate}


def _destructive_last(label: str) -> tuple[bool, str]:
    return (label.startswith("DELETE"), label)


def _explore(strategy: st.SearchStrategy[Any], checks: list[Any], headers: dict[str, str]) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    run()


@pytest.mark.slow
def test_schemathesis_finds_no_failure(db: Database, tmp_path: Path) -> None:
    world = build(db)
    admin = {"Authorization": f"Bearer {tokens_for(db, world.org_id)['admin']}"}
    known = _known_ids(db, world)
    app = create_app(make_settings(tmp_path), db, run_worker=False, migrate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = sorted((op.ok() for op in schema.get_all_operations()), key=lambda o: _destructive_last(o.label))
    assert len(operations) >= 25, [o.label for o in operations]
    failures: list[str] = []
    try:
        for op in operations:
            fixed = {p.name: known[p.name] for p in op.path_parameters if p.name in known}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = op.as_strategy(generation_mode=mode)
                if fixed and mode is GenerationMode.POSITIVE:
                    strategy = st.one_of(op.as_strategy(generation_mode=mode, path_parameters=fixed), strategy)
                checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS

                try:
                    _explore(strategy, checks, admin)
                except Unsatisfiable:  # negative mode on an operation with nothing to make invalid
                    assert mode is GenerationMode.NEGATIVE, op.label
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation is reported at once
                    failures.append(f"{op.label} ({mode.value}): {exc}")
    finally:
        shutdown_lifespans()
    assert not failures, "\n\n".join(failures)

