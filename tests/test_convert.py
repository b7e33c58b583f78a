"""init --convert: a Flask-Migrate or plain Alembic repository becomes a migratectl one."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import Project, Result

from migratectl.settings.sources import read_config_file

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
    # The flags give what the Flask app held: nothing is said to be missing.
    assert "the models:" not in result.stderr
    assert "the database URL:" not in result.stderr

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


# --------------------------------------------------------------------------- carrying over
# A plain Alembic project, configured as `alembic init` leaves it and its users then edit it:
# the repository is al/, the package under src/, the settings in alembic.ini.

MYAPP_MODELS = """\
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""

# Alembic's generic env.py, with what users add: the models, configure() arguments, a filter
# function, a helper and an event listener.
CUSTOM_ENV_PY = """\
import logging
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, event, pool
from sqlalchemy.engine import Engine

from myapp.models import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata
logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)


def include_object(object, name, type_, reflected, compare_to):
    return not name.startswith("tmp_")


def my_helper():
    return 42


@event.listens_for(Engine, "connect")
def set_pragma(dbapi_connection, connection_record):
    pass


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_server_default=True,
            include_object=include_object,
            version_table="myapp_version",
            render_as_batch=False,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""

# A post-write hook that marks each new revision file, to show the hook runs.
MARK_HOOK = """\
import sys

import pytest

with open(sys.argv[1], "a") as fh:
    fh.write("# marked by the post-write hook\\n")
"""

PASSWORD = "s3cr3t-Pa55"


def alembic_ini(url: str, *, script_location: str = "%(here)s/al") -> str:
    return f"""\
# A generic, single database configuration.

[alembic]
script_location = {script_location}
prepend_sys_path = . src
file_template = %%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s
truncate_slug_length = 12
timezone = UTC
sqlalchemy.url = {url}

[post_write_hooks]
hooks = mark
mark.type = exec
mark.executable = {sys.executable}
mark.options = %(here)s/mark.py REVISION_SCRIPT_FILENAME

[loggers]
keys = root

[handlers]
keys =

[formatters]
keys =

