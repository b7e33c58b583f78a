"""`check` beside other migratectl processes: it never makes a concurrent `upgrade` fail, and
its read-ahead thread never races the models import."""

from __future__ import annotations

import subprocess
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
