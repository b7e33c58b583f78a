"""``models`` → MetaData: every form the setting takes, and every way it can go wrong.

The first half calls migratectl.models.resolve_metadata directly; the second half checks what
a user sees at the command line (exit codes, messages, the revision that gets written).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Project
from sqlalchemy import MetaData

from migratectl.errors import ConfigError
from migratectl.models import resolve_metadata

Write = Callable[[str, str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a module under a folder that is on sys.path (restored after the test)."""
    root = tmp_path / "code"
    root.mkdir()
    sys.path.insert(0, str(root))

    def write_module(relative: str, content: str) -> Path:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content).lstrip())
        return target

    return write_module


BASE_MODULE = """
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass
"""


def tables(metadata: MetaData | list[MetaData]) -> set[str]:
    found = metadata if isinstance(metadata, list) else [metadata]
    return {name for m in found for name in m.tables}


def resolve_error(spec: str) -> str:
    with pytest.raises(ConfigError) as info:
        resolve_metadata(spec)
    return str(info.value)


# --------------------------------------------------------------------------- the forms


def test_module_with_one_declarative_base(write: Write) -> None:
    write(
        "shop_a/__init__.py",
        BASE_MODULE
        + """
    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
    """,
    )
    import shop_a

    metadata = resolve_metadata("shop_a")
    assert metadata is shop_a.Base.metadata
    assert tables(metadata) == {"users"}


def test_module_colon_base(write: Write) -> None:
    write(
        "shop_b/models.py",
        BASE_MODULE
        + """
    class Other(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
    """,
    )
    write("shop_b/__init__.py", "")
    # Two bases: naming one chooses it.
    assert tables(resolve_metadata("shop_b.models:Base")) == {"users"}
    assert tables(resolve_metadata("shop_b.models:Other")) == set()


def test_module_colon_plain_metadata_with_tables(write: Write) -> None:
    write(
        "core_tables.py",
        """
        import sqlalchemy as sa

        metadata = sa.MetaData()
        accounts = sa.Table("accounts", metadata, sa.Column("id", sa.Integer, primary_key=True))
        ledger = sa.Table("ledger", metadata, sa.Column("id", sa.Integer, primary_key=True))
        """,
    )
    import core_tables

    assert resolve_metadata("core_tables:metadata") is core_tables.metadata
    # Found without the attribute too: it is the module's only MetaData.
    assert resolve_metadata("core_tables") is core_tables.metadata
    assert tables(resolve_metadata("core_tables")) == {"accounts", "ledger"}


@pytest.mark.parametrize("container", ["[meta1, meta2]", "(meta1, Base)"])
def test_module_colon_list_of_metadata(write: Write, container: str) -> None:
    write(
        "multi_meta.py",
        BASE_MODULE
        + f"""
    meta1 = sa.MetaData()
    sa.Table("one", meta1, sa.Column("id", sa.Integer, primary_key=True))
    meta2 = sa.MetaData()
    sa.Table("two", meta2, sa.Column("id", sa.Integer, primary_key=True))

    class Three(Base):
        __tablename__ = "three"
        id: Mapped[int] = mapped_column(primary_key=True)

    all_metadata = {container}
    """,
    )
    import multi_meta

    resolved = resolve_metadata("multi_meta:all_metadata")
    assert isinstance(resolved, list)
    expected = [
        multi_meta.meta1,
        multi_meta.meta2 if "meta2" in container else multi_meta.Base.metadata,
    ]
    assert resolved == expected


def test_classic_declarative_base(write: Write) -> None:
    write(
        "classic.py",
        """
        import sqlalchemy as sa
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Item(Base):
            __tablename__ = "items"
            id = sa.Column(sa.Integer, primary_key=True)
        """,
    )
    import classic

    assert resolve_metadata("classic") is classic.Base.metadata
    assert resolve_metadata("classic:Base") is classic.Base.metadata


def test_dotted_attribute(write: Write) -> None:
    write(
        "holder.py",
        """
        import types
        import sqlalchemy as sa

        db = types.SimpleNamespace(metadata=sa.MetaData())
        """,
    )
    import holder

    assert resolve_metadata("holder:db.metadata") is holder.db.metadata


