"""migratectl lint: risky operations read from the revision files, without a database.

Revision files are written by hand with `revision_file`: its header is 11 lines, so the first
line of the ``upgrade()`` body is line 12 of the file, and the expected line numbers below are
counted from there.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import Project, Result

HEADER_LINES = 11  # the body's first line is line 12


def revision_file(rev: str, down: str | None, body: str) -> str:
    header = (
        f'"""{rev}"""\n'
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        "\n"
        f"revision = {rev!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        "\n"
        "\n"
        "def upgrade():\n"
    )
    assert header.count("\n") == HEADER_LINES
    return (
        header
        + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
        + "\n\n\ndef downgrade():\n    op.drop_table('not_read')\n"
    )


@pytest.fixture
def repo(sqlite_project: Project) -> Project:
    """An initialised repository whose database file must never be created by lint."""
    sqlite_project.config(models=None)
    assert sqlite_project.run("init").exit_code == 0
    return sqlite_project


def shown(result: Result) -> list[str]:
    """The finding lines without their messages: ``path:line: RULE name REV target``, and
    `` (allowed)`` for an acknowledged one."""
    lines = []
    for line in result.stdout.splitlines():
        where, _, message = line.partition(" — ")
        lines.append(where + (" (allowed)" if message.endswith(" (allowed)") else ""))
    return lines


def add_revision(project: Project, rev: str, down: str | None, body: str) -> Path:
    return project.write(f"migrations/versions/{rev}.py", revision_file(rev, down, body))


def brief(stdout: str) -> list[str]:
    """Each finding's line without its message: ``path:line: RULE name REV target``."""
    return [
        line.split(" — ")[0] + (" (allowed)" if line.endswith(" (allowed)") else "")
        for line in stdout.splitlines()
    ]


def test_each_operation_is_reported_with_its_line(repo: Project) -> None:
    add_revision(
        repo,
        "a1",
        None,
        """
        op.drop_table("legacy")
        op.drop_column("users", "age")
        op.alter_column("users", "name", existing_type=sa.String(50), type_=sa.String(20))
        op.alter_column("users", "email", existing_nullable=True, nullable=False)
        op.add_column("users", sa.Column("score", sa.Integer(), nullable=False))
        op.rename_table("orders", "purchases")
        op.alter_column("users", "nick", new_column_name="handle")
        """,
    )
    result = repo.run("lint")
    assert result.exit_code == 1, result
    path = "migrations/versions/a1.py"
    assert brief(result.stdout) == [
        f"{path}:12: MC101 drop-table a1 legacy",
        f"{path}:13: MC102 drop-column a1 users.age",
        f"{path}:14: MC301 narrowing-type a1 users.name",
        f"{path}:15: MC402 set-not-null a1 users.email",
        f"{path}:16: MC401 add-required-column a1 users.score",
        f"{path}:17: MC201 rename-table a1 orders",
        f"{path}:18: MC202 rename-column a1 users.nick",
    ]
    assert "7 of 7 finding(s) in 1 revision(s) not acknowledged" in result.stderr
    assert not (repo.path / "app.db").exists()  # no database was opened, not even created


def test_json_document(repo: Project) -> None:
    add_revision(
        repo,
        "a1",
        None,
        """
        # migratectl: allow drop_column
        op.drop_column("users", "age")
        op.drop_table("legacy")
        """,
    )
    result = repo.run("lint", "--json")
    assert result.exit_code == 1, result
    path = "migrations/versions/a1.py"
    assert json.loads(result.stdout) == {
        "findings": [
            {
                "rule": "MC102",
                "name": "drop-column",
                "revision": "a1",
                "path": path,
                "line": 13,
                "operation": "drop_column",
                "table": "users",
                "column": "age",
                "message": "Drops column users.age and its values.",
                "acknowledged": True,
            },
            {
                "rule": "MC101",
                "name": "drop-table",
                "revision": "a1",
                "path": path,
                "line": 14,
                "operation": "drop_table",
                "table": "legacy",
                "column": None,
                "message": "Drops table legacy and every row in it.",
                "acknowledged": False,
            },
        ]
    }


def test_batch_operations_take_the_table_of_the_with(repo: Project) -> None:
    add_revision(
        repo,
        "a1",
        None,
        """
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.drop_column("age")
            batch_op.alter_column(
                "name",
                existing_type=sa.VARCHAR(length=50),
                type_=sa.String(length=20),
            )
        op.drop_column("orders", "note")
        """,
    )
    result = repo.run("lint")
    assert brief(result.stdout) == [
        "migrations/versions/a1.py:13: MC102 drop-column a1 users.age",
        "migrations/versions/a1.py:14: MC301 narrowing-type a1 users.name",
        "migrations/versions/a1.py:19: MC102 drop-column a1 orders.note",
    ]


