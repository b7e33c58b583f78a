"""Start-up stays light: each command imports what it uses when it uses it.

``--help`` and ``--version`` import neither SQLAlchemy nor Alembic nor the models (checked on
the real program with ``python -X importtime``), and the commands that do not compare the
schema never import the models (a models module that leaves a marker file when imported).
What the command line does to the Python process for speed (the garbage collector) stays in
the process it owns.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Project

MARKER = "models-were-imported"


def imported_modules(project: Project, *args: str) -> set[str]:
    """The modules ``python -m migratectl ARGS`` imports, as ``-X importtime`` lists them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATECTL_")}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "migratectl", *args],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert lines, "-X importtime printed nothing"
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}  # [0] is the header


def marked_models(project: Project) -> Path:
    """models.py that leaves a marker file behind whenever it is imported."""
    project.models(
        f"""
        import pathlib
        pathlib.Path(__file__).with_name("{MARKER}").write_text("imported")


        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(50))
        """
    )
    return project.path / MARKER


def tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("flag", ["--help", "--version", "-h"])
def test_help_and_version_import_neither_sqlalchemy_nor_alembic_nor_the_models(
    sqlite_project: Project, flag: str
) -> None:
    marker = marked_models(sqlite_project)
    sqlite_project.config()

    modules = tops(imported_modules(sqlite_project, flag))

    assert "sqlalchemy" not in modules
    assert "alembic" not in modules
    assert "models" not in modules and not marker.exists()
    # What else made start-up slow: rich's renderers (help is plain text when it is not on
    # a terminal, and typer's rich help pulls in pygments) and pydantic (typer's coercion).
    assert {"rich", "pygments", "pydantic"}.isdisjoint(modules), modules


def test_command_help_and_a_plain_command_skip_rich_and_pydantic(sqlite_project: Project) -> None:
    marked_models(sqlite_project)
    sqlite_project.config()
    assert sqlite_project.run("init").exit_code == 0

    for args in (["upgrade", "--help"], ["-q", "upgrade", "--tag", "t", "-x", "k=v"], ["current"]):
        modules = tops(imported_modules(sqlite_project, *args))
        assert {"rich", "pydantic", "models"}.isdisjoint(modules), (args, modules)
    assert "sqlalchemy" in modules  # the last one did work: it read the database


COMMANDS_WITHOUT_MODELS = [
    ["upgrade"],
    ["current"],
    ["current", "--verbose", "--check-heads"],
    ["history", "--indicate-current"],
    ["heads"],
    ["show", "head"],
    ["branches"],
    ["status"],
    ["status", "--sql"],
    ["upgrade", "--sql"],
    ["downgrade", "base"],
    ["stamp", "head"],
    ["downgrade", "--sql", "head:base"],
    ["stamp", "base", "--purge"],
]


def test_commands_that_do_not_compare_never_import_the_models(sqlite_project: Project) -> None:
    marker = marked_models(sqlite_project)
    sqlite_project.config()
    assert sqlite_project.run("init").exit_code == 0
    assert sqlite_project.run("migrate", "-m", "initial").exit_code == 0
    assert marker.exists()  # migrate compares: it imported them (the marker works)

    for args in COMMANDS_WITHOUT_MODELS:
        marker.unlink(missing_ok=True)
        result = sqlite_project.run(*args)
        assert result.exit_code == 0, (args, result)
        assert not marker.exists(), f"`migratectl {' '.join(args)}` imported the models"

    result = sqlite_project.run("check")
    assert result.exit_code == 1, result  # stamped at base: pending
    sqlite_project.run("upgrade")
    marker.unlink(missing_ok=True)
    assert sqlite_project.run("check").exit_code == 0
    assert marker.exists()


def test_the_cli_inside_another_program_leaves_its_garbage_collector_alone(
    sqlite_project: Project,
) -> None:
    """Run as `migratectl`, a comparing command turns cyclic collection off for its own short
    life, and every command freezes what is left as the process ends; called in-process
    (tests, an application) neither may happen to its host."""
    marked_models(sqlite_project)
    sqlite_project.config()
    assert sqlite_project.run("init").exit_code == 0
    assert gc.isenabled()

    for args in (["check"], ["migrate", "-m", "initial"], ["upgrade"], ["check"]):
        result = sqlite_project.run(*args)
        assert result.exit_code in (0, 1), (args, result)
        assert gc.isenabled(), args
        assert gc.get_freeze_count() == 0, args
