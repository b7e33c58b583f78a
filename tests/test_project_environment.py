"""The project around every command: its code on sys.path for env.py and the revision files,
``run_within``, an application's logging set-up, ``postgres://`` URLs and ``.env`` files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import Project, Result
from sqlalchemy.engine import make_url

MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""

HELPERS = """
def first_user() -> str:
    return "ada"
"""


def write_package(project: Project, root: str = "") -> None:
    """``myapp`` with its models and a helper module, under ``root`` (a src layout)."""
    prefix = f"{root}/" if root else ""
    project.write(f"{prefix}myapp/__init__.py", "")
    project.write(f"{prefix}myapp/models.py", MODELS)
    project.write(f"{prefix}myapp/util.py", HELPERS)


def revision_importing_the_project(project: Project) -> str:
    """Autogenerate the first revision, then make it use the project's own code, as
    Flask-Migrate and Alembic projects' revisions do. Returns its id."""
    assert project.run("migrate", "-m", "initial").exit_code == 0
    [path] = project.revision_files()
    text = path.read_text()
    text = text.replace(
        "import sqlalchemy as sa\n",
        "import sqlalchemy as sa\nfrom myapp.models import Base  # noqa: F401\n"
        "from myapp.util import first_user\n",
        1,
    )
    text = text.replace(
        "    # ### end Alembic commands ###",
        "    # ### end Alembic commands ###\n"
        '    op.execute(sa.text("INSERT INTO users (id, name) VALUES (1, \'" + first_user() '
        '+ "\')"))',
        1,
    )
    path.write_text(text)
    return path.name.split("_")[0]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result
    assert "Traceback" not in result.output, result
    return result


# --------------------------------------------------------------------------- sys.path


def test_revisions_import_the_project_in_every_command(project: Project) -> None:
    write_package(project)
    project.config(models="myapp.models")
    ok(project.run("init"))
    rev = revision_importing_the_project(project)
    sub = project.path / "deploy" / "scripts"
    sub.mkdir(parents=True)

    def run(*args: str) -> Result:
        return ok(project.run_cli(*args, cwd=sub))

    assert rev in run("history").stdout
    assert rev in run("heads").stdout
    assert rev in run("show", rev).stdout
    assert "(base)" in run("current").stderr + run("current").stdout
    assert rev in run("status").stdout
    assert rev in run("upgrade", "--sql").stdout
    run("upgrade")
    assert project.query("SELECT id, name FROM users") == [(1, "ada")]
    assert run("current").stdout == f"{rev} (head)\n"
    run("check")
    ok(project.run_cli("downgrade", "base", cwd=sub))
    assert "users" not in project.tables()


def test_src_layout_and_a_top_level_module(sqlite_project: Project) -> None:
    """``sys_path = ["src"]`` and a revision doing ``import config`` (pgAdmin's habit)."""
    project = sqlite_project
    write_package(project, root="src")
    project.write("src/config.py", "DEFAULT_NAME = 'grace'\n")
    project.config('sys_path = ["src"]\n', models="myapp.models")
    ok(project.run("init"))
    assert project.run("migrate", "-m", "initial").exit_code == 0
    [path] = project.revision_files()
    path.write_text(
        path.read_text()
        .replace("import sqlalchemy as sa\n", "import sqlalchemy as sa\nimport config\n", 1)
        .replace(
            "    # ### end Alembic commands ###",
            "    # ### end Alembic commands ###\n"
            "    op.execute(\"INSERT INTO users (id, name) VALUES (1, '%s')\" % "
            "config.DEFAULT_NAME)",
            1,
        )
    )
    ok(project.run_cli("upgrade"))
    assert project.query("SELECT name FROM users") == [("grace",)]
    for command in (("lint",), ("verify",), ("check",), ("history", "-i")):
        ok(project.run_cli(*command))


def test_sys_path_is_left_as_it_was_after_an_in_process_command(
    sqlite_project: Project,
) -> None:
    import sys

    project = sqlite_project
    write_package(project)
    project.config(models="myapp.models")
    ok(project.run("init"))
    revision_importing_the_project(project)
    before = list(sys.path)
    ok(project.run("upgrade"))
    assert sys.path == before


