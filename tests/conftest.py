"""Fixtures: a fresh database per test on SQLite, PostgreSQL and MariaDB, and a project folder.

Server URLs come from MIGRATECTL_TEST_POSTGRES_URL / MIGRATECTL_TEST_MYSQL_URL. A server that
cannot be reached skips its tests, unless MIGRATECTL_TEST_REQUIRE_SERVERS=1 (as in CI), when
they fail instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

sys.dont_write_bytecode = True  # models are rewritten within a second; never trust a .pyc

POSTGRES_URL = os.environ.get(
    "MIGRATECTL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("MIGRATECTL_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REQUIRE_SERVERS = os.environ.get("MIGRATECTL_TEST_REQUIRE_SERVERS") == "1"
SERVER_URLS = {"postgresql": POSTGRES_URL, "mariadb": MYSQL_URL}
BACKENDS = ["sqlite", "postgresql", "mariadb"]

# Settings from the developer's own shell must not leak into tests.
_ISOLATED_ENV = (
    "MIGRATECTL_DATABASE_URL",
    "DATABASE_URL",
    "MIGRATECTL_MODELS",
    "MIGRATECTL_DIRECTORY",
    "MIGRATECTL_CONFIG",
    "EDITOR",
    "VISUAL",
)


@functools.cache
def server_problem(backend: str) -> str | None:
    """Why ``backend``'s server cannot be used, or None when it can."""
    url = make_url(SERVER_URLS[backend])
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "not usable here"
        return f"{backend} server at {url.render_as_string()} unreachable: {exc}".splitlines()[0]
    return None


def require_server(backend: str) -> None:
    if backend == "sqlite":
        return
    problem = server_problem(backend)
    if problem is None:
        return
    if REQUIRE_SERVERS:
        pytest.fail(f"MIGRATECTL_TEST_REQUIRE_SERVERS=1 but {problem}")
    pytest.skip(problem)


def _admin_engine(backend: str) -> Engine:
    return create_engine(SERVER_URLS[backend], poolclass=NullPool, isolation_level="AUTOCOMMIT")


def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """Create an empty database on ``backend`` and yield its URL; drop it afterwards."""
    require_server(backend)
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    name = f"mc_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine(backend)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        url = make_url(SERVER_URLS[backend]).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        drop = (
            f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            if backend == "postgresql"
            else f"DROP DATABASE IF EXISTS {name}"
        )
        with admin.connect() as connection:
            connection.execute(text(drop))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once per backend: sqlite, postgresql, mariadb."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on the backend under test."""
    yield from fresh_database(backend, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file (not yet created) in the test's folder."""
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture(autouse=True)
def _isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Each test starts with a clean environment, sys.path, cwd and no project modules."""
    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    saved_path = list(sys.path)
    saved_cwd = os.getcwd()
    yield
    os.chdir(saved_cwd)
    sys.path[:] = saved_path
    _forget_project_modules(tmp_path_factory.getbasetemp())


@dataclass
class Result:
    """What a migratectl invocation left: exit code, stdout, stderr."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"Result(exit={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


@dataclass
class Project:
    """A user's project folder: models, configuration, and ways to run migratectl in it."""

    path: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)

    def write(self, relative: str, content: str) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content).lstrip())
        return target

    def models(self, body: str, module: str = "models") -> Path:
        """Write ``module.py`` with a DeclarativeBase ``Base`` and ``body`` (dedented)."""
        header = (
            "import enum\n"
            "import sqlalchemy as sa\n"
            "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
            "class Base(DeclarativeBase):\n    pass\n\n\n"
        )
        return self.write(f"{module}.py", header + textwrap.dedent(body).strip() + "\n")

    def config(self, body: str = "", *, models: str | None = "models") -> Path:
        """Write migratectl.toml with this project's database_url and models, plus ``body``."""
        lines = [f'database_url = "{self.database_url}"']
        if models:
            lines.append(f'models = "{models}"')
        return self.write("migratectl.toml", "\n".join(lines) + "\n" + textwrap.dedent(body))

    def run(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> Result:
        """Run migratectl in-process (fast), from this folder."""
        from migratectl.cli import app

        _forget_project_modules(self.path)
        runner = CliRunner(env={**self.env, **(env or {})})
        previous = os.getcwd()
        os.chdir(self.path)
        try:
            result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        finally:
            os.chdir(previous)
        return Result(result.exit_code, result.stdout, result.stderr)

    def run_cli(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> Result:
        """Run the installed ``migratectl`` command in a subprocess, as a user does."""
        full_env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
        full_env.update(self.env)
        full_env.update(env or {})
        proc = subprocess.run(
            [migratectl_command(), *args],
            cwd=cwd or self.path,
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    # Inspecting the database -------------------------------------------------

    def engine(self) -> Engine:
        url = make_url(self.database_url)
        driver = url.get_driver_name()
        if driver == "asyncpg":
            url = url.set(drivername="postgresql+psycopg")
        elif driver == "aiosqlite":
            url = url.set(drivername="sqlite")
        return create_engine(url, poolclass=NullPool)

    def tables(self) -> set[str]:
        engine = self.engine()
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def columns(self, table: str) -> dict[str, Any]:
        engine = self.engine()
        try:
            return {c["name"]: c for c in inspect(engine).get_columns(table)}
        finally:
            engine.dispose()

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = self.engine()
        try:
            with engine.begin() as connection:
                result = connection.execute(text(sql), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def version(self) -> list[str]:
        if "alembic_version" not in self.tables():
            return []
        return sorted(row[0] for row in self.query("SELECT version_num FROM alembic_version"))

    def revision_files(self, directory: str = "migrations") -> list[Path]:
        return sorted((self.path / directory / "versions").glob("*.py"))


def _forget_project_modules(path: Path) -> None:
    """Drop modules imported from the project, so a rewritten models.py is imported anew."""
    import importlib

    prefix = str(path)
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and file.startswith(prefix):
            del sys.modules[name]
    importlib.invalidate_caches()


@functools.cache
def migratectl_command() -> str:
    found = shutil.which("migratectl")
    if found is None:
        pytest.fail("the migratectl command is not installed: run pip install -e '.[dev]'")
    return found


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Project:
    """A project on the backend under test (parametrised: sqlite, postgresql, mariadb)."""
    folder = tmp_path / "project"
    folder.mkdir()
    return Project(folder, database_url)


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    """A project on a SQLite file, for behaviour that does not depend on the dialect."""
    folder = tmp_path / "project"
    folder.mkdir()
    return Project(folder, f"sqlite:///{folder / 'app.db'}")
