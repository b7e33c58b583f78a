"""Ctrl-C (SIGINT) and SIGTERM during `migratectl upgrade`: exit 130 / 143, the running
statement cancelled on the server, the running revision rolled back where the database allows,
the version table untouched, the migration lock released; after `kill -9` on PostgreSQL the
server frees the lock within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from conftest import _ISOLATED_ENV, Project, migratectl_command

REV1, REV2 = "1a7e00000001", "1a7e00000002"

FIRST = f'''
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
    '''

# Slow only when the test asks: it then says it has started (a file), and waits to be interrupted.
SLOW = f'''
    """a slow revision"""
    import os
    import pathlib
    import time

    import sqlalchemy as sa
    from alembic import op

    revision = "{REV2}"
    down_revision = "{REV1}"
    branch_labels = None
    depends_on = None


    def upgrade():
        op.create_table("slow", sa.Column("id", sa.Integer, primary_key=True))
        started = os.environ.get("SLOW_REVISION_STARTED")
        if started:
            pathlib.Path(started).touch()
            {{wait}}


    def downgrade():
        op.drop_table("slow")
    '''

WAITS = {
    "time.sleep": "time.sleep(120)",
    "pg_sleep": 'op.execute("SELECT pg_sleep(120)")',
}


def start_upgrade(
    project: Project, started: Path, command: str = "upgrade"
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    env.update(NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1", SLOW_REVISION_STARTED=str(started))
    return subprocess.Popen(
        [migratectl_command(), command],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Python ignores SIGINT for good when it starts with SIGINT ignored (as a test runner's
        # worker may have it): start the command as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the command ended (exit {proc.returncode}) too early: {out}{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the slow revision never started")
        time.sleep(0.05)


# How each signal ends the command: exit code, and the message's first words.
SIGNALS = {
    "SIGINT": (signal.SIGINT, 130, "Interrupted"),
    "SIGTERM": (signal.SIGTERM, 143, "Terminated (SIGTERM)"),
}


def active_sleeps(project: Project) -> int:
    """Statements of the test's database still running pg_sleep on the server."""
    database = project.database_url.rsplit("/", 1)[1]
    rows = project.query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND state = 'active' "
        "AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
        db=database,
    )
    return int(rows[0][0])


@pytest.mark.parametrize("signame", sorted(SIGNALS))
@pytest.mark.parametrize(
    ("backend", "wait"),
    [
        ("sqlite", "time.sleep"),
        ("postgresql", "time.sleep"),
        ("postgresql", "pg_sleep"),
        ("mariadb", "time.sleep"),
    ],
)
def test_signal_rolls_back_the_running_revision(
    project: Project, backend: str, wait: str, signame: str, tmp_path: Path
) -> None:
    signum, exit_code, what = SIGNALS[signame]
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_accounts.py", textwrap.dedent(FIRST))
    slow = textwrap.dedent(SLOW).replace("{wait}", WAITS[wait])
    project.write("migrations/versions/r2_slow.py", slow)

    started = tmp_path / "started"
    proc = start_upgrade(project, started)
    wait_for(started, proc)
    interrupted_at = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == exit_code, out + err
    assert time.monotonic() - interrupted_at < 30  # it stopped; it did not finish the sleep
    assert "Traceback" not in out + err
    message = " ".join(err.split())
    assert f"{what} during revision {REV2} (migrations/versions/r2_slow.py, line " in message
    assert f"The database is at {REV1}." in message
    if backend == "mariadb":
        assert "MariaDB cannot roll back DDL" in message
        assert "had already run and stayed: CREATE TABLE `slow` (" in message  # quoted: a keyword
    else:
        assert "The interrupted revision was rolled back." in message
    # The revision before stays applied; the interrupted one is not recorded.
    assert project.version() == [REV1]
    if backend != "mariadb":  # MariaDB's DDL commits by itself
        assert "slow" not in project.tables()
    if backend == "postgresql":  # the statement was cancelled on the server, not left running
        assert active_sleeps(project) == 0

    # The lock was released: another run takes it at once and completes the upgrade.
    if backend == "mariadb":
        project.query("DROP TABLE IF EXISTS slow")
    rerun = project.run_cli("upgrade", "--lock-timeout", "5")
    assert rerun.exit_code == 0, rerun
    assert "Waiting for the migration lock" not in rerun.stderr
    assert project.version() == [REV2]
    assert "slow" in project.tables()