# --------------------------------------------------------------------------- run_within

FLASK_APP = """
import os
from pathlib import Path

from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["DEFAULT_ROLE"] = "admin"
    return app


def app_context():
    log = os.environ.get("RUN_WITHIN_LOG")
    if log:
        with Path(log).open("a") as fh:
            fh.write("enter\\n")
    return _Logged(create_app().app_context(), log)


class _Logged:
    def __init__(self, inner, log):
        self.inner, self.log = inner, log

    def __enter__(self):
        return self.inner.__enter__()

    def __exit__(self, *exc):
        if self.log:
            with Path(self.log).open("a") as fh:
                fh.write("exit\\n")
        return self.inner.__exit__(*exc)
"""

ROLES_REVISION = '''\
"""roles

Revision ID: r1roles
Revises:
Create Date: 2024-01-01 00:00:00

"""
from alembic import op
import sqlalchemy as sa
from flask import current_app

revision = "r1roles"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    roles = op.create_table(
        "roles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20), nullable=False),
    )
    op.bulk_insert(roles, [{"id": 1, "name": current_app.config["DEFAULT_ROLE"]}])


def downgrade():
    op.drop_table("roles")
'''


def flask_project(project: Project, run_within: str | None) -> None:
    project.write("myapp/__init__.py", FLASK_APP)
    body = f'run_within = "{run_within}"\n' if run_within else ""
    project.config(body, models=None)
    ok(project.run("init"))
    project.write("migrations/versions/r1roles_roles.py", ROLES_REVISION)


def test_run_within_gives_revisions_their_app_context(project: Project) -> None:
    flask_project(project, "myapp:app_context")
    log = project.path / "run_within.log"
    upgrade = ok(project.run_cli("upgrade", env={"RUN_WITHIN_LOG": str(log)}))
    assert "Upgrade <base> -> r1roles, roles" in upgrade.stderr
    assert project.query("SELECT id, name FROM roles") == [(1, "admin")]
    assert log.read_text() == "enter\nexit\n"  # once per command, around everything
    log.unlink()
    ok(project.run_cli("history", env={"RUN_WITHIN_LOG": str(log)}))
    assert log.read_text() == "enter\nexit\n"


