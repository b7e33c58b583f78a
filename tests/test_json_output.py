"""--json: one document on stdout with SPEC §3's fields; a URL's password never shown."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, Result, fresh_database
from sqlalchemy.engine import make_url

USERS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""
REVISION_KEYS = {"revision", "down_revisions", "message", "branch_labels", "is_head", "path"}
PASSWORD = "s3cret"


def run_json(project: Project, *args: str, exit_code: int = 0) -> Any:
    """Run a command with --json; stdout must be exactly one JSON document."""
    result = project.run(*args, "--json")
    assert result.exit_code == exit_code, result
    return json.loads(result.stdout)


def revision_file(project: Project, rev: str, down: str | None, labels: str | None = None) -> Path:
    path = project.path / "migrations" / "versions" / f"{rev}_file.py"
    path.write_text(
        textwrap.dedent(
            f'''\
            """{rev} message"""
            revision = {rev!r}
            down_revision = {down!r}
            branch_labels = {labels!r}
            depends_on = None


            def upgrade():
                pass


            def downgrade():
                pass
            '''
        )
    )
    return path


@pytest.fixture
def repo(sqlite_project: Project) -> Project:
    """r1 <- r2 (head), r1 <- side (head, labelled "lib"): a branch point at r1."""
    sqlite_project.models(USERS)
    sqlite_project.config()
    assert sqlite_project.run("init").exit_code == 0
    revision_file(sqlite_project, "r1", None)
    revision_file(sqlite_project, "r2", "r1")
    revision_file(sqlite_project, "side", "r1", "lib")
    return sqlite_project


def test_current_json(repo: Project) -> None:
    before = run_json(repo, "current")
    assert before == {
        "database": repo.database_url,
        "current": [],
        "heads": ["r2", "side"],
        "up_to_date": False,
    }
    assert repo.run("upgrade", "heads").exit_code == 0
    after = run_json(repo, "current")
    assert sorted(after["current"]) == ["r2", "side"]
    assert after["up_to_date"] is True
    # --check-heads keeps stdout a document and still fails when behind.
    assert repo.run("downgrade", "side@-1").exit_code == 0
    behind = run_json(repo, "current", "--check-heads", exit_code=1)
    assert behind["current"] == ["r2"]
    assert behind["up_to_date"] is False
    # The branch the database lacks is pending, though it is not above r2.
    check = run_json(repo, "check", exit_code=1)
    assert check == {"up_to_date": False, "operations": [], "pending": ["side"]}


def test_heads_json(repo: Project) -> None:
    document = run_json(repo, "heads")
    assert set(document) == {"revisions"}
    heads = {r["revision"]: r for r in document["revisions"]}
    assert set(heads) == {"r2", "side"}
    for revision in heads.values():
        assert set(revision) == REVISION_KEYS
    assert heads["r2"] == {
        "revision": "r2",
        "down_revisions": ["r1"],
        "message": "r2 message",
        "branch_labels": [],
        "is_head": True,
        "path": str(repo.path / "migrations" / "versions" / "r2_file.py"),
    }
    assert heads["side"]["branch_labels"] == ["lib"]


def test_history_json(repo: Project) -> None:
    document = run_json(repo, "history")
    revisions = document["revisions"]
    assert all(set(r) == REVISION_KEYS for r in revisions)
    assert sorted(r["revision"] for r in revisions) == ["r1", "r2", "side"]
    assert revisions[-1]["revision"] == "r1"  # newest first, base last
    assert revisions[-1]["down_revisions"] == []
    assert revisions[-1]["is_head"] is False

    ranged = run_json(repo, "history", "-r", "r1:r2")
    assert [r["revision"] for r in ranged["revisions"]] == ["r2", "r1"]


def test_show_json(repo: Project) -> None:
    document = run_json(repo, "show", "r1")
    assert document == {
        "revision": "r1",
        "down_revisions": [],
        "message": "r1 message",
        "branch_labels": [],
        "is_head": False,
        "path": str(repo.path / "migrations" / "versions" / "r1_file.py"),
    }
    assert run_json(repo, "show", "lib@head")["revision"] == "side"


def test_branches_json(repo: Project) -> None:
    document = run_json(repo, "branches")
    assert [r["revision"] for r in document["revisions"]] == ["r1"]
    assert set(document["revisions"][0]) == REVISION_KEYS


def test_check_json(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(USERS)
    project.config()
    assert project.run("init").exit_code == 0

    changes = run_json(project, "check", exit_code=1)
    assert changes == {"up_to_date": False, "operations": ["add_table users"], "pending": []}
    assert project.run("migrate", "-m", "initial", "--rev-id", "aaa").exit_code == 0
    pending = run_json(project, "check", exit_code=1)
    assert pending == {"up_to_date": False, "operations": [], "pending": ["aaa"]}
    assert project.run("upgrade").exit_code == 0
    assert run_json(project, "check") == {"up_to_date": True, "operations": [], "pending": []}


def test_status_json(repo: Project) -> None:
    document = run_json(repo, "status")
    assert set(document) == {"database", "current", "heads", "pending"}
    assert document["database"] == repo.database_url
    assert document["current"] == []
    assert sorted(document["heads"]) == ["r2", "side"]
    pending = document["pending"]
    assert all(set(r) == REVISION_KEYS for r in pending)
    assert pending[0]["revision"] == "r1"  # oldest first: the order upgrade applies them
    assert sorted(r["revision"] for r in pending) == ["r1", "r2", "side"]

    assert repo.run("upgrade", "r2").exit_code == 0
    after = run_json(repo, "status")
    assert after["current"] == ["r2"]
    assert [r["revision"] for r in after["pending"]] == ["side"]


# --------------------------------------------------------------------------- passwords


@pytest.fixture
def secret_project(tmp_path: Path) -> Iterator[Project]:
    """A project on a fresh PostgreSQL database, reached with a password in its URL.

    The test server trusts local logins, so any password is accepted.
    """
    databases = fresh_database("postgresql", tmp_path)
    url = make_url(next(databases)).set(password=PASSWORD)
    folder = tmp_path / "project"
    folder.mkdir()
    yield Project(folder, url.render_as_string(hide_password=False))
    next(databases, None)  # drops the database


def test_password_is_masked_everywhere(secret_project: Project) -> None:
    project = secret_project
    project.models(USERS)
    project.config()
    masked = project.database_url.replace(f":{PASSWORD}@", ":***@")
    assert masked != project.database_url
    outputs: list[Result] = []

    def run(*args: str, exit_code: int = 0) -> Result:
        result = project.run(*args)
        assert result.exit_code == exit_code, result
        outputs.append(result)
        return result

    run("init")
    run("check", exit_code=1)
    run("migrate", "-m", "initial", "--rev-id", "aaa")
    run("upgrade", "--sql")
    run("upgrade", "-v")
    run("current", "-v")
    run("status", "--sql")
    run("history", "-i", "-v")
    run("upgrade", "nope", exit_code=2)
    run("--database-url", project.database_url, "downgrade", "-v", "--sql", "aaa:base")

    for command in ("current", "status"):
        document = json.loads(run(command, "--json").stdout)
        assert document["database"] == masked
    for command in ("heads", "history", "show", "branches", "check"):
        json.loads(run(command, "--json").stdout)

    # A server that cannot be reached: the error names the URL, masked.
    unreachable = make_url(project.database_url).set(port=1)
    failed = run(
        "--database-url",
        unreachable.render_as_string(hide_password=False),
        "current",
        "-v",
        exit_code=3,
    )
    assert ":***@127.0.0.1:1/" in failed.stderr

    for result in outputs:
        assert PASSWORD not in result.stdout, result
        assert PASSWORD not in result.stderr, result
    assert any(masked in result.output for result in outputs)
