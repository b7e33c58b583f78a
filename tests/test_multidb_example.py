"""examples/multidb, driven end to end through the installed migratectl command."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from conftest import Project

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "multidb"


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}


def test_multidb_example(tmp_path: Path) -> None:
    folder = tmp_path / "multidb"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("migrations", "*.db"))
    project = Project(folder, "")

    assert project.run_cli("init", "--multidb").exit_code == 0
    migrated = project.run_cli("migrate", "-m", "initial")
    assert migrated.exit_code == 0, migrated
    [script] = project.revision_files()
    assert "def upgrade_analytics() -> None:" in script.read_text()

    upgraded = project.run_cli("upgrade")
    assert upgraded.exit_code == 0, upgraded
    assert _tables(folder / "shop.db") == {"alembic_version", "customers", "orders"}
    assert _tables(folder / "analytics.db") == {"alembic_version", "page_views"}

    current = project.run_cli("current")
    revision = script.name.split("_")[0]
    assert current.stdout.splitlines() == [
        f"(default): {revision} (head)",
        f"analytics: {revision} (head)",
    ]
    assert project.run_cli("check").exit_code == 0
    assert project.run_cli("downgrade", "base").exit_code == 0
    assert _tables(folder / "analytics.db") == {"alembic_version"}