def test_without_run_within_the_revision_fails_as_it_would_under_alembic(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    flask_project(project, None)
    result = project.run_cli("upgrade")
    assert result.exit_code == 4, result
    assert "Working outside of application context" in result.stderr
    assert project.version() == []


@pytest.mark.parametrize(
    ("app_code", "spec", "message"),
    [
        ("", "myapp:nothing", 'run_within "myapp:nothing": module "myapp" has no attribute'),
        ("x = 3\n", "myapp:x", 'run_within "myapp:x" is not callable (it is an int)'),
        (
            "def ctx():\n    return 42\n",
            "myapp:ctx",
            'run_within "myapp:ctx" returned an int, not a context manager.',
        ),
        (
            "def ctx():\n    raise RuntimeError('no config')\n",
            "myapp:ctx",
            'run_within "myapp:ctx" raised an error: RuntimeError: no config',
        ),
        (
            "class C:\n    def __enter__(self):\n        raise KeyError('SECRET_KEY')\n"
            "    def __exit__(self, *a):\n        pass\n\ndef ctx():\n    return C()\n",
            "myapp:ctx",
            "Entering run_within \"myapp:ctx\" failed: KeyError: 'SECRET_KEY'",
        ),
        ("", "myapp", 'run_within "myapp" must have the form "module:name".'),
    ],
)
def test_a_broken_run_within_is_a_configuration_error(
    sqlite_project: Project, app_code: str, spec: str, message: str
) -> None:
    project = sqlite_project
    project.write("myapp/__init__.py", app_code)
    project.config(f'run_within = "{spec}"\n', models=None)
    ok(project.run("init"))
    result = project.run("upgrade")
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (project.path / "app.db").exists()


def test_run_within_must_be_a_string(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config("run_within = true\n", models=None)
    result = project.run("current")
    assert result.exit_code == 2, result
    assert "run_within in" in result.stderr
    assert 'must be an import path "module:function", not the boolean true' in result.stderr


# --------------------------------------------------------------------------- logging

NOISY_MODELS = (
    """
import logging.config

LEVEL = "WARNING"

logging.config.dictConfig(
    {
        "version": 1,
        "disable_existing_loggers": True,
        "formatters": {"app": {"format": "APPLOG %(levelname)s %(name)s %(message)s"}},
        "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "app"}},
        "loggers": {"alembic": {"level": LEVEL, "propagate": False, "handlers": ["out"]}},
        "root": {"level": "INFO", "handlers": ["out"]},
    }
)
"""
    + MODELS
)


@pytest.mark.parametrize("level", ["WARNING", "INFO"])
def test_an_application_that_configures_logging_does_not_silence_migratectl(
    project: Project, level: str
) -> None:
    """mlflow's habit: its models set the alembic logger to WARNING, propagate False (or,
    another application's, to INFO with its own handler and format)."""
    project.write("myapp/__init__.py", "")
    project.write("myapp/models.py", MODELS)
    project.write("myapp/util.py", HELPERS)
    project.config(models="myapp.models")
    ok(project.run("init"))
    rev = revision_importing_the_project(project)
    project.write("myapp/models.py", NOISY_MODELS.replace('"WARNING"', f'"{level}"', 1))

    check = project.run_cli("check")
    assert check.exit_code == 1, check
    assert rev in check.stdout
    assert "APPLOG" not in check.output

    upgrade = ok(project.run_cli("upgrade"))
    assert f"Upgrade <base> -> {rev}, initial" in upgrade.stderr
    assert "APPLOG" not in upgrade.output

    verbose = ok(project.run_cli("downgrade", "base", "-v"))
    assert f"Running downgrade {rev} -> , initial" in verbose.stderr
    assert "APPLOG" not in verbose.output

    in_sync = ok(project.run_cli("upgrade"))
    assert f"Upgrade <base> -> {rev}" in in_sync.stderr
    compared = ok(project.run_cli("check"))
    assert "APPLOG" not in compared.output
    assert "Detected" not in compared.output  # Alembic's INFO lines stay hidden without -v


def test_the_application_logging_is_put_back_after_an_in_process_command(
    sqlite_project: Project,
) -> None:
    import logging

    project = sqlite_project
    write_package(project)
    project.config(models="myapp.models")
    ok(project.run("init"))
    revision_importing_the_project(project)
    logger = logging.getLogger("alembic")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR)
    before = list(logger.handlers)
    try:
        ok(project.run("upgrade"))
        assert logger.handlers == before
        assert logger.level == logging.ERROR
        assert logger.propagate
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


# --------------------------------------------------------------------------- postgres://


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("scheme", ["postgres", "postgres+psycopg"])
def test_heroku_style_postgres_urls(project: Project, scheme: str) -> None:
    url = make_url(project.database_url)
    heroku = url.render_as_string(hide_password=False).replace(url.drivername, scheme, 1)
    assert heroku.startswith(scheme + "://")
    write_package(project)
    project.write("migratectl.toml", f'database_url = "{heroku}"\nmodels = "myapp.models"\n')
    ok(project.run_cli("init"))
    ok(project.run_cli("migrate", "-m", "initial"))
    ok(project.run_cli("upgrade"))
    assert "users" in project.tables()
    current = ok(project.run_cli("current", "--json"))
    assert '"database": "postgresql' in current.stdout
    ok(project.run_cli("check"))
    env = ok(project.run_cli("current", env={"DATABASE_URL": heroku}, cwd=project.path))
    assert "(head)" in env.stdout


# --------------------------------------------------------------------------- .env


def test_dotenv_beside_the_configuration_file(sqlite_project: Project) -> None:
    project = sqlite_project
    write_package(project)
    project.write("migratectl.toml", 'models = "myapp.models"\n')
    project.write(".env", f"# local settings\nDATABASE_URL={project.database_url}\n")
    ok(project.run_cli("init"))
    ok(project.run_cli("migrate", "-m", "initial"))
    ok(project.run_cli("upgrade", cwd=project.path / "myapp"))
    assert "users" in project.tables()


def test_dotenv_fills_interpolation_and_the_real_environment_wins(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    write_package(project)
    project.write(
        "migratectl.toml",
        'database_url = "sqlite:///${DB_FILE}"\nmodels = "myapp.models"\n',
    )
    project.write(".env", 'DB_FILE="from_dotenv.db"\nGREETING=hello\n')
    ok(project.run("init"))
    ok(project.run("migrate", "-m", "initial"))
    [path] = project.revision_files()
    path.write_text(
        path.read_text()
        .replace("import sqlalchemy as sa\n", "import os\nimport sqlalchemy as sa\n", 1)
        .replace(
            "    # ### end Alembic commands ###",
            "    # ### end Alembic commands ###\n"
            "    op.execute(\"INSERT INTO users (id, name) VALUES (1, '%s')\" % "
            "os.environ['GREETING'])",
            1,
        )
    )
    ok(project.run_cli("upgrade"))
    assert (project.path / "from_dotenv.db").exists()
    ok(project.run_cli("upgrade", env={"DB_FILE": "from_env.db", "GREETING": "hi"}))
    assert (project.path / "from_env.db").exists()
    dotenv_db = Project(project.path, f"sqlite:///{project.path / 'from_dotenv.db'}")
    real_env_db = Project(project.path, f"sqlite:///{project.path / 'from_env.db'}")
    assert dotenv_db.query("SELECT name FROM users") == [("hello",)]
    assert real_env_db.query("SELECT name FROM users") == [("hi",)]


def test_env_file_false_and_a_named_env_file(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write(".env", "MIGRATECTL_DATABASE_URL=sqlite:///dotenv.db\n")
    project.write("config/dev.env", "MIGRATECTL_DATABASE_URL=sqlite:///named.db\n")
    project.write("migratectl.toml", "env_file = false\n")
    ok(project.run("init"))
    off = project.run_cli("current")
    assert off.exit_code == 2, off
    assert "No database URL is configured." in off.stderr

    project.write("migratectl.toml", 'env_file = "config/dev.env"\n')
    ok(project.run_cli("upgrade"))
    assert (project.path / "named.db").exists()
    assert not (project.path / "dotenv.db").exists()

    project.write("migratectl.toml", 'env_file = "config/missing.env"\n')
    missing = project.run_cli("current")
    assert missing.exit_code == 2, missing
    assert "env_file in" in missing.stderr
    assert "missing.env, which does not exist" in missing.stderr


def test_dotenv_without_a_configuration_file(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write(".env", "MIGRATECTL_DATABASE_URL=sqlite:///app.db\nMIGRATECTL_DIRECTORY=db\n")
    ok(project.run_cli("init"))
    assert (project.path / "db" / "env.py").is_file()
    current = ok(project.run_cli("current"))
    assert "no revision" in current.output


def test_a_malformed_dotenv_line_is_named_and_its_text_never_shown(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    project.config(models=None)
    project.write(".env", 'GOOD=1\nDATABASE_PASSWORD="s3cr3t-p4ss\nOTHER=2\n')
    result = project.run_cli("current")
    assert result.exit_code == 2, result
    assert re.search(r"Error: .*\.env, line 2: not a variable assignment\.", result.stderr)
    assert "s3cr3t" not in result.output
    assert "p4ss" not in result.output
    assert "Traceback" not in result.output


def test_dotenv_that_is_not_utf8(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config(models=None)
    (project.path / ".env").write_bytes(b"NAME=caf\xe9\n")
    result = project.run("current")
    assert result.exit_code == 2, result
    assert ".env is not UTF-8 text" in result.stderr


def test_env_file_must_be_a_string_or_false(tmp_path: Path) -> None:
    project = Project(tmp_path, "sqlite://")
    project.write("migratectl.toml", "env_file = true\n")
    result = project.run("current")
    assert result.exit_code == 2, result
    assert "must be a string, or false, not the boolean true" in result.stderr
