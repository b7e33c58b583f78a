"""``status``: revision, heads and pending revisions; ``--sql``; ``--json``; always exit 0."""

from __future__ import annotations

import json

from conftest import Project
from test_verify import CREATE_USERS, initialised, write_revision

CREATE_POSTS = 'op.create_table("posts", sa.Column("id", sa.Integer(), primary_key=True))'


def two_revisions(project: Project) -> None:
    initialised(project)
    write_revision(project, "r1", None, CREATE_USERS, 'op.drop_table("users")', "create users")
    write_revision(project, "r2", "r1", CREATE_POSTS, 'op.drop_table("posts")', "create posts")


def status_json(project: Project, *args: str) -> dict[str, object]:
    result = project.run("status", "--json", *args)
    assert result.exit_code == 0, result
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_pending_revisions_at_base_then_none_at_head(project: Project) -> None:
    two_revisions(project)

    result = project.run("status")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == [
        f"Database: {project.database_url}",
        "Current:  base (no revision)",
        "Heads:    r2",
        "Pending:  2 revision(s)",
        "  r1  create users",
        "  r2  create posts",
    ]

    assert project.run("upgrade", "r1").exit_code == 0
    result = project.run("status")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[1:] == [
        "Current:  r1",
        "Heads:    r2",
        "Pending:  1 revision(s)",
        "  r2  create posts",
    ]

    assert project.run("upgrade").exit_code == 0
    result = project.run("status")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[1:] == [
        "Current:  r2",
        "Heads:    r2",
        "Pending:  none (up to date)",
    ]


def test_json(project: Project) -> None:
    two_revisions(project)
    document = status_json(project)
    assert set(document) == {"database", "current", "heads", "pending"}
    assert document["database"] == project.database_url
    assert document["current"] == []
    assert document["heads"] == ["r2"]
    pending = document["pending"]
    assert isinstance(pending, list)
    assert [(r["revision"], r["down_revisions"], r["message"]) for r in pending] == [
        ("r1", [], "create users"),
        ("r2", ["r1"], "create posts"),
    ]
    assert set(pending[0]) == {
        "revision",
        "down_revisions",
        "message",
        "branch_labels",
        "is_head",
        "path",
    }
    assert [r["is_head"] for r in pending] == [False, True]
    assert pending[1]["path"] == str(project.path / "migrations" / "versions" / "r2.py")

    assert project.run("upgrade").exit_code == 0
    document = status_json(project)
    assert (document["current"], document["pending"]) == (["r2"], [])


def test_sql_shows_what_upgrade_would_run_and_runs_nothing(project: Project) -> None:
    two_revisions(project)

    result = project.run("status", "--sql")
    assert result.exit_code == 0, result
    assert result.stderr == ""  # no "Upgrade r1 -> r2" lines: nothing was upgraded
    sql = result.stdout.lower()
    assert "create table users" in sql and "create table posts" in sql
    assert "create table alembic_version" in sql
    assert project.tables() == set()

    assert project.run("upgrade", "r1").exit_code == 0
    result = project.run("status", "--sql")
    assert result.exit_code == 0, result
    sql = result.stdout.lower()
    assert "create table posts" in sql
    assert "create table users" not in sql and "create table alembic_version" not in sql
    assert project.tables() == {"alembic_version", "users"}
    assert project.version() == ["r1"]

    document = status_json(project, "--sql")
    assert "create table posts" in str(document["sql"]).lower()

    assert project.run("upgrade").exit_code == 0
    result = project.run("status", "--sql")
    assert result.exit_code == 0, result
    assert "Pending:  none (up to date)" in result.stdout
    assert "create table" not in result.stdout.lower()


def test_a_missing_sqlite_file_is_not_created(sqlite_project: Project) -> None:
    two_revisions(sqlite_project)
    for args in ((), ("--sql",), ("--json",)):
        result = sqlite_project.run("status", *args)
        assert result.exit_code == 0, result
    assert sorted(p.name for p in sqlite_project.path.iterdir()) == [
        "migratectl.toml",
        "migrations",
        "models.py",
    ]


def test_an_unreachable_server_exits_3_without_the_password(sqlite_project: Project) -> None:
    two_revisions(sqlite_project)
    url = "postgresql+psycopg://app:hunter2-secret@127.0.0.1:1/app"
    for args in ((), ("--json",), ("--sql",)):
        result = sqlite_project.run("status", "--database-url", url, *args)
        assert result.exit_code == 3, result
        assert "hunter2-secret" not in result.output
        assert "app:***@127.0.0.1:1/app" in result.stderr
        if "--json" in args:  # one JSON document on stdout, failures too
            error = json.loads(result.stdout)["error"]
            assert error["exit_code"] == 3 and "app:***@127.0.0.1:1/app" in error["message"]
        else:
            assert result.stdout == ""
