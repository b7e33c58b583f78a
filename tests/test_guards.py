"""Guard rails (SPEC §1, §2): mistakes that used to pass silently or write a broken file are
refused, with exit 2 and nothing written — binds a one-database repository would ignore,
misspelt [configure] / [alembic] keys, models whose tables were never imported, a populated
database with no revision yet, a duplicate or unsafe --rev-id, a merge with nothing to merge —
and any -m text gives a revision file that loads."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import Project, Result

MODELS = """
class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(sa.String(200), server_default="x")
"""

EMPTY_MODELS = (
    "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n"
)


def initialised(project: Project, body: str = "") -> Project:
    """A configured repository with no revision; ``body`` is added to migratectl.toml after
    init (which would refuse a bad one itself)."""
    project.models(MODELS)
    project.config()
    result = project.run("init")
    assert result.exit_code == 0, result
    if body:
        project.config(body)
    return project


def at_head(project: Project, body: str = "") -> Project:
    """A project whose first revision (creating notes) is applied."""
    initialised(project, body)
    for args in (["migrate", "-m", "notes"], ["upgrade"]):
        result = project.run(*args)
        assert result.exit_code == 0, result
    return project


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".lock"
    }


def refused(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, result
    assert "Traceback" not in result.output, result
    assert "Unexpected" not in result.output, result
    flat = " ".join(result.stderr.split())
    for fragment in fragments:
        assert fragment in flat, f"{fragment!r} not in {flat!r}"
    return flat


# --------------------------------------------------------------------------- binds


def test_binds_in_a_one_database_repository_are_refused(sqlite_project: Project) -> None:
    project = initialised(
        sqlite_project,
        f"""
        [binds.analytics]
        database_url = "sqlite:///{sqlite_project.path / "analytics.db"}"
        models = "models"
        """,
    )
    before = files(project.path)
    for command in (["check"], ["upgrade"], ["migrate", "-m", "x"], ["current"], ["status"]):
        result = project.run_cli(*command)
        refused(
            result,
            "[binds.analytics]",
            "serves one database",
            "init --multidb",
            "init --convert --multidb",
        )
    assert files(project.path) == before  # no database file, no revision


def test_binds_in_a_multidb_repository_still_work(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(MODELS)
    project.config(
        f"""
        [binds.analytics]
        database_url = "sqlite:///{project.path / "analytics.db"}"
        models = "models"
        """
    )
    assert project.run("init", "--multidb").exit_code == 0
    assert project.run("migrate", "-m", "notes").exit_code == 0
    assert project.run("upgrade").exit_code == 0
    assert project.run("check").exit_code == 0


# --------------------------------------------------------------------------- unknown keys


def test_misspelt_configure_key_is_refused(sqlite_project: Project) -> None:
    project = at_head(sqlite_project)
    # The model's server default changes; only compare_server_default notices.
    project.models(MODELS.replace('"x"', '"y"'))
    project.write(
        "migratectl.toml",
        (project.path / "migratectl.toml").read_text()
        + "[configure]\ncompare_server_defaults = true\n",
    )
    result = project.run_cli("check")
    refused(
        result,
        'Unknown key "configure.compare_server_defaults"',
        'Did you mean "compare_server_default"?',
        "EnvironmentContext.configure()",
    )
    project.write(
        "migratectl.toml",
        (project.path / "migratectl.toml").read_text().replace("defaults", "default"),
    )
    result = project.run("check")
    assert result.exit_code == 1, result
    assert "modify_default notes.body" in result.stdout


def test_misspelt_alembic_key_is_refused(sqlite_project: Project) -> None:
    project = initialised(sqlite_project, "[alembic]\ntruncate_slug_lenght = 10\n")
    result = project.run("revision", "-m", "a message longer than ten")
    refused(
        result,
        'Unknown key "alembic.truncate_slug_lenght"',
        'Did you mean "truncate_slug_length"?',
    )
    assert project.revision_files() == []


def test_every_configure_key_migratectl_knows_is_an_alembic_argument() -> None:
    from migratectl.settings.validation import CONFIGURE_TYPES, configure_parameters

    assert set(CONFIGURE_TYPES) <= configure_parameters()
    assert {"version_table", "compare_server_default", "include_schemas"} <= (
        configure_parameters()
    )


# --------------------------------------------------------------------------- autogenerate


@pytest.mark.parametrize("command", [["migrate"], ["revision", "--autogenerate"]])
def test_models_without_tables_drop_nothing(sqlite_project: Project, command: list[str]) -> None:
    project = at_head(sqlite_project)
    project.write("models.py", EMPTY_MODELS)  # e.g. the model modules are never imported
    before = files(project.path)
    result = project.run_cli(*command, "-m", "oops")
    refused(
        result,
        'The models "models" define no table',
        "(notes)",
        "would drop them all",
        "Nothing was written",
        "not import",
    )
    assert files(project.path) == before
    assert "notes" in project.tables()


def test_models_without_tables_over_an_empty_database_write_nothing(
    sqlite_project: Project,
) -> None:
    project = initialised(sqlite_project)
    project.write("models.py", EMPTY_MODELS)
    result = project.run("migrate", "-m", "nothing")
    assert result.exit_code == 0, result
    assert "No changes in schema detected." in result.stderr
    assert project.revision_files() == []


def test_populated_database_without_revision_points_to_adopt(project: Project) -> None:
    initialised(project)
    spec = importlib.util.spec_from_file_location("populated_models", project.path / "models.py")
    assert spec is not None and spec.loader is not None
    models = sys.modules["populated_models"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    engine = project.engine()
    models.Base.metadata.create_all(engine)  # the tables an application created itself
    engine.dispose()
    before = files(project.path)
    result = project.run_cli("migrate", "-m", "initial")
    refused(
        result,
        "no revision yet",
        "already holds the models' tables (notes)",
        "Nothing was written",
        "migratectl adopt",
    )
    assert files(project.path) == before

    result = project.run_cli("check")
    assert result.exit_code == 1, result
    assert "already holds the models' tables (notes)" in result.stdout
    assert "migratectl adopt" in result.stderr
    assert json.loads(project.run("check", "--json").stdout)["up_to_date"] is False

    result = project.run("adopt")  # the way out it names
    assert result.exit_code == 0, result
    assert project.run("check").exit_code == 0
    assert "alembic_version" in project.tables()


# --------------------------------------------------------------------------- --rev-id, merge


@pytest.mark.parametrize("rev_id", ["../../evil", "sub/dir", "x'y", "a-b", "a b", ""])
def test_unsafe_rev_id_is_refused(sqlite_project: Project, rev_id: str) -> None:
    project = initialised(sqlite_project)
    before = files(project.path.parent)
    result = project.run("revision", "-m", "x", "--rev-id", rev_id)
    refused(result, "--rev-id", "letters, digits and _")
    assert files(project.path.parent) == before


def test_rev_id_outside_the_repository_through_the_command(sqlite_project: Project) -> None:
    project = initialised(sqlite_project)
    before = files(project.path.parent)
    result = project.run_cli("revision", "-m", "x", "--rev-id", "../../evil")
    refused(result, "--rev-id '../../evil' is not a valid revision id")
    assert files(project.path.parent) == before


@pytest.mark.parametrize("duplicate", ["r1", "r2", "r2_label"])
def test_duplicate_rev_id_is_refused(sqlite_project: Project, duplicate: str) -> None:
    project = initialised(sqlite_project)
    assert project.run("revision", "-m", "one", "--rev-id", "r1").exit_code == 0
    result = project.run("revision", "-m", "two", "--rev-id", "r2", "--branch-label", "r2_label")
    assert result.exit_code == 0, result
    before = files(project.path)
    result = project.run_cli("revision", "-m", "three", "--rev-id", duplicate)
    refused(result, f"--rev-id '{duplicate}' is already used")
    assert files(project.path) == before
    for command in (["history"], ["status"], ["upgrade"]):
        result = project.run_cli(*command)
        assert result.exit_code == 0, result
        assert "Warning" not in result.stderr, result
    assert project.version() == ["r2"]


def test_merge_with_one_head_writes_nothing(sqlite_project: Project) -> None:
    project = initialised(sqlite_project)
    assert project.run("revision", "-m", "one", "--rev-id", "r1").exit_code == 0
    before = files(project.path)
    for args in (["merge", "heads", "-m", "m"], ["merge", "r1", "r1"], ["merge"]):
        result = project.run_cli(*args)
        refused(result, "Nothing to merge", "(r1)", "migratectl heads")
        assert files(project.path) == before


def test_merge_of_two_heads_still_works(sqlite_project: Project) -> None:
    project = initialised(sqlite_project)
    assert project.run("revision", "-m", "base", "--rev-id", "r0").exit_code == 0
    for rev in ("a1", "b1"):
        result = project.run("revision", "-m", rev, "--rev-id", rev, "--head", "r0", "--splice")
        assert result.exit_code == 0, result
    result = project.run("merge", "heads", "-m", 'join "a" and "b"', "--rev-id", "m1")
    assert result.exit_code == 0, result
    merged = json.loads(project.run("show", "m1", "--json").stdout)
    assert merged["message"] == 'join "a" and "b"'
    assert sorted(merged["down_revisions"]) == ["a1", "b1"]


def test_file_template_outside_the_versions_folder_is_refused(sqlite_project: Project) -> None:
    project = initialised(sqlite_project, 'file_template = "../../%(rev)s"\n')
    before = files(project.path.parent)
    result = project.run("revision", "-m", "x")
    refused(result, "file_template", "outside the versions folder")
    assert files(project.path.parent) == before


# --------------------------------------------------------------------------- -m text

MESSAGES = [
    'quote """ inside',
    "C:\\xfiles",
    "\\",
    "ends with a backslash \\",
    '"""',
    '""""""',
    'ends with "',
    '"starts with a quote',
    "it's",
    "two\nlines",
    "tab\tand \\n literally",
    "\\N{BULLET} \\u2022 %(rev)s ${message}",
    "nul\x00 and bell\x07",
    "Ünïcödé ✓",
]


