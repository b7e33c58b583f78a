"""``adopt``: an existing, populated database comes under migrations; a mismatching one doesn't.

The legacy databases are created with raw SQL, as a project that never used migrations has
them, on every backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import Project, fresh_database
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

MODELS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    email: Mapped[str | None] = mapped_column(sa.String(120))


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
"""

# The key column as each dialect's own CREATE TABLE writes it for an Integer primary key.
ID_COLUMN = {
    "sqlite": "id INTEGER NOT NULL",
    "postgresql": "id SERIAL NOT NULL",
    "mariadb": "id INTEGER NOT NULL AUTO_INCREMENT",
}


def legacy_schema(project: Project, backend: str, *, email: bool = True) -> None:
    """The tables the models describe (without users.email when ``email`` is false), and rows."""
    key = ID_COLUMN[backend]
    email_column = "email VARCHAR(120), " if email else ""
    project.query(
        f"CREATE TABLE users ({key}, name VARCHAR(50) NOT NULL, {email_column}PRIMARY KEY (id))"
    )
    project.query(
        f"CREATE TABLE posts ({key}, user_id INTEGER NOT NULL, title VARCHAR(200) NOT NULL, "
        "PRIMARY KEY (id), FOREIGN KEY (user_id) REFERENCES users (id))"
    )
    project.query("CREATE INDEX ix_posts_user_id ON posts (user_id)")
    project.query("INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')")
    project.query("INSERT INTO posts (id, user_id, title) VALUES (1, 1, 'hello')")


ROWS = {
    "SELECT id, name FROM users ORDER BY id": [(1, "ada"), (2, "grace")],
    "SELECT id, user_id, title FROM posts": [(1, 1, "hello")],
}


def rows_intact(project: Project) -> None:
    for query, expected in ROWS.items():
        assert project.query(query) == expected


def schema(url: str) -> dict[str, Any]:
    """Tables, their columns (type, nullability), indexes and foreign keys, as reflected."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        inspector = inspect(engine)
        found: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            found[table] = {
                "columns": [
                    (c["name"], str(c["type"].compile(engine.dialect)), c["nullable"])
                    for c in inspector.get_columns(table)
                ],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)
                ),
                "foreign_keys": sorted(
                    (tuple(k["constrained_columns"]), k["referred_table"])
                    for k in inspector.get_foreign_keys(table)
                ),
            }
        return found
    finally:
        engine.dispose()


def ready(project: Project) -> Project:
    project.models(MODELS)
    project.config()
    assert project.run("init").exit_code == 0
    return project


def test_adopt_a_populated_database(project: Project, backend: str, tmp_path: Path) -> None:
    ready(project)
    legacy_schema(project, backend)
    legacy = schema(project.database_url)

    result = project.run("adopt")
    assert result.exit_code == 0, result
    [revision_file] = project.revision_files()
    revision = revision_file.name.split("_")[0]
    assert result.stdout.splitlines() == [
        f"Generated {Path('migrations', 'versions', revision_file.name)}",
        f"Stamped {project.database_url} at {revision}: the database is under migrations, "
        "its rows untouched.",
    ]
    assert project.version() == [revision]
    rows_intact(project)
    assert schema(project.database_url) == legacy
    assert "initial" in revision_file.read_text()
    checked = project.run("check")
    assert checked.exit_code == 0, checked

    # The initial revision rebuilds the same schema on a fresh database.
    (tmp_path / "fresh").mkdir()
    fresh = fresh_database(backend, tmp_path / "fresh")
    fresh_url = next(fresh)
    try:
        upgraded = project.run("upgrade", "--database-url", fresh_url)
        assert upgraded.exit_code == 0, upgraded
        assert schema(fresh_url) == legacy
    finally:
        fresh.close()


def test_a_mismatching_database_is_not_adopted(project: Project, backend: str) -> None:
    ready(project)
    legacy_schema(project, backend, email=False)
    project.query("CREATE TABLE audit (id INTEGER NOT NULL, PRIMARY KEY (id))")
    before = schema(project.database_url)

    result = project.run("adopt")
    assert result.exit_code == 1, result
    assert result.stdout.splitlines() == [
        "The database does not match the models:",
        "  remove_table audit",
        "  add_column users.email",
    ]
    assert "Nothing was written: no revision file, no version table." in result.stderr
    assert project.revision_files() == []
    assert "alembic_version" not in project.tables()
    assert schema(project.database_url) == before
    rows_intact(project)


def test_the_message_names_the_revision(sqlite_project: Project) -> None:
    ready(sqlite_project)
    legacy_schema(sqlite_project, "sqlite")
    result = sqlite_project.run("adopt", "-m", "legacy schema")
    assert result.exit_code == 0, result
    [revision_file] = sqlite_project.revision_files()
    assert revision_file.name.endswith("_legacy_schema.py")
    shown = sqlite_project.run("show", "--json")
    assert '"message": "legacy schema"' in shown.stdout


def test_a_database_under_migrations_is_refused(sqlite_project: Project) -> None:
    ready(sqlite_project)
    legacy_schema(sqlite_project, "sqlite")
    assert sqlite_project.run("adopt").exit_code == 0
    [revision_file] = sqlite_project.revision_files()
    revision_file.rename(revision_file.with_name("keep.py.txt"))  # an empty repository again

    result = sqlite_project.run("adopt")
    assert result.exit_code == 2, result
    assert "already under migrations" in result.stderr
    assert "migratectl upgrade" in result.stderr
    assert sqlite_project.revision_files() == []


def test_a_repository_with_revisions_is_refused(sqlite_project: Project) -> None:
    ready(sqlite_project)
    legacy_schema(sqlite_project, "sqlite")
    assert sqlite_project.run("revision", "-m", "first", "--rev-id", "first").exit_code == 0

    result = sqlite_project.run("adopt")
    assert result.exit_code == 2, result
    assert "already has revisions (head: first)" in result.stderr
    assert len(sqlite_project.revision_files()) == 1
    assert "alembic_version" not in sqlite_project.tables()


def test_no_models_is_a_usage_error(sqlite_project: Project) -> None:
    sqlite_project.config(models=None)
    assert sqlite_project.run("init").exit_code == 0
    legacy_schema(sqlite_project, "sqlite")
    result = sqlite_project.run("adopt")
    assert result.exit_code == 2, result
    assert "No models are configured" in result.stderr
    assert sqlite_project.revision_files() == []
    assert "alembic_version" not in sqlite_project.tables()


def test_a_scratch_url_naming_the_configured_database_is_refused(sqlite_project: Project) -> None:
    ready(sqlite_project)
    legacy_schema(sqlite_project, "sqlite")
    result = sqlite_project.run("adopt", "--scratch-url", "sqlite:///app.db")
    assert result.exit_code == 2, result
    assert "is the configured database" in result.stderr
    assert sqlite_project.revision_files() == []
    assert "alembic_version" not in sqlite_project.tables()
    rows_intact(sqlite_project)


def test_an_empty_database_is_pointed_at_migrate(sqlite_project: Project) -> None:
    ready(sqlite_project)
    result = sqlite_project.run_cli("adopt")
    assert result.exit_code == 1, result
    assert result.stdout == ""
    # One hint: not also "make the models describe the database", which contradicts it.
    assert result.stderr.strip() == (
        "Nothing was written: the database has none of the models' tables, so there is "
        'nothing to adopt. A new database needs no adopt: run `migratectl migrate -m "initial"` '
        "and `migratectl upgrade`."
    ), result
    assert sqlite_project.revision_files() == []
    assert not (sqlite_project.path / "app.db").exists()
