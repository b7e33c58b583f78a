"""One migration lock per database and version table, however the URL or the configuration
spells them (SQLite: symlink, hard link, relative path; PostgreSQL / MariaDB: the version
table's schema given or left to the server).

Each test runs two real `migratectl upgrade` processes: the first holds the lock inside a
revision that waits for the test's go-ahead; the second reaches the same database another
way and must wait for the first, then find the database at head.
"""

from __future__ import annotations

import os
import select
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from conftest import Project, migratectl_command
from sqlalchemy.engine import make_url
from test_concurrency import cli_env

WAITING = "Waiting for the migration lock"
REV1, REV2 = "10c4000000a1", "10c4000000a2"

REVISIONS = {
    # Holds the lock until the test creates the file "go" (at most 60 s).
    "r1_create_settings.py": f'''
        """create settings"""
        import time
        from pathlib import Path

        import sqlalchemy as sa
        from alembic import op

        revision = "{REV1}"
        down_revision = None
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table("settings", sa.Column("name", sa.String(50)))
            Path("started").touch()
            for _ in range(1200):
                if Path("go").exists():
                    break
                time.sleep(0.05)


        def downgrade():
            op.drop_table("settings")
        ''',
    # A data migration: applied twice, it would leave two rows.
    "r2_seed_settings.py": f'''
        """seed settings"""
        from alembic import op

        revision = "{REV2}"
        down_revision = "{REV1}"
        branch_labels = None
        depends_on = None


        def upgrade():
            op.execute("INSERT INTO settings (name) VALUES ('seeded')")


        def downgrade():
            op.execute("DELETE FROM settings")
        ''',
}


def write_project(project: Project) -> None:
    project.config(models=None)
    assert project.run("init").exit_code == 0
    for name, body in REVISIONS.items():
        project.write(f"migrations/versions/{name}", textwrap.dedent(body))


def start(project: Project, *args: str, url: str | None = None) -> subprocess.Popen[str]:
    env = cli_env(project)
    if url is None:
        env.pop("MIGRATECTL_DATABASE_URL")  # the configuration file's spelling
    else:
        env["MIGRATECTL_DATABASE_URL"] = url
    return subprocess.Popen(
        [migratectl_command(), *args],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def line_within(proc: subprocess.Popen[str], seconds: float) -> str:
    """The next line of ``proc``'s stderr, or "" if none came within ``seconds``."""
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], seconds)
    return proc.stderr.readline() if ready else ""


def wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def assert_serialised(
    project: Project, first_args: list[str], second_args: list[str], second_url: str | None
) -> None:
    first = start(project, *first_args, url=None if second_url is None else project.database_url)
    second = None
    try:
        wait_for(project.path / "started", first)
        second = start(project, *second_args, "--lock-timeout", "60", url=second_url)
        line = line_within(second, 30)
        assert WAITING in line, line + (second.communicate()[1] if not line else "")
        assert second.poll() is None  # still waiting while the first holds the lock
    finally:
        (project.path / "go").touch()
        _, first_err = first.communicate(timeout=90)
        second_err = second.communicate(timeout=90)[1] if second is not None else ""
    assert first.returncode == 0, first_err
    assert second is not None and second.returncode == 0, second_err
    assert f"-> {REV2}" in first_err
    assert f"-> {REV2}" not in second_err  # it found the database at head
    assert project.version() == [REV2]
    assert project.query("SELECT name FROM settings") == [("seeded",)]


@pytest.mark.parametrize("spelling", ["symlink", "hard link", "relative path"])
def test_sqlite_lock_belongs_to_the_database_file(tmp_path: Path, spelling: str) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    database = data / "app.db"
    project = Project(folder, f"sqlite:///{database}")
    write_project(project)
    project.run("upgrade", "base")  # creates the file, so that it can be linked
    assert database.exists()
    if spelling == "symlink":
        (folder / "link.db").symlink_to(database)
        other = f"sqlite:///{folder / 'link.db'}"
    elif spelling == "hard link":
        os.link(database, folder / "hard.db")
        other = f"sqlite:///{folder / 'hard.db'}"
    else:
        other = "sqlite:///../data/app.db"  # relative to the current folder: the project's
    assert_serialised(project, ["upgrade"], ["upgrade"], other)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_version_table_schema_given_or_resolved_is_one_lock(
    tmp_path: Path, backend: str, database_url: str
) -> None:
    """One project names the version table's schema (PostgreSQL's "public", MariaDB's
    database), the other leaves it to the server: the same version table, the same lock."""
    folder = tmp_path / "project"
    folder.mkdir()
    project = Project(folder, database_url)
    write_project(project)
    schema = "public" if backend == "postgresql" else make_url(database_url).database
    project.write(
        "explicit.toml",
        f'database_url = "{database_url}"\n[configure]\nversion_table_schema = "{schema}"\n',
    )
    assert_serialised(project, ["upgrade"], ["-c", "explicit.toml", "upgrade"], database_url)
    # and the other way round
    project.run("downgrade", "base")
    for name in ("started", "go"):
        (folder / name).unlink()
    assert_serialised(project, ["-c", "explicit.toml", "upgrade"], ["upgrade"], database_url)
