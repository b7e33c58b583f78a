"""The Python API, and a migratectl repository driven by Alembic's own API (as pytest-alembic
does), with a Connection or an Engine handed in through ``config.attributes["connection"]``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from conftest import Project
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

import migratectl as api
from migratectl.settings import load_settings

MODELS = """
class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
"""


def _prepared(project: Project) -> None:
    project.models(MODELS)
    project.config()
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "books").exit_code == 0


def test_api_mirrors_the_commands(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(MODELS)
    os.chdir(project.path)
    settings = load_settings(database_url=project.database_url, models="models")
    api.init(settings)
    [path] = api.migrate(settings, message="books")
    assert path.exists()
    assert api.check(settings).pending == [path.name.split("_")[0]]
    api.upgrade(settings)
    state = api.current(settings)
    assert state.up_to_date and state.current == state.heads
    assert api.check(settings).up_to_date
    assert [r.revision for r in api.history(settings)] == state.heads
    api.downgrade(settings, "base")
    assert api.current(settings).current == []


@pytest.mark.parametrize("hand_in", ["connection", "engine"])
def test_connection_handed_in(sqlite_project: Project, hand_in: str) -> None:
    project = sqlite_project
    _prepared(project)
    config = Config()
    config.set_main_option("script_location", str(project.path / "migrations"))
    # The URL in migratectl.toml points elsewhere: the handed-in connectable must win.
    other = project.path / "other.db"
    engine = create_engine(f"sqlite:///{other}", poolclass=NullPool)
    os.chdir(project.path)
    if hand_in == "engine":
        config.attributes["connection"] = engine
        command.upgrade(config, "head")
    else:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    assert set(inspect(engine).get_table_names()) == {"books", "alembic_version"}
    engine.dispose()
    assert not Path(project.path / "app.db").exists()


def test_autogenerate_through_alembic_api_loads_models(sqlite_project: Project) -> None:
    """pytest-alembic's model check runs autogenerate through Alembic: models must be found."""
    project = sqlite_project
    _prepared(project)
    assert project.run("upgrade").exit_code == 0
    project.models(MODELS + "    isbn: Mapped[str] = mapped_column(sa.String(13))\n")
    os.chdir(project.path)
    config = Config()
    config.set_main_option("script_location", str(project.path / "migrations"))
    with pytest.raises(Exception, match="isbn"):
        command.check(config)
