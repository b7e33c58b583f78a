"""The ``[lint]`` table: ``disable``, ``dialect``, ``postgresql_version``, ``mysql_version`` —
validated like every table of the configuration, and obeyed by ``migratectl lint``."""

from __future__ import annotations

import json

import pytest
from conftest import Project
from lint_support import add_revision, lint_project

from migratectl.errors import ConfigError
from migratectl.settings import load_settings

BODY = """
op.drop_column("users", "age")
op.drop_table("legacy")
op.rename_table("orders", "purchases")
"""


def project_with(sqlite_project: Project, lint_table: str, url: bool = True) -> Project:
    lines = [f'database_url = "{sqlite_project.database_url}"'] if url else []
    project = lint_project(sqlite_project, "\n".join([*lines, "[lint]", lint_table, ""]))
    add_revision(project, "a1", None, BODY)
    return project


def rules_found(project: Project) -> list[str]:
    result = project.run("lint", "--json")
    return [finding["rule"] for finding in json.loads(result.stdout)["findings"]]


def test_disable_by_id_and_by_name(sqlite_project: Project) -> None:
    project = project_with(sqlite_project, 'disable = ["MC102", "rename-table"]')

    assert rules_found(project) == ["MC101"]
    result = project.run("lint")
    assert result.exit_code == 1, result
    assert [line.split()[1] for line in result.stdout.splitlines()] == ["MC101"]


def test_everything_flagged_disabled_passes(sqlite_project: Project) -> None:
    project = project_with(sqlite_project, 'disable = ["drop-column", "MC101", "mc201"]')

    result = project.run("lint")

    assert result.exit_code == 0, result
    assert result.stdout == ""
    assert "No findings in 1 revision(s)." in result.stderr


def test_in_pyproject_toml(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write(
        "pyproject.toml",
        f"""
        [project]
        name = "app"

        [tool.migratectl]
        database_url = "{project.database_url}"

        [tool.migratectl.lint]
        disable = ["drop-table", "MC102"]
        dialect = "PostgreSQL"
        postgresql_version = "16"
        """,
    )
    assert project.run("init").exit_code == 0
    add_revision(project, "a1", None, BODY)

    assert rules_found(project) == ["MC201"]
    settings = load_settings(cwd=project.path, environ={})
    assert settings.lint_disable == frozenset({"MC101", "MC102"})
    assert (settings.lint_dialect, settings.lint_postgresql_version) == ("postgresql", (16,))

    project.write(
        "pyproject.toml",
        f"""
        [tool.migratectl]
        database_url = "{project.database_url}"

        [tool.migratectl.lint]
        dialects = "mysql"
        """,
    )
    result = project.run("lint")
    assert result.exit_code == 2, result
    assert (
        f'Unknown key "lint.dialects" in {project.path / "pyproject.toml"}. Did you mean "dialect"?'
    ) in result.stderr


def test_unknown_key_names_key_file_and_closest_key(sqlite_project: Project) -> None:
    project = project_with(sqlite_project, 'disabled = ["MC102"]')

    result = project.run("lint")

    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert (
        f'Error: Unknown key "lint.disabled" in {project.path / "migratectl.toml"}. '
        'Did you mean "disable"?'
    ) in result.stderr
    assert "[lint] takes disable, dialect, postgresql_version, mysql_version." in result.stderr
    # Every command reads the same file: a typo is found before anything else runs.
    assert project.run("heads").exit_code == 2


@pytest.mark.parametrize(
    ("entry", "suggestion"),
    [
        ("drop-colum", ' Did you mean "drop-column"?'),
        ("MC999", ""),
        ("MC1O2", ' Did you mean "MC102"?'),
        ("Drop-Tabel", ' "drop-table"?'),
    ],
)
def test_a_disable_entry_that_names_no_rule_is_an_error(
    sqlite_project: Project, entry: str, suggestion: str
) -> None:
    project = project_with(sqlite_project, f'disable = ["MC101", "{entry}"]')

    result = project.run("lint", "--json")

    assert result.exit_code == 2, result
    message = json.loads(result.stdout)["error"]["message"]
    assert message.startswith(
        f'lint.disable in {project.path / "migratectl.toml"} names "{entry}", which is no '
        "lint rule."
    )
    assert message.endswith(suggestion) if suggestion else "Did you mean" not in message


def test_a_bad_dialect_is_an_error_with_the_closest(sqlite_project: Project) -> None:
    project = project_with(sqlite_project, 'dialect = "postgres"')

    result = project.run("lint")

    assert result.exit_code == 2, result
    assert "lint.dialect in" in result.stderr
    assert 'is "postgres", which is no dialect lint knows. Did you mean "postgresql"?' in (
        result.stderr
    )
    assert 'Use one of "postgresql", "mysql", "mariadb", "sqlite".' in result.stderr


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ("mysql_version = 8.10", 'lint.mysql_version in {file} must be a version, e.g. "16" or'),
        ('mysql_version = "eight"', 'lint.mysql_version in {file} is "eight", which is not a'),
        ('disable = "MC101"', "lint.disable in {file} must be a list of strings"),
        ("dialect = 5", "lint.dialect in {file} must be a string"),
    ],
)
def test_values_of_the_wrong_shape_are_errors(
    sqlite_project: Project, table: str, error: str
) -> None:
    project = project_with(sqlite_project, table)

    result = project.run("lint")

    assert result.exit_code == 2, result
    assert error.format(file=project.path / "migratectl.toml") in result.stderr


