"""Behaviour that depends on the database, on SQLite, PostgreSQL and MariaDB alike.

Type changes, ALTERs of populated tables (batch "move and copy" on SQLite), stamp, downgrade to
base, merges, ``check``, ``-x`` and what a failing revision leaves behind.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from conftest import Project


def users_model(length: int = 50) -> str:
    return f"""
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String({length}))
        """


def write_revision(
    project: Project,
    rev_id: str,
    *,
    upgrade: str,
    downgrade: str = "pass",
    args: tuple[str, ...] = (),
) -> Path:
    """``migratectl revision --rev-id REV_ID`` with the given bodies for upgrade/downgrade."""
    result = project.run("revision", "-m", rev_id, "--rev-id", rev_id, *args)
    assert result.exit_code == 0, result
    (path,) = (project.path / "migrations" / "versions").glob(f"{rev_id}_*.py")
    text = path.read_text()
    for name, body in (("upgrade", upgrade), ("downgrade", downgrade)):
        stub = f"def {name}() -> None:\n    pass\n"
        assert stub in text
        text = text.replace(stub, f"def {name}() -> None:\n{_indent(body)}\n")
    path.write_text("from alembic import context\n" + text)
    return path


def _indent(body: str) -> str:
    return textwrap.indent(textwrap.dedent(body).strip(), "    ")


def create_table(name: str) -> str:
    return f'op.create_table("{name}", sa.Column("id", sa.Integer, primary_key=True))'


def test_widened_string_is_detected_then_upgraded(project: Project) -> None:
    project.models(users_model(50))
    project.config()
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "initial").exit_code == 0
    assert project.run("upgrade").exit_code == 0
    project.query("INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')")

    project.models(users_model(100))
    check = project.run("check")
    assert check.exit_code == 1, check
    assert re.search(r"modify_type users\.name: VARCHAR\(50\) -> VARCHAR\(100\)", check.stdout)

    migrated = project.run("migrate", "-m", "widen name")
    assert migrated.exit_code == 0, migrated
    (script,) = (p.read_text() for p in project.revision_files() if "widen_name" in p.name)
    assert "type_=sa.String(length=100)" in script
    assert re.search(r"existing_type=(sa|mysql)\.VARCHAR\(length=50\)", script)

    assert project.run("upgrade").exit_code == 0
    assert project.columns("users")["name"]["type"].length == 100
    project.query("INSERT INTO users (id, name) VALUES (3, :name)", name="x" * 100)
    assert project.query("SELECT id, name FROM users ORDER BY id") == [
        (1, "ada"),
        (2, "grace"),
        (3, "x" * 100),
    ]
    assert project.run("check").exit_code == 0


def test_altering_a_populated_table_keeps_its_rows_both_ways(project: Project) -> None:
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(20))
        """
    )
    project.config()
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "initial").exit_code == 0
    assert project.run("upgrade").exit_code == 0
    project.query("INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')")
    assert project.columns("users")["name"]["nullable"] is False

    # Widen a column, make it nullable, add a NOT NULL column with a server default.
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str | None] = mapped_column(sa.String(80))
            status: Mapped[str] = mapped_column(sa.String(10), server_default="new")
        """
    )
    migrated = project.run("migrate", "-m", "alter users")
    assert migrated.exit_code == 0, migrated
    upgraded = project.run("upgrade")
    assert upgraded.exit_code == 0, upgraded

    columns = project.columns("users")
    assert columns["name"]["nullable"] is True
    assert columns["name"]["type"].length == 80
    assert columns["status"]["nullable"] is False
    assert project.query("SELECT id, name, status FROM users ORDER BY id") == [
        (1, "ada", "new"),
        (2, "grace", "new"),
    ]
    project.query("INSERT INTO users (id, name) VALUES (3, NULL)")
    assert project.query("SELECT status FROM users WHERE id = 3") == [("new",)]
    assert project.run("check").exit_code == 0
    project.query("DELETE FROM users WHERE id = 3")  # NOT NULL comes back on downgrade

    downgraded = project.run("downgrade")
    assert downgraded.exit_code == 0, downgraded
    columns = project.columns("users")
    assert "status" not in columns
    assert columns["name"]["nullable"] is False
    assert columns["name"]["type"].length == 20
    assert project.query("SELECT id, name FROM users ORDER BY id") == [(1, "ada"), (2, "grace")]
    assert len(project.version()) == 1


def test_stamp_puts_an_existing_schema_under_migrations(project: Project) -> None:
    project.models(users_model())
    project.config()
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "initial").exit_code == 0
    (script,) = project.revision_files()
    head = script.name.split("_")[0]
    # The schema already exists, made without migrations (e.g. by metadata.create_all()).
    project.query(
        "CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, PRIMARY KEY (id))"
    )
    project.query("INSERT INTO users (id, name) VALUES (1, 'ada')")

    stamped = project.run("stamp", "head")
    assert stamped.exit_code == 0, stamped
    assert project.version() == [head]
    current = project.run("current")
    assert current.exit_code == 0
    assert f"{head} (head)" in current.stdout
    assert project.run("check").exit_code == 0
    assert project.run("upgrade").exit_code == 0  # nothing to do: no CREATE TABLE again
    assert project.query("SELECT id, name FROM users") == [(1, "ada")]

    assert project.run("stamp", "base").exit_code == 0
    assert project.version() == []
    assert project.tables() == {"users", "alembic_version"}


def test_downgrade_to_base_leaves_only_the_version_table(project: Project) -> None:
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            email: Mapped[str] = mapped_column(sa.String(100), unique=True)


        class Post(Base):
            __tablename__ = "posts"
            id: Mapped[int] = mapped_column(primary_key=True)
            user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
        """
    )
    project.config()
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "initial").exit_code == 0
    assert project.run("upgrade").exit_code == 0
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            email: Mapped[str] = mapped_column(sa.String(100), unique=True)


        class Post(Base):
            __tablename__ = "posts"
            id: Mapped[int] = mapped_column(primary_key=True)
            user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
            title: Mapped[str | None] = mapped_column(sa.String(200))


        class Tag(Base):
            __tablename__ = "tags"
            id: Mapped[int] = mapped_column(primary_key=True)
        """
    )
    assert project.run("migrate", "-m", "more").exit_code == 0
    assert project.run("upgrade").exit_code == 0
    assert project.tables() == {"users", "posts", "tags", "alembic_version"}
    project.query("INSERT INTO users (id, email) VALUES (1, 'ada@example.com')")
    project.query("INSERT INTO posts (id, user_id, title) VALUES (1, 1, 'hello')")

    downgraded = project.run("downgrade", "base")
    assert downgraded.exit_code == 0, downgraded
    assert project.tables() == {"alembic_version"}
    assert project.version() == []
    assert project.run("upgrade").exit_code == 0  # and the way back up still works
    assert project.tables() == {"users", "posts", "tags", "alembic_version"}


def test_merge_of_two_branches_then_upgrade_heads(project: Project) -> None:
    project.config(models=None)
    assert project.run("init").exit_code == 0
    write_revision(
        project, "a1", upgrade=create_table("base_t"), downgrade='op.drop_table("base_t")'
    )
    assert project.run("upgrade").exit_code == 0
    write_revision(project, "b1", upgrade=create_table("t1"), downgrade='op.drop_table("t1")')
    write_revision(
        project,
        "b2",
        upgrade=create_table("t2"),
        downgrade='op.drop_table("t2")',
        args=("--head", "a1", "--splice"),
    )
    heads = project.run("heads", "--json")
    assert sorted(r["revision"] for r in json.loads(heads.stdout)["revisions"]) == ["b1", "b2"]

    ambiguous = project.run("upgrade")
    assert ambiguous.exit_code == 2, ambiguous
    assert "more than one head" in ambiguous.stderr
    assert project.version() == ["a1"]

    assert project.run("upgrade", "heads").exit_code == 0
    assert project.version() == ["b1", "b2"]
    assert {"t1", "t2"} <= project.tables()

    merged = project.run("merge", "heads", "-m", "join", "--rev-id", "m1")
    assert merged.exit_code == 0, merged
    assert (
        "down_revision: str | Sequence[str] | None = ('b1', 'b2')"
        in next((project.path / "migrations" / "versions").glob("m1_*.py")).read_text()
    )
    upgraded = project.run("upgrade", "heads")
    assert upgraded.exit_code == 0, upgraded
    assert project.version() == ["m1"]
    assert project.run("current", "--check-heads").exit_code == 0

    assert project.run("downgrade", "base").exit_code == 0
    assert project.tables() == {"alembic_version"}


def test_check_compares_without_writing(project: Project) -> None:
    project.models(users_model())
    project.config()
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "initial").exit_code == 0
    head = project.revision_files()[0].name.split("_")[0]

    pending = project.run("check", "--json")
    assert pending.exit_code == 1, pending
    assert json.loads(pending.stdout) == {"up_to_date": False, "operations": [], "pending": [head]}
    assert project.tables() == set()  # not even the version table

    assert project.run("upgrade").exit_code == 0
    clean = project.run("check", "--json")
    assert clean.exit_code == 0, clean
    assert json.loads(clean.stdout) == {"up_to_date": True, "operations": [], "pending": []}

    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(50))
            email: Mapped[str | None] = mapped_column(sa.String(100))
        """
    )
    changed = project.run("check")
    assert changed.exit_code == 1, changed
    assert "add_column users.email" in changed.stdout
    assert "email" not in project.columns("users")
    assert len(project.revision_files()) == 1


