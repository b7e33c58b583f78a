"""The benchmark's projects: models, a migratectl configuration, and the equivalent Alembic set-up.

Each project folder holds one application package and both ways of migrating it:

    app_package/            the models (one module per model, imported by models/__init__.py)
    migrations/             the migratectl repository (``migratectl init``); versions/ shared
    migratectl-NAME.toml    one configuration per database the benchmark points at
    alembic_env/            env.py + script.py.mako for the alembic CLI (what `alembic init`
                            writes, with target_metadata and the options migratectl uses)
    alembic-NAME.ini        one alembic.ini per database, reading versions from migrations/

Both tools therefore run the very same revision files against the very same database.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

# What migratectl passes to context.configure() by default; the Alembic env.py gets the same.
CONFIGURE_OPTIONS = "compare_type=True, render_as_batch=True, transaction_per_migration=True"

ALEMBIC_ENV = '''\
"""Alembic's generic env.py, pointed at the application's models."""

from logging.config import fileConfig

from sqlalchemy import engine_from_config, pool

from alembic import context

from {models_module} import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={{"paramstyle": "named"}},
        {options},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {{}}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, {options}
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

# Alembic's generic alembic.ini, logging sections included (they are what users have).
ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/alembic_env
version_locations = %(here)s/migrations/versions
prepend_sys_path = .
path_separator = os
sqlalchemy.url = {url}

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
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
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

MODEL = """\
from __future__ import annotations

import datetime
import decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from {package}.models.base import Base


class {cls}(Base):
    __tablename__ = "{table}"
    __table_args__ = (sa.UniqueConstraint("name", "owner_id", name="uq_{table}_name_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    owner_id: Mapped[int] = mapped_column(sa.Integer)
    email: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    amount: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(12, 2), server_default="0")
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_at: Mapped[datetime.datetime] = mapped_column(server_default=sa.func.now())
    notes: Mapped[str | None] = mapped_column(sa.Text)
{parent}"""

PARENT = """\
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("{parent_table}.id"), index=True)
    parent: Mapped[{parent_cls} | None] = relationship("{parent_cls}")
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_models(folder: Path, package: str, count: int) -> str:
    """A package with ``count`` models, one module each; returns the models module path."""
    models = folder / package / "models"
    write(folder / package / "__init__.py", "")
    write(
        models / "base.py",
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n",
    )
    imports = [f"from {package}.models.base import Base"]
    for index in range(count):
        cls, table = f"Model{index:04d}", f"table_{index:04d}"
        parent = (
            PARENT.format(parent_table=f"table_{index - 1:04d}", parent_cls=f"Model{index - 1:04d}")
            if index
            else ""
        )
        write(
            models / f"model_{index:04d}.py",
            MODEL.format(package=package, cls=cls, table=table, parent=parent),
        )
        imports.append(f"from {package}.models.model_{index:04d} import {cls}")
    all_names = ", ".join(f'"{name.rsplit(" ", 1)[1]}"' for name in imports)
    write(models / "__init__.py", "\n".join(imports) + f"\n\n__all__ = [{all_names}]\n")
    return f"{package}.models"


def write_alembic_env(folder: Path, models_module: str) -> None:
    """The alembic CLI's side: env.py and script.py.mako (the versions are migratectl's)."""
    env = ALEMBIC_ENV.format(models_module=models_module, options=CONFIGURE_OPTIONS)
    write(folder / "alembic_env" / "env.py", env)
    import alembic

    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    write(folder / "alembic_env" / "script.py.mako", template.read_text())


def write_configs(folder: Path, name: str, url: str, models_module: str) -> tuple[Path, Path]:
    """``migratectl-NAME.toml`` and ``alembic-NAME.ini`` for the database at ``url``."""
    toml = write(
        folder / f"migratectl-{name}.toml",
        f'database_url = "{url}"\nmodels = "{models_module}"\ndirectory = "migrations"\n',
    )
    ini = write(folder / f"alembic-{name}.ini", ALEMBIC_INI.format(url=url.replace("%", "%%")))
    return toml, ini


def write_revision_chain(versions: Path, count: int) -> None:
    """``count`` hand-written revisions, each creating a table and an index."""
    versions.mkdir(parents=True, exist_ok=True)
    for index in range(1, count + 1):
        down = repr(f"r{index - 1:04d}") if index > 1 else "None"
        body = textwrap.dedent(
            f'''\
            """step {index}

            Revision ID: r{index:04d}
            Revises: {down}
            """
            import sqlalchemy as sa
            from alembic import op

            revision = "r{index:04d}"
            down_revision = {down}
            branch_labels = None
            depends_on = None


            def upgrade() -> None:
                op.create_table(
                    "chain_{index:04d}",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(50), nullable=False),
                )
                op.create_index("ix_chain_{index:04d}_name", "chain_{index:04d}", ["name"])


            def downgrade() -> None:
                op.drop_index("ix_chain_{index:04d}_name", table_name="chain_{index:04d}")
                op.drop_table("chain_{index:04d}")
            '''
        )
        write(versions / f"r{index:04d}_step_{index}.py", body)


def write_chain_models(folder: Path, package: str, count: int) -> str:
    """The models ``write_revision_chain(…, count)`` creates, so that they match at head."""
    classes = "".join(
        textwrap.dedent(
            f"""

            class Chain{index:04d}(Base):
                __tablename__ = "chain_{index:04d}"
                id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
                name: Mapped[str] = mapped_column(sa.String(50), index=True)
            """
        )
        for index in range(1, count + 1)
    )
    write(folder / package / "__init__.py", "")
    write(
        folder / package / "models.py",
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n" + classes,
    )
    return f"{package}.models"


PYTEST_ALEMBIC_CONFTEST = '''\
"""pytest-alembic's fixtures for the migratectl repository: its env.py takes the Engine
pytest-alembic hands it (config.attributes["connection"]) and reads the same migratectl
configuration for the models."""

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

HERE = Path(__file__).resolve().parent.parent
os.environ["MIGRATECTL_CONFIG"] = str(HERE / "migratectl-{name}.toml")
URL = {url!r}


@pytest.fixture
def alembic_config():
    return {{"script_location": str(HERE / "migrations")}}


@pytest.fixture
def alembic_engine(tmp_path):
    """An empty database per test, as pytest-alembic expects (verify makes one too)."""
    if URL.startswith("sqlite"):
        engine = create_engine(f"sqlite:///{{tmp_path / 'pytest_alembic.db'}}", poolclass=NullPool)
        yield engine
        engine.dispose()
        return
    admin = create_engine(URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    name = f"pa_{{uuid.uuid4().hex[:12]}}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {{name}}"))
    engine = create_engine(URL.rsplit("/", 1)[0] + "/" + name, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {{name}} WITH (FORCE)"))
        admin.dispose()
'''


# pytest-alembic's built-in tests, imported into a test module (its documented alternative to
# --test-alembic, whose collector does not work with pytest 9).
PYTEST_ALEMBIC_TESTS = """\
from pytest_alembic.tests import (  # noqa: F401
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
"""


def write_pytest_alembic(folder: Path, name: str, url: str) -> Path:
    """``tests-NAME/``: pytest-alembic's fixtures for configuration ``name`` and its four
    built-in tests; returns the folder."""
    tests = folder / f"tests-{name}"
    write(tests / "conftest.py", PYTEST_ALEMBIC_CONFTEST.format(name=name, url=url))
    write(tests / "test_migrations.py", PYTEST_ALEMBIC_TESTS)
    return tests