def test_metadata_shared_by_a_base_is_found_once(write: Write) -> None:
    write(
        "shared_meta.py",
        """
        import sqlalchemy as sa
        from sqlalchemy.orm import declarative_base

        metadata = sa.MetaData()
        Base = declarative_base(metadata=metadata)
        """,
    )
    import shared_meta

    assert resolve_metadata("shared_meta") is shared_meta.metadata


def test_registry_is_a_source_of_metadata(write: Write) -> None:
    write(
        "imperative.py",
        """
        import sqlalchemy as sa
        from sqlalchemy.orm import registry

        mapper_registry = registry()
        users = sa.Table(
            "users", mapper_registry.metadata, sa.Column("id", sa.Integer, primary_key=True)
        )


        class User:
            pass


        mapper_registry.map_imperatively(User, users)
        """,
    )
    import imperative

    assert resolve_metadata("imperative") is imperative.mapper_registry.metadata
    assert resolve_metadata("imperative:mapper_registry") is imperative.mapper_registry.metadata


def test_auto_discovery_ignores_imported_models_mixins_and_subclasses(write: Write) -> None:
    """A models package that imports its classes from other modules still has one base."""
    write("app_pkg/__init__.py", "")
    write("app_pkg/base.py", BASE_MODULE)
    write(
        "app_pkg/users.py",
        """
        from sqlalchemy.orm import Mapped, mapped_column

        from app_pkg.base import Base


        class Timestamped(Base):
            __abstract__ = True
            created: Mapped[int] = mapped_column(default=0)


        class User(Timestamped):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            kind: Mapped[str]
            __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "user"}


        class Admin(User):  # single-table inheritance: no table of its own
            __mapper_args__ = {"polymorphic_identity": "admin"}
        """,
    )
    write(
        "app_pkg/orders.py",
        """
        import sqlalchemy as sa
        from sqlalchemy.orm import Mapped, mapped_column

        from app_pkg.base import Base


        class Order(Base):
            __table__ = sa.Table(
                "orders", Base.metadata, sa.Column("id", sa.Integer, primary_key=True)
            )
        """,
    )
    write(
        "app_pkg/models.py",
        """
        from sqlalchemy.orm import DeclarativeBase, declarative_base  # noqa: F401

        from app_pkg.base import Base  # noqa: F401
        from app_pkg.orders import Order  # noqa: F401
        from app_pkg.users import Admin, Timestamped, User  # noqa: F401
        """,
    )
    import app_pkg.base

    metadata = resolve_metadata("app_pkg.models")
    assert metadata is app_pkg.base.Base.metadata
    assert tables(metadata) == {"users", "orders"}


@pytest.fixture
def sqlmodel_tables() -> Iterator[None]:
    """SQLModel keeps one MetaData for the whole process: empty it around the test."""
    from sqlmodel import SQLModel

    SQLModel.metadata.clear()
    yield
    SQLModel.metadata.clear()


@pytest.mark.usefixtures("sqlmodel_tables")
def test_sqlmodel_class_is_found_through_its_import(write: Write) -> None:
    """A SQLModel project: ``from sqlmodel import SQLModel`` is the only way to the MetaData."""
    write("fastapi_app/__init__.py", "")
    write(
        "fastapi_app/models.py",
        """
        from sqlmodel import Field, SQLModel


        class HeroBase(SQLModel):  # a schema, not a table: same MetaData, not listed apart
            name: str


        class Hero(HeroBase, table=True):
            id: int | None = Field(default=None, primary_key=True)
        """,
    )
    from sqlmodel import SQLModel

    metadata = resolve_metadata("fastapi_app.models")
    assert metadata is SQLModel.metadata
    assert tables(metadata) == {"hero"}
    assert resolve_metadata("fastapi_app.models:SQLModel") is SQLModel.metadata


