"""Rename detection in migrate: --rename, the prompt on a terminal, the warning elsewhere.

The renames written must keep every row through upgrade and downgrade on every backend
(batch mode on SQLite).
"""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest
from conftest import Project, migratectl_command

USERS = """
class User(Base):
    __tablename__ = "{table}"
    id: Mapped[int] = mapped_column(primary_key=True)
    {name}: Mapped[str] = mapped_column(sa.{name_type}, index={index})
    age: Mapped[int] = mapped_column(sa.Integer)
"""
ROWS = [(1, "ada", 36), (2, "grace", 85)]


def users_model(
    project: Project,
    table: str = "users",
    name: str = "name",
    name_type: str = "String(50)",
    index: bool = True,
) -> None:
    project.models(USERS.format(table=table, name=name, name_type=name_type, index=index))


def at_first_revision(project: Project, index: bool = True) -> None:
    """users(id, name, age) created by a first revision, upgraded, with two rows."""
    users_model(project, index=index)
    project.config()
    assert project.run("init").exit_code == 0
    first = project.run("migrate", "-m", "users")
    assert first.exit_code == 0, first
    assert project.run("upgrade").exit_code == 0
    for row in ROWS:
        project.query(
            "INSERT INTO users (id, name, age) VALUES (:i, :n, :a)", i=row[0], n=row[1], a=row[2]
        )


def newest_revision_file(project: Project) -> Path:
    return max(project.revision_files(), key=lambda p: p.stat().st_mtime_ns)


def newest_revision(project: Project) -> str:
    return newest_revision_file(project).read_text()


def rows(project: Project, table: str, name: str) -> list[tuple[object, ...]]:
    return project.query(f"SELECT id, {name}, age FROM {table} ORDER BY id")


def test_column_rename_keeps_rows_both_ways(project: Project) -> None:
    at_first_revision(project)
    users_model(project, name="full_name")

    result = project.run("migrate", "-m", "rename name", "--rename", "users.name=full_name")
    assert result.exit_code == 0, result
    script = newest_revision(project)
    assert "new_column_name='full_name'" in script
    assert "new_column_name='name'" in script  # the downgrade renames back
    assert "drop_column" not in script and "add_column" not in script
    assert "Warning" not in result.stderr  # a rename drops nothing

    assert project.run("upgrade").exit_code == 0
    assert rows(project, "users", "full_name") == ROWS
    assert set(project.columns("users")) == {"id", "full_name", "age"}
    assert project.run("check").exit_code == 0  # the database matches the models

    assert project.run("downgrade").exit_code == 0
    assert set(project.columns("users")) == {"id", "name", "age"}
    assert rows(project, "users", "name") == ROWS

    assert project.run("upgrade").exit_code == 0
    assert rows(project, "users", "full_name") == ROWS


def test_table_rename_keeps_rows_both_ways(project: Project) -> None:
    at_first_revision(project)
    users_model(project, table="people")

    result = project.run("migrate", "-m", "people", "--rename", "users=people")
    assert result.exit_code == 0, result
    script = newest_revision(project)
    assert "op.rename_table('users', 'people')" in script
    assert "op.rename_table('people', 'users')" in script
    assert "drop_table" not in script and "create_table" not in script

    assert project.run("upgrade").exit_code == 0
    assert "users" not in project.tables()
    assert rows(project, "people", "name") == ROWS
    assert project.run("check").exit_code == 0

    assert project.run("downgrade").exit_code == 0
    assert "people" not in project.tables()
    assert rows(project, "users", "name") == ROWS


