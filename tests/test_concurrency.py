"""The migration lock: many `migratectl upgrade` processes at once, and the lock timeout.

Every test drives the installed ``migratectl`` command in subprocesses, as a deployment does
(several instances of an application starting together, each running ``migratectl upgrade``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import _ISOLATED_ENV, BACKENDS, Project, fresh_database, migratectl_command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from migratectl.database.locking import lock_key, mysql_lock_name

PROCESSES = 8
TRIALS = 10
WAITING = "Waiting for the migration lock"

REV1, REV2, REV3 = "c0ffee000001", "c0ffee000002", "c0ffee000003"

REVISIONS = {
    "r1_create_settings.py": f'''
        """create settings"""
        import sqlalchemy as sa
        from alembic import op

        revision = "{REV1}"
        down_revision = None
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table(
                "settings",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("name", sa.String(50), nullable=False),
            )


        def downgrade():
            op.drop_table("settings")
        ''',
    "r2_create_accounts.py": f'''
        """create accounts"""
        import sqlalchemy as sa
        from alembic import op

        revision = "{REV2}"
        down_revision = "{REV1}"
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True))


        def downgrade():
            op.drop_table("accounts")
        ''',
    # A data migration: applied twice, it would leave two rows.
    "r3_seed_settings.py": f'''
        """seed settings"""
        from alembic import op

        revision = "{REV3}"
        down_revision = "{REV2}"
        branch_labels = None
        depends_on = None


        def upgrade():
            op.execute("INSERT INTO settings (name) VALUES ('seeded')")


        def downgrade():
            op.execute("DELETE FROM settings WHERE name = 'seeded'")
        ''',
}


def make_project(folder: Path, database_url: str, config: str = "") -> Project:
    """A project with the three revisions written directly (no autogenerate, no models)."""
    folder.mkdir(parents=True, exist_ok=True)
    project = Project(folder, database_url)
    project.config(config, models=None)
    initialised = project.run("init")
    assert initialised.exit_code == 0, initialised
    for name, body in REVISIONS.items():
        project.write(f"migrations/versions/{name}", textwrap.dedent(body))
    return project


def cli_env(project: Project) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env.update(NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
    # The URL of the current trial wins over the one in migratectl.toml.
    env["MIGRATECTL_DATABASE_URL"] = project.database_url
    return env


def run_at_once(project: Project, *args: str, count: int = PROCESSES) -> list[tuple[int, str]]:
    """Start ``count`` `migratectl ARGS` processes together; their (exit code, stderr)."""
    procs = [
        subprocess.Popen(
            [migratectl_command(), *args],
            cwd=project.path,
            env=cli_env(project),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    for proc in procs:
        _, stderr = proc.communicate(timeout=180)
        results.append((proc.returncode, stderr))
    return results


def fresh(backend: str, folder: Path) -> contextlib.AbstractContextManager[str]:
    return contextlib.contextmanager(fresh_database)(backend, folder)


def summarise(results: list[tuple[int, str]]) -> str:
    return "\n".join(f"exit {code}: {stderr.strip()}" for code, stderr in results)


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_upgrades_apply_each_revision_once(backend: str, tmp_path: Path) -> None:
    project: Project | None = None
    failures = 0
    for trial in range(TRIALS):
        folder = tmp_path / f"db{trial}"
        folder.mkdir()
        with fresh(backend, folder) as url:
            if project is None:
                project = make_project(tmp_path / "project", url)
            project.database_url = url
            results = run_at_once(project, "upgrade")
            failures += sum(1 for code, _ in results if code != 0)
            assert all(code == 0 for code, _ in results), summarise(results)
            assert project.version() == [REV3], f"trial {trial}"
            assert project.query("SELECT name FROM settings") == [("seeded",)], f"trial {trial}"
            assert project.tables() == {"alembic_version", "settings", "accounts"}
            # Each revision ran in exactly one process.
            applied = [stderr.count(f"-> {REV3}") for _, stderr in results]
            assert sum(applied) == 1, summarise(results)
            assert all(stderr.count(WAITING) <= 1 for _, stderr in results), summarise(results)
    print(f"{backend}: {TRIALS * PROCESSES} concurrent upgrades, {failures} failures")


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_downgrades_to_base(backend: str, tmp_path: Path) -> None:
    project: Project | None = None
    failures = 0
    for trial in range(TRIALS):
        folder = tmp_path / f"db{trial}"
        folder.mkdir()
        with fresh(backend, folder) as url:
            if project is None:
                project = make_project(tmp_path / "project", url)
            project.database_url = url
            upgraded = project.run("--database-url", url, "upgrade")
            assert upgraded.exit_code == 0, upgraded
            assert project.version() == [REV3]

            results = run_at_once(project, "downgrade", "base")
            failures += sum(1 for code, _ in results if code != 0)
            assert all(code == 0 for code, _ in results), summarise(results)
            assert project.version() == [], f"trial {trial}"
            assert project.tables() == {"alembic_version"}, f"trial {trial}"
            reverted = [stderr.count(f"{REV1} -> <base>") for _, stderr in results]
            assert sum(reverted) == 1, summarise(results)
    print(f"{backend}: {TRIALS * PROCESSES} concurrent downgrades, {failures} failures")


# --------------------------------------------------------------------------- lock timeout


HOLDER_APPLICATION = "lock-holder-test"


@contextlib.contextmanager
def hold_migration_lock(backend: str, database_url: str) -> Iterator[str]:
    """Hold the lock a migratectl process would take, from this (the test) process; yields
    how migratectl should name the holder."""
    if backend == "sqlite":
        database = Path(make_url(database_url).database or "")
        database.touch()
        with open(database, "rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                yield f"process {os.getpid()}"
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return
    connect_args = {"application_name": HOLDER_APPLICATION} if backend == "postgresql" else {}
    engine = create_engine(
        database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=connect_args
    )
    database = make_url(database_url).database or ""
    try:
        with engine.connect() as connection:
            if backend == "postgresql":
                key = lock_key(database, "public", "alembic_version")
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
                try:
                    yield f"PostgreSQL session pid {pid} (application_name '{HOLDER_APPLICATION}'"
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            else:
                name = mysql_lock_name(database, "alembic_version")
                got = connection.execute(text("SELECT GET_LOCK(:n, 10)"), {"n": name}).scalar()
                assert got == 1
                connection_id = connection.execute(text("SELECT CONNECTION_ID()")).scalar()
                try:
                    yield f"MariaDB connection {connection_id} (user root@"
                finally:
                    connection.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
    finally:
        engine.dispose()


@pytest.fixture
def locked_project(project: Project, backend: str) -> Project:
    """A project with three revisions on an empty database of the backend under test."""
    return make_project(project.path, project.database_url)


@pytest.mark.parametrize(
    "command", [["upgrade"], ["downgrade", "base"], ["stamp", "head"]], ids=lambda c: c[0]
)
def test_lock_timeout_exits_5_and_changes_nothing(
    locked_project: Project, backend: str, command: list[str]
) -> None:
    project = locked_project
    if command[0] == "downgrade":
        assert project.run("upgrade", REV1).exit_code == 0
    before = project.version()
    started = time.monotonic()
    with hold_migration_lock(backend, project.database_url) as holder:
        result = project.run_cli(*command, "--lock-timeout", "1")
    elapsed = time.monotonic() - started
    assert result.exit_code == 5, result
    # Both the waiting line and the error name the holder as the server reports it.
    assert result.stderr.count(holder) == 2, result
    assert "Another migratectl process" not in result.stderr
    assert "safe to retry" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert result.stderr.count(WAITING) == 1, result
    assert "Traceback" not in result.output
    assert elapsed < 30
    assert project.version() == before
    assert "accounts" not in project.tables()


def test_lock_timeout_from_the_configuration_file(locked_project: Project, backend: str) -> None:
    project = locked_project
    project.config("lock_timeout = 0.5\n", models=None)
    with hold_migration_lock(backend, project.database_url):
        result = project.run_cli("upgrade")
    assert result.exit_code == 5, result
    assert "0.5 s" in result.stderr


def test_no_lock_skips_the_lock(locked_project: Project, backend: str) -> None:
    project = locked_project
    with hold_migration_lock(backend, project.database_url):
        result = project.run_cli("upgrade", "--no-lock", "--lock-timeout", "1")
    assert result.exit_code == 0, result
    assert WAITING not in result.stderr
    assert project.version() == [REV3]


def test_a_waiting_process_proceeds_once_the_lock_is_released(
    locked_project: Project, backend: str
) -> None:
    project = locked_project
    with hold_migration_lock(backend, project.database_url):
        proc = subprocess.Popen(
            [migratectl_command(), "upgrade", "--lock-timeout", "60"],
            cwd=project.path,
            env=cli_env(project),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        first_line = proc.stderr.readline()
        assert WAITING in first_line, first_line
        assert proc.poll() is None  # still waiting while the lock is held
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 0, first_line + rest
    assert WAITING not in rest  # announced once, not once per poll
    assert project.version() == [REV3]
    assert project.query("SELECT name FROM settings") == [("seeded",)]


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_interrupted_while_waiting_for_the_lock_claims_no_rollback(
    locked_project: Project, backend: str, signame: str
) -> None:
    """No revision ran: the message must not speak of one rolled back."""
    import signal

    project = locked_project
    with hold_migration_lock(backend, project.database_url):
        proc = subprocess.Popen(
            [migratectl_command(), "upgrade", "--lock-timeout", "60"],
            cwd=project.path,
            env=cli_env(project),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        waiting = proc.stderr.readline()  # the waiting line comes once the wait begins
        assert WAITING in waiting, waiting
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if signame == "SIGINT" else 143), err
    assert "while no revision was running" in err
    assert "rolled back" not in err
    assert "Traceback" not in err
    assert project.version() == []
