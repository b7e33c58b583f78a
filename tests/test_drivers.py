"""A database URL whose driver is missing, unknown, or unparseable: exit 2 and what to do.

A driver is made absent for real: a folder on PYTHONPATH holds a module of the driver's name
that raises ImportError, and the installed ``migratectl`` runs in a subprocess.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project


def project_with_url(tmp_path: Path, url: str, *absent_modules: str) -> Project:
    folder = tmp_path / "project"
    folder.mkdir()
    project = Project(folder, url)
    project.config(models=None)
    if absent_modules:
        blocked = tmp_path / "blocked"
        blocked.mkdir()
        for module in absent_modules:
            (blocked / f"{module}.py").write_text(
                f"raise ModuleNotFoundError({f'No module named {module!r}'!r}, name={module!r})\n"
            )
        project.env["PYTHONPATH"] = str(blocked)
    assert project.run_cli("init").exit_code == 0
    return project


@pytest.mark.parametrize(
    ("url", "absent", "expected"),
    [
        pytest.param(
            "postgresql+psycopg2://app:s3cret@127.0.0.1/app",
            "psycopg2",
            [
                "The database driver for 'postgresql+psycopg2' is not installed "
                "(no module named 'psycopg2').",
                "pip install 'migratectl[postgres]' and a postgresql+psycopg:// URL",
            ],
            id="psycopg2",
        ),
        pytest.param(
            "postgresql://app:s3cret@127.0.0.1/app",
            "psycopg2 psycopg",
            [
                "The database driver for 'postgresql' is not installed",
                "Install it: pip install 'migratectl[postgres]'.",
            ],
            id="postgresql-default-driver",
        ),
        pytest.param(
            "postgresql+psycopg://app:s3cret@127.0.0.1/app",
            "psycopg",
            ["no module named 'psycopg'", "Install it: pip install 'migratectl[postgres]'."],
            id="psycopg",
        ),
        pytest.param(
            "mysql+mysqldb://app:s3cret@127.0.0.1/app",
            "MySQLdb",
            [
                "The database driver for 'mysql+mysqldb' is not installed "
                "(no module named 'MySQLdb').",
                "pip install 'migratectl[mysql]' and a mysql+pymysql:// URL",
            ],
            id="mysqldb",
        ),
        pytest.param(
            "mariadb+pymysql://app:s3cret@127.0.0.1/app",
            "pymysql",
            ["no module named 'pymysql'", "Install it: pip install 'migratectl[mysql]'."],
            id="pymysql",
        ),
        pytest.param(
            "postgresql+asyncpg://app:s3cret@127.0.0.1/app",
            "asyncpg",
            [
                "The database driver for 'postgresql+asyncpg' is not installed "
                "(no module named 'asyncpg').",
                "Install it: pip install 'migratectl[async]'.",
            ],
            id="asyncpg",
        ),
        pytest.param(
            "sqlite+aiosqlite:///app.db",
            "aiosqlite",
            ["no module named 'aiosqlite'", "Install it: pip install 'migratectl[async]'."],
            id="aiosqlite",
        ),
    ],
)
def test_a_missing_driver_names_what_to_install(
    tmp_path: Path, url: str, absent: str, expected: list[str]
) -> None:
    project = project_with_url(tmp_path, url, *absent.split())
    for command in (["current"], ["upgrade"]):
        result = project.run_cli(*command)
        assert result.exit_code == 2, result
        for text in expected:
            assert text in result.stderr
        assert "Traceback" not in result.stderr
        assert "s3cret" not in result.output


def test_offline_sql_needs_no_driver(tmp_path: Path) -> None:
    project = project_with_url(tmp_path, "postgresql+psycopg2://app@127.0.0.1/app", "psycopg2")
    result = project.run_cli("revision", "-m", "empty")
    assert result.exit_code == 0, result
    offline = project.run_cli("upgrade", "--sql")
    assert offline.exit_code == 0, offline
    assert "CREATE TABLE alembic_version" in offline.stdout


def test_an_unknown_dialect_is_a_configuration_error(tmp_path: Path) -> None:
    project = project_with_url(tmp_path, "foo://app:s3cret@db/app")
    result = project.run("current")
    assert result.exit_code == 2, result
    assert "The database URL names an unknown dialect or driver: 'foo'." in result.stderr
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("not a database url", id="no-scheme"),
        pytest.param("postgresql://app:s3cret@db:port/app", id="bad-port"),
    ],
)
def test_an_unparseable_url_is_a_configuration_error(tmp_path: Path, url: str) -> None:
    project = project_with_url(tmp_path, url)
    result = project.run("current")
    assert result.exit_code == 2, result
    assert "is not a valid SQLAlchemy URL" in result.stderr
    assert "It has the form dialect+driver://" in result.stderr
    assert "s3cret" not in result.output
