"""The lock timeout holds when the server stops answering while migratectl waits for the
migration lock, and a dropped connection ends the wait at once; both say which happened.

Real `migratectl upgrade` processes reach the server through tests/tcp_proxy.py, which
freezes or drops their connections while the test process holds the lock.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import migratectl_command
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy
from test_concurrency import WAITING, cli_env, hold_migration_lock, make_project
from test_lock_identity import line_within

OUTCOMES = {
    # server frozen: new connections hang too -> the server is gone (exit 3)
    "frozen": (3, "The database server is gone: it stopped answering while migratectl waited"),
    # only migratectl's session stops answering; the server accepts new connections (exit 5)
    "session frozen": (
        5,
        "The migration lock was not acquired within the lock timeout of 3 s: the database "
        "server stopped answering this session",
    ),
    "dropped": (3, "The connection to the database was lost while waiting for the migration"),
}


@pytest.mark.parametrize("failure", list(OUTCOMES))
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_lock_wait_ends_when_the_server_stops_answering(
    tmp_path: Path, backend: str, database_url: str, failure: str
) -> None:
    project = make_project(tmp_path / "project", database_url)
    url = make_url(database_url)
    with (
        TcpProxy(url.host or "127.0.0.1", url.port or 0) as proxy,
        hold_migration_lock(backend, database_url) as holder,
    ):
        env = cli_env(project)
        env["MIGRATECTL_DATABASE_URL"] = url.set(
            host="127.0.0.1", port=proxy.port
        ).render_as_string(hide_password=False)
        proc = subprocess.Popen(
            [migratectl_command(), "upgrade", "--lock-timeout", "3"],
            cwd=project.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = line_within(proc, 30)
        assert WAITING in line and holder in line, line
        if failure == "frozen":
            proxy.freeze()
        elif failure == "session frozen":
            proxy.freeze(new=False)
        else:
            proxy.drop()
        # bounded: the lock timeout (3 s) plus the connect timeout (10 s), with room to spare
        _, rest = proc.communicate(timeout=60)
    code, message = OUTCOMES[failure]
    assert proc.returncode == code, line + rest
    assert message in rest, rest
    assert "Nothing was changed" in rest
    assert "Traceback" not in rest
    assert project.version() == []
    assert "settings" not in project.tables()