def test_the_rename_shares_the_tables_batch_unless_an_index_needs_the_new_name(
    sqlite_project: Project,
) -> None:
    at_first_revision(sqlite_project, index=False)
    sqlite_project.models(
        USERS.format(table="users", name="full_name", name_type="String(50)", index=False).replace(
            "sa.Integer)", "sa.BigInteger)"
        )
    )
    result = sqlite_project.run("migrate", "-m", "r", "--rename", "users.name=full_name")
    assert result.exit_code == 0, result
    script = newest_revision(sqlite_project)
    upgrade = script.split("def downgrade")[0]
    assert upgrade.count("batch_alter_table('users'") == 1  # one copy of the table on SQLite
    assert "new_column_name='full_name'" in upgrade and "type_=sa.BigInteger()" in upgrade
    assert sqlite_project.run("upgrade").exit_code == 0
    assert rows(sqlite_project, "users", "full_name") == ROWS
    assert sqlite_project.run("downgrade").exit_code == 0
    assert rows(sqlite_project, "users", "name") == ROWS

    # With an index on it, the index is built in a second batch, after the rename.
    sqlite_project.models(
        USERS.format(table="users", name="full_name", name_type="String(50)", index=True)
    )
    newest_revision_file(sqlite_project).unlink()
    again = sqlite_project.run("migrate", "-m", "r", "--rename", "users.name=full_name")
    assert again.exit_code == 0, again
    upgrade = newest_revision(sqlite_project).split("def downgrade")[0]
    assert upgrade.count("batch_alter_table('users'") == 2
    assert sqlite_project.run("upgrade").exit_code == 0
    assert rows(sqlite_project, "users", "full_name") == ROWS


def test_a_requested_rename_may_change_the_type_too(project: Project) -> None:
    at_first_revision(project)
    users_model(project, name="full_name", name_type="String(100)")

    result = project.run("migrate", "-m", "wider", "--rename", "users.name=full_name")
    assert result.exit_code == 0, result
    assert "type_=sa.String(length=100)" in newest_revision(project)

    assert project.run("upgrade").exit_code == 0
    assert project.columns("users")["full_name"]["type"].length == 100
    assert rows(project, "users", "full_name") == ROWS
    assert project.run("check").exit_code == 0
    assert project.run("downgrade").exit_code == 0
    assert rows(project, "users", "name") == ROWS


def test_without_a_terminal_it_warns_with_the_flag_and_keeps_drop_and_add(
    sqlite_project: Project,
) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, name="full_name")

    result = sqlite_project.run("migrate", "-m", "rename name")
    assert result.exit_code == 0, result
    assert (
        "Warning: column users.name is dropped and full_name added with the same type "
        "(VARCHAR(50)). If it is a rename, run again with --rename users.name=full_name; as "
        "written, the revision drops the column's values."
    ) in result.stderr
    script = newest_revision(sqlite_project)
    assert "batch_op.drop_column('name')" in script
    assert "new_column_name" not in script


def test_table_candidate_warning(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, table="people")

    result = sqlite_project.run("migrate", "-m", "people")
    assert result.exit_code == 0, result
    assert (
        "Warning: table users is dropped and people created with the same columns (id, name, "
        "age). If it is a rename, run again with --rename users=people"
    ) in result.stderr
    assert "op.drop_table('users')" in newest_revision(sqlite_project)


def test_a_different_type_is_no_candidate(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, name="full_name", name_type="Text")
    result = sqlite_project.run("migrate", "-m", "text")
    assert result.exit_code == 0, result
    assert "--rename" not in result.stderr


def test_a_rename_that_matches_nothing_exits_2_and_writes_nothing(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, name="full_name")

    result = sqlite_project.run("migrate", "-m", "typo", "--rename", "users.nme=full_name")
    assert result.exit_code == 2, result
    assert "--rename users.nme=full_name matches no dropped and added column" in result.stderr
    assert "Rename candidates: --rename users.name=full_name." in result.stderr
    assert len(sqlite_project.revision_files()) == 1

    table = sqlite_project.run("migrate", "--rename", "users=people")
    assert table.exit_code == 2, table
    assert "--rename users=people matches no dropped and added table" in table.stderr
    assert len(sqlite_project.revision_files()) == 1


def test_a_table_rename_must_name_the_new_table(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, table="members")

    result = sqlite_project.run("migrate", "-m", "typo", "--rename", "users=people")
    assert result.exit_code == 2, result
    assert "--rename users=people matches no dropped and added table" in result.stderr
    assert "Rename candidates: --rename users=members." in result.stderr
    assert "Warning" not in result.stderr  # the error alone says what to pass
    assert len(sqlite_project.revision_files()) == 1


