"""The connection breaks while a revision runs (a server restart, a failover, a proxy that
ends connections): the command says so, and what state the database is in. Exit 3 when
nothing of the revision had been committed (the server rolls it back), exit 4 with the
statements that stayed when some had (MariaDB's DDL, an autocommit block)."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from conftest import _ISOLATED_ENV, Project, migratectl_command
from drop_proxy import DroppingProxy
from sqlalchemy.engine import make_url

REV1, REV2 = "10c0000000a1", "10c0000000a2"

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

# Does its work, says it has started (a file), then runs a statement that lasts long
# enough for the test to cut the connection under it.
SECOND = f'''
    """work, then a long statement"""
    import os
    import pathlib

    import sqlalchemy as sa
    from alembic import op

    revision = "{REV2}"
    down_revision = "{REV1}"
    branch_labels = None
    depends_on = None


    def upgrade():
        {{work}}
        op.execute("INSERT INTO accounts (id) VALUES (1)")
        started = os.environ.get("REVISION_STARTED")
        if started:
            pathlib.Path(started).touch()
            op.execute("{{sleep}}")


    def downgrade():
        pass
    '''

COMMITTING_WORK = (
    'op.create_table("ledger", sa.Column("id", sa.Integer, primary_key=True))\n'
    "    with op.get_context().autocommit_block():\n"
    '        op.execute("CREATE INDEX {concurrently}ix_ledger_id ON ledger (id)")'
)
SLEEPS = {"postgresql": "SELECT pg_sleep(60)", "mariadb": "SELECT SLEEP(20)"}


def running_sleeps(project: Project, backend: str) -> int:
    database = make_url(project.database_url).database
    if backend == "postgresql":
        sql = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND state = 'active' "
            "AND query LIKE 'SELECT pg_sleep%%'"
        )
    else:
        sql = (
            "SELECT count(*) FROM information_schema.processlist WHERE db = :db "
            "AND info LIKE 'SELECT SLEEP%%'"
        )
    return int(project.query(sql, db=database)[0][0])


def wait_until(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("committed", [False, True], ids=["nothing-committed", "some-committed"])
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_connection_dropped_mid_revision(
    project: Project, backend: str, committed: bool, tmp_path: Path
) -> None:
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_accounts.py", textwrap.dedent(FIRST))
    assert project.run_cli("upgrade").exit_code == 0
    concurrently = "CONCURRENTLY " if backend == "postgresql" else ""
    work = COMMITTING_WORK.replace("{concurrently}", concurrently) if committed else "pass"
    body = textwrap.dedent(SECOND).replace("{work}", work).replace("{sleep}", SLEEPS[backend])
    project.write("migrations/versions/r2_work.py", body)

    url = make_url(project.database_url)
    with DroppingProxy((url.host or "127.0.0.1", url.port or 0)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        project.write("migratectl.toml", f'database_url = "{proxied}"\n')
        started = tmp_path / "started"
        env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
        env.update(NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1", REVISION_STARTED=str(started))
        proc = subprocess.Popen(
            [migratectl_command(), "upgrade"],
            cwd=project.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: running_sleeps(project, backend) or proc.poll() is not None, "sleep")
            assert proc.poll() is None, proc.communicate()
            proxy.drop()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()

    message = " ".join(err.split())
    assert "Traceback" not in out + err
    assert (
        f"The connection to the database was lost during revision {REV2} "
        "(migrations/versions/r2_work.py, line " in message
    )
    assert "Fix the revision" not in message
    assert "Check the server and the network" in message
    assert f"The database is at {REV1}." in message
    assert project.version() == [REV1]
    assert project.query("SELECT id FROM accounts") == []  # the server rolled it back
    if committed:
        assert proc.returncode == 4, out + err
        table = "ledger"
        assert f"stayed: CREATE TABLE {table} (" in message
        assert f"; CREATE INDEX {concurrently}ix_ledger_id ON ledger (id). " in message
        assert (
            "Not committed, so undone by the server: INSERT INTO accounts (id) VALUES (1)."
            in message
        )
        assert "Undo them by hand" in message
        assert "ledger" in project.tables()
    else:
        assert proc.returncode == 3, out + err
        assert (
            "Nothing of the interrupted revision was committed: the server rolls back its "
            "open transaction when it sees the connection gone." in message
        )
        # Nothing to undo: with the server reachable again, the same command completes.
        project.config(models=None)
        rerun = project.run_cli("upgrade", "--lock-timeout", "60")
        assert rerun.exit_code == 0, rerun
        assert project.version() == [REV2]
        assert project.query("SELECT id FROM accounts") == [(1,)]