def test_flask_sqlalchemy_db_is_found(write: Write) -> None:
    write(
        "flask_shop.py",
        """
        from flask import current_app, request  # proxies that raise outside an app context
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        class User(db.Model):
            id = db.Column(db.Integer, primary_key=True)
            name = db.Column(db.String(40))
        """,
    )
    import flask_shop

    metadata = resolve_metadata("flask_shop")
    assert metadata is flask_shop.db.metadata
    assert tables(metadata) == {"user"}
    assert resolve_metadata("flask_shop:db") is flask_shop.db.metadata


def test_only_model_classes_imported(write: Write) -> None:
    """The base lives elsewhere; the models module imports only the models from it."""
    write("legacy_pkg/__init__.py", "")
    write(
        "legacy_pkg/base.py",
        """
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()
        """,
    )
    write(
        "legacy_pkg/tables.py",
        """
        import sqlalchemy as sa

        from legacy_pkg.base import Base


        class Invoice(Base):
            __tablename__ = "invoices"
            id = sa.Column(sa.Integer, primary_key=True)


        class Line(Base):
            __tablename__ = "lines"
            id = sa.Column(sa.Integer, primary_key=True)
        """,
    )
    write(
        "legacy_pkg/models.py",
        """
        import sqlalchemy  # noqa: F401
        from sqlalchemy import MetaData  # noqa: F401

        from legacy_pkg.tables import Invoice, Line  # noqa: F401
        """,
    )
    import legacy_pkg.base

    metadata = resolve_metadata("legacy_pkg.models")
    assert metadata is legacy_pkg.base.Base.metadata
    assert tables(metadata) == {"invoices", "lines"}


def test_a_table_reaches_its_metadata(write: Write) -> None:
    write(
        "only_table.py",
        """
        from core_meta import accounts  # noqa: F401
        """,
    )
    write(
        "core_meta.py",
        """
        import sqlalchemy as sa

        accounts = sa.Table("accounts", sa.MetaData(), sa.Column("id", sa.Integer))
        """,
    )
    import core_meta

    assert resolve_metadata("only_table") is core_meta.accounts.metadata


# --------------------------------------------------------------------------- errors


def test_missing_module_is_named(write: Write) -> None:
    message = resolve_error("no_such_models_pkg.models")
    assert 'Cannot import the models module "no_such_models_pkg.models"' in message
    assert 'no module named "no_such_models_pkg"' in message


def test_missing_submodule_is_named(write: Write) -> None:
    write("half_pkg/__init__.py", "")
    message = resolve_error("half_pkg.models:Base")
    assert 'no module named "half_pkg.models"' in message


def test_missing_dependency_of_the_models_is_named(write: Write) -> None:
    write("needs_dep.py", "import not_installed_dependency_xyz\n")
    message = resolve_error("needs_dep")
    assert 'Importing the models module "needs_dep" failed' in message
    assert "not_installed_dependency_xyz" in message


def test_module_raising_on_import_shows_the_original_error(write: Write) -> None:
    write("explodes.py", 'raise RuntimeError("settings.SECRET_KEY is not set")\n')
    message = resolve_error("explodes")
    assert 'Importing the models module "explodes" raised an error' in message
    assert "RuntimeError: settings.SECRET_KEY is not set" in message


def test_syntax_error_in_the_models_names_file_and_line(write: Write) -> None:
    path = write("broken_syntax.py", "import sqlalchemy\n\n\ndef oops(:\n    pass\n")
    message = resolve_error("broken_syntax")
    assert "SyntaxError" in message
    assert str(path) in message
    assert "line 4" in message


def test_missing_attribute_is_named(write: Write) -> None:
    write("no_attr.py", BASE_MODULE)
    message = resolve_error("no_attr:Bsae")
    assert 'The models module "no_attr" has no attribute "Bsae"' in message


def test_attribute_that_is_not_metadata(write: Write) -> None:
    write("wrong_attr.py", BASE_MODULE + "\n    def helper():\n        pass\n")
    message = resolve_error("wrong_attr:helper")
    assert '"wrong_attr:helper" is a function, not a MetaData or a declarative base' in message


@pytest.mark.parametrize("value", ["[]", "[Base, 3]"])
def test_list_with_something_else_is_an_error(write: Write, value: str) -> None:
    write("bad_list.py", BASE_MODULE + f"\n    targets = {value}\n")
    message = resolve_error("bad_list:targets")
    assert '"bad_list:targets" must be a MetaData, a declarative base, or a list of them' in message