@pytest.mark.parametrize("value", ["users", "users.name=", "=x", "users.name=a.b", ".x=y"])
def test_a_malformed_rename_exits_2(sqlite_project: Project, value: str) -> None:
    at_first_revision(sqlite_project)
    result = sqlite_project.run("migrate", "--rename", value)
    assert result.exit_code == 2, result
    assert f"--rename {value!r}" in result.stderr
    assert "TABLE.OLD=NEW" in result.stderr


def test_revision_autogenerate_takes_rename_too(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, name="full_name")

    no_autogenerate = sqlite_project.run("revision", "--rename", "users.name=full_name")
    assert no_autogenerate.exit_code == 2, no_autogenerate
    assert "--rename needs --autogenerate" in no_autogenerate.stderr

    result = sqlite_project.run(
        "revision", "--autogenerate", "-m", "r", "--rename", "users.name=full_name"
    )
    assert result.exit_code == 0, result
    assert "new_column_name='full_name'" in newest_revision(sqlite_project)


def test_the_users_own_revision_hook_still_runs_after_the_rename(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    sqlite_project.write(
        "hooks.py",
        """
        from pathlib import Path


        def record(context, revision, directives):
            names = [
                type(op).__name__
                for script in directives
                for table_ops in script.upgrade_ops.ops
                for op in getattr(table_ops, "ops", [table_ops])
            ]
            Path("seen.txt").write_text(" ".join(names))
        """,
    )
    sqlite_project.config('[configure]\nprocess_revision_directives = "hooks:record"\n')
    users_model(sqlite_project, name="full_name")

    result = sqlite_project.run("migrate", "-m", "r", "--rename", "users.name=full_name")
    assert result.exit_code == 0, result
    seen = (sqlite_project.path / "seen.txt").read_text().split()
    assert "AlterColumnOp" in seen and "DropColumnOp" not in seen


def run_in_terminal(project: Project, *args: str, answers: str) -> subprocess.CompletedProcess[str]:
    """Run the installed command with a pseudo-terminal as stdin, typing ``answers``."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [migratectl_command(), *args],
            cwd=project.path,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        os.write(controller, answers.encode())  # buffered by the terminal until read
        out, err = process.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_on_a_terminal_it_asks_and_yes_writes_the_rename(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, name="full_name")

    result = run_in_terminal(sqlite_project, "migrate", "-m", "asked", answers="y\n")
    assert result.returncode == 0, result
    assert (
        "Was column users.name renamed to full_name (VARCHAR(50))? Answering no drops name "
        "with its values [y/N]:"
    ) in result.stderr
    assert "new_column_name='full_name'" in newest_revision(sqlite_project)
    assert sqlite_project.run("upgrade").exit_code == 0
    assert rows(sqlite_project, "users", "full_name") == ROWS


def test_on_a_terminal_no_keeps_drop_and_add(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, table="people")

    result = run_in_terminal(sqlite_project, "migrate", "-m", "asked", answers="n\n")
    assert result.returncode == 0, result
    assert "Was table users renamed to people" in result.stderr
    assert "run again with --rename" not in result.stderr  # the user has answered
    assert "MC101 drop-table users drops the table and its rows" in result.stderr
    assert "op.drop_table('users')" in newest_revision(sqlite_project)


def test_installed_command_with_rename(sqlite_project: Project, tmp_path: Path) -> None:
    at_first_revision(sqlite_project)
    users_model(sqlite_project, name="full_name")
    result = sqlite_project.run_cli("migrate", "-m", "r", "--rename", "users.name=full_name")
    assert result.exit_code == 0, result
    assert result.stdout.startswith("Generated migrations/versions/")
    assert sqlite_project.run_cli("upgrade").exit_code == 0
    assert rows(sqlite_project, "users", "full_name") == ROWS
