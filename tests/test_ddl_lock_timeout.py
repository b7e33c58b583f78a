"""ddl_lock_timeout / ddl_retries: a migration statement blocked by another session's table lock
gives up in bounded time, names the blocker, and (PostgreSQL) is retried when asked.

The blocker is a real second session holding a lock on the table the revision alters, while the
real `migratectl upgrade` runs in a subprocess.
"""

from __future__ import annotations

import contextlib
import subprocess
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Project, migratectl_command
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from test_concurrency import cli_env
from test_lock_identity import line_within

REV1, REV2 = "dd10000000a1", "dd10000000a2"
BLOCKER_APPLICATION = "report-job"

REVISIONS = {
    "r1_create_accounts.py": f'''
        """create accounts"""
        import sqlalchemy as sa
        from alembic import op

        revision = "{REV1}"
        down_revision = None
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True))


        def downgrade():
            op.drop_table("accounts")
        ''',
    "r2_add_email.py": f'''
        """add email"""
        import sqlalchemy as sa
        from alembic import op

        revision = "{REV2}"
        down_revision = "{REV1}"
        branch_labels = None
        depends_on = None


        def upgrade():
            op.add_column("accounts", sa.Column("email", sa.String(100)))


        def downgrade():
            op.drop_column("accounts", "email")
        ''',
}


@pytest.fixture
def altering_project(project: Project) -> Project:
    """At REV1; REV2 runs an ALTER TABLE on accounts."""
    project.config(models=None)
    assert project.run("init").exit_code == 0
    for name, body in REVISIONS.items():
        project.write(f"migrations/versions/{name}", textwrap.dedent(body))
    assert project.run("upgrade", REV1).exit_code == 0
    return project


@contextlib.contextmanager
def blocker(project: Project, backend: str) -> Iterator[tuple[Any, int]]:
    """A session holding a lock on accounts in an open transaction: (connection, its id)."""
    args = {"application_name": BLOCKER_APPLICATION} if backend == "postgresql" else {}
    engine = create_engine(project.database_url, poolclass=NullPool, connect_args=args)
    try:
        with engine.connect() as connection:
            if backend == "postgresql":
                ident = connection.execute(text("SELECT pg_backend_pid()")).scalar()
                connection.execute(text("LOCK TABLE accounts IN ACCESS SHARE MODE"))
            else:  # reading the table in a transaction holds its metadata lock
                ident = connection.execute(text("SELECT CONNECTION_ID()")).scalar()
                connection.execute(text("SELECT * FROM accounts")).all()
            yield connection, int(ident or 0)
            connection.rollback()
    finally:
        engine.dispose()


def email_added(project: Project) -> bool:
    return "email" in project.columns("accounts")


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("where", ["file", "flag"])
def test_postgresql_blocked_alter_fails_naming_the_blocker(
    altering_project: Project, backend: str, where: str
) -> None:
    project = altering_project
    args = ["upgrade"]
    if where == "file":
        project.config("ddl_lock_timeout = 1\n", models=None)
    else:
        args += ["--ddl-lock-timeout", "1"]
    with blocker(project, backend) as (_, pid):
        result = project.run_cli(*args, timeout=60)
    assert result.exit_code == 4, result
    assert f"Revision {REV2}" in result.stderr
    assert "lock timeout" in result.stderr  # PostgreSQL's own words
    assert "A table lock was not granted within ddl_lock_timeout (1 s)" in result.stderr
    assert f"PostgreSQL session pid {pid} (application_name '{BLOCKER_APPLICATION}'" in (
        result.stderr
    )
    assert "The failed revision was rolled back" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.version() == [REV1]
    assert not email_added(project)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_retries_until_the_blocker_is_gone(
    altering_project: Project, backend: str
) -> None:
    project = altering_project
    project.config("ddl_lock_timeout = 1\nddl_retries = 2\n", models=None)
    with blocker(project, backend) as (connection, pid):
        proc = subprocess.Popen(
            [migratectl_command(), "upgrade"],
            cwd=project.path,
            env={**cli_env(project)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = ""
        for _ in range(5):
            first += line_within(proc, 30)
            if "Retrying" in first:
                break
        assert "Retrying in 1 s (retry 1 of 2)" in first, first
        assert f"pid {pid}" in first
        connection.rollback()  # the blocker ends its transaction
        _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 0, first + rest
    assert "retry 2 of 2" not in rest
    assert f"-> {REV2}" in first + rest
    assert project.version() == [REV2]
    assert email_added(project)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_retries_run_out(altering_project: Project, backend: str) -> None:
    project = altering_project
    project.config("ddl_lock_timeout = 0.5\nddl_retries = 1\n", models=None)
    with blocker(project, backend) as (_, pid):
        result = project.run_cli("upgrade", timeout=60)
    assert result.exit_code == 4, result
    assert "Retrying in 1 s (retry 1 of 1)" in result.stderr
    assert "(tried 2 times)" in result.stderr
    assert f"pid {pid}" in result.stderr
    assert project.version() == [REV1]


@pytest.mark.parametrize("backend", ["mariadb"])
def test_mariadb_blocked_alter_fails_on_lock_wait_timeout(
    altering_project: Project, backend: str
) -> None:
    project = altering_project
    project.config("ddl_lock_timeout = 1\nddl_retries = 3\n", models=None)
    with blocker(project, backend) as (_, connection_id):
        result = project.run_cli("upgrade", timeout=60)
    assert result.exit_code == 4, result
    assert "Lock wait timeout exceeded" in result.stderr
    assert "A table lock was not granted within ddl_lock_timeout (1 s)" in result.stderr
    assert f"connection {connection_id} (user root@" in result.stderr
    assert "Retrying" not in result.stderr  # MariaDB's DDL cannot roll back: no retry
    assert project.version() == [REV1]
    assert not email_added(project)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("ddl_lock_timeout = -1", "ddl_lock_timeout must be a number of seconds greater than 0"),
        ("ddl_lock_timeout = 0", "ddl_lock_timeout must be a number of seconds greater than 0"),
        ('ddl_lock_timeout = "ten"', "ddl_lock_timeout in"),
        ("ddl_retries = 1.5", "ddl_retries in"),
        ("ddl_retries = -2", "ddl_retries must be 0 or more (not -2)"),
    ],
)
def test_bad_values_are_configuration_errors(
    sqlite_project: Project, setting: str, message: str
) -> None:
    project = sqlite_project
    project.config(setting + "\n", models=None)
    assert project.run("init").exit_code == 0 or True
    result = project.run("upgrade")
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bad_flag_value(sqlite_project: Project) -> None:
    sqlite_project.config(models=None)
    result = sqlite_project.run("upgrade", "--ddl-lock-timeout", "-3")
    assert result.exit_code == 2, result
    assert (
        "ddl_lock_timeout must be a number of seconds greater than 0 and at most 2147483 (not -3)"
        in result.stderr
    )