def test_x_argument_reaches_the_revision_script(project: Project) -> None:
    project.config(models=None)
    assert project.run("init").exit_code == 0
    write_revision(
        project,
        "t1",
        upgrade="""
            tenant = context.get_x_argument(as_dictionary=True).get("tenant", "none")
            op.create_table(f"tenant_{tenant}", sa.Column("id", sa.Integer, primary_key=True))
            """,
        downgrade="""
            tenant = context.get_x_argument(as_dictionary=True).get("tenant", "none")
            op.drop_table(f"tenant_{tenant}")
            """,
    )
    upgraded = project.run("upgrade", "-x", "tenant=acme")
    assert upgraded.exit_code == 0, upgraded
    assert project.tables() == {"tenant_acme", "alembic_version"}
    downgraded = project.run("-x", "tenant=acme", "downgrade", "base")
    assert downgraded.exit_code == 0, downgraded
    assert project.tables() == {"alembic_version"}


def _failing_history(project: Project, configure: str = "") -> None:
    project.config(configure, models=None)
    assert project.run("init").exit_code == 0
    write_revision(project, "r1", upgrade=create_table("first"), downgrade='op.drop_table("first")')
    write_revision(
        project,
        "r2",
        upgrade=create_table("second") + '\nop.execute("INSERT INTO no_such_table VALUES (1)")',
        downgrade='op.drop_table("second")',
    )


def test_a_failing_revision_leaves_the_ones_before_it_applied(
    project: Project, backend: str
) -> None:
    _failing_history(project)
    failed = project.run("upgrade")
    assert failed.exit_code == 4, failed
    assert "Revision r2" in failed.stderr
    assert "no_such_table" in failed.stderr
    assert project.version() == ["r1"]
    assert "first" in project.tables()
    if backend == "mariadb":
        # DDL cannot roll back: the message says what of r2 stayed.
        assert "second" in project.tables()
        assert "CREATE TABLE second" in failed.stderr
    else:
        assert "second" not in project.tables()
        assert "rolled back" in failed.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_without_transaction_per_migration_a_failure_keeps_nothing(project: Project) -> None:
    _failing_history(project, "[configure]\ntransaction_per_migration = false\n")
    failed = project.run("upgrade")
    assert failed.exit_code == 4, failed
    assert "Revision r2" in failed.stderr
    assert project.version() == []
    assert "first" not in project.tables()
    assert "second" not in project.tables()
