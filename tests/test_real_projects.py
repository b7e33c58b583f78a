"""Projects as they come, run by migratectl and by their own tool on the same revision files.

Each project is small and written for the test, in the shape real ones have: a Flask-Migrate
project made by ``flask db init`` / ``flask db migrate`` whose revisions import the package
and use the app context; a plain Alembic project configured by alembic.ini, with
``prepend_sys_path`` and a non-default ``script_location``, whose package configures logging
on import; a SQLModel project in the FastAPI layout (``app/models.py``, ``app/alembic/``,
settings from the environment). Each is migrated once by Alembic (or Flask-Migrate) and once,
on a second database, by migratectl: the schemas after ``upgrade``, ``check``'s verdict and
operations, and ``history`` must be the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, Result, fresh_database
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


@pytest.fixture
def twin_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh database on the backend under test, for the other tool."""
    folder = tmp_path / "twin"
    folder.mkdir()
    yield from fresh_database(backend, folder)


def schema(url: str) -> dict[str, Any]:
    """What a user compares: tables, columns (type, nullability, default), keys, indexes,
    unique and check constraints; the version table left out."""
    engine = create_engine(make_url(url), poolclass=NullPool)
    try:
        inspector = inspect(engine)
        dump: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            dump[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], _default(c.get("default")))
                    for c in inspector.get_columns(table)
                ],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted(
                    (tuple(fk["constrained_columns"]), fk["referred_table"])
                    for fk in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (tuple(str(c) for c in ix["column_names"]), bool(ix["unique"]))
                    for ix in inspector.get_indexes(table)
                ),
                "uniques": sorted(
                    tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
                ),
                "checks": sorted(
                    " ".join(str(ck["sqltext"]).split()) for ck in _checks(inspector, table)
                ),
            }
        return dump
    finally:
        engine.dispose()


def _default(value: Any) -> str | None:
    return None if value is None else " ".join(str(value).split())


def _checks(inspector: Any, table: str) -> list[dict[str, Any]]:
    try:
        return list(inspector.get_check_constraints(table))
    except NotImplementedError:
        return []


def run_tool(args: list[str], cwd: Path, env: dict[str, str]) -> Result:
    """Run another program (alembic, flask) as a user does, without migratectl's settings."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MIGRATECTL_") and k != "DATABASE_URL"
    }
    full_env.update(env)
    proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=180)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result
    assert "Traceback" not in result.output, result
    return result


def alembic_operations(output: str) -> set[tuple[str, str]]:
    """(kind, table) of each operation ``alembic check`` / ``flask db check`` lists."""
    return set(re.findall(r"\('(\w+)', (?:None|'\w+'), '(\w+)'", output)) | {
        (kind, table)
        for kind, table in re.findall(r"\('(add_table|remove_table)', Table\('(\w+)'", output)
    }


def migratectl_operations(output: str) -> set[tuple[str, str]]:
    """(kind, table) of each operation ``migratectl check`` lists."""
    found = set()
    for line in output.splitlines():
        match = re.match(r"\s*(?:- )?(\w+) ([\w.]+)", line)
        if match and match.group(1).startswith(("add_", "remove_", "modify_")):
            found.add((match.group(1), match.group(2).split(".")[0]))
    return found


def history_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if "->" in line]


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    return target


# --------------------------------------------------------------------------- Flask-Migrate

FLASK_APP = """
import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate(render_as_batch=True, compare_type=True)


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.config["DEFAULT_ROLES"] = ["admin", "member"]
    db.init_app(app)
    migrate.init_app(app, db)
    from myapp import models  # noqa: F401

    return app


def app_context():
    return create_app().app_context()
"""

FLASK_MODELS = """
from myapp import db


class Role(db.Model):
    __tablename__ = "roles"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(30), nullable=False, unique=True)


class User(db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(120), nullable=False, index=True)
    role_id = db.Column(db.Integer, db.ForeignKey("roles.id"))
"""

FLASK_SEED = """
    from flask import current_app

    from myapp.naming import role_label

    roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
    op.bulk_insert(
        roles,
        [
            {"id": i, "name": role_label(name)}
            for i, name in enumerate(current_app.config["DEFAULT_ROLES"], start=1)
        ],
    )
