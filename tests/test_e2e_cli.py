"""Through the installed ``migratectl`` command, as a user runs it: flow, streams, errors."""

from __future__ import annotations

import re

from conftest import Project, Result

USERS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""
ANSI = re.compile(r"\x1b\[")


def one_paragraph_error(result: Result, exit_code: int) -> str:
    """The error is one short paragraph on stderr: no traceback, nothing on stdout."""
    assert result.exit_code == exit_code, result
    assert result.stdout == "", result
    assert "Traceback" not in result.stderr, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("Error: "), result
    return lines[0]


def test_flask_migrate_flow(project: Project) -> None:
    project.models(USERS)
    project.config()

    init = project.run_cli("init")
    assert init.exit_code == 0, init
    assert init.stdout == ""  # progress only
    assert "Created migrations/env.py" in init.stderr

    changes = project.run_cli("check")
    assert changes.exit_code == 1, changes
    assert "add_table users" in changes.stdout

    migrate = project.run_cli("migrate", "-m", "initial")
    assert migrate.exit_code == 0, migrate
    [revision] = project.revision_files()
    assert migrate.stdout.strip() == f"Generated migrations/versions/{revision.name}"
    rev_id = revision.name.split("_")[0]

    pending = project.run_cli("check")
    assert pending.exit_code == 1, pending
    assert rev_id in pending.stdout

    upgrade = project.run_cli("upgrade")
    assert upgrade.exit_code == 0, upgrade
    assert upgrade.stdout == ""
    assert f"-> {rev_id}, initial" in upgrade.stderr

    in_sync = project.run_cli("check")
    assert in_sync.exit_code == 0, in_sync
    current = project.run_cli("current")
    assert current.stdout == f"{rev_id} (head)\n"

    project.query("INSERT INTO users (id, name) VALUES (1, 'ada')")
    assert project.query("SELECT id, name FROM users") == [(1, "ada")]
    for result in (init, changes, migrate, pending, upgrade, in_sync, current):
        assert not ANSI.search(result.output), result  # not a terminal: no colour codes


def test_quiet_keeps_results_and_drops_progress(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(USERS)
    project.config()
    assert project.run_cli("-q", "init").stderr == ""
    migrate = project.run_cli("migrate", "-q", "-m", "initial")
    assert migrate.exit_code == 0, migrate
    assert migrate.stderr == ""
    assert migrate.stdout.startswith("Generated ")
    upgrade = project.run_cli("upgrade", "--quiet")
    assert (upgrade.exit_code, upgrade.stdout, upgrade.stderr) == (0, "", "")


def test_upgrade_sql_goes_to_stdout_alone(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(USERS)
    project.config()
    assert project.run_cli("init").exit_code == 0
    assert project.run_cli("migrate", "-m", "initial").exit_code == 0

    sql = project.run_cli("upgrade", "--sql")
    assert sql.exit_code == 0, sql
    assert "CREATE TABLE alembic_version" in sql.stdout
    assert "CREATE TABLE users" in sql.stdout
    assert "INSERT INTO alembic_version" in sql.stdout
    assert "Upgrade" not in sql.stdout  # progress stays on stderr
    assert not (project.path / "app.db").exists()


def test_errors_are_one_paragraph(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config()

    no_repo = one_paragraph_error(project.run_cli("upgrade"), 2)
    assert "No migration repository at migrations" in no_repo
    assert "migratectl init" in no_repo

    assert project.run_cli("init").exit_code == 0
    broken = project.write(
        "migrations/versions/aaa_broken.py",
        'revision = "aaa"\ndown_revision = None\n\ndef upgrade(:\n    pass\n',
    )
    syntax = one_paragraph_error(project.run_cli("upgrade"), 2)
    assert "Cannot load migrations/versions/aaa_broken.py, line 4" in syntax
    assert one_paragraph_error(project.run_cli("history"), 2) == syntax
    broken.write_text('revision = "aaa"\ndown_revision = None\nNOT_DEFINED\n')
    name_error = one_paragraph_error(project.run_cli("upgrade"), 2)
    assert "Cannot load migrations/versions/aaa_broken.py, line 3" in name_error
    assert "NameError: name 'NOT_DEFINED' is not defined" in name_error
    assert project.tables() == set()  # nothing ran, no version table either
    broken.unlink()

    unreachable = "postgresql+psycopg://app:pw@127.0.0.1:1/app"
    connect = one_paragraph_error(project.run_cli("--database-url", unreachable, "current"), 3)
    assert "postgresql+psycopg://app:***@127.0.0.1:1/app" in connect
    assert ":pw@" not in connect

    bad_url = one_paragraph_error(project.run_cli("--database-url", "not a url", "current"), 2)
    assert "not a valid SQLAlchemy URL" in bad_url

    bad_config = project.write("migratectl.toml", "database_urll = 'sqlite:///x.db'\n")
    typo = one_paragraph_error(project.run_cli("current"), 2)
    assert "database_urll" in typo
    assert str(bad_config) in typo
    assert "database_url" in typo.replace("database_urll", "")


def test_verbose_shows_the_traceback(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(USERS)
    project.config()
    assert project.run_cli("init").exit_code == 0
    project.write("models.py", 'raise RuntimeError("broken models")\n')

    quiet = project.run_cli("migrate", "-m", "x")
    line = one_paragraph_error(quiet, 2)
    assert "RuntimeError: broken models" in line

    verbose = project.run_cli("migrate", "-m", "x", "-v")
    assert verbose.exit_code == 2, verbose
    assert "Traceback" in verbose.stderr
    assert verbose.stderr.rstrip().splitlines()[-1].startswith("Error: ")


def test_bad_flag_is_a_usage_error(sqlite_project: Project) -> None:
    result = sqlite_project.run_cli("upgrade", "--no-such-flag")
    assert result.exit_code == 2, result
    assert "No such option" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
