"""``verify`` and ``adopt`` on multi-database repositories: every database proved on its own
scratch twin (same dialect as its URL), the real databases never touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import fresh_database
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from test_multidb import MultiProject, databases
from test_verify_scratch import leftovers

LAYOUTS = {
    "sqlite": {"": "sqlite", "analytics": "sqlite"},
    "postgresql": {"": "postgresql", "analytics": "postgresql"},
    "postgresql-mariadb": {"": "postgresql", "analytics": "mariadb"},
}


def multidb_project(urls: dict[str, str], path: Path) -> MultiProject:
    project = MultiProject(path, urls)
    project.models({"": ["users"], "analytics": ["events"]})
    project.config()
    assert project.run("init", "--multidb").exit_code == 0
    migrated = project.run("migrate", "-m", "initial")
    assert migrated.exit_code == 0, migrated
    return project


def checks_of(project: MultiProject, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    result = project.run("verify", "--json", *args)
    assert "Traceback" not in result.output, result
    document = json.loads(result.stdout)
    return result.exit_code, {check["name"]: check for check in document["checks"]}


def untouched(project: MultiProject) -> None:
    for name in project.urls:
        assert project.tables(name) == set(), name


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_database_is_proved_on_its_own_twin(layout: str, tmp_path: Path) -> None:
    with databases(LAYOUTS[layout], tmp_path) as urls:
        project = multidb_project(urls, tmp_path)
        code, checks = checks_of(project)
        assert code == 0, checks
        assert all(check["ok"] for check in checks.values()), checks
        untouched(project)

        # The analytics database's downgrade forgets its table: the stairway names it.
        [script] = project.project.revision_files()
        source = script.read_text()
        forgetful = source.replace(
            "def downgrade_analytics() -> None:", "def downgrade_analytics() -> None:\n    return"
        )
        assert forgetful != source
        script.write_text(forgetful)
        code, checks = checks_of(project)
        assert code == 1
        assert [name for name, check in checks.items() if not check["ok"]] == [
            "stairway",
            "downgrade_to_base",
        ]
        assert "table events in database 'analytics'" in str(checks["stairway"]["detail"])
        assert checks["downgrade_to_base"]["detail"] == (
            "left behind: table events in database 'analytics'"
        )
        untouched(project)


@pytest.mark.parametrize("layout", ["sqlite", "postgresql-mariadb"])
def test_a_bind_revision_that_raises_names_its_database(layout: str, tmp_path: Path) -> None:
    with databases(LAYOUTS[layout], tmp_path) as urls:
        project = multidb_project(urls, tmp_path)
        [script] = project.project.revision_files()
        script.write_text(
            script.read_text().replace(
                "def upgrade_analytics() -> None:",
                "def upgrade_analytics() -> None:\n    raise RuntimeError('analytics breaks')",
            )
        )
        code, checks = checks_of(project)
        assert code == 1
        detail = str(checks["upgrade"]["detail"])
        assert "upgrade raised RuntimeError: analytics breaks" in detail, detail
        assert detail.endswith("(in database 'analytics')"), detail
        untouched(project)


@pytest.mark.parametrize("layout", ["sqlite", "postgresql-mariadb"])
def test_scratch_url_names_a_bind_twin(layout: str, tmp_path: Path) -> None:
    with databases(LAYOUTS[layout], tmp_path) as urls:
        project = multidb_project(urls, tmp_path)
        (tmp_path / "twin").mkdir()
        twin = fresh_database(LAYOUTS[layout]["analytics"], tmp_path / "twin")
        scratch = next(twin)
        try:
            code, checks = checks_of(project, "--scratch-url", f"analytics={scratch}")
            assert code == 0, checks
            assert leftovers(scratch) == []  # it was used, and emptied afterwards
            refused = project.run("verify", "--scratch-url", f"analytics={urls['analytics']}")
            assert refused.exit_code == 2, refused
            assert "is the configured database" in refused.stderr
        finally:
            twin.close()

        unknown = project.run("verify", "--scratch-url", f"nosuch={urls['analytics']}")
        assert unknown.exit_code == 2, unknown
        assert "--scratch-url names the database 'nosuch'" in unknown.stderr
        assert "'analytics'" in unknown.stderr
        untouched(project)


def create_tables(url: str, *tables: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for table in tables:
                connection.execute(
                    text(
                        f"CREATE TABLE {table} "
                        "(id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL)"
                    )
                )
    finally:
        engine.dispose()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_adopt_stamps_every_database_only_when_all_match(layout: str, tmp_path: Path) -> None:
    with databases(LAYOUTS[layout], tmp_path) as urls:
        project = MultiProject(tmp_path, urls)
        project.models({"": ["users"], "analytics": ["events", "visits"]})
        project.config()
        assert project.run("init", "--multidb").exit_code == 0
        create_tables(urls[""], "users")
        create_tables(urls["analytics"], "events")  # visits is missing

        differs = project.run("adopt")
        assert differs.exit_code == 1, differs
        assert "database 'analytics': add_table visits" in differs.stdout
        assert "the default database" not in differs.stdout
        assert project.project.revision_files() == []
        assert project.tables("") == {"users"}
        assert project.tables("analytics") == {"events"}

        create_tables(urls["analytics"], "visits")
        adopted = project.run("adopt")
        assert adopted.exit_code == 0, adopted
        [script] = project.project.revision_files()
        source = script.read_text()
        upgrade_default = source.split("def upgrade_() -> None:")[1].split("def ")[0]
        upgrade_analytics = source.split("def upgrade_analytics() -> None:")[1].split("def ")[0]
        assert "'users'" in upgrade_default and "events" not in upgrade_default
        assert "'events'" in upgrade_analytics and "'visits'" in upgrade_analytics
        revision = script.name.split("_")[0]
        assert project.tables("") == {"users", "alembic_version"}
        assert project.tables("analytics") == {"events", "visits", "alembic_version"}
        current = json.loads(project.run("current", "--json").stdout)
        assert current["up_to_date"] is True, current
        assert revision in current["current"]
        assert project.run("check").exit_code == 0

        again = project.run("adopt")
        assert again.exit_code == 2 and "already under migrations" in again.stderr
