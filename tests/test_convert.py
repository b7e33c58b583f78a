"""init --convert: a Flask-Migrate or plain Alembic repository becomes a migratectl one."""

from __future__ import annotations

from pathlib import Path

from conftest import Project, Result

USERS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""

# What `flask db init` leaves behind, cut down: its env.py needs Flask and an app context.
FLASK_ENV_PY = """\
import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

config = context.config
fileConfig(config.config_file_name)
logger = logging.getLogger("alembic.env")
target_db = current_app.extensions["migrate"].db


def run_migrations_online():
    with target_db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_db.metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""

PLAIN_ALEMBIC_ENV_PY = """\
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_online():
    connectable = engine_from_config(
        config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""

ALEMBIC_INI = """\
[alembic]
script_location = migrations

[loggers]
keys = root,sqlalchemy,alembic

[logger_root]
level = WARN
handlers =
qualname =
"""

# Flask-Migrate's script.py.mako: untyped, no `Sequence` import.
FLASK_SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''

INITIAL_REVISION = '''\
"""initial

Revision ID: 1f2e3d4c5b6a
Revises:
Create Date: 2024-01-01 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1f2e3d4c5b6a'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    op.drop_table('users')
'''


def old_repository(project: Path, env_py: str, readme: str) -> Path:
    repo = project / "migrations"
    (repo / "versions").mkdir(parents=True)
    (repo / "env.py").write_text(env_py)
    (repo / "alembic.ini").write_text(ALEMBIC_INI)
    (repo / "script.py.mako").write_text(FLASK_SCRIPT_MAKO)
    (repo / "README").write_text(readme)
    (repo / "versions" / "1f2e3d4c5b6a_initial.py").write_text(INITIAL_REVISION)
    return repo


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result
    assert "Traceback" not in result.output, result
    return result


def test_convert_a_flask_migrate_repository(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(USERS)
    repo = old_repository(project.path, FLASK_ENV_PY, "Single-database configuration for Flask.\n")
    versions_before = snapshot(repo / "versions")
    mako_before = (repo / "script.py.mako").read_bytes()

    result = ok(
        project.run(
            "init", "--convert", "--database-url", project.database_url, "--models", "models"
        )
    )
    assert "env.py.orig" in result.stderr

    assert (repo / "env.py.orig").read_text() == FLASK_ENV_PY
    new_env = (repo / "env.py").read_text()
    assert "flask" not in new_env
    assert "migratectl" in new_env
    assert snapshot(repo / "versions") == versions_before
    assert (repo / "script.py.mako").read_bytes() == mako_before  # the project's own template
    config = (project.path / "migratectl.toml").read_text()
    assert f'database_url = "{project.database_url}"' in config
    assert 'models = "models"' in config

    # The history runs without Flask.
    ok(project.run("upgrade"))
    assert project.version() == ["1f2e3d4c5b6a"]
    assert "users" in project.tables()
    current = ok(project.run("current"))
    assert current.stdout.strip() == "1f2e3d4c5b6a (head)"
    assert ok(project.run("check")).exit_code == 0

    # Autogenerate sees the models, and the new revision follows the old one.
    project.models(USERS + "    email: Mapped[str | None] = mapped_column(sa.String(120))\n")
    ok(project.run("migrate", "-m", "add email", "--rev-id", "2a"))
    added = (repo / "versions" / "2a_add_email.py").read_text()
    assert "down_revision = '1f2e3d4c5b6a'" in added
    assert "sa.Column('email', sa.String(length=120), nullable=True)" in added
    ok(project.run("upgrade"))
    assert "email" in project.columns("users")
    # Existing rows were kept through the batch (move and copy) operation.
    project.query("INSERT INTO users (id, name, email) VALUES (1, 'ada', NULL)")
    ok(project.run("downgrade", "-1"))
    assert project.query("SELECT id, name FROM users") == [(1, "ada")]


def test_convert_a_plain_alembic_repository(project: Project) -> None:
    project.models(USERS)
    project.config()
    repo = old_repository(
        project.path, PLAIN_ALEMBIC_ENV_PY, "Generic single-database configuration.\n"
    )
    versions_before = snapshot(repo / "versions")

    ok(project.run("init", "--convert"))
    assert (repo / "env.py.orig").read_text() == PLAIN_ALEMBIC_ENV_PY
    assert snapshot(repo / "versions") == versions_before
    ok(project.run("upgrade"))
    assert project.version() == ["1f2e3d4c5b6a"]
    assert "users" in project.tables()
    assert ok(project.run("check")).exit_code == 0


def test_convert_keeps_a_database_migrated_by_flask_migrate(sqlite_project: Project) -> None:
    """The database was already at the old head: after converting it is simply up to date."""
    project = sqlite_project
    project.models(USERS)
    project.config()
    old_repository(project.path, FLASK_ENV_PY, "Single-database configuration for Flask.\n")
    project.query("CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)")
    project.query("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    project.query("INSERT INTO alembic_version VALUES ('1f2e3d4c5b6a')")
    project.query("INSERT INTO users VALUES (1, 'ada')")

    ok(project.run("init", "--convert"))
    assert ok(project.run("current", "--check-heads")).stdout.strip() == "1f2e3d4c5b6a (head)"
    assert ok(project.run("check")).exit_code == 0
    ok(project.run("upgrade"))
    assert project.query("SELECT name FROM users") == [("ada",)]


def test_converting_twice_is_refused(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config()
    repo = old_repository(project.path, FLASK_ENV_PY, "Single-database configuration for Flask.\n")
    ok(project.run("init", "--convert"))
    after_first = snapshot(repo)

    again = project.run("init", "--convert")
    assert again.exit_code == 2, again
    assert "already a migratectl repository" in again.stderr
    assert "Traceback" not in again.output
    assert snapshot(repo) == after_first


def test_convert_without_a_repository(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config()
    result = project.run("init", "--convert")
    assert result.exit_code == 2, result
    assert "not an Alembic repository" in result.stderr
    assert not (project.path / "migrations").exists()


def test_plain_init_on_an_existing_repository_points_to_convert(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config()
    repo = old_repository(project.path, FLASK_ENV_PY, "Single-database configuration for Flask.\n")
    before = snapshot(repo)
    result = project.run("init")
    assert result.exit_code == 2, result
    assert "init --convert" in result.stderr
    assert snapshot(repo) == before