"""


def flask(project_dir: Path, url: str, *args: str) -> Result:
    return run_tool(
        [sys.executable, "-m", "flask", "--app", "myapp:create_app", "db", *args],
        project_dir,
        {"DATABASE_URL": url},
    )


def test_flask_migrate_project(project: Project, twin_url: str) -> None:
    """Made by `flask db init` / `flask db migrate`; a seed revision uses current_app and the
    package. Flask-Migrate on one database, migratectl (converted) on another."""
    flask_dir = project.path
    project.write("myapp/__init__.py", FLASK_APP)
    project.write("myapp/naming.py", "def role_label(name):\n    return name.title()\n")
    project.write("myapp/models.py", FLASK_MODELS)
    ok(flask(flask_dir, twin_url, "init"))
    ok(flask(flask_dir, twin_url, "migrate", "-m", "initial"))
    ok(flask(flask_dir, twin_url, "upgrade"))
    ok(flask(flask_dir, twin_url, "revision", "-m", "seed roles"))
    [seed] = [p for p in (flask_dir / "migrations/versions").glob("*seed_roles.py")]
    seed.write_text(
        seed.read_text().replace("def upgrade():\n    pass\n", "def upgrade():" + FLASK_SEED, 1)
    )
    ok(flask(flask_dir, twin_url, "upgrade"))
    assert ok(flask(flask_dir, twin_url, "check")).exit_code == 0
    flask_history = history_lines(ok(flask(flask_dir, twin_url, "history")).stdout)
    assert len(flask_history) == 2

    ours = copy_project(flask_dir, project.path.parent / "ours")
    # The app factory reads DATABASE_URL, as Flask projects do; migratectl reads it too.
    mine = Project(ours, project.database_url, env={"DATABASE_URL": project.database_url})
    mine.write(
        "migratectl.toml",
        f'database_url = "{project.database_url}"\nmodels = "myapp.models"\n'
        'run_within = "myapp:app_context"\n',
    )
    ok(mine.run_cli("init", "--convert"))
    upgrade = ok(mine.run_cli("upgrade"))
    assert "seed roles" in upgrade.stderr
    assert schema(project.database_url) == schema(twin_url)
    assert mine.query("SELECT id, name FROM roles ORDER BY id") == [(1, "Admin"), (2, "Member")]
    ok(mine.run_cli("check"))
    ours_history = history_lines(mine.run_cli("history").stdout)
    assert ours_history == flask_history

    # A model change: both tools see the same operations.
    changed = FLASK_MODELS + "    nickname = db.Column(db.String(40))\n"
    (flask_dir / "myapp/models.py").write_text(textwrap.dedent(changed).lstrip())
    (ours / "myapp/models.py").write_text(textwrap.dedent(changed).lstrip())
    theirs = flask(flask_dir, twin_url, "check")
    assert theirs.exit_code != 0, theirs
    mine_check = mine.run_cli("check")
    assert mine_check.exit_code == 1, mine_check
    assert (
        migratectl_operations(mine_check.stdout)
        == alembic_operations(theirs.output)
        == {("add_column", "users")}
    )


# --------------------------------------------------------------------------- plain Alembic

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/db/alembic
prepend_sys_path = src
sqlalchemy.url = driver://user:pass@localhost/dbname

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console
qualname =

[logger_sqlalchemy]
level = WARN
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %%(levelname)-5.5s [%%(name)s] %%(message)s
"""

ALEMBIC_ENV_PY = """\
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from shop.models import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)
target_metadata = Base.metadata


def run_migrations_online():
    engine = create_engine(os.environ["SHOP_DATABASE_URL"], poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""

SHOP_INIT = """
import logging.config

# An application that sets up its logging on import (mlflow's models do this).
logging.config.dictConfig(
    {
        "version": 1,
        "disable_existing_loggers": True,
        "formatters": {"shop": {"format": "SHOPLOG %(levelname)s %(message)s"}},
        "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "shop"}},
        "loggers": {"alembic": {"level": "WARNING", "propagate": False, "handlers": ["out"]}},
    }
)
"""

SHOP_MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(sa.String(20), unique=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    slug: Mapped[str] = mapped_column(sa.String(100), index=True)
    price_cents: Mapped[int] = mapped_column(server_default="0")
    __table_args__ = (sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),)
"""

SHOP_REV_1 = '''\
"""products

Revision ID: a1products
Revises:
Create Date: 2024-01-01 00:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = "a1products"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("price_cents", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sku"),
    )


def downgrade():
    op.drop_table("products")
'''

SHOP_REV_2 = '''\
"""product slugs

Revision ID: b2slugs
Revises: a1products
Create Date: 2024-01-02 00:00:00

"""
from alembic import op
import sqlalchemy as sa

from shop.text import slugify

revision = "b2slugs"
down_revision = "a1products"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("products") as batch_op:
        batch_op.add_column(sa.Column("slug", sa.String(length=100), nullable=True))
    products = sa.table("products", sa.column("id"), sa.column("title"), sa.column("slug"))
    connection = op.get_bind()
    for row in connection.execute(sa.select(products.c.id, products.c.title)).all():
        connection.execute(
            products.update().where(products.c.id == row.id).values(slug=slugify(row.title))
        )
    with op.batch_alter_table("products") as batch_op:
        batch_op.alter_column("slug", existing_type=sa.String(length=100), nullable=False)
        batch_op.create_index("ix_products_slug", ["slug"])


def downgrade():
    with op.batch_alter_table("products") as batch_op:
        batch_op.drop_index("ix_products_slug")
        batch_op.drop_column("slug")
'''


def plain_alembic_project(root: Path) -> None:
    files = {
        "alembic.ini": ALEMBIC_INI,
        "db/alembic/env.py": ALEMBIC_ENV_PY,
        "db/alembic/script.py.mako": (
            Path(__file__).parent.parent / "migratectl/templates/migratectl/script.py.mako"
        ).read_text(),
        "db/alembic/versions/a1products_products.py": SHOP_REV_1,
        "db/alembic/versions/b2slugs_product_slugs.py": SHOP_REV_2,
        "src/shop/__init__.py": textwrap.dedent(SHOP_INIT).lstrip(),
        "src/shop/models.py": textwrap.dedent(SHOP_MODELS).lstrip(),
        "src/shop/text.py": "def slugify(text):\n    return '-'.join(text.lower().split())\n",
    }
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(content)