def test_versions_are_read(sqlite_project: Project) -> None:
    assert load_settings(cwd=sqlite_project.path, environ={}).lint_mysql_version is None
    project = project_with(
        sqlite_project, 'mysql_version = "8.0.36"\npostgresql_version = 15\ndialect = "mariadb"'
    )
    settings = load_settings(cwd=project.path, environ={})
    assert settings.lint_mysql_version == (8, 0, 36)
    assert settings.lint_postgresql_version == (15,)
    assert settings.lint_dialect == "mariadb"
    assert settings.lint_disable == frozenset()


def test_lint_says_which_dialect_rules_it_skipped_without_a_dialect(
    sqlite_project: Project,
) -> None:
    project = project_with(sqlite_project, "", url=False)

    result = project.run("lint")

    assert result.exit_code == 1, result
    skipped = [line for line in result.stderr.splitlines() if line.startswith("Skipped")]
    assert skipped == [
        "Skipped the PostgreSQL rules (MC302, MC404, MC405, MC406, MC501, MC502, MC503, MC504) "
        "and the MySQL/MariaDB rules (MC303): no database dialect is known. Set database_url, "
        'or [lint] dialect = "postgresql" (or "mysql", "mariadb", "sqlite"), to run them.'
    ]
    # Named by [lint] dialect, nothing is skipped; a disabled rule is not reported skipped.
    assert (
        "Skipped"
        not in project_with(sqlite_project, 'dialect = "mysql"', url=False).run("lint").stderr
    )
    disabled = project_with(sqlite_project, 'disable = ["MC303"]', url=False).run("lint")
    assert "and the MySQL/MariaDB rules" not in disabled.stderr
    assert "Skipped the PostgreSQL rules (MC302," in disabled.stderr


def test_load_settings_error_is_a_config_error(sqlite_project: Project) -> None:
    project = project_with(sqlite_project, 'disable = ["nope"]')
    with pytest.raises(ConfigError, match='names "nope", which is no lint rule'):
        load_settings(cwd=project.path, environ={})


def test_through_the_installed_command(sqlite_project: Project) -> None:
    project = project_with(sqlite_project, 'disable = ["MC102", "rename-table"]')

    result = project.run_cli("lint", "--format", "github")
    assert result.exit_code == 1, result
    assert [line.split("title=")[1].split("::")[0] for line in result.stdout.splitlines()] == [
        "MC101 drop-table"
    ]

    project.write("migratectl.toml", '[lint]\ndisable = ["drop-tabel"]\n')
    result = project.run_cli("lint")
    assert result.exit_code == 2, result
    assert 'names "drop-tabel", which is no lint rule. Did you mean "drop-table"?' in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
