"""examples/existing-database and examples/ci work as their pages say.

The existing-database README's console blocks are run command by command through the real
``migratectl`` command, and their output compared with the page (revision ids and the
database path aside). The CI example's YAML files are parsed and every migratectl command in
them is checked against the CLI, then run on a small project.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from conftest import Project, Result
from typer.testing import CliRunner

from migratectl.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXISTING = ROOT / "examples" / "existing-database"
CI = ROOT / "examples" / "ci"
README = EXISTING / "README.md"

_REVISION = re.compile(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])")
_DATABASE = re.compile(r"sqlite:////\S*/inventory\.db")
_PRICE_LINE = "    price_cents: Mapped[int]\n"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.S | re.M)


def _normalise(line: str) -> str:
    return _DATABASE.sub("<database>", _REVISION.sub("<revision>", line.rstrip()))


def _session(block: str) -> list[tuple[str, list[str]]]:
    """A console block as (command, expected output lines)."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _run(project: Project, command: str) -> Result:
    words = shlex.split(command)
    if words[0] == "migratectl":
        return project.run_cli(*words[1:])
    assert words[0] == "python", command
    proc = subprocess.run(
        [sys.executable, *words[1:]], cwd=project.path, capture_output=True, text=True
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _replay(project: Project, block: str, exit_codes: list[int]) -> None:
    steps = _session(block)
    assert len(steps) == len(exit_codes), [command for command, _ in steps]
    for (command, expected), code in zip(steps, exit_codes, strict=True):
        result = _run(project, command)
        assert result.exit_code == code, (command, result)
        shown = sorted(_normalise(line) for line in result.output.splitlines() if line.strip())
        assert shown == sorted(_normalise(line) for line in expected), (command, result)


def _example_copy(folder: Path) -> Project:
    shutil.copytree(
        EXISTING,
        folder,
        ignore=shutil.ignore_patterns("__pycache__", "inventory.db", "migrations"),
    )
    return Project(folder, f"sqlite:///{folder / 'inventory.db'}")


def _add_model_line(project: Project, line: str) -> None:
    models = project.path / "inventory" / "models.py"
    text = models.read_text()
    assert text.count(_PRICE_LINE) == 1, "inventory/models.py no longer ends Product so"
    models.write_text(text.replace(_PRICE_LINE, _PRICE_LINE + line))


PRODUCTS = [
    ("HAM-001", "Claw hammer", 1599),
    ("SCR-010", "Wood screws, box of 100", 499),
    ("SAW-200", "Hand saw", 2450),
]


def test_existing_database_walkthrough(tmp_path: Path) -> None:
    walkthrough, change, mismatch = _blocks("console")
    stock, discontinued = _blocks("python")

    inventory = _example_copy(tmp_path / "inventory")
    _replay(inventory, walkthrough, [0, 0, 0, 0, 0])
    [initial] = inventory.revision_files()
    assert inventory.version() == [initial.name.split("_")[0]]
    assert inventory.query("SELECT sku, title, price_cents FROM products ORDER BY id") == PRODUCTS
    assert inventory.query("SELECT name FROM suppliers ORDER BY id") == [
        ("Acme Tools",),
        ("Bolt & Nut Co",),
    ]

    _add_model_line(inventory, stock)
    _replay(inventory, change, [1, 0, 0, 0, 0])
    assert len(inventory.revision_files()) == 2
    assert inventory.query("SELECT sku, stock FROM products ORDER BY id") == [
        (sku, 0) for sku, _, _ in PRODUCTS
    ]

    differing = _example_copy(tmp_path / "differing")
    _add_model_line(differing, discontinued)
    assert differing.run_cli("init").exit_code == 0
    _replay(differing, mismatch, [0, 1])
    assert differing.revision_files() == []
    assert differing.tables() == {"suppliers", "products"}
    assert differing.query("SELECT sku, title, price_cents FROM products ORDER BY id") == PRODUCTS


# --------------------------------------------------------------------------- examples/ci


def _cli_commands() -> set[str]:
    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


_SHELL_OPERATORS = (">", "|", "||", "&&", ";")


def _migratectl_lines(text: str) -> list[list[str]]:
    """Each migratectl command of a shell script, its words up to a redirection or operator."""
    commands = []
    for line in text.splitlines():
        if line.strip().startswith("migratectl "):
            words = shlex.split(line.strip())
            cut = next((i for i, w in enumerate(words) if w in _SHELL_OPERATORS), len(words))
            commands.append(words[:cut])
    return commands


def _workflow() -> dict[str, Any]:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "pull_request"}
    assert set(workflow["jobs"]) == {"lint", "migrations"}
    return dict(workflow["jobs"])


