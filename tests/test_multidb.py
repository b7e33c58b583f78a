"""Multi-database repositories: init --multidb, [binds.NAME], every database migrated together."""

from __future__ import annotations

import contextlib
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project, fresh_database, require_server
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

MODEL_TEMPLATE = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass

{classes}
"""


def model_class(table: str, extra: str = "") -> str:
    return textwrap.dedent(
        f"""
        class {table.title().replace("_", "")}(Base):
            __tablename__ = "{table}"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(40))
        """
    ) + textwrap.indent(textwrap.dedent(extra), "    ")


class MultiProject:
    """A project with a default database and named binds, each with its own models module."""

    def __init__(self, path: Path, urls: dict[str, str]) -> None:
        self.path = path
        self.urls = urls
        self.project = Project(path, urls[""])

    def module(self, name: str) -> str:
        return f"models_{name or 'main'}"

    def models(self, tables: dict[str, list[str]]) -> None:
        for name, names in tables.items():
            body = MODEL_TEMPLATE.format(classes="\n".join(model_class(t) for t in names))
            (self.path / f"{self.module(name)}.py").write_text(body)

    def config(self, names: list[str] | None = None) -> None:
        names = list(self.urls) if names is None else names
        lines = [f'database_url = "{self.urls[""]}"', f'models = "{self.module("")}"']
        for name in names:
            if name:
                lines += [
                    f"[binds.{name}]",
                    f'database_url = "{self.urls[name]}"',
                    f'models = "{self.module(name)}"',
                ]
        (self.path / "migratectl.toml").write_text("\n".join(lines) + "\n")

    def run(self, *args: str):  # type: ignore[no-untyped-def]
        return self.project.run(*args)

    def tables(self, name: str) -> set[str]:
        url = make_url(self.urls[name])
        engine = create_engine(url, poolclass=NullPool)
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()


@contextlib.contextmanager
def databases(backends: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """Fresh databases, one per name, on the given backends."""
    with contextlib.ExitStack() as stack:
        urls = {}
        for name, backend in backends.items():
            folder = tmp_path / f"db_{name or 'main'}"
            folder.mkdir()
            urls[name] = stack.enter_context(
                contextlib.contextmanager(fresh_database)(backend, folder)
            )
        yield urls


LAYOUTS = {
    "two-sqlite": {"": "sqlite", "analytics": "sqlite"},
    "three-mixed": {"": "postgresql", "analytics": "sqlite", "audit": "mariadb"},
    "two-servers": {"": "mariadb", "reports": "postgresql"},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_init_migrate_upgrade_downgrade_check(layout: str, tmp_path: Path) -> None:
    backends = LAYOUTS[layout]
    with databases(backends, tmp_path) as urls:
        project = MultiProject(tmp_path, urls)
        tables = {name: [f"{name or 'main'}_items"] for name in urls}
        project.models(tables)
        project.config()

        init = project.run("init", "--multidb")
        assert init.exit_code == 0, init
        assert "run_multidb_migrations" in (tmp_path / "migrations" / "env.py").read_text()

        before = project.run("check")
        assert before.exit_code == 1, before
        for name in urls:
            assert f"[{name or 'default'}] add_table {name or 'main'}_items" in before.stdout

        migrated = project.run("migrate", "-m", "initial")
        assert migrated.exit_code == 0, migrated
        [script] = project.project.revision_files()
        source = script.read_text()
        for name in urls:
            assert f"def upgrade_{name}() -> None:" in source
            assert f"def downgrade_{name}() -> None:" in source

        pending = project.run("check")
        assert pending.exit_code == 1 and "pending" in pending.stdout, pending

        upgraded = project.run("upgrade")
        assert upgraded.exit_code == 0, upgraded
        for name in urls:
            # each table lands only in its own database
            assert project.tables(name) == {f"{name or 'main'}_items", "alembic_version"}

        assert project.run("check").exit_code == 0

        current = project.run("current", "--json")
        document = json.loads(current.stdout)
        assert document["up_to_date"] is True
        assert set(document["binds"]) == set(urls) - {""}

        down = project.run("downgrade", "base")
        assert down.exit_code == 0, down
        for name in urls:
            assert project.tables(name) == {"alembic_version"}
        assert project.run("current", "--check-heads").exit_code == 1


def test_offline_sql_names_each_database(tmp_path: Path) -> None:
    with databases({"": "sqlite", "analytics": "sqlite"}, tmp_path) as urls:
        project = MultiProject(tmp_path, urls)
        project.models({"": ["users"], "analytics": ["events"]})
        project.config()
        assert project.run("init", "--multidb").exit_code == 0
        assert project.run("migrate", "-m", "initial").exit_code == 0

        offline = project.run("upgrade", "--sql")
        assert offline.exit_code == 0, offline
        sql = offline.stdout
        default_at = sql.index("-- Database (default)")
        analytics_at = sql.index("-- Database 'analytics'")
        users_at = sql.index("CREATE TABLE users")
        events_at = sql.index("CREATE TABLE events")
        assert default_at < users_at < analytics_at < events_at
        # offline mode touches no database
        assert project.tables("") == set() and project.tables("analytics") == set()


def test_adding_a_bind_later(tmp_path: Path) -> None:
    with databases({"": "sqlite", "analytics": "sqlite"}, tmp_path) as urls:
        project = MultiProject(tmp_path, urls)
        project.models({"": ["users"]})
        project.config(names=[""])
        assert project.run("init", "--multidb").exit_code == 0
        assert project.run("migrate", "-m", "users").exit_code == 0
        assert project.run("upgrade").exit_code == 0

        # a second database joins the project: old revisions have no functions for it
        project.models({"": ["users"], "analytics": ["events"]})
        project.config()
        behind = project.run("migrate", "-m", "events")
        assert behind.exit_code == 2 and "Run `migratectl upgrade` first" in behind.stderr
        # bringing the new database to head runs the old revisions' (absent) functions for it
        assert project.run("upgrade").exit_code == 0
        assert project.tables("analytics") == {"alembic_version"}
        migrated = project.run("migrate", "-m", "events")
        assert migrated.exit_code == 0, migrated
        newest = max(project.project.revision_files(), key=lambda p: "events" in p.name)
        assert "def upgrade_analytics() -> None:" in newest.read_text()

        upgraded = project.run("upgrade")
        assert upgraded.exit_code == 0, upgraded
        assert project.tables("analytics") == {"events", "alembic_version"}
        assert project.tables("") == {"users", "alembic_version"}
        assert project.run("check").exit_code == 0
        assert project.run("downgrade", "base").exit_code == 0
        assert project.tables("analytics") == {"alembic_version"}


def test_bind_server_down_names_the_bind(tmp_path: Path) -> None:
    with databases({"": "sqlite"}, tmp_path) as urls:
        urls["audit"] = "postgresql+psycopg://postgres:Pw0rd@127.0.0.1:1/audit"
        project = MultiProject(tmp_path, urls)
        project.models({"": ["users"], "audit": ["entries"]})
        project.config()
        assert project.run("init", "--multidb").exit_code == 0

        for command in (["upgrade"], ["current"], ["check"]):
            result = project.run(*command)
            assert result.exit_code == 3, (command, result)
            assert "database 'audit'" in result.stderr
            assert "Pw0rd" not in result.output
            assert "Traceback" not in result.output
        # the reachable database was left untouched by the failed upgrade
        assert project.tables("") == set()


def test_bind_without_url_is_a_configuration_error(tmp_path: Path) -> None:
    with databases({"": "sqlite"}, tmp_path) as urls:
        project = MultiProject(tmp_path, urls)
        project.models({"": ["users"]})
        (tmp_path / "migratectl.toml").write_text(
            f'database_url = "{urls[""]}"\nmodels = "models_main"\n[binds.audit]\n'
            'models = "models_audit"\n'
        )
        assert project.run("init", "--multidb").exit_code == 0
        result = project.run("upgrade")
        assert result.exit_code == 2, result
        assert "[binds.audit] has no database_url" in result.stderr


def test_lock_covers_every_database(tmp_path: Path) -> None:
    """While another process holds the lock of a bind, upgrade waits and times out (exit 5)."""
    require_server("postgresql")
    from migratectl.database.locking import lock_key

    with databases({"": "sqlite", "reports": "postgresql"}, tmp_path) as urls:
        project = MultiProject(tmp_path, urls)
        project.models({"": ["users"], "reports": ["totals"]})
        project.config()
        assert project.run("init", "--multidb").exit_code == 0
        assert project.run("migrate", "-m", "initial").exit_code == 0

        engine = create_engine(urls["reports"], poolclass=NullPool)
        key = lock_key(make_url(urls["reports"]).database or "", "public", "alembic_version")
        with engine.connect() as holder:
            holder.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
            result = project.project.run_cli("upgrade", "--lock-timeout", "1")
            holder.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
        engine.dispose()
        assert result.exit_code == 5, result
        assert project.tables("") == set()  # nothing ran on the default database either
        assert project.run("upgrade").exit_code == 0
        assert project.tables("reports") == {"totals", "alembic_version"}
