"""service/sync imports one way: the tool modules register with the runner, the runner
knows connectors only through connectors.base.Connector, and no module cycle is left."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import service.sync.runner as runner

SYNC = Path(runner.__file__).parent
TOOL_MODULES = {"service.sync.jira", "service.sync.trello", "connectors.jira", "connectors.trello"}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    names = {
        ("service.sync" if f.stem == "__init__" else f"service.sync.{f.stem}"): f for f in SYNC.glob("*.py")
    }
    return {name: _imports(path) & set(names) - {name} for name, path in names.items()}


def test_the_runner_imports_no_tool_module() -> None:
    imported = _imports(SYNC / "runner.py")
    assert not {m for m in imported if any(m == t or m.startswith(t + ".") for t in TOOL_MODULES)}
    assert "connectors.base.Connector" in imported


def test_service_sync_has_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != "open", f"import cycle: {' -> '.join([*path, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_every_source_kind_has_a_syncer_whichever_module_is_imported_first() -> None:
    for first in ("service.sync.runner", "service.sync.state", "service.sync.scheduler"):
        code = f"import {first}; import service.sync.runner as r; print(','.join(sorted(r.SYNCERS)))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "jira,trello", (first, out.stderr)