[logger_root]
level = WARNING
handlers =
"""


def alembic_project(project: Project, ini: str, *, repository: str = "al") -> Path:
    """Write the project: src/myapp, alembic.ini, the repository with one revision."""
    project.write("src/myapp/__init__.py", "")
    project.write("src/myapp/models.py", MYAPP_MODELS)
    project.write("mark.py", MARK_HOOK)
    project.write("alembic.ini", ini)
    repo = project.path / repository
    (repo / "versions").mkdir(parents=True)
    (repo / "env.py").write_text(CUSTOM_ENV_PY)
    (repo / "script.py.mako").write_text(FLASK_SCRIPT_MAKO)
    (repo / "README").write_text("Generic single-database configuration.\n")
    (repo / "versions" / "1f2e3d4c5b6a_initial.py").write_text(INITIAL_REVISION)
    return repo


def test_convert_carries_alembic_ini_and_env_py_over(sqlite_project: Project) -> None:
    project = sqlite_project
    url = f"postgresql+psycopg://app:{PASSWORD}@db.internal:5432/app"
    repo = alembic_project(project, alembic_ini(url))
    versions_before = snapshot(repo / "versions")

    result = ok(project.run("init", "--convert"))

    config_file = project.path / "migratectl.toml"
    assert read_config_file(config_file) == {
        "database_url": "postgresql+psycopg://app:${DATABASE_PASSWORD}@db.internal:5432/app",
        "models": "myapp.models:Base",
        "sys_path": [".", "src"],
        "directory": "al",
        "render_as_batch": False,
        "configure": {"compare_server_default": True, "version_table": "myapp_version"},
        "alembic": {
            "file_template": "%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s",
            "truncate_slug_length": 12,
            "timezone": "UTC",
            "post_write_hooks": {
                "hooks": "mark",
                "mark.type": "exec",
                "mark.executable": sys.executable,
                "mark.options": f"{project.path}/mark.py REVISION_SCRIPT_FILENAME",
            },
        },
    }
    # The password is in neither the file nor the output; the user is told what to set.
    assert PASSWORD not in config_file.read_text()
    assert PASSWORD not in result.output
    assert "DATABASE_PASSWORD" in result.stderr
    # Each key carried is named with where it came from.
    for line in (
        'directory = "al"    # script_location in alembic.ini',
        'sys_path = [".", "src"]    # prepend_sys_path in alembic.ini',
        "alembic.truncate_slug_length = 12    # truncate_slug_length in alembic.ini",
        'alembic.timezone = "UTC"    # timezone in alembic.ini',
        'alembic.file_template = "%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s"',
        'alembic.post_write_hooks = { hooks = "mark", "mark.type" = "exec"',
        'database_url = "postgresql+psycopg://app:***@db.internal:5432/app"    # '
        "sqlalchemy.url in alembic.ini",
        'models = "myapp.models:Base"    # target_metadata = Base.metadata in al/env.py',
        "configure.compare_server_default = true    # context.configure("
        "compare_server_default=...) in al/env.py",
        'configure.version_table = "myapp_version"',
        "render_as_batch = false",
    ):
        assert line in result.stderr, line
    # What could not be carried over is named, with its line.
    not_carried = result.stderr.split("Not carried over")[1]
    assert (
        "context.configure(include_object=include_object): include_object is defined in "
        "al/env.py (line 18)" in not_carried
    )
    assert "function my_helper() (al/env.py, line 22)" in not_carried
    assert "event listener set_pragma() (al/env.py, line 27)" in not_carried
    assert "logging.getLogger('sqlalchemy.engine').setLevel(logging.INFO) (al/env.py, line 15)" in (
        not_carried
    )
    assert "the logging configuration of alembic.ini" in not_carried
    assert "Converted al:" in result.stderr

    assert (repo / "env.py.orig").read_text() == CUSTOM_ENV_PY
    assert snapshot(repo / "versions") == versions_before
    assert not (project.path / "migrations").exists()

    # The converted history runs (on SQLite here: the URL is overridden), in its version table.
    sqlite = {"DATABASE_URL": project.database_url}
    ok(project.run("upgrade", env=sqlite))
    assert project.query("SELECT version_num FROM myapp_version") == [("1f2e3d4c5b6a",)]
    assert "alembic_version" not in project.tables()
    assert ok(project.run("check", env=sqlite)).exit_code == 0
    # The file name template, slug length and post-write hook carried over apply.
    ok(project.run("revision", "-m", "add a long message", "--rev-id", "2b", env=sqlite))
    (written,) = [p for p in (repo / "versions").glob("*.py") if "2b" in p.name]
    assert re.fullmatch(r"\d{8}_2b_add_a_long_\.py", written.name), written.name
    assert written.read_text().endswith("# marked by the post-write hook\n")


def test_converted_alembic_history_upgrades_and_checks(project: Project) -> None:
    """Through the installed command, on every backend: the URL of alembic.ini is the one used."""
    url = project.database_url
    env = {}
    if url.startswith("postgresql"):
        # The server trusts local logins: a password in the URL is ignored, yet still a secret.
        url = url.replace("postgres@", f"postgres:{PASSWORD}@")
        env = {"DATABASE_PASSWORD": PASSWORD}
    alembic_project(project, alembic_ini(url.replace("%", "%%")))

    converted = project.run_cli("init", "--convert")
    ok(converted)
    assert PASSWORD not in converted.output
    written = read_config_file(project.path / "migratectl.toml")["database_url"]
    if env:
        assert written == url.replace(PASSWORD, "${DATABASE_PASSWORD}")
        assert "DATABASE_PASSWORD" in converted.stderr
    else:
        assert written == url

    upgraded = ok(project.run_cli("upgrade", env=env))
    assert "1f2e3d4c5b6a" in upgraded.stderr
    assert project.query("SELECT version_num FROM myapp_version") == [("1f2e3d4c5b6a",)]
    assert "users" in project.tables()
    checked = ok(project.run_cli("check", env=env))
    assert PASSWORD not in upgraded.output + checked.output


TAGS_REVISION = '''\
"""tags

Revision ID: 2c
Revises: 1f2e3d4c5b6a
Create Date: 2024-01-02 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

