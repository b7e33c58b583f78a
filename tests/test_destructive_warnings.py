"""After migrate writes a revision, each operation in it that drops data is warned about."""

from __future__ import annotations

import re

from conftest import Project

FIRST = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    age: Mapped[int] = mapped_column(sa.Integer)


class Legacy(Base):
    __tablename__ = "legacy"
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def at_first_revision(project: Project) -> None:
    project.models(FIRST)
    project.config()
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "first").exit_code == 0
    assert project.run("upgrade").exit_code == 0


def written(result_stdout: str) -> str:
    match = re.search(r"Generated (\S+)", result_stdout)
    assert match, result_stdout
    return match.group(1)


def line_of(project: Project, path: str, text: str) -> int:
    lines = (project.path / path).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_drops_and_narrowing_are_warned_about_with_file_and_line(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    sqlite_project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(20))
        """
    )
    result = sqlite_project.run("migrate", "-m", "shrink")
    assert result.exit_code == 0, result
    path = written(result.stdout)
    drop_table = line_of(sqlite_project, path, "op.drop_table('legacy')")
    drop_column = line_of(sqlite_project, path, "batch_op.drop_column('age')")
    narrow = line_of(sqlite_project, path, "batch_op.alter_column('name'")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert sorted(warnings) == sorted(
        [
            f"Warning: {path}:{drop_table}: MC101 drop-table legacy drops the table and its rows; "
            "review it before you upgrade.",
            f"Warning: {path}:{drop_column}: MC102 drop-column users.age drops the column and its "
            "values; review it before you upgrade.",
            f"Warning: {path}:{narrow}: MC301 narrowing-type users.name changes "
            "sa.VARCHAR(length=50) to sa.String(length=20), which cannot hold every value; "
            "review it before you upgrade.",
        ]
    )


def test_additive_and_widening_changes_are_not_warned_about(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    sqlite_project.models(
        FIRST.replace("sa.String(50)", "sa.String(80)")
        + "    email: Mapped[str | None] = mapped_column(sa.String(100))\n"
    )
    result = sqlite_project.run("migrate", "-m", "grow")
    assert result.exit_code == 0, result
    script = (sqlite_project.path / written(result.stdout)).read_text()
    assert "type_=sa.String(length=80)" in script and "add_column" in script
    assert "Warning" not in result.stderr


def test_warned_on_every_backend(project: Project) -> None:
    at_first_revision(project)
    project.models(FIRST.replace("    age: Mapped[int] = mapped_column(sa.Integer)\n", ""))
    result = project.run("migrate", "-m", "no age")
    assert result.exit_code == 0, result
    assert f"Warning: {written(result.stdout)}:" in result.stderr
    assert "MC102 drop-column users.age drops the column and its values" in result.stderr


def test_the_installed_command_warns_on_stderr(sqlite_project: Project) -> None:
    at_first_revision(sqlite_project)
    sqlite_project.models(FIRST.split("class Legacy")[0])
    result = sqlite_project.run_cli("migrate", "-m", "no legacy")
    assert result.exit_code == 0, result
    assert "drop_table" not in result.stdout
    assert "MC101 drop-table legacy drops the table and its rows" in result.stderr
