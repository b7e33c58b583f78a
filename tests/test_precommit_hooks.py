"""``.pre-commit-hooks.yaml`` at the repository root: the hooks a project takes straight from
this repository. Each hook's entry is run as pre-commit runs it (split like a shell line, no
file names, in the project's folder) on projects that pass and fail; with pre-commit
installed, ``pre-commit try-repo`` runs them from a clean hook environment too."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import Project, Result
from lint_support import add_revision, lint_project

ROOT = Path(__file__).resolve().parent.parent
HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"


def hooks() -> dict[str, dict[str, object]]:
    return {str(hook["id"]): hook for hook in yaml.safe_load(HOOKS_FILE.read_text())}


def run_hook(project: Project, hook_id: str) -> Result:
    """The hook's entry as pre-commit runs a ``language: python`` hook: its words, with the
    environment's bin folder (here, this interpreter's) first on PATH."""
    words = shlex.split(str(hooks()[hook_id]["entry"]))
    bin_folder = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_folder + os.pathsep + os.environ.get("PATH", "")}
    for name in ("MIGRATECTL_DATABASE_URL", "DATABASE_URL", "MIGRATECTL_CONFIG"):
        env.pop(name, None)
    proc = subprocess.run(
        words, cwd=project.path, env=env, capture_output=True, text=True, timeout=120
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_the_hooks_file_publishes_both_hooks() -> None:
    found = hooks()
    assert set(found) == {"migratectl-lint", "migratectl-check-heads"}
    for hook in found.values():
        assert hook["language"] == "python"  # pre-commit installs this repository for it
        assert hook["pass_filenames"] is False
        assert {"name", "description", "entry"} <= set(hook)
    assert found["migratectl-lint"]["entry"] == "migratectl lint"
    for hook_id in found:
        files = re.compile(str(found[hook_id]["files"]))
        assert files.search("migrations/versions/ae1027a6acf_add_users.py")
        assert files.search("services/api/db/versions/2024_01_02_ae10.py")
        assert not files.search("app/models.py")
        assert not files.search("migrations/env.py")
    assert re.search(str(found["migratectl-lint"]["files"]), "migratectl.toml")


def test_lint_hook_fails_on_an_open_finding_and_passes_once_acknowledged(
    sqlite_project: Project,
) -> None:
    project = lint_project(sqlite_project)
    add_revision(project, "a1", None, 'op.drop_column("users", "age")')

    flagged = run_hook(project, "migratectl-lint")
    assert flagged.exit_code == 1, flagged
    assert "MC102 drop-column a1 users.age" in flagged.stdout

    add_revision(
        project, "a1", None, 'op.drop_column("users", "age")  # migratectl: allow drop_column'
    )
    clean = run_hook(project, "migratectl-lint")
    assert clean.exit_code == 0, clean
    assert "1 finding(s), all acknowledged, in 1 revision(s)." in clean.stderr


def test_lint_hook_needs_no_application_installed(sqlite_project: Project) -> None:
    """A Flask-Migrate history whose revisions import the application: the hook's environment
    has migratectl only, and lint imports no revision file."""
    project = lint_project(sqlite_project)
    relative = add_revision(project, "a1", None, 'op.drop_column("users", "age")')
    path = project.path / relative
    path.write_text(
        path.read_text().replace(
            "import sqlalchemy as sa\n", "import sqlalchemy as sa\nfrom myapp.models import thing\n"
        )
    )

    result = run_hook(project, "migratectl-lint")
    assert result.exit_code == 1, result
    assert "MC102 drop-column a1 users.age" in result.stdout
    assert "myapp" not in result.stderr


def test_check_heads_hook_fails_on_two_heads_and_passes_on_one(sqlite_project: Project) -> None:
    project = lint_project(sqlite_project)
    empty = run_hook(project, "migratectl-check-heads")
    assert empty.exit_code == 0, empty  # no revision yet: nothing to merge

    add_revision(project, "a1", None, 'op.create_table("t", sa.Column("id", sa.Integer()))')
    add_revision(project, "b2", "a1", 'op.add_column("t", sa.Column("x", sa.Integer()))')
    one = run_hook(project, "migratectl-check-heads")
    assert one.exit_code == 0, one

    add_revision(project, "c3", "a1", 'op.add_column("t", sa.Column("y", sa.Integer()))')
    two = run_hook(project, "migratectl-check-heads")
    assert two.exit_code == 1, two
    assert re.fullmatch(
        r"The migration history has 2 heads: (b2, c3|c3, b2)\. Merge them with "
        r'`migratectl merge heads -m "merge heads"`, or point the newer revision \(its '
        r"down_revision\) at the other head\.",
        two.stderr.strip(),
    ), two

    assert project.run("merge", "heads", "-m", "merge", "--rev-id", "d4").exit_code == 0
    merged = run_hook(project, "migratectl-check-heads")
    assert merged.exit_code == 0, merged


def test_check_heads_hook_keeps_the_exit_code_of_an_error(sqlite_project: Project) -> None:
    project = lint_project(sqlite_project, 'directory = "migrations"\nlock_timeuot = 3\n')

    result = run_hook(project, "migratectl-check-heads")

    assert result.exit_code == 2, result
    assert 'Unknown key "lock_timeuot"' in result.stderr
    assert "Traceback" not in result.stderr


def _git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def test_pre_commit_try_repo_runs_both_hooks(sqlite_project: Project, tmp_path: Path) -> None:
    """pre-commit itself installs this repository in a fresh environment and runs the hooks."""
    pytest.importorskip("pre_commit", reason="pre-commit is not installed")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = lint_project(sqlite_project)
    add_revision(project, "a1", None, 'op.create_table("t", sa.Column("id", sa.Integer()))')
    add_revision(project, "b2", "a1", 'op.drop_column("t", "id")')
    add_revision(project, "c3", "a1", 'op.add_column("t", sa.Column("y", sa.Integer()))')
    _git(project.path, "init", "-q")
    _git(project.path, "add", "-A")
    _git(project.path, "commit", "-qm", "revisions")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MIGRATECTL_", "DATABASE_"))},
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "--all-files"],
            cwd=project.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    failing = try_repo()
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert re.search(r"migratectl lint\.+Failed", failing.stdout), failing.stdout
    assert re.search(r"migratectl single head\.+Failed", failing.stdout), failing.stdout
    assert "MC102 drop-column b2 t.id" in failing.stdout
    assert "The migration history has 2 heads" in failing.stdout

    add_revision(project, "b2", "a1", 'op.drop_column("t", "id")  # migratectl: allow drop_column')
    (project.path / "migrations" / "versions" / "c3_change.py").unlink()
    _git(project.path, "add", "-A")
    _git(project.path, "commit", "-qm", "one head, the drop acknowledged")
    passing = try_repo()
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert re.search(r"migratectl lint\.+Passed", passing.stdout), passing.stdout
    assert re.search(r"migratectl single head\.+Passed", passing.stdout), passing.stdout


def test_both_hooks_run_where_the_database_url_variable_is_not_set(
    sqlite_project: Project,
) -> None:
    """A developer's machine or a CI job without the database's variable: neither hook needs
    the URL (lint reads only its dialect), so neither fails for want of it."""
    project = lint_project(sqlite_project, 'database_url = "${APP_DATABASE_URL}"\n')
    add_revision(project, "a1", None, 'op.drop_column("users", "age")')
    add_revision(project, "b2", "a1", 'op.add_column("t", sa.Column("y", sa.Integer()))')

    lint = run_hook(project, "migratectl-lint")
    assert lint.exit_code == 1, lint
    assert "MC102 drop-column a1 users.age" in lint.stdout
    assert "no database dialect is known" in lint.stderr
    heads = run_hook(project, "migratectl-check-heads")
    assert heads.exit_code == 0, heads

    # A command that needs the database still says which variable is missing.
    for needs_the_database in (["current"], ["history", "-i"], ["history", "-r", "a1:current"]):
        result = project.run(*needs_the_database)
        assert result.exit_code == 2, (needs_the_database, result)
        assert "uses the environment variable APP_DATABASE_URL, which is not set" in result.stderr
    assert project.run("history").exit_code == 0
