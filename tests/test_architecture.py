"""The one-way layers of ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml,
``[tool.importlinter]``), no import cycle between any two modules, the simulated tools loaded
only inside the demo's and the sandbox command's functions, and a CLI that starts without the
service."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = ("service", "connectors", "mappings")
# The only production modules that may import sandbox, and only inside functions.
SANDBOX_USERS = ("service/demo.py", "service/cli/sandbox.py")


def _lint_imports() -> str:
    found = Path(sys.executable).parent / "lint-imports"
    if not found.exists():
        pytest.fail(f"lint-imports is not installed beside {sys.executable}: run `make install` "
                    "(import-linter is a dev dependency)")
    return str(found)


def _run_lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_lint_imports(), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    result = _run_lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout, result.stdout


def test_a_forbidden_import_inside_a_function_breaks_its_contract(tmp_path: Path) -> None:
    """The check can fail: a copy of the packages with two new imports, both inside functions."""
    for package in (*PRODUCTION, "sandbox"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "service" / "worker.py").open("a") as f:
        f.write("\n\ndef _sneaky() -> None:\n    import sandbox.server  # noqa: F401\n")
    with (tmp_path / "service" / "views" / "common.py").open("a") as f:
        f.write("\n\ndef _edge() -> None:\n    from service.api import problems  # noqa: F401\n")
    result = _run_lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    # Both contracts the imports break; the edge import may break the layering and the cycle
    # contracts too (the worker reaches the views through the state events).
    assert any(line.startswith("(inside functions)") for line in broken), result.stdout
    assert any(line.startswith("the domain never imports the edge") for line in broken), result.stdout
    assert "service.worker -> sandbox.server" in result.stdout
    assert "service.views.common -> service.api.problems" in result.stdout


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the groups of two or more modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(graph[root])))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while not group or group[-1] != node:
                        group.append(stack.pop())
                        on_stack.discard(group[-1])
                    if len(group) > 1:
                        groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def test_strongly_connected_finds_a_cycle_and_only_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _strongly_connected(graph) == [["a", "b", "c"]]


def test_no_two_modules_import_each_other() -> None:
    """Module by module, every import counted (function-local ones too): no cycle, also none
    between a package's ``__init__`` and its own modules, which the contract on siblings does
    not look at."""
    graph = grimp.build_graph(*PRODUCTION, cache_dir=None)
    imports = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    assert _strongly_connected(imports) == []


def _sandbox_imports(tree: ast.Module) -> list[tuple[int, bool]]:
    """(line, inside a function) of each import of sandbox in a module."""
    found: list[tuple[int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module]
            if any(n == "sandbox" or n.startswith("sandbox.") for n in names):
                found.append((child.lineno, inside))
            visit(child, inside)

    visit(tree, False)
    return found


@pytest.mark.parametrize("path", SANDBOX_USERS)
def test_the_demo_and_the_sandbox_command_import_sandbox_only_inside_functions(path: str) -> None:
    found = _sandbox_imports(ast.parse((ROOT / path).read_text()))
    assert found, f"{path} no longer imports sandbox: drop it from SANDBOX_USERS and the contract's ignore_imports"
    assert [line for line, inside in found if not inside] == []


def test_the_sandbox_import_finder_sees_module_level_imports() -> None:
    tree = ast.parse("import sandbox.jira\n\ndef f():\n    from sandbox import trello\n\nfrom sandboxed import x\n")
    assert _sandbox_imports(tree) == [(1, False), (4, True)]


def _loaded_by(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True).stdout
    return set(out.split())


def test_the_api_worker_and_demo_do_not_load_the_simulated_tools() -> None:
    loaded = _loaded_by("import service.app, service.worker, service.demo, service.cli.main")
    assert "service.demo" in loaded
    assert sorted(m for m in loaded if m == "sandbox" or m.startswith("sandbox.")) == []


def test_the_cli_starts_without_sqlalchemy_or_the_service() -> None:
    """``taskhub --help`` stays at ~0.2 s: the commands import the service when they run."""
    loaded = _loaded_by("import service.cli.main")
    assert "service.cli.sync" in loaded  # the command modules are registered
    assert sorted(loaded & {"sqlalchemy", "sqlmodel", "service.db", "service.tables", "service.app"}) == []