def test_acknowledged_on_the_line_or_the_comment_lines_above(repo: Project) -> None:
    add_revision(
        repo,
        "a1",
        None,
        """
        op.drop_table("legacy")  # migratectl: allow drop_table
        # migratectl: allow drop_column
        op.drop_column("users", "age")
        # migratectl: allow rename
        # a second comment line keeps the block together
        op.rename_table("orders", "purchases")
        op.alter_column("users", "nick", new_column_name="handle",  # migratectl: allow rename
                        existing_type=sa.String(50))
        """,
    )
    result = repo.run("lint")
    assert result.exit_code == 0, result
    assert brief(result.stdout) == [
        "migrations/versions/a1.py:12: MC101 drop-table a1 legacy (allowed)",
        "migrations/versions/a1.py:14: MC102 drop-column a1 users.age (allowed)",
        "migrations/versions/a1.py:17: MC201 rename-table a1 orders (allowed)",
        "migrations/versions/a1.py:18: MC202 rename-column a1 users.nick (allowed)",
    ]
    assert "4 finding(s), all acknowledged, in 1 revision(s)." in result.stderr


def test_an_allow_comment_names_its_operations(repo: Project) -> None:
    add_revision(
        repo,
        "a1",
        None,
        """
        # migratectl: allow drop_table
        op.drop_column("users", "age")
        op.drop_table("legacy")  # migratectl: allow drop_table, drop_column
        op.drop_column("users", "email")
        """,
    )
    result = repo.run("lint")
    assert result.exit_code == 1, result
    # Wrong name above; the trailing comment of line 14 is not a comment line above line 15.
    assert brief(result.stdout) == [
        "migrations/versions/a1.py:13: MC102 drop-column a1 users.age",
        "migrations/versions/a1.py:14: MC101 drop-table a1 legacy (allowed)",
        "migrations/versions/a1.py:15: MC102 drop-column a1 users.email",
    ]


@pytest.mark.parametrize(
    ("existing", "new", "narrows"),
    [
        ("sa.String(50)", "sa.String(20)", True),
        ("sa.String(20)", "sa.String(length=50)", False),
        ("sa.VARCHAR(length=50)", "sa.Text()", False),
        ("sa.Text()", "sa.String(255)", True),
        ("sa.Integer()", "sa.BigInteger()", False),
        ("sa.BigInteger()", "sa.Integer()", True),
        ("sa.SmallInteger()", "sa.Integer()", False),
        ("sa.Numeric(10, 2)", "sa.Numeric(12, 2)", False),
        ("sa.Numeric(10, 2)", "sa.Numeric(10, 4)", True),  # fewer digits before the point
        ("sa.Numeric(10, 4)", "sa.Numeric(12, 2)", True),  # fewer after it
        ("sa.Integer()", "sa.Numeric(12, 0)", False),
        ("sa.Integer()", "sa.String(5)", True),
        ("sa.Integer()", "sa.String(11)", False),
        ("sa.String(10)", "sa.Integer()", True),
        ("sa.DateTime()", "sa.Date()", True),
        ("sa.Date()", "sa.DateTime()", False),
        ("sa.Enum('a', 'b', name='e')", "sa.Enum('a', name='e')", True),
        ("sa.Enum('a', name='e')", "sa.Enum('a', 'b', name='e')", False),
        ("mysql.MEDIUMTEXT()", "sa.Text()", True),
        ("sa.Float()", "sa.Numeric(10, 2)", True),
        ("MyType()", "OtherType()", True),  # unknown types: nothing proves the values fit
        ("sa.String(20)", "sa.String(20)", False),
    ],
)
def test_type_changes_that_narrow(repo: Project, existing: str, new: str, narrows: bool) -> None:
    add_revision(
        repo, "a1", None, f'op.alter_column("t", "c", existing_type={existing}, type_={new})'
    )
    result = repo.run("lint")
    expected = ["migrations/versions/a1.py:12: MC301 narrowing-type a1 t.c"] if narrows else []
    assert brief(result.stdout) == expected
    assert result.exit_code == (1 if narrows else 0), result


def test_a_type_change_without_existing_type_is_reported(repo: Project) -> None:
    add_revision(repo, "a1", None, 'op.alter_column("t", "c", type_=sa.String(100))')
    result = repo.run("lint")
    assert brief(result.stdout) == ["migrations/versions/a1.py:12: MC301 narrowing-type a1 t.c"]


