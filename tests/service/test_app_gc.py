"""The app's start freezes the loaded heap (gc.freeze) unless TASKHUB_GC_FREEZE turns it off."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import pytest

from service.app import create_app
from service.db import Database
from service.settings import Settings
from tests.service.conftest import make_settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _frozen_while_serving(settings: Settings, db: Database) -> int:
    with TestClient(create_app(settings, db, run_worker=False, migrate=False)) as client:
        assert client.get("/healthz").status_code == 200
        return gc.get_freeze_count()


def test_the_heap_is_frozen_while_the_app_serves_and_thawed_after(sqlite_db: Database, tmp_path: Path) -> None:
    assert gc.get_freeze_count() == 0
    assert _frozen_while_serving(make_settings(tmp_path, gc_freeze=True), sqlite_db) > 0
    assert gc.get_freeze_count() == 0


def test_gc_freeze_off_leaves_the_collector_alone(sqlite_db: Database, tmp_path: Path) -> None:
    assert _frozen_while_serving(make_settings(tmp_path, gc_freeze=False), sqlite_db) == 0


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("false", False), ("1", True)])
def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str,
                                                  expected: bool) -> None:
    monkeypatch.setenv("TASKHUB_GC_FREEZE", value)
    assert Settings(_env_file=None).gc_freeze is expected  # type: ignore[call-arg]


def test_production_freezes_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKHUB_GC_FREEZE", raising=False)
    assert Settings(_env_file=None).gc_freeze is True  # type: ignore[call-arg]
