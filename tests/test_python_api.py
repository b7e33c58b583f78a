"""The Python API is the command line: one typed, documented function per command, returning
the object whose ``as_json()`` the command prints with ``--json``; and the README's "Python
API" snippets run as they stand."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest
from conftest import Project
from test_examples import PARITY_COMMANDS

import migratectl
from migratectl.settings import load_settings

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[1] / "README.md"
BEYOND = ["status", "adopt", "verify", "lint", "list-templates"]

MODELS = """
class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
"""

REVISION = '''
"""authors

Revision ID: {rev}
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down_literal}


def upgrade():
    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("{table}")
'''


def _revision(project: Project, rev: str, down: str | None, table: str) -> None:
    project.write(
        f"migrations/versions/{rev}_{table}.py",
        REVISION.format(rev=rev, down=down or "", down_literal=repr(down), table=table),
    )


def _history(project: Project) -> None:
    project.models(MODELS)
    project.config()
    assert project.run("init").exit_code == 0
    _revision(project, "a1", None, "authors")
    _revision(project, "b2", "a1", "books")


def _python_block(title: str) -> str:
    text = README.read_text()
    section = text[text.index(f"### {title}\n") :]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, f"README: no python block under '### {title}'"
    return block.group(1)


@pytest.mark.parametrize("name", [*PARITY_COMMANDS, *BEYOND])
def test_every_command_is_a_public_typed_documented_function(name: str) -> None:
    function = getattr(migratectl, name.replace("-", "_"))
    assert callable(function) and name.replace("-", "_") in migratectl.__all__
    assert inspect.getdoc(function), f"migratectl.{name} has no docstring"
    signature = inspect.signature(function)
    assert signature.return_annotation is not inspect.Signature.empty, name
    assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values())
    if name != "list-templates":
        assert next(iter(signature.parameters)) == "settings"


def test_every_exported_name_is_where_the_table_says() -> None:
    """``migratectl.__all__`` comes from the package's name -> module table: each entry must
    resolve (a moved function would otherwise fail only when a user first calls it)."""
    import importlib

    for name, module in migratectl._API.items():
        assert getattr(importlib.import_module(module), name) is getattr(migratectl, name), name


def test_import_migratectl_loads_no_command_until_one_is_used() -> None:
    code = (
        "import sys, migratectl; "
        "print(sorted(m for m in sys.modules if m.startswith(('migratectl.', 'alembic', "
        "'sqlalchemy'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        migratectl.nonexistent  # noqa: B018


def test_results_are_what_json_prints(project: Project) -> None:
    _history(project)
    os.chdir(project.path)
    settings = load_settings()

    def cli(*args: str) -> dict[str, typing.Any]:
        result = project.run(*args, "--json")
        return json.loads(result.stdout)

    upgraded = migratectl.upgrade(settings, "a1")
    printed = cli("upgrade", "b2")
    assert upgraded.as_json()["to"] == ["a1"] and printed["from"] == ["a1"]
    assert set(upgraded.as_json()) == set(printed) == {"database", "from", "to", "applied"}
    assert [s["revision"] for s in upgraded.as_json()["applied"]] == ["a1"]
    assert upgraded.as_json()["database"] == printed["database"]

    assert migratectl.current(settings).as_json() == cli("current")
    assert migratectl.status(settings).as_json() == cli("status")
    assert migratectl.history(settings).as_json() == cli("history")
    assert migratectl.history(settings, indicate_current=True).as_json() == cli("history", "-i")
    assert migratectl.heads(settings).as_json() == cli("heads")
    assert migratectl.branches(settings).as_json() == cli("branches")
    assert migratectl.check(settings).as_json() == cli("check")
    assert migratectl.show(settings, "a1")[0].as_json() == cli("show", "a1")
    assert migratectl.lint(settings).as_json() == cli("lint")

    reverted = migratectl.downgrade(settings, "base")
    assert reverted.as_json()["to"] == [] and project.version() == []


def test_startup_snippet_migrates_once_from_several_processes(project: Project) -> None:
    """The README's start-up function, called by three processes at once."""
    _history(project)
    project.write("app/__init__.py", "")
    project.write("app/startup.py", _python_block("Migrating at application start-up"))
    runner = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(message)s')\n"
        "from app.startup import migrate_database\n"
        "migrate_database()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATECTL_")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", runner],
            cwd=project.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=180) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    logs = "".join(out for out, _ in outputs)
    assert logs.count("applied a1 in") == 1 and logs.count("applied b2 in") == 1, logs
    assert logs.count("database at b2") == 3, logs
    assert project.version() == ["b2"]
    assert {"authors", "books"} <= project.tables()


def test_fixture_snippet_gives_each_test_a_migrated_database(
    sqlite_project: Project, pytester: pytest.Pytester
) -> None:
    """The README's fixture, in a project's own conftest.py, run by that project's pytest."""
    project = sqlite_project
    _history(project)
    shutil.copytree(project.path / "migrations", pytester.path / "migrations")
    shutil.copy(project.path / "models.py", pytester.path / "models.py")
    (pytester.path / "migratectl.toml").write_text('models = "models"\n')
    pytester.makeconftest(_python_block("In a test fixture"))
    pytester.makepyfile(
        test_app=textwrap.dedent(
            """
            import sqlalchemy as sa


            def test_tables_are_there(database_url):
                engine = sa.create_engine(database_url)
                with engine.connect() as connection:
                    names = sa.inspect(connection).get_table_names()
                    version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                    assert {"authors", "books"} <= set(names)
                    assert [row[0] for row in version] == ["b2"]
                engine.dispose()
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:pytest_alembic", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
