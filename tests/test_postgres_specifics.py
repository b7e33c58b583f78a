"""PostgreSQL only: schemas, the version table in another schema, and named enum types."""

from __future__ import annotations

import json

import pytest
from conftest import Project
from sqlalchemy import inspect

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

MOOD = """
    class Mood(enum.Enum):
        happy = "happy"
        sad = "sad"
    """

PEOPLE_WITH_MOOD = (
    MOOD
    + """
    class Person(Base):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(primary_key=True)
        mood: Mapped[Mood] = mapped_column(sa.Enum(Mood, name="mood"))
    """
)


def enum_types(project: Project) -> set[str]:
    rows = project.query("SELECT typname FROM pg_type WHERE typtype = 'e'")
    return {row[0] for row in rows}


def revision_text(project: Project, slug: str) -> str:
    (path,) = (p for p in project.revision_files() if p.name.endswith(f"_{slug}.py"))
    return path.read_text()


def migrate_and_upgrade(project: Project, message: str) -> None:
    migrated = project.run("migrate", "-m", message)
    assert migrated.exit_code == 0, migrated
    upgraded = project.run("upgrade")
    assert upgraded.exit_code == 0, upgraded


def test_include_schemas_creates_a_table_in_a_second_schema(project: Project) -> None:
    project.query("CREATE SCHEMA reporting")
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)


        class Report(Base):
            __tablename__ = "reports"
            __table_args__ = {"schema": "reporting"}
            id: Mapped[int] = mapped_column(primary_key=True)
            user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
        """
    )
    project.config("[configure]\ninclude_schemas = true\n")
    assert project.run("init").exit_code == 0
    migrate_and_upgrade(project, "reports")
    assert "schema='reporting'" in revision_text(project, "reports")

    engine = project.engine()
    try:
        assert inspect(engine).get_table_names(schema="reporting") == ["reports"]
        assert set(inspect(engine).get_table_names()) == {"users", "alembic_version"}
    finally:
        engine.dispose()
    check = project.run("check")
    assert check.exit_code == 0, check


def test_version_table_schema_keeps_alembic_version_in_its_schema(project: Project) -> None:
    project.query("CREATE SCHEMA meta")
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
        """
    )
    project.config('[configure]\nversion_table_schema = "meta"\n')
    assert project.run("init").exit_code == 0
    migrate_and_upgrade(project, "users")
    (head,) = (p.name.split("_")[0] for p in project.revision_files())

    assert project.tables() == {"users"}
    assert project.query("SELECT version_num FROM meta.alembic_version") == [(head,)]
    current = project.run("current")
    assert current.exit_code == 0, current
    assert f"{head} (head)" in current.stdout
    assert project.run("check").exit_code == 0

    assert project.run("downgrade", "base").exit_code == 0
    assert project.tables() == set()
    assert project.query("SELECT version_num FROM meta.alembic_version") == []


def test_enum_type_of_a_new_table_survives_a_round_trip(project: Project) -> None:
    project.models(PEOPLE_WITH_MOOD)
    project.config()
    assert project.run("init").exit_code == 0
    migrate_and_upgrade(project, "people")
    assert "DROP TYPE IF EXISTS mood" in revision_text(project, "people")
    assert enum_types(project) == {"mood"}
    project.query("INSERT INTO people (id, mood) VALUES (1, 'happy')")

    downgraded = project.run("downgrade", "base")
    assert downgraded.exit_code == 0, downgraded
    assert project.tables() == {"alembic_version"}
    assert enum_types(project) == set()

    again = project.run("upgrade")
    assert again.exit_code == 0, again  # Alembic alone: type "mood" already exists
    assert enum_types(project) == {"mood"}
    assert project.run("check").exit_code == 0


def test_enum_column_added_to_an_existing_table_survives_a_round_trip(project: Project) -> None:
    project.models(
        """
        class Person(Base):
            __tablename__ = "people"
            id: Mapped[int] = mapped_column(primary_key=True)
        """
    )
    project.config()
    assert project.run("init").exit_code == 0
    migrate_and_upgrade(project, "people")
    project.query("INSERT INTO people (id) VALUES (1)")

    project.models(
        MOOD
        + """
    class Person(Base):
        __tablename__ = "people"
        id: Mapped[int] = mapped_column(primary_key=True)
        mood: Mapped[Mood | None] = mapped_column(sa.Enum(Mood, name="mood"))
    """
    )
    # Alembic alone: type "mood" does not exist (add_column creates no type).
    migrate_and_upgrade(project, "mood")
    assert enum_types(project) == {"mood"}
    project.query("UPDATE people SET mood = 'sad' WHERE id = 1")

    assert project.run("downgrade").exit_code == 0
    assert enum_types(project) == set()
    assert "mood" not in project.columns("people")
    again = project.run("upgrade")
    assert again.exit_code == 0, again
    assert project.query("SELECT id, mood FROM people") == [(1, None)]
    assert project.run("check").exit_code == 0


def test_enum_type_shared_by_tables_across_revisions(project: Project) -> None:
    project.models(PEOPLE_WITH_MOOD)
    project.config()
    assert project.run("init").exit_code == 0
    migrate_and_upgrade(project, "people")

    # A second table reuses the type the first revision created.
    pets = """
    class Pet(Base):
        __tablename__ = "pets"
        id: Mapped[int] = mapped_column(primary_key=True)
        mood: Mapped[Mood] = mapped_column(sa.Enum(Mood, name="mood"))
    """
    project.models(PEOPLE_WITH_MOOD + pets)
    migrate_and_upgrade(project, "pets")  # Alembic alone: type "mood" already exists
    assert "create_type=False" in revision_text(project, "pets")
    assert project.run("downgrade").exit_code == 0
    assert enum_types(project) == {"mood"}  # people still uses it
    assert project.run("upgrade").exit_code == 0

    # Dropping a table keeps the type; its downgrade re-creates the table, not the type.
    project.models(PEOPLE_WITH_MOOD)
    migrate_and_upgrade(project, "drop_pets")
    assert project.tables() == {"people", "alembic_version"}
    assert project.run("downgrade").exit_code == 0
    assert "pets" in project.tables()

    downgraded = project.run("downgrade", "base")
    assert downgraded.exit_code == 0, downgraded
    assert enum_types(project) == set()
    assert project.run("upgrade").exit_code == 0
    assert project.tables() == {"people", "alembic_version"}


def test_users_process_revision_directives_still_runs(project: Project) -> None:
    project.write(
        "hooks.py",
        """
        import json
        import pathlib


        def record(context, revision, directives):
            seen = [
                getattr(op, "sqltext", type(op).__name__)
                for script in directives
                for op in script.downgrade_ops.ops
            ]
            pathlib.Path("hook_saw.json").write_text(json.dumps(seen))
            for script in directives:
                script.message = "renamed by the hook"
        """,
    )
    project.models(PEOPLE_WITH_MOOD)
    project.config('[configure]\nprocess_revision_directives = "hooks:record"\n')
    assert project.run("init").exit_code == 0
    migrate_and_upgrade(project, "people")

    seen = json.loads((project.path / "hook_saw.json").read_text())
    assert seen == ["DropTableOp", "DROP TYPE IF EXISTS mood"]
    (script,) = project.revision_files()
    assert script.read_text().startswith('"""renamed by the hook')
    assert project.run("downgrade", "base").exit_code == 0
    assert project.run("upgrade").exit_code == 0