@pytest.mark.parametrize("message", MESSAGES)
def test_any_message_gives_a_file_that_loads(sqlite_project: Project, message: str) -> None:
    project = initialised(sqlite_project)
    result = project.run("revision", "-m", message, "--rev-id", "r1")
    assert result.exit_code == 0, result
    (path,) = project.revision_files()
    compile(path.read_text(), str(path), "exec")
    assert "\nRevision ID: r1\n" in path.read_text()  # the header is intact
    shown = json.loads(project.run("show", "r1", "--json").stdout)
    assert shown["message"] == message.strip()
    result = project.run("upgrade")
    assert result.exit_code == 0, result
    assert project.version() == ["r1"]


@pytest.mark.parametrize("message", [m for m in MESSAGES if "\x00" not in m])
def test_any_message_through_the_command(sqlite_project: Project, message: str) -> None:
    project = initialised(sqlite_project)
    result = project.run_cli("migrate", "-m", message, "--rev-id", "r1")
    assert result.exit_code == 0, result
    result = project.run_cli("history", "--json")
    assert result.exit_code == 0, result
    [revision] = json.loads(result.stdout)["revisions"]
    assert revision["message"] == message.strip()
    assert project.run_cli("upgrade").exit_code == 0
    assert project.tables() == {"alembic_version", "notes"}