def alembic(project_dir: Path, url: str, *args: str) -> Result:
    return run_tool(
        [sys.executable, "-m", "alembic", *args], project_dir, {"SHOP_DATABASE_URL": url}
    )


def test_plain_alembic_project(project: Project, twin_url: str) -> None:
    theirs = project.path.parent / "theirs"
    theirs.mkdir()
    plain_alembic_project(theirs)
    seed = "INSERT INTO products (id, sku, title) VALUES (1, 'A-1', 'Blue Mug')"
    ok(alembic(theirs, twin_url, "upgrade", "a1products"))
    Project(theirs, twin_url).query(seed)
    ok(alembic(theirs, twin_url, "upgrade", "head"))
    assert ok(alembic(theirs, twin_url, "check")).exit_code == 0
    their_history = history_lines(ok(alembic(theirs, twin_url, "history")).stdout)

    plain_alembic_project(project.path)
    project.write(
        "migratectl.toml",
        f'database_url = "{project.database_url}"\nmodels = "shop.models"\n'
        'directory = "db/alembic"\nsys_path = ["src"]\n',
    )
    ok(project.run_cli("init", "--convert"))
    ok(project.run_cli("upgrade", "a1products"))
    project.query(seed)
    upgrade = ok(project.run_cli("upgrade"))
    assert "Upgrade a1products -> b2slugs, product slugs" in upgrade.stderr
    assert "SHOPLOG" not in upgrade.output
    assert schema(project.database_url) == schema(twin_url)
    assert project.query("SELECT slug FROM products") == [("blue-mug",)]
    check = ok(project.run_cli("check"))
    assert "SHOPLOG" not in check.output
    assert history_lines(project.run_cli("history").stdout) == their_history

    # Downgrade, as both tools run it, leaves the same schema too.
    ok(alembic(theirs, twin_url, "downgrade", "a1products"))
    ok(project.run_cli("downgrade", "a1products"))
    assert schema(project.database_url) == schema(twin_url)


# --------------------------------------------------------------------------- SQLModel, FastAPI

FASTAPI_CONFIG = """
import os


class Settings:
    SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]


settings = Settings()
"""

FASTAPI_MODELS = """
from sqlmodel import Field, SQLModel


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, index=True)


class Hero(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    secret_name: str
    age: int | None = Field(default=None, index=True)
    team_id: int | None = Field(default=None, foreign_key="team.id")
"""

FASTAPI_ENV_PY = """\
from alembic import context
from sqlalchemy import create_engine, pool

from app.core.config import settings
from app.models import SQLModel

target_metadata = SQLModel.metadata


def run_migrations_online():
    connectable = create_engine(settings.SQLALCHEMY_DATABASE_URI, poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, compare_type=True
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""

FASTAPI_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
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


def fastapi_project(root: Path) -> None:
    files = {
        "alembic.ini": "[alembic]\nscript_location = app/alembic\nprepend_sys_path = .\n",
        "app/__init__.py": "",
        "app/core/__init__.py": "",
        "app/core/config.py": textwrap.dedent(FASTAPI_CONFIG).lstrip(),
        "app/models.py": textwrap.dedent(FASTAPI_MODELS).lstrip(),
        "app/alembic/env.py": FASTAPI_ENV_PY,
        "app/alembic/script.py.mako": FASTAPI_MAKO,
    }
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(content)
    (root / "app/alembic/versions").mkdir()


def test_sqlmodel_fastapi_project(project: Project, twin_url: str) -> None:
    """The FastAPI full-stack layout: Alembic autogenerates the history from SQLModel models;
    migratectl, configured by a .env file, runs the same files."""
    pytest.importorskip("sqlmodel")
    theirs = project.path.parent / "theirs"
    theirs.mkdir()
    fastapi_project(theirs)

    def their_alembic(*args: str) -> Result:
        return run_tool(
            [sys.executable, "-m", "alembic", *args], theirs, {"DATABASE_URL": twin_url}
        )

    ok(their_alembic("revision", "--autogenerate", "-m", "initial"))
    ok(their_alembic("upgrade", "head"))
    assert ok(their_alembic("check")).exit_code == 0
    their_history = history_lines(ok(their_alembic("history")).stdout)

    fastapi_project(project.path)
    for revision in (theirs / "app/alembic/versions").glob("*.py"):
        shutil.copy(revision, project.path / "app/alembic/versions" / revision.name)
    project.write("migratectl.toml", 'models = "app.models"\ndirectory = "app/alembic"\n')
    project.write(".env", f"DATABASE_URL={project.database_url}\n")
    ok(project.run_cli("init", "--convert"))
    ok(project.run_cli("upgrade"))
    assert schema(project.database_url) == schema(twin_url)
    ok(project.run_cli("check"))
    assert history_lines(project.run_cli("history").stdout) == their_history