def _workflow_commands() -> list[list[str]]:
    jobs = _workflow()
    assert "MIGRATECTL_DATABASE_URL" in jobs["migrations"]["env"]
    assert "postgres" in jobs["migrations"]["services"]
    assert "services" not in jobs["lint"]  # lint needs no database
    return [
        words
        for job in jobs.values()
        for step in job["steps"]
        for words in _migratectl_lines(step.get("run", ""))
    ]


def _hooks(path: Path) -> list[dict[str, object]]:
    document = yaml.safe_load(path.read_text())
    if isinstance(document, dict):  # .pre-commit-config.yaml: repos -> hooks
        return [hook for repo in document["repos"] for hook in repo["hooks"]]
    return list(document)


PUBLISHED_HOOKS = ROOT / ".pre-commit-hooks.yaml"
PRE_COMMIT_CONFIG = CI / ".pre-commit-config.yaml"


def _hook_commands() -> list[list[str]]:
    """The migratectl commands of the published hooks and of the example's local hooks."""
    local = [
        hook
        for repo in yaml.safe_load(PRE_COMMIT_CONFIG.read_text())["repos"]
        if repo["repo"] == "local"
        for hook in repo["hooks"]
    ]
    entries = [shlex.split(str(hook["entry"])) for hook in [*_hooks(PUBLISHED_HOOKS), *local]]
    return [words for words in entries if words[0] == "migratectl"]


def test_ci_example_uses_github_annotations_code_scanning_and_the_hooks() -> None:
    lint_steps = _workflow()["lint"]["steps"]
    runs = [step.get("run", "") for step in lint_steps]
    assert "migratectl lint --format github" in runs
    sarif_run = next(run for run in runs if "--format sarif" in run)
    [upload] = [
        s
        for s in lint_steps
        if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")
    ]
    assert f"> {upload['with']['sarif_file']} " in sarif_run
    assert _workflow()["lint"]["permissions"]["security-events"] == "write"

    document = yaml.safe_load(PRE_COMMIT_CONFIG.read_text())
    remote = [repo for repo in document["repos"] if repo["repo"] != "local"]
    published = {hook["id"] for hook in _hooks(PUBLISHED_HOOKS)}
    assert {hook["id"] for repo in remote for hook in repo["hooks"]} == published
    local = [
        hook for repo in document["repos"] if repo["repo"] == "local" for hook in repo["hooks"]
    ]
    assert [hook["id"] for hook in local] == ["migratectl-check"]


def test_ci_example_commands_exist_in_the_cli() -> None:
    commands = _cli_commands()
    workflow = _workflow_commands()
    assert [words[1] for words in workflow] == ["lint", "lint", "verify", "upgrade", "check"]
    for hook in _hooks(PUBLISHED_HOOKS) + _hooks(PRE_COMMIT_CONFIG):
        if "entry" in hook:  # a hook taken from a repository names only its id
            assert {"id", "name", "entry", "language"} <= set(hook)
            assert hook["pass_filenames"] is False  # these commands take no file names
    for words in workflow + _hook_commands():
        assert words[0] == "migratectl"
        assert words[1] in commands, words
        help_text = CliRunner().invoke(app, [words[1], "--help"]).stdout
        for option in (word for word in words[2:] if word.startswith("-")):
            assert option in help_text, (words, option)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_ci_example_commands_pass_on_an_adopted_project(tmp_path: Path, database_url: str) -> None:
    """The workflow's and the hooks' commands, run as CI would against a fresh database."""
    project = _example_copy(tmp_path / "inventory")
    assert _run(project, "python create_legacy_db.py").exit_code == 0
    assert project.run("init").exit_code == 0
    assert project.run("adopt").exit_code == 0

    ci_env = {"MIGRATECTL_DATABASE_URL": database_url}
    for words in _workflow_commands() + _hook_commands():
        result = project.run(*words[1:], env=ci_env)
        assert result.exit_code == 0, (words, result)
    ci_database = Project(tmp_path, database_url)
    assert ci_database.tables() == {"alembic_version", "suppliers", "products"}