def test_module_without_metadata(write: Write) -> None:
    write(
        "plain_module.py", "import sqlalchemy as sa\nfrom sqlalchemy.orm import DeclarativeBase\n"
    )
    message = resolve_error("plain_module")
    assert 'The models module "plain_module" defines no MetaData or declarative base' in message
    assert 'models = "plain_module:Base"' in message


def test_two_declarative_bases_are_listed(write: Write) -> None:
    write(
        "two_bases.py",
        BASE_MODULE
        + """
    class AuditBase(DeclarativeBase):
        pass

    class Entry(AuditBase):
        __tablename__ = "entries"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Member(Entry):  # a subclass without a table is not a third base
        pass
    """,
    )
    message = resolve_error("two_bases")
    assert 'The models module "two_bases" has 2 separate MetaData: AuditBase, Base.' in message
    assert "Member" not in message
    assert 'models = "two_bases:AuditBase"' in message


def test_metadata_class_and_sqlalchemy_module_do_not_count(write: Write) -> None:
    write(
        "imports_only.py",
        """
        import sqlalchemy
        import sqlalchemy as sa
        import sqlmodel
        from flask import current_app
        from sqlalchemy import MetaData, Table
        from sqlalchemy.orm import DeclarativeBase, registry


        class Touchy:
            \"\"\"Raises whatever is asked of it, even its class (a lazy settings proxy).\"\"\"

            def __getattribute__(self, name):
                raise RuntimeError("settings are not configured")


        settings = Touchy()
        """,
    )
    message = resolve_error("imports_only")
    assert 'The models module "imports_only" defines no MetaData or declarative base' in message


@pytest.mark.usefixtures("sqlmodel_tables")
def test_two_different_metadata_through_models_are_listed(write: Write) -> None:
    """SQLModel's MetaData and a declarative base's; the models name their source once."""
    write(
        "mixed_models.py",
        BASE_MODULE
        + """
    from sqlmodel import Field, SQLModel

    class Hero(SQLModel, table=True):
        id: int | None = Field(default=None, primary_key=True)

    class Account(Base):
        __tablename__ = "accounts"
        id: Mapped[int] = mapped_column(primary_key=True)
    """,
    )
    message = resolve_error("mixed_models")
    assert 'The models module "mixed_models" has 2 separate MetaData: Base, SQLModel.' in message
    assert 'models = "mixed_models:Base"' in message


def test_two_metadata_reached_only_through_models_name_the_models(write: Write) -> None:
    write(
        "two_sources.py",
        """
        import sqlalchemy as sa
        from sqlalchemy.orm import declarative_base

        A = declarative_base()
        B = declarative_base()


        class Left(A):
            __tablename__ = "left_side"
            id = sa.Column(sa.Integer, primary_key=True)


        class Right(B):
            __tablename__ = "right_side"
            id = sa.Column(sa.Integer, primary_key=True)


        class RightToo(B):
            __tablename__ = "right_too"
            id = sa.Column(sa.Integer, primary_key=True)
        """,
    )
    write("two_models_only.py", "from two_sources import Left, Right, RightToo  # noqa: F401\n")
    message = resolve_error("two_models_only")
    assert "has 2 separate MetaData: Left, Right / RightToo." in message


# --------------------------------------------------------------------------- at the CLI


@pytest.fixture
def initialised(sqlite_project: Project) -> Project:
    sqlite_project.config(models=None)
    result = sqlite_project.run("init")
    assert result.exit_code == 0, result
    return sqlite_project


def migrate_and_read(project: Project, models: str) -> str:
    result = project.run("migrate", "-m", "initial", "--models", models)
    assert result.exit_code == 0, result
    (script,) = project.revision_files()
    return script.read_text()


