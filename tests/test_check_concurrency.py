"""`check` beside other migratectl processes: it never makes a concurrent `upgrade` fail, and
its read-ahead thread never races the models import."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project, migratectl_command
from test_concurrency import cli_env, make_project

MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("settings", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("name", sa.String(50), nullable=False))
sa.Table("accounts", metadata, sa.Column("id", sa.Integer, primary_key=True))
"""
# models.py announces that its import started, then waits (bounded) for the test's go-ahead.
BLOCKING_MODELS = (
    MODELS
    + """
import time
from pathlib import Path

Path("importing").touch()
for _ in range(600):
    if Path("go").exists():
        break
    time.sleep(0.05)
"""
)

# An include_object hook that does the same the first time the comparison asks it.
BLOCKING_HOOK = """
import time
from pathlib import Path


def include_object(obj, name, type_, reflected, compare_to):
    if not Path("comparing").exists():
        Path("comparing").touch()
        for _ in range(600):
            if Path("go").exists():
                break
            time.sleep(0.05)
    return True
"""


def wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def start_check(project: Project) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [migratectl_command(), "check"],
        cwd=project.path,
        env=cli_env(project),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


NOTES_REVISION = '''
"""create notes"""
import sqlalchemy as sa
from alembic import op

revision = "c0ffee000004"
down_revision = "c0ffee000003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("notes")
'''


@pytest.mark.parametrize("phase", ["importing", "comparing"])
def test_sqlite_upgrade_succeeds_while_check_runs(tmp_path: Path, phase: str) -> None:
    """A check held up in its models import, or in its comparison, while an upgrade runs."""
    folder = tmp_path / "project"
    project = make_project(folder, f"sqlite:///{folder / 'app.db'}")
    if phase == "importing":
        project.config(models="models")
        project.write("models.py", BLOCKING_MODELS)
    else:
        project.config('[configure]\ninclude_object = "hooks:include_object"\n', models="models")
        project.write("models.py", MODELS)
        project.write("hooks.py", BLOCKING_HOOK)
    assert project.run_cli("upgrade").exit_code == 0  # at head: check compares
    check = start_check(project)
    try:
        wait_for(folder / phase, check)
        project.write("migrations/versions/r4_create_notes.py", NOTES_REVISION)
        upgraded = project.run_cli("upgrade", timeout=60)
    finally:
        (folder / "go").touch()
        check_out, check_err = check.communicate(timeout=60)
    assert upgraded.exit_code == 0, upgraded
    assert "database is locked" not in upgraded.output
    assert "notes" in project.tables()
    assert project.version() == ["c0ffee000004"]
    assert "database is locked" not in check_out + check_err
    assert "Traceback" not in check_err


# --------------------------------------------------------------------------- read-ahead thread

MODEL_MODULES = 30
STRESS_RUNS = 24  # per backend
AT_ONCE = 4
DELAYS = [0.0, 0.001, 0.003, 0.010]  # seconds each way, one proxy each

# Runs the migratectl command line, then prints the modules a thread other than the main one
# imported (first import of a module only: a later `import` is a dictionary look-up).
RECORDING_RUNNER = """
import sys, threading

off_main = []


class Recorder:
    def find_spec(self, name, path=None, target=None):
        if threading.current_thread() is not threading.main_thread():
            off_main.append(name)


sys.meta_path.insert(0, Recorder())
sys.argv = ["migratectl", *sys.argv[1:]]
from migratectl.__main__ import main

try:
    main()
finally:
    guard = sys.modules.get("migratectl.import_guard")
    refused = guard.refused if guard else []
    print(f"imported off the main thread: {off_main + refused}", file=sys.stderr)
"""


def model_package(project: Project) -> None:
    """An application package: one module per model, as large projects have them."""
    project.write("app/__init__.py", "")
    project.write(
        "app/base.py",
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n",
    )
    for i in range(MODEL_MODULES):
        project.write(
            f"app/model_{i}.py",
            f"""
            import sqlalchemy as sa
            from sqlalchemy.orm import Mapped, mapped_column, relationship

            from app.base import Base


            class Model{i}(Base):
                __tablename__ = "model_{i}"
                id: Mapped[int] = mapped_column(primary_key=True)
                name: Mapped[str] = mapped_column(sa.String(40), index=True)
                note: Mapped[str | None] = mapped_column(sa.Text, server_default="none")
            """,
        )
    imports = "".join(f"from app.model_{i} import Model{i}  # noqa: F401\n" for i in range(30))
    project.write("app/models.py", "from app.base import Base  # noqa: F401\n" + imports)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_check_read_ahead_never_races_the_models_import(
    tmp_path: Path, backend: str, database_url: str
) -> None:
    """Many `check` processes through proxies of varied latency: every one agrees, none
    crashes, and the read-ahead thread imports nothing."""
    from sqlalchemy.engine import make_url
    from tcp_proxy import TcpProxy

    project = Project(tmp_path / "project", database_url)
    project.path.mkdir()
    model_package(project)
    project.config(models="app.models")
    assert project.run("init").exit_code == 0
    assert project.run_cli("migrate", "-m", "initial").exit_code == 0
    assert project.run_cli("upgrade").exit_code == 0
    url = make_url(database_url)
    proxies = [
        TcpProxy(url.host or "127.0.0.1", url.port or 0, delay=delay, jitter=delay, seed=i).start()
        for i, delay in enumerate(DELAYS)
    ]
    failures: list[str] = []
    try:
        urls = [
            url.set(host="127.0.0.1", port=p.port).render_as_string(hide_password=False)
            for p in proxies
        ]
        for start in range(0, STRESS_RUNS, AT_ONCE):
            batch = []
            for run in range(start, start + AT_ONCE):
                env = {**cli_env(project), "MIGRATECTL_DATABASE_URL": urls[run % len(urls)]}
                batch.append(
                    subprocess.Popen(
                        [migratectl_command(), "check"],
                        cwd=project.path,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            for proc in batch:
                out, err = proc.communicate(timeout=180)
                if proc.returncode != 0 or "Unexpected" in out + err:
                    failures.append(f"exit {proc.returncode}: {out}{err}")
        recorded = subprocess.run(
            [sys.executable, "-c", RECORDING_RUNNER, "check"],
            cwd=project.path,
            env={**cli_env(project), "MIGRATECTL_DATABASE_URL": urls[-1]},
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        for proxy in proxies:
            proxy.close()
    print(f"{backend}: {STRESS_RUNS} checks through proxies, {len(failures)} failures")
    assert failures == [], "\n".join(failures)
    assert recorded.returncode == 0, recorded
    assert "No changes" in recorded.stdout + recorded.stderr
    assert "imported off the main thread: []" in recorded.stderr, recorded.stderr
