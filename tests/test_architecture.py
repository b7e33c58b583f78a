"""The structure ARCHITECTURE.md describes stays true: layers, no import cycle, small modules,
and the one private part of typer migratectl relies on."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "migratectl"
LARGEST_MODULE = 550  # lines: "no module over about 500"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "templates" in path.relative_to(PACKAGE).parts:
            continue  # env.py files of the templates, run by Alembic, not imported
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Every import between migratectl's modules, wherever it stands in the file (inside
    functions and ``if TYPE_CHECKING:`` blocks too): module -> modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*kept, base] if base else kept)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_anywhere_in_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 40 and graph["migratectl.cli"]  # the walk found the package
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_the_layers_contracts_hold() -> None:
    """import-linter's contracts in pyproject.toml: each layer imports only those below it,
    the command line no Alembic or SQLAlchemy, nothing below it typer."""
    pytest.importorskip("importlinter")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command;"
            " sys.exit(lint_imports_command())",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "Contracts: 3 kept, 0 broken." in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


def test_no_module_is_a_big_room() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    too_big = {name: lines for name, lines in sizes.items() if lines > LARGEST_MODULE}
    assert too_big == {}


def test_architecture_md_names_only_what_exists() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    modules = _modules()
    named = set(re.findall(r"`(migratectl(?:\.\w+)+)`", text))
    assert len(named) > 20
    for dotted in named:
        module, _, attribute = dotted.rpartition(".")
        if dotted in modules:
            continue
        assert module in modules, f"ARCHITECTURE.md names {dotted}, which does not exist"
        found = hasattr(importlib.import_module(module), attribute)
        assert found, f"ARCHITECTURE.md names {dotted}, which does not exist"
    for path in re.findall(r"`((?:migratectl|tests|bench)/[\w/.]+)`", text):
        assert (ROOT / path).exists(), f"ARCHITECTURE.md names {path}, which does not exist"


def test_typer_still_has_the_private_coercion_migratectl_replaces() -> None:
    """cli.params.DeferredCoercion replaces typer's private ``_runtime_param`` so that
    start-up does not import pydantic (tests/test_imports.py checks that it does not). When a
    typer release moves it, this says so, before users see a slower start."""
    import typer.core

    from migratectl.cli import app
    from migratectl.cli.params import DeferredCoercion

    option = typer.core.TyperOption
    declared = any("_runtime_param" in getattr(k, "__annotations__", {}) for k in option.__mro__)
    assert declared, "typer's parameters have no _runtime_param any more: see DeferredCoercion"
    # typer coerces every value through it, lazily built: the point DeferredCoercion takes.
    assert "self.get_runtime_param().coerce(" in inspect.getsource(option.process_value)
    assert "self._runtime_param is None" in inspect.getsource(option.get_runtime_param)
    command = typer.main.get_command(app)
    ctx = command.make_context("migratectl", ["upgrade", "--help"], resilient_parsing=True)
    upgrade = command.get_command(ctx, "upgrade")  # type: ignore[attr-defined]
    params = upgrade.get_params(ctx)
    replaced = [
        p for p in params if isinstance(getattr(p, "_runtime_param", None), DeferredCoercion)
    ]
    assert {p.name for p in replaced} >= {"rev", "tag", "x_args", "database_url"}
