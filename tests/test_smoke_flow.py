"""Flask-Migrate's own flow, on every backend: init, check, migrate, check, upgrade, check."""

from __future__ import annotations

from conftest import Project


def test_flask_migrate_flow(project: Project) -> None:
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(50))
        """
    )
    project.config()
    assert project.run("init").exit_code == 0

    first = project.run("check")
    assert first.exit_code == 1, first
    assert "add_table users" in first.stdout

    migrated = project.run("migrate", "-m", "initial")
    assert migrated.exit_code == 0, migrated
    assert len(project.revision_files()) == 1

    pending = project.run("check")
    assert pending.exit_code == 1, pending
    assert "pending" in pending.stdout

    assert project.run("upgrade").exit_code == 0
    assert project.run("check").exit_code == 0
    project.query("INSERT INTO users (id, name) VALUES (1, 'ada')")
    assert project.query("SELECT name FROM users") == [("ada",)]