revision = '2c'
down_revision = '1f2e3d4c5b6a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    op.drop_table('tags')
'''

TAGS_MODEL = """

class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
"""

# Alembic >= 1.16's pyproject template: the settings in [tool.alembic], the URL in alembic.ini.
PYPROJECT = """\
[project]
name = "myapp"
version = "1.0"

[tool.alembic]
script_location = "%(here)s/db"
prepend_sys_path = ["src"]
version_locations = ["%(here)s/db/versions", "%(here)s/db/more_versions"]
file_template = "%%(rev)s_x_%%(slug)s"
truncate_slug_length = 20

[[tool.alembic.post_write_hooks]]
name = "mark"
type = "exec"
executable = "{executable}"
options = "%(here)s/mark.py REVISION_SCRIPT_FILENAME"
"""

PYPROJECT_ALEMBIC_INI = """\
[alembic]
sqlalchemy.url = sqlite:///app.db

[loggers]
keys = root
"""

MODULE_ENV_PY = CUSTOM_ENV_PY.replace(
    "from myapp.models import Base", "from myapp import models"
).replace("target_metadata = Base.metadata", "target_metadata = models.Base.metadata")


def test_convert_carries_tool_alembic_of_pyproject_over(sqlite_project: Project) -> None:
    project = sqlite_project
    repo = alembic_project(project, PYPROJECT_ALEMBIC_INI, repository="db")
    project.write("src/myapp/models.py", MYAPP_MODELS + TAGS_MODEL)
    (repo / "env.py").write_text(MODULE_ENV_PY)
    (repo / "more_versions").mkdir()
    (repo / "more_versions" / "2c_tags.py").write_text(TAGS_REVISION)
    project.write("pyproject.toml", PYPROJECT.format(executable=sys.executable))

    result = ok(project.run("init", "--convert"))
    config = read_config_file(project.path / "migratectl.toml")
    assert config["directory"] == "db"
    assert config["sys_path"] == ["src"]
    assert config["database_url"] == "sqlite:///app.db"
    assert config["models"] == "myapp.models:Base"
    assert config["alembic"] == {
        "version_locations": ["db/versions", "db/more_versions"],
        "file_template": "%(rev)s_x_%(slug)s",
        "truncate_slug_length": 20,
        "post_write_hooks": {
            "hooks": "mark",
            "mark.type": "exec",
            "mark.executable": sys.executable,
            "mark.options": f"{project.path}/mark.py REVISION_SCRIPT_FILENAME",
        },
    }
    assert "Read alembic.ini, pyproject.toml, db/env.py." in result.stderr
    assert 'directory = "db"    # script_location in [tool.alembic] of pyproject.toml' in (
        result.stderr
    )
    assert (
        'alembic.version_locations = ["db/versions", "db/more_versions"]    # '
        "version_locations in [tool.alembic] of pyproject.toml" in result.stderr
    )
    assert 'models = "myapp.models:Base"    # target_metadata = models.Base.metadata' in (
        result.stderr
    )
    assert "include_object is defined in db/env.py" in result.stderr

    # Both version locations are read; the URL is alembic.ini's SQLite file.
    ok(project.run("upgrade"))
    assert project.query("SELECT version_num FROM myapp_version") == [("2c",)]
    assert {"users", "tags"} <= project.tables()
    assert ok(project.run("check")).exit_code == 0
    ok(project.run("revision", "-m", "next", "--rev-id", "3d"))
    written = repo / "more_versions" / "3d_x_next.py"  # beside its parent, as Alembic does
    assert written.read_text().endswith("# marked by the post-write hook\n")


def test_convert_a_flask_migrate_repository_names_what_only_the_app_knows(
    sqlite_project: Project,
) -> None:
    """`flask db init`'s own files: the models and the URL live in the Flask app."""
    import flask_migrate

    project = sqlite_project
    project.models(USERS)
    templates = Path(flask_migrate.__file__).parent / "templates" / "flask"
    repo = project.path / "migrations"
    (repo / "versions").mkdir(parents=True)
    for name, target in (("env.py", "env.py"), ("alembic.ini.mako", "alembic.ini")):
        (repo / target).write_text((templates / name).read_text())
    (repo / "script.py.mako").write_text((templates / "script.py.mako").read_text())
    (repo / "versions" / "1f2e3d4c5b6a_initial.py").write_text(INITIAL_REVISION)

    result = ok(project.run_cli("init", "--convert"))
    assert "Read migrations/alembic.ini, migrations/env.py." in result.stderr
    assert (
        "the models: migrations/env.py takes them from the Flask application "
        "(current_app.extensions['migrate'].db.metadata), which cannot be read without "
        "running it. Set models to the module that defines db and the models, e.g. models = "
        '"myapp:db", or pass --models.' in result.stderr
    )
    assert "the database URL: migrations/env.py takes it from the Flask application" in (
        result.stderr
    )
    assert "Flask-Migrate's Migrate(app, db, ...) (conf_args)" in result.stderr
    assert "Carried over" not in result.stderr  # alembic.ini holds only logging and comments
    config = read_config_file(project.path / "migratectl.toml")
    assert "models" not in config and "database_url" not in config
    assert "flask" not in (repo / "env.py").read_text()

    # Once the user sets them, the history runs without Flask.
    settings = {"MIGRATECTL_MODELS": "models", "DATABASE_URL": project.database_url}
    ok(project.run_cli("upgrade", env=settings))
    assert project.version() == ["1f2e3d4c5b6a"]
    assert ok(project.run_cli("check", env=settings)).exit_code == 0


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result
    assert message in result.stderr, result
    assert "Traceback" not in result.output, result


def test_convert_refuses_an_alembic_ini_that_is_not_ini(sqlite_project: Project) -> None:
    project = sqlite_project
    repo = alembic_project(project, "script_location = al\n[alembic\n")
    before = snapshot(project.path)
    result = project.run_cli("init", "--convert")
    refused(
        result,
        "Error: alembic.ini is not a valid INI file: it has no [section] header before line 1.",
    )
    assert snapshot(project.path) == before
    assert not (repo / "env.py.orig").exists()


def test_convert_refuses_a_missing_alembic_ini_option(sqlite_project: Project) -> None:
    project = sqlite_project
    alembic_project(project, alembic_ini("sqlite:///app.db"))
    before = snapshot(project.path)
    result = project.run("init", "--convert", "--alembic-ini", "config/alembic.ini")
    refused(result, "The Alembic configuration file config/alembic.ini does not exist.")
    assert snapshot(project.path) == before


def test_convert_refuses_a_script_location_that_is_not_there(sqlite_project: Project) -> None:
    project = sqlite_project
    alembic_project(project, alembic_ini("sqlite:///app.db", script_location="db/alembic"))
    before = snapshot(project.path)
    result = project.run("init", "--convert")
    refused(result, "script_location in alembic.ini names db/alembic, which is not a folder.")
    assert snapshot(project.path) == before


def test_convert_reads_the_alembic_ini_named(sqlite_project: Project) -> None:
    """--alembic-ini: Alembic's -c; its %(here)s is that file's folder."""
    project = sqlite_project
    repo = alembic_project(project, "")
    (project.path / "alembic.ini").unlink()
    project.write("deploy/alembic.ini", alembic_ini("sqlite:///app.db", script_location="al"))
    (project.path / "deploy" / "mark.py").write_text(MARK_HOOK)

    result = ok(project.run("init", "--convert", "--alembic-ini", "deploy/alembic.ini"))
    assert "Read deploy/alembic.ini, al/env.py." in result.stderr
    config = read_config_file(project.path / "migratectl.toml")
    assert config["directory"] == "al"  # relative to the current folder, as in Alembic
    assert config["alembic"]["post_write_hooks"]["mark.options"] == (
        f"{project.path}/deploy/mark.py REVISION_SCRIPT_FILENAME"
    )
    assert (repo / "env.py.orig").is_file()


def test_convert_leaves_an_existing_configuration_and_says_what_it_lacks(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    config_file = project.config("[configure]\ntransaction_per_migration = true\n")
    before = config_file.read_text()
    repo = alembic_project(project, alembic_ini(f"postgresql://app:{PASSWORD}@db/app"))

    result = ok(project.run("init", "--convert"))
    assert config_file.read_text() == before
    assert (repo / "env.py.orig").is_file()  # al/, which script_location names
    heading = "migratectl.toml exists and was left as it is. Add what it lacks:"
    lacking = result.stderr.split(heading)
    assert len(lacking) == 2, result
    assert 'directory = "al"    # script_location in alembic.ini' in lacking[1]
    assert "render_as_batch = false" in lacking[1]
    assert "[configure]\n  compare_server_default = true\n" in lacking[1]
    assert "[alembic.post_write_hooks]" in lacking[1]
    # The file sets these already: not offered again, and no password variable to set.
    assert "database_url =" not in lacking[1]
    assert "models =" not in lacking[1]
    assert "DATABASE_PASSWORD" not in result.stderr
    assert PASSWORD not in result.output


def test_convert_keeps_the_url_env_py_reads_from_the_environment(sqlite_project: Project) -> None:
    """env.py's URL overrode alembic.ini's when Alembic ran it; so it does here."""
    project = sqlite_project
    repo = alembic_project(project, alembic_ini(f"postgresql://app:{PASSWORD}@db/app"))
    env_py = CUSTOM_ENV_PY.replace(
        "config = context.config\n",
        'import os\n\nconfig = context.config\nconfig.set_main_option("sqlalchemy.url", '
        'os.environ["APP_DATABASE_URL"])\n',
    )
    (repo / "env.py").write_text(env_py)

    result = ok(project.run("init", "--convert"))
    config = read_config_file(project.path / "migratectl.toml")
    assert config["database_url"] == "${APP_DATABASE_URL}"
    assert PASSWORD not in result.output
    assert "DATABASE_PASSWORD" not in result.output  # nothing to set but APP_DATABASE_URL
    ok(project.run("upgrade", env={"APP_DATABASE_URL": project.database_url}))
    assert project.query("SELECT version_num FROM myapp_version") == [("1f2e3d4c5b6a",)]


def test_convert_follows_the_directory_given_over_script_location(sqlite_project: Project) -> None:
    project = sqlite_project
    alembic_project(project, alembic_ini("sqlite:///%(here)s/app.db"))
    (project.path / "al").rename(project.path / "db")

    result = ok(project.run("init", "--convert", "-d", "db"))
    assert (
        "script_location in alembic.ini: --directory names db, which is converted instead."
        in result.stderr
    )
    config = read_config_file(project.path / "migratectl.toml")
    assert config["directory"] == "db"
    assert config["database_url"] == "sqlite:///app.db"  # %(here)s, written relative
    assert (project.path / "db" / "env.py.orig").is_file()
    ok(project.run("upgrade"))
    assert project.query("SELECT version_num FROM myapp_version") == [("1f2e3d4c5b6a",)]


def test_an_unreadable_url_in_alembic_ini_is_refused_without_showing_it(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    # A percent-encoded password, but ConfigParser wants %% for a literal %.
    alembic_project(project, alembic_ini("postgresql://app:Pa%40ss-w0rd@db/app"))
    before = snapshot(project.path)
    result = project.run("init", "--convert")
    refused(
        result,
        "sqlalchemy.url in [alembic] of alembic.ini cannot be read: it holds a % that is "
        "neither %% nor %(name)s.",
    )
    assert "ss-w0rd" not in result.output
    assert snapshot(project.path) == before


def test_convert_says_when_no_database_url_is_found(sqlite_project: Project) -> None:
    project = sqlite_project
    ini = alembic_ini("sqlite:///app.db").replace("sqlalchemy.url = sqlite:///app.db\n", "")
    alembic_project(project, ini)
    result = ok(project.run("init", "--convert"))
    assert (
        "the database URL: neither the Alembic configuration nor al/env.py names one that can "
        "be read. Set database_url, or the DATABASE_URL variable." in result.stderr
    )
    assert "database_url" not in read_config_file(project.path / "migratectl.toml")


@pytest.mark.parametrize(
    ("imports", "assignment", "models"),
    [
        ("from myapp import db", "db.metadata", "myapp:db"),
        ("import myapp.models", "myapp.models.Base.metadata", "myapp.models:Base"),
        ("import myapp.models as m", "m.Base.metadata", "myapp.models:Base"),
        ("from myapp.models import metadata", "metadata", "myapp.models:metadata"),
        ("from myapp.models import Base as B", "B.metadata", "myapp.models:Base"),
        ("from sqlmodel import SQLModel", "SQLModel.metadata", None),
    ],
)
def test_convert_finds_the_models_env_py_names(
    sqlite_project: Project, imports: str, assignment: str, models: str | None
) -> None:
    project = sqlite_project
    repo = alembic_project(project, alembic_ini("sqlite:///app.db"))
    env_py = CUSTOM_ENV_PY.replace("from myapp.models import Base", imports).replace(
        "target_metadata = Base.metadata", f"target_metadata = {assignment}"
    )
    (repo / "env.py").write_text(env_py)
    result = ok(project.run("init", "--convert"))
    config = read_config_file(project.path / "migratectl.toml")
    assert config.get("models") == models
    if models is None:
        assert (
            f"the models: target_metadata = {assignment} (al/env.py, line 14) comes from "
            "sqlmodel itself, which defines none of the project's tables." in result.stderr
        )
