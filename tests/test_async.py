"""Async driver URLs (``postgresql+asyncpg``, ``sqlite+aiosqlite``) work for every command.

Nothing but the URL says the driver is async. The commands run as a user runs them (the
installed ``migratectl``, in a subprocess); on PostgreSQL the sync drivers are made
unimportable, so the run proves that asyncpg alone is enough.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Project
from sqlalchemy.engine import make_url

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
SYNC_DRIVER_MODULES = ("psycopg", "psycopg2")

USERS = """
    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(sa.String(50))
    """
USERS_WITH_EMAIL = (
    USERS
    + """
        email: Mapped[str | None] = mapped_column(sa.String(100))
    """
)


@pytest.fixture
def async_project(tmp_path: Path, database_url: str, backend: str) -> Project:
    url = make_url(database_url).set(drivername=ASYNC_DRIVERS[backend])
    folder = tmp_path / "project"
    folder.mkdir()
    project = Project(folder, url.render_as_string(hide_password=False))
    if backend == "postgresql":
        blocked = tmp_path / "blocked"
        blocked.mkdir()
        for module in SYNC_DRIVER_MODULES:
            (blocked / f"{module}.py").write_text(
                f"raise ModuleNotFoundError({f'No module named {module!r}'!r}, name={module!r})\n"
            )
        project.env["PYTHONPATH"] = str(blocked)
    return project


def revision_id(project: Project, slug: str) -> str:
    (path,) = (p for p in project.revision_files() if p.name.endswith(f"_{slug}.py"))
    return path.name.split("_")[0]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_command_works_with_an_async_url(async_project: Project) -> None:
    project = async_project
    project.models(USERS)
    project.config()
    run = project.run_cli

    assert run("init").exit_code == 0
    changes = run("check")
    assert changes.exit_code == 1, changes
    assert "add_table users" in changes.stdout

    assert run("migrate", "-m", "users").exit_code == 0
    first = revision_id(project, "users")
    pending = run("check")
    assert pending.exit_code == 1, pending
    assert first in pending.stdout

    offline = run("upgrade", "--sql")
    assert offline.exit_code == 0, offline
    assert "CREATE TABLE users" in offline.stdout
    assert project.tables() == set()  # --sql did not touch the database

    upgraded = run("upgrade")
    assert upgraded.exit_code == 0, upgraded
    assert project.tables() == {"users", "alembic_version"}
    assert project.version() == [first]
    current = run("current")
    assert current.exit_code == 0, current
    assert f"{first} (head)" in current.stdout
    history = run("history", "-i")
    assert history.exit_code == 0, history
    assert f"{first} (head) (current)" in history.stdout
    assert run("check").exit_code == 0

    project.models(USERS_WITH_EMAIL)
    assert run("migrate", "-m", "email").exit_code == 0
    second = revision_id(project, "email")
    status = run("status", "--json")
    assert status.exit_code == 0, status
    document = json.loads(status.stdout)
    assert document["current"] == [first]
    assert [r["revision"] for r in document["pending"]] == [second]

    assert run("upgrade").exit_code == 0
    assert "email" in project.columns("users")
    assert run("stamp", first).exit_code == 0
    assert project.version() == [first]
    assert run("stamp", "head").exit_code == 0
    assert project.version() == [second]

    downgraded = run("downgrade")
    assert downgraded.exit_code == 0, downgraded
    assert project.version() == [first]
    assert "email" not in project.columns("users")
    assert run("downgrade", "base").exit_code == 0
    assert project.tables() == {"alembic_version"}