def test_cli_list_attribute_puts_every_table_in_the_migration(initialised: Project) -> None:
    initialised.write(
        "tables.py",
        """
        import sqlalchemy as sa

        meta1 = sa.MetaData()
        sa.Table("alpha", meta1, sa.Column("id", sa.Integer, primary_key=True))
        meta2 = sa.MetaData()
        sa.Table("beta", meta2, sa.Column("id", sa.Integer, primary_key=True))
        all_metadata = [meta1, meta2]
        """,
    )
    script = migrate_and_read(initialised, "tables:all_metadata")
    assert "op.create_table('alpha'" in script
    assert "op.create_table('beta'" in script
    assert initialised.run("upgrade").exit_code == 0
    assert {"alpha", "beta"} <= initialised.tables()
    assert initialised.run("check", "--models", "tables:all_metadata").exit_code == 0


def test_cli_plain_metadata(initialised: Project) -> None:
    initialised.write(
        "tables.py",
        """
        import sqlalchemy as sa

        metadata = sa.MetaData()
        sa.Table("ledger", metadata, sa.Column("id", sa.Integer, primary_key=True))
        """,
    )
    assert "op.create_table('ledger'" in migrate_and_read(initialised, "tables:metadata")


def test_cli_classic_declarative_base(initialised: Project) -> None:
    initialised.write(
        "legacy.py",
        """
        import sqlalchemy as sa
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Item(Base):
            __tablename__ = "items"
            id = sa.Column(sa.Integer, primary_key=True)
        """,
    )
    assert "op.create_table('items'" in migrate_and_read(initialised, "legacy")


def test_cli_auto_discovery_with_models_in_several_modules(initialised: Project) -> None:
    initialised.write("myapp/__init__.py", "")
    initialised.write("myapp/base.py", BASE_MODULE)
    initialised.write(
        "myapp/users.py",
        """
        from sqlalchemy.orm import Mapped, mapped_column

        from myapp.base import Base


        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
        """,
    )
    initialised.write(
        "myapp/models.py",
        """
        from myapp.base import Base  # noqa: F401
        from myapp.users import User  # noqa: F401
        """,
    )
    assert "op.create_table('users'" in migrate_and_read(initialised, "myapp.models")


@pytest.mark.parametrize(
    ("files", "models", "expected"),
    [
        ({}, "missing_models", 'Cannot import the models module "missing_models"'),
        (
            {"boom.py": 'raise ValueError("DATABASE_HOST must be set")\n'},
            "boom",
            "ValueError: DATABASE_HOST must be set",
        ),
        (
            {"models.py": BASE_MODULE},
            "models:Basee",
            'The models module "models" has no attribute "Basee"',
        ),
        (
            {"empty_models.py": "import sqlalchemy\n"},
            "empty_models",
            'The models module "empty_models" defines no MetaData or declarative base',
        ),
        (
            {"twice.py": BASE_MODULE + "\n    class Second(DeclarativeBase):\n        pass\n"},
            "twice",
            "has 2 separate MetaData: Base, Second.",
        ),
    ],
)
@pytest.mark.parametrize("command", ["check", "migrate"])
def test_cli_models_errors_exit_2_without_traceback(
    initialised: Project, files: dict[str, str], models: str, expected: str, command: str
) -> None:
    for name, content in files.items():
        initialised.write(name, content)
    result = initialised.run(command, "--models", models)
    assert result.exit_code == 2, result
    assert expected in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert initialised.revision_files() == []
    assert not (initialised.path / "app.db").exists()


def test_cli_models_error_shows_traceback_with_verbose(initialised: Project) -> None:
    initialised.write("boom.py", 'raise ValueError("DATABASE_HOST must be set")\n')
    result = initialised.run("check", "--models", "boom", "-v")
    assert result.exit_code == 2, result
    assert "Traceback" in result.stderr
    assert "ValueError: DATABASE_HOST must be set" in result.stderr


def test_cli_models_are_not_imported_by_commands_that_do_not_need_them(
    initialised: Project,
) -> None:
    initialised.write("boom.py", 'raise ValueError("must not be imported")\n')
    for args in (["upgrade"], ["current"], ["history"], ["heads"], ["downgrade", "base"]):
        result = initialised.run(*args, "--models", "boom")
        assert result.exit_code == 0, (args, result)
        assert "must not be imported" not in result.output