@pytest.mark.parametrize("signame", sorted(SIGNALS))
def test_signal_during_check_claims_nothing_and_writes_nothing(
    project: Project, signame: str, tmp_path: Path
) -> None:
    """Interrupted while `check` imports the models (on a server, while its other thread
    connects and reads the catalogue): exit 130, one line, no traceback, nothing written."""
    project.models(
        """
        import os, pathlib, time

        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)

        if os.environ.get("SLOW_REVISION_STARTED"):
            pathlib.Path(os.environ["SLOW_REVISION_STARTED"]).touch()
            time.sleep(120)
        """
    )
    project.config()
    assert project.run("init").exit_code == 0
    signum, exit_code, what = SIGNALS[signame]
    started = tmp_path / "started"
    proc = start_upgrade(project, started, "check")
    wait_for(started, proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == exit_code, out + err
    assert "Traceback" not in out + err
    assert err.strip() == f"Error: {what}.", err
    assert out == ""
    assert project.tables() == set()


def test_ctrl_c_after_an_autocommit_block_says_what_stayed(
    project: Project, backend: str, tmp_path: Path
) -> None:
    """autocommit_block() committed the table and the index before the interrupt: the
    message lists them as stayed rather than claiming the revision rolled back."""
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_accounts.py", textwrap.dedent(FIRST))
    concurrently = "CONCURRENTLY " if backend == "postgresql" else ""
    wait = (
        "with op.get_context().autocommit_block():\n"
        f'            op.execute("CREATE INDEX {concurrently}ix_slow_id ON slow (id)")\n'
        "        time.sleep(120)"
    )
    slow = textwrap.dedent(SLOW).replace("{wait}", wait)
    project.write("migrations/versions/r2_slow.py", slow)

    started = tmp_path / "started"
    proc = start_upgrade(project, started)
    wait_for(started, proc)
    # The index is built after the file appears: wait for it before interrupting.
    deadline = time.monotonic() + 60
    while "ix_slow_id" not in index_names(project) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, out + err
    message = " ".join(err.split())
    assert f"Interrupted during revision {REV2} (migrations/versions/r2_slow.py, line " in message
    assert f"The database is at {REV1}." in message
    assert "rolled back" not in message
    assert "of the interrupted revision had" in message
    table = "`slow`" if backend == "mariadb" else "slow"  # quoted there: a keyword
    assert f"stayed: CREATE TABLE {table} (" in message
    assert f"; CREATE INDEX {concurrently}ix_slow_id ON slow (id). Undo them by hand" in message
    assert project.version() == [REV1]
    assert "slow" in project.tables()


def index_names(project: Project) -> set[str]:
    from sqlalchemy import inspect

    engine = project.engine()
    try:
        inspector = inspect(engine)
        if "slow" not in inspector.get_table_names():
            return set()
        return {str(index["name"]) for index in inspector.get_indexes("slow")}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_kill_9_frees_the_postgresql_lock_within_seconds(
    project: Project, backend: str, tmp_path: Path
) -> None:
    """A killed process cannot cancel its statement; client_connection_check_interval makes
    the server notice the dead client, end the statement and free the advisory lock."""
    version = project.query("SHOW server_version_num")[0][0]
    if int(version) < 140000:
        pytest.skip("client_connection_check_interval needs PostgreSQL 14")
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_accounts.py", textwrap.dedent(FIRST))
    slow = textwrap.dedent(SLOW).replace("{wait}", 'op.execute("SELECT pg_sleep(30)")')
    project.write("migrations/versions/r2_slow.py", slow)

    started = tmp_path / "started"
    proc = start_upgrade(project, started)
    wait_for(started, proc)
    deadline = time.monotonic() + 30
    while not active_sleeps(project) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert active_sleeps(project) == 1  # the revision's pg_sleep(30) runs, holding the lock
    proc.kill()
    proc.communicate(timeout=30)

    # Without the check the orphaned session would sleep on, holding the lock, for 30 s.
    rerun = project.run_cli("upgrade", "--lock-timeout", "15")
    assert rerun.exit_code == 0, rerun
    assert project.version() == [REV2]
    assert active_sleeps(project) == 0