def test_not_null_needs_a_server_default_on_an_existing_table(repo: Project) -> None:
    add_revision(
        repo,
        "a1",
        None,
        """
        op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True))
        op.add_column("fresh", sa.Column("x", sa.Integer(), nullable=False))
        op.add_column("users", sa.Column("x", sa.Integer(), nullable=False, server_default="0"))
        op.add_column("users", sa.Column("y", sa.Integer(), nullable=True))
        op.add_column("users", sa.Column("z", sa.Integer(), nullable=False))
        op.alter_column("users", "a", nullable=False, server_default="x")
        op.alter_column("users", "b", nullable=False, existing_nullable=False)
        op.alter_column("users", "c", nullable=False, existing_type=sa.Integer())
        """,
    )
    result = repo.run("lint")
    # a server_default does not fill the NULLs already there, and nothing says that "a" or
    # "c" was NOT NULL before: both are flagged
    assert brief(result.stdout) == [
        "migrations/versions/a1.py:16: MC401 add-required-column a1 users.z",
        "migrations/versions/a1.py:17: MC402 set-not-null a1 users.a",
        "migrations/versions/a1.py:19: MC402 set-not-null a1 users.c",
    ]


def test_upgrade_only_and_the_range(repo: Project) -> None:
    add_revision(repo, "a1", None, 'op.drop_table("one")')
    add_revision(repo, "b2", "a1", 'op.drop_table("two")')
    add_revision(repo, "c3", "b2", 'op.create_table("three", sa.Column("id", sa.Integer()))')

    everything = repo.run("lint")
    assert brief(everything.stdout) == [  # oldest first; downgrade() is not read
        "migrations/versions/a1.py:12: MC101 drop-table a1 one",
        "migrations/versions/b2.py:12: MC101 drop-table b2 two",
    ]
    assert "in 3 revision(s)" in everything.stderr

    from_b2 = repo.run("lint", "b2:")
    assert brief(from_b2.stdout) == ["migrations/versions/b2.py:12: MC101 drop-table b2 two"]
    only_a1 = repo.run("lint", "base:a1")
    assert brief(only_a1.stdout) == ["migrations/versions/a1.py:12: MC101 drop-table a1 one"]
    just_c3 = repo.run("lint", "c3")
    assert (just_c3.exit_code, just_c3.stdout) == (0, "")
    assert "No findings in 1 revision(s)." in just_c3.stderr


def test_range_errors(repo: Project) -> None:
    add_revision(repo, "a1", None, 'op.drop_table("one")')
    unknown = repo.run("lint", "zz:")
    assert unknown.exit_code == 2, unknown
    assert "Unknown revision 'zz'" in unknown.stderr
    current = repo.run("lint", "current:")
    assert current.exit_code == 2, current
    assert "names 'current', which lint cannot know: it reads no database" in current.stderr


def test_an_unparsable_revision_exits_2_naming_file_and_line(repo: Project) -> None:
    path = add_revision(repo, "a1", None, 'op.drop_table("one")')
    path.write_text(path.read_text().replace("def downgrade():", "def downgrade(:"))
    result = repo.run("lint")
    assert result.exit_code == 2, result
    assert "migrations/versions/a1.py" in result.stderr
    assert "line 15" in result.stderr
    assert "Traceback" not in result.output


def test_multidb_upgrade_functions_and_op_alias(repo: Project) -> None:
    repo.write(
        "migrations/versions/a1.py",
        '''\
        """a1"""
        from alembic import op as alembic_op

        revision = "a1"
        down_revision = None


        def upgrade(engine_name=""):
            globals()[f"upgrade_{engine_name}"]()


        def upgrade_():
            alembic_op.drop_table("main_table")


        def upgrade_users():
            alembic_op.drop_column("accounts", "email")
        ''',
    )
    result = repo.run("lint")
    assert brief(result.stdout) == [
        "migrations/versions/a1.py:13: MC101 drop-table a1 main_table",
        "migrations/versions/a1.py:17: MC102 drop-column a1 accounts.email",
    ]


def test_lint_needs_no_database_url(sqlite_project: Project) -> None:
    sqlite_project.write("migratectl.toml", 'directory = "migrations"\n')
    assert sqlite_project.run("init").exit_code == 0
    add_revision(sqlite_project, "a1", None, 'op.drop_column("users", "age")')
    result = sqlite_project.run_cli("lint")
    assert result.exit_code == 1, result
    assert result.stdout == (
        "migrations/versions/a1.py:12: MC102 drop-column a1 users.age — Drops column users.age "
        "and its values.\n"
    )


def test_installed_command_json_and_exit_code(repo: Project) -> None:
    add_revision(repo, "a1", None, 'op.drop_table("legacy")  # migratectl: allow drop_table')
    result = repo.run_cli("lint", "--json")
    assert result.exit_code == 0, result
    [finding] = json.loads(result.stdout)["findings"]
    assert finding["acknowledged"] is True
    assert (finding["line"], finding["operation"], finding["table"]) == (12, "drop_table", "legacy")
