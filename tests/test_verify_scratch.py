"""``verify --skip`` and the scratch database left as empty as it was found, whatever happened:
a revision that raises, a failed check, Ctrl-C or SIGTERM in the middle of a revision."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project, fresh_database
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool
from test_verify import CREATE_USERS, POSTS, failed, good_history, initialised, write_revision

from migratectl.commands.verify import KNOWN_CHECKS

MOOD = """op.create_table(
        "moods",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("mood", sa.Enum("happy", "sad", name="mood"), nullable=False),
    )
    op.execute(sa.schema.CreateSequence(sa.Sequence("ticket_seq")))
    op.create_index("ix_moods_mood", "moods", ["mood"])"""


@pytest.fixture
def scratch(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database, beside the project's, for --scratch-url."""
    (tmp_path / "scratch").mkdir()
    yield from fresh_database(backend, tmp_path / "scratch")


def leftovers(url: str) -> list[str]:
    """Everything in the database at ``url``: tables, views, PostgreSQL sequences and types."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            found = [f"table {name}" for name in inspector.get_table_names()]
            found += [f"view {name}" for name in inspector.get_view_names()]
            if connection.dialect.name == "postgresql":
                found += [
                    f"{kind} {name}"
                    for kind, name in connection.execute(
                        text(
                            "SELECT 'sequence', c.relname FROM pg_class c JOIN pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE c.relkind = 'S' "
                            "AND n.nspname = 'public' UNION ALL SELECT 'type', t.typname "
                            "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                            "WHERE t.typtype IN ('e', 'd') AND n.nspname = 'public'"
                        )
                    )
                ]
            return sorted(found)
    finally:
        engine.dispose()


def failing_history(project: Project, backend: str, third: str) -> None:
    """r1 users (with a view), r2 moods (PostgreSQL: an enum type and sequences), r3 ``third``."""
    initialised(project, POSTS)
    write_revision(
        project,
        "r1",
        None,
        CREATE_USERS + '\n    op.execute("CREATE VIEW user_names AS SELECT name FROM users")',
        'op.execute("DROP VIEW user_names")\n    op.drop_table("users")',
        "users",
    )
    if backend == "postgresql":
        moods = MOOD
    else:
        moods = 'op.create_table("moods", sa.Column("id", sa.Integer(), primary_key=True))'
    write_revision(project, "r2", "r1", moods, 'op.drop_table("moods")', "moods")
    write_revision(project, "r3", "r2", third, "pass", "third")


def test_a_revision_that_raises_leaves_the_scratch_database_empty_and_a_rerun_runs(
    project: Project, backend: str, scratch: str
) -> None:
    failing_history(
        project,
        backend,
        'op.create_table("half", sa.Column("id", sa.Integer(), primary_key=True))\n'
        '    raise RuntimeError("revision three breaks")',
    )
    for _ in range(2):  # the second run finds the scratch database empty again
        result = project.run("verify", "--json", "--scratch-url", scratch)
        assert result.exit_code == 1, result
        checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
        assert checks["upgrade"]["detail"] == (
            "revision r3 (third): upgrade raised RuntimeError: revision three breaks"
        )
        assert leftovers(scratch) == []
    assert project.tables() == set()


def test_a_failed_check_leaves_the_scratch_database_empty(
    project: Project, backend: str, scratch: str
) -> None:
    failing_history(project, backend, "pass")
    # r2's downgrade forgets what it made: stairway and downgrade_to_base fail, and leave it.
    write_revision(
        project,
        "r2",
        "r1",
        MOOD
        if backend == "postgresql"
        else ('op.create_table("moods", sa.Column("id", sa.Integer(), primary_key=True))'),
        "pass",
        "moods",
    )
    result = project.run("verify", "--json", "--scratch-url", scratch)
    assert result.exit_code == 1, result
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert failed(checks) == ["models_match", "stairway", "downgrade_to_base"], result
    assert leftovers(scratch) == []
    assert project.run("verify", "--scratch-url", scratch).exit_code == 1  # not refused


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupt_in_a_revision_leaves_the_scratch_database_empty(
    project: Project, backend: str, scratch: str, signal_name: str
) -> None:
    failing_history(
        project,
        backend,
        "import os, signal\n"
        '    op.create_table("half", sa.Column("id", sa.Integer(), primary_key=True))\n'
        f"    os.kill(os.getpid(), signal.{signal_name})",
    )
    result = project.run_cli("verify", "--scratch-url", scratch)
    assert result.exit_code == (130 if signal_name == "SIGINT" else 143), result
    assert "Traceback" not in result.output
    assert leftovers(scratch) == []
    assert project.tables() == set()


def test_a_good_run_leaves_the_scratch_database_empty(
    project: Project, backend: str, scratch: str
) -> None:
    initialised(project, POSTS)
    good_history(project)
    assert project.run("verify", "--scratch-url", scratch).exit_code == 0
    assert leftovers(scratch) == []
    assert project.run("verify", "--scratch-url", scratch).exit_code == 0


# --------------------------------------------------------------------------- --skip


def test_skip_leaves_checks_out(sqlite_project: Project) -> None:
    initialised(sqlite_project, POSTS)
    good_history(sqlite_project)
    # r2's downgrade forgets its table: the stairway would fail.
    write_revision(
        sqlite_project,
        "r3",
        "r2",
        'op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))',
    )
    result = sqlite_project.run(
        "verify",
        *("--skip", "stairway", "--skip", "downgrade_to_base", "--skip", "models_match"),
        *("--skip", "data_kept"),
    )
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "ok single_head: one head: r3"
    assert lines[1] == "ok upgrade: 3 revision(s) applied one at a time"
    assert "skip stairway: left out (--skip)" in lines
    assert "skip downgrade_to_base: left out (--skip)" in lines
    assert "skip data_kept: left out (--skip)" in lines

    document = json.loads(sqlite_project.run("verify", "--json", "--skip", "stairway").stdout)
    checks = {check["name"]: check for check in document["checks"]}
    assert checks["stairway"] == {
        "name": "stairway",
        "ok": True,
        "detail": "skipped: left out (--skip)",
    }
    assert document["ok"] is False  # models_match and downgrade_to_base still ran and failed
    assert failed(checks) == ["models_match", "downgrade_to_base"]
    assert checks["downgrade_to_base"]["detail"] == "left behind: table audit"


def test_skip_upgrade_leaves_out_what_needs_it(sqlite_project: Project) -> None:
    initialised(sqlite_project, POSTS)
    good_history(sqlite_project)
    result = sqlite_project.run("verify", "--skip", "upgrade", "--skip", "stairway")
    assert result.exit_code == 1, result
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "ok single_head: one head: r2",
        "skip upgrade: left out (--skip)",
        "skip models_match: needs upgrade",
    ]
    assert "skip stairway: left out (--skip)" in lines


def test_skip_single_head_runs_the_rest_on_two_heads(sqlite_project: Project) -> None:
    initialised(sqlite_project)
    write_revision(sqlite_project, "r1", None, CREATE_USERS, 'op.drop_table("users")')
    write_revision(sqlite_project, "left", "r1")
    write_revision(sqlite_project, "right", "r1")
    result = sqlite_project.run("verify", "--skip", "single_head")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[:2] == [
        "skip single_head: left out (--skip)",
        "ok upgrade: 3 revision(s) applied one at a time",
    ]


@pytest.mark.parametrize(
    ("given", "guess"), [("stariway", "stairway"), ("data-kept", "data_kept"), ("zzz", None)]
)
def test_an_unknown_skip_is_a_usage_error(
    sqlite_project: Project, given: str, guess: str | None
) -> None:
    initialised(sqlite_project, POSTS)
    good_history(sqlite_project)
    result = sqlite_project.run("verify", "--skip", given)
    assert result.exit_code == 2, result
    assert f'verify has no check "{given}".' in result.stderr
    if guess:
        assert f'Did you mean "{guess}"?' in result.stderr
    else:
        assert "Did you mean" not in result.stderr
    assert ", ".join(KNOWN_CHECKS) in " ".join(result.stderr.split())
    assert result.stdout == ""
    assert not (sqlite_project.path / "app.db").exists()


def test_adopt_leaves_its_scratch_database_empty(
    project: Project, backend: str, scratch: str
) -> None:
    initialised(project)
    project.query("CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)")
    adopted = project.run("adopt", "--scratch-url", scratch)
    assert adopted.exit_code == 0, adopted
    assert leftovers(scratch) == []
    assert len(project.revision_files()) == 1
    assert project.tables() == {"users", "alembic_version"}