def test_merge_message_gives_a_file_that_loads(sqlite_project: Project) -> None:
    project = initialised(sqlite_project)
    assert project.run("revision", "-m", "base", "--rev-id", "r0").exit_code == 0
    for rev in ("a1", "b1"):
        result = project.run("revision", "-m", rev, "--rev-id", rev, "--head", "r0", "--splice")
        assert result.exit_code == 0, result
    result = project.run_cli("merge", "heads", "-m", 'C:\\x """', "--rev-id", "m1")
    assert result.exit_code == 0, result
    shown = json.loads(project.run_cli("show", "m1", "--json").stdout)
    assert shown["message"] == 'C:\\x """'


def test_message_text_in_the_file_reads_as_typed(sqlite_project: Project) -> None:
    project = initialised(sqlite_project)
    assert project.run("revision", "-m", "add notes", "--rev-id", "r1").exit_code == 0
    (path,) = project.revision_files()
    assert path.name == "r1_add_notes.py"
    assert path.read_text().startswith('"""add notes\n')
    assert textwrap.dedent(path.read_text()).count('"""') == 2


def test_a_binds_models_without_tables_drop_nothing(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(MODELS)
    project.write("empty_models.py", EMPTY_MODELS)
    analytics = project.path / "analytics.db"
    project.config(f'[binds.analytics]\ndatabase_url = "sqlite:///{analytics}"\n')
    assert project.run("init", "--multidb").exit_code == 0
    project.config(
        f'[binds.analytics]\ndatabase_url = "sqlite:///{analytics}"\nmodels = "empty_models"\n'
    )
    Project(project.path, f"sqlite:///{analytics}").query("CREATE TABLE events (id INTEGER)")
    result = project.run("migrate", "-m", "oops")
    refused(result, 'The models "empty_models" define no table', "(events)", "Nothing was written")
    assert project.revision_files() == []


@pytest.mark.parametrize("value", ['""', '"maybe"', "3"])
def test_an_alembic_flag_that_is_not_true_or_false_is_refused(
    sqlite_project: Project, value: str
) -> None:
    """Alembic would stop with "String is not true/false" deep in a command."""
    sqlite_project.config(f"[alembic]\nrevision_environment = {value}\n")
    result = sqlite_project.run_cli("current")
    assert result.exit_code == 2, result
    assert "alembic.revision_environment in" in result.stderr
    assert "must be true or false" in result.stderr
    assert "Unexpected" not in result.stderr


def test_an_alembic_flag_in_alembic_words_is_accepted(sqlite_project: Project) -> None:
    sqlite_project.config('[alembic]\nrevision_environment = "yes"\n')
    assert sqlite_project.run("init").exit_code == 0
    result = sqlite_project.run("current")
    assert result.exit_code == 0, result
