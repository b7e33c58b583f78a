"""Ctrl-C during `migratectl upgrade`: exit 130, the running revision rolled back where the
database allows, the version table untouched, the migration lock released."""

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


@pytest.mark.parametrize(
    ("backend", "wait"),
    [
        ("sqlite", "time.sleep"),
        ("postgresql", "time.sleep"),
        ("postgresql", "pg_sleep"),
        ("mariadb", "time.sleep"),
    ],
)
def test_ctrl_c_rolls_back_the_running_revision(
    project: Project, backend: str, wait: str, tmp_path: Path
) -> None:
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_accounts.py", textwrap.dedent(FIRST))
    slow = textwrap.dedent(SLOW).replace("{wait}", WAITS[wait])
    project.write("migrations/versions/r2_slow.py", slow)

    started = tmp_path / "started"
    proc = start_upgrade(project, started)
    wait_for(started, proc)
    interrupted_at = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, out + err
    assert time.monotonic() - interrupted_at < 30  # it stopped; it did not finish the sleep
    assert "Traceback" not in out + err
    message = " ".join(err.split())
    assert f"Interrupted during revision {REV2} (migrations/versions/r2_slow.py, line " in message
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

    # The lock was released: another run takes it at once and completes the upgrade.
    if backend == "mariadb":
        project.query("DROP TABLE IF EXISTS slow")
    rerun = project.run_cli("upgrade", "--lock-timeout", "5")
    assert rerun.exit_code == 0, rerun
    assert "Waiting for the migration lock" not in rerun.stderr
    assert project.version() == [REV2]
    assert "slow" in project.tables()


def test_ctrl_c_during_check_claims_nothing_and_writes_nothing(
    project: Project, tmp_path: Path
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
    started = tmp_path / "started"
    proc = start_upgrade(project, started, "check")
    wait_for(started, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert err.strip() == "Error: Interrupted.", err
    assert out == ""
    assert project.tables() == set()
