"""Every Flask-Migrate parity command, driven as a user types it.

Most tests run on SQLite (``sqlite_project``); those whose outcome depends on the dialect
(stamp, downgrade to base, merge, check, -x) run on every backend (``project``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import Project, Result

import migratectl

USERS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""

BUNDLED_TEMPLATE = Path(migratectl.__file__).parent / "templates" / "migratectl"


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result
    assert "Traceback" not in result.output, result
    return result


def usage_error(result: Result) -> Result:
    assert result.exit_code == 2, result
    assert "Traceback" not in result.output, result
    return result


def ready(project: Project, models: str = USERS, config: str = "") -> Project:
    """Models, migratectl.toml and an initialised repository."""
    project.models(models)
    project.config(config)
    ok(project.run("init"))
    return project


def add_revision(
    project: Project,
    rev: str,
    down: str | tuple[str, ...] | None,
    table: str | None = None,
    *,
    directory: str = "migrations",
    branch_labels: str | None = None,
) -> Path:
    """A hand-written revision creating ``table`` (or doing nothing)."""
    upgrade = (
        f'op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))'
        if table
        else "pass"
    )
    downgrade = f'op.drop_table("{table}")' if table else "pass"
    source = textwrap.dedent(
        f'''\
        """{rev} message

        Revision ID: {rev}
        """
        from alembic import op
        import sqlalchemy as sa

        revision = {rev!r}
        down_revision = {down!r}
        branch_labels = {branch_labels!r}
        depends_on = None


        def upgrade():
            {upgrade}


        def downgrade():
            {downgrade}
        '''
    )
    path = project.path / directory / "versions" / f"{rev}.py"
    path.write_text(source)
    return path


def three_revisions(project: Project) -> None:
    """r1 creates t1, r2 creates t2, r3 creates t3."""
    add_revision(project, "r1", None, "t1")
    add_revision(project, "r2", "r1", "t2")
    add_revision(project, "r3", "r2", "t3")


def user_tables(project: Project) -> set[str]:
    return project.tables() - {"alembic_version"}


def stdout_lines(result: Result) -> list[str]:
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


# --------------------------------------------------------------------------- init


def test_init_creates_repository_and_config_from_flags(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(USERS)
    result = ok(project.run("init", "--database-url", project.database_url, "--models", "models"))

    repo = project.path / "migrations"
    for name in ("env.py", "script.py.mako", "README"):
        assert (repo / name).is_file(), name
    assert (repo / "versions").is_dir()
    assert not list((repo / "versions").iterdir())
    assert not (repo / "alembic.ini").exists()
    assert not (repo / "__init__.py").exists()
    assert "Created migrations/env.py" in result.stderr
    assert result.stdout == ""

    config = (project.path / "migratectl.toml").read_text()
    assert f'database_url = "{project.database_url}"' in config
    assert 'models = "models"' in config
    # The written file is enough for the next commands: no flag needed any more.
    ok(project.run("migrate", "-m", "initial"))
    ok(project.run("upgrade"))
    assert "users" in project.tables()


def test_init_directory_given_after_the_command(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(USERS)
    ok(project.run("init", "-d", "custom", "--database-url", project.database_url))

    assert (project.path / "custom" / "env.py").is_file()
    assert (project.path / "custom" / "versions").is_dir()
    assert not (project.path / "migrations").exists()
    assert 'directory = "custom"' in (project.path / "migratectl.toml").read_text()

    # The configuration remembers the folder: later commands need no -d.
    generated = ok(project.run("revision", "-m", "first", "--rev-id", "aaa"))
    assert "custom/versions/aaa_first.py" in generated.stdout
    assert (project.path / "custom" / "versions" / "aaa_first.py").is_file()


def test_init_package_writes_init_files(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config()
    ok(project.run("init", "--package"))
    assert (project.path / "migrations" / "__init__.py").is_file()
    assert (project.path / "migrations" / "versions" / "__init__.py").is_file()
    # An __init__.py in versions/ is not taken for a revision.
    ok(project.run("revision", "-m", "first", "--rev-id", "aaa"))
    assert stdout_lines(project.run("heads")) == ["aaa (head)"]


def test_init_from_custom_template_folder(sqlite_project: Project) -> None:
    project = sqlite_project
    template = project.path.parent / "my-template"
    template.mkdir()
    (template / "env.py").write_text((BUNDLED_TEMPLATE / "env.py").read_text())
    mako = (BUNDLED_TEMPLATE / "script.py.mako").read_text()
    (template / "script.py.mako").write_text("# custom-template-marker\n" + mako)
    (template / "README").write_text("Our own template.\n")
    project.config()

    ok(project.run("init", "--template", str(template)))
    assert (project.path / "migrations" / "README").read_text() == "Our own template.\n"
    ok(project.run("revision", "-m", "first", "--rev-id", "aaa"))
    revision = (project.path / "migrations" / "versions" / "aaa_first.py").read_text()
    assert revision.startswith("# custom-template-marker\n")


def test_init_refuses_a_template_folder_missing_files(sqlite_project: Project) -> None:
    project = sqlite_project
    template = project.path.parent / "half-template"
    template.mkdir()
    (template / "env.py").write_text("")
    project.config()
    result = usage_error(project.run("init", "-t", str(template)))
    assert "script.py.mako" in result.stderr
    assert "README" in result.stderr
    assert not (project.path / "migrations").exists()


def test_init_refuses_a_non_empty_directory(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write("migrations/notes.txt", "mine\n")

    result = usage_error(project.run("init", "--database-url", project.database_url))
    assert "migrations already exists and is not empty" in result.stderr
    assert [p.name for p in (project.path / "migrations").iterdir()] == ["notes.txt"]
    assert (project.path / "migrations" / "notes.txt").read_text() == "mine\n"
    assert not (project.path / "migratectl.toml").exists()


def test_init_keeps_an_existing_config_file(sqlite_project: Project) -> None:
    project = sqlite_project
    config = project.config("# hand-written, keep me\n")
    before = config.read_bytes()
    result = ok(project.run("init"))
    assert config.read_bytes() == before
    assert "Created migratectl.toml" not in result.stderr


def test_init_finds_pyproject_config_and_writes_no_other(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write("pyproject.toml", f'[tool.migratectl]\ndatabase_url = "{project.database_url}"\n')
    ok(project.run("init"))
    assert not (project.path / "migratectl.toml").exists()


def test_init_writes_config_at_the_config_path(sqlite_project: Project) -> None:
    """-c names a file not yet there: init writes it, and what the flags meant still holds."""
    project = sqlite_project
    project.models(USERS)
    ok(
        project.run(
            "init",
            "-c",
            "conf/app.toml",
            "--database-url",
            "sqlite:///app.db",  # relative to the current folder, as typed
            "--models",
            "models",  # models.py in the current folder
        )
    )
    assert (project.path / "conf" / "app.toml").is_file()
    assert not (project.path / "migratectl.toml").exists()
    # Relative paths in the file are resolved against its folder: the repository is beside it.
    assert (project.path / "conf" / "migrations" / "env.py").is_file()

    ok(project.run("-c", "conf/app.toml", "migrate", "-m", "initial"))
    ok(project.run("-c", "conf/app.toml", "upgrade"))
    # The database the flag named (./app.db), not conf/app.db.
    assert "users" in project.tables()
    assert not (project.path / "conf" / "app.db").exists()


def test_list_templates(sqlite_project: Project) -> None:
    result = ok(sqlite_project.run("list-templates"))
    names = {line.split(" - ")[0] for line in stdout_lines(result)}
    assert "migratectl" in names
    assert all(" - " in line for line in stdout_lines(result))
    if (BUNDLED_TEMPLATE.parent / "migratectl-multidb" / "README").is_file():
        assert "migratectl-multidb" in names


# --------------------------------------------------------------------------- revision


def test_revision_message_and_rev_id(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    result = ok(project.run("revision", "-m", "Add things", "--rev-id", "abc123"))
    path = project.path / "migrations" / "versions" / "abc123_add_things.py"
    assert f"Generated {path.relative_to(project.path)}" in result.stdout
    source = path.read_text()
    assert source.startswith('"""Add things\n')
    assert "revision: str = 'abc123'" in source
    assert "down_revision: str | Sequence[str] | None = None" in source
    assert "def upgrade() -> None:\n    pass" in source

    ok(project.run("revision", "-m", "second", "--rev-id", "def456"))
    second = (project.path / "migrations" / "versions" / "def456_second.py").read_text()
    assert "down_revision: str | Sequence[str] | None = 'abc123'" in second


def test_revision_head_needs_splice_for_a_non_head(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    ok(project.run("revision", "-m", "one", "--rev-id", "aaa"))
    ok(project.run("revision", "-m", "two", "--rev-id", "bbb"))

    refused = usage_error(project.run("revision", "-m", "side", "--head", "aaa", "--rev-id", "x"))
    assert "Revision aaa is not a head revision." in refused.stderr
    assert "--splice" in refused.stderr
    assert len(project.revision_files()) == 2

    ok(project.run("revision", "-m", "side", "--head", "aaa", "--splice", "--rev-id", "ccc"))
    assert sorted(stdout_lines(project.run("heads"))) == ["bbb (head)", "ccc (head)"]
    side = (project.path / "migrations" / "versions" / "ccc_side.py").read_text()
    assert "down_revision: str | Sequence[str] | None = 'aaa'" in side


def test_revision_branch_label(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    ok(project.run("revision", "-m", "base", "--rev-id", "aaa"))
    ok(project.run("revision", "-m", "lib", "--head", "base", "--branch-label", "lib"))
    # The label names the branch from now on.
    ok(project.run("revision", "-m", "lib two", "--head", "lib@head", "--rev-id", "ccc"))
    shown = ok(project.run("show", "lib@head"))
    assert "Rev: ccc (head)" in shown.stdout
    assert "Branch names: lib" in shown.stdout
    assert len(stdout_lines(project.run("heads"))) == 2


def test_revision_version_path(sqlite_project: Project) -> None:
    project = ready(
        sqlite_project, config='[alembic]\nversion_locations = "migrations/versions other"\n'
    )
    # With two locations, the first revision must say where it goes (later ones follow
    # their parent).
    first = usage_error(project.run("revision", "-m", "one", "--rev-id", "aaa"))
    assert "--version-path" in first.stderr
    ok(
        project.run(
            "revision", "-m", "one", "--rev-id", "aaa", "--version-path", "migrations/versions"
        )
    )
    result = ok(project.run("revision", "-m", "two", "--rev-id", "bbb", "--version-path", "other"))
    assert "other/bbb_two.py" in result.stdout
    assert (project.path / "other" / "bbb_two.py").is_file()
    assert not (project.path / "migrations" / "versions" / "bbb_two.py").exists()
    assert stdout_lines(project.run("heads")) == ["bbb (head)"]

    # version_locations in the file are relative to the file: the same from a sub-folder.
    sub = project.path / "sub"
    sub.mkdir()
    from_sub = Project(sub, project.database_url)
    assert stdout_lines(ok(from_sub.run("heads"))) == ["bbb (head)"]


def test_revision_version_path_outside_the_locations_is_refused(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    (project.path / "elsewhere").mkdir()
    result = usage_error(project.run("revision", "-m", "x", "--version-path", "elsewhere"))
    assert "elsewhere" in result.stderr
    assert "version_locations" in result.stderr
    assert not list((project.path / "elsewhere").iterdir())


def test_revision_depends_on_and_heads_resolve_dependencies(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    ok(project.run("revision", "-m", "root", "--rev-id", "aaa"))
    ok(
        project.run(
            "revision", "-m", "lib", "--head", "base", "--branch-label", "lib", "--rev-id", "lib1"
        )
    )
    ok(
        project.run(
            "revision", "-m", "app", "--head", "aaa", "--depends-on", "lib1", "--rev-id", "bbb"
        )
    )
    source = (project.path / "migrations" / "versions" / "bbb_app.py").read_text()
    assert "depends_on: str | Sequence[str] | None = 'lib1'" in source

    assert sorted(stdout_lines(ok(project.run("heads")))) == ["bbb (head)", "lib1 (head)"]
    # lib1 is a dependency of bbb: with dependencies resolved, bbb is the only head.
    resolved = ok(project.run("heads", "--resolve-dependencies"))
    assert stdout_lines(resolved) == ["bbb (head)"]

    verbose = ok(project.run("heads", "--verbose"))
    assert "Also depends on: lib1" in verbose.stdout
    assert "Branch names: lib" in verbose.stdout


def test_revision_sql_without_revision_environment(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    result = usage_error(project.run("revision", "--sql", "-m", "x"))
    assert "revision_environment = true" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert project.revision_files() == []


def test_revision_sql_with_revision_environment(sqlite_project: Project) -> None:
    project = ready(sqlite_project, config="[alembic]\nrevision_environment = true\n")
    ok(project.run("revision", "--sql", "-m", "x", "--rev-id", "aaa"))
    assert [p.name for p in project.revision_files()] == ["aaa_x.py"]


def test_revision_autogenerate(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    ok(project.run("revision", "--autogenerate", "-m", "initial", "--rev-id", "aaa"))
    source = (project.path / "migrations" / "versions" / "aaa_initial.py").read_text()
    assert "op.create_table('users'" in source
    assert "sa.Column('name', sa.String(length=50), nullable=False)" in source
    assert "op.drop_table('users')" in source


def test_revision_outside_a_repository(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config()
    result = usage_error(project.run("revision", "-m", "x"))
    assert "No migration repository at migrations" in result.stderr
    assert "migratectl init" in result.stderr


# --------------------------------------------------------------------------- migrate


def test_migrate_writes_a_file_only_when_something_changed(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    first = ok(project.run("migrate", "-m", "initial"))
    assert len(project.revision_files()) == 1
    assert "Generated migrations/versions/" in first.stdout
    assert "op.create_table('users'" in project.revision_files()[0].read_text()
    ok(project.run("upgrade"))

    nothing = ok(project.run("migrate", "-m", "again"))
    assert "No changes in schema detected" in nothing.output
    assert "Generated" not in nothing.output
    assert len(project.revision_files()) == 1


def test_migrate_refuses_when_the_database_is_behind(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    ok(project.run("migrate", "-m", "initial"))
    result = usage_error(project.run("migrate", "-m", "again"))
    assert "not at the head revision" in result.stderr
    assert "migratectl upgrade" in result.stderr
    assert len(project.revision_files()) == 1


@pytest.mark.parametrize(("setting", "detected"), [("", True), ("compare_type = false\n", False)])
def test_migrate_compare_type(sqlite_project: Project, setting: str, detected: bool) -> None:
    project = ready(sqlite_project, config=setting)
    ok(project.run("migrate", "-m", "initial"))
    ok(project.run("upgrade"))
    project.models(USERS.replace("String(50)", "String(100)"))

    result = ok(project.run("migrate", "-m", "longer name"))
    if detected:
        assert len(project.revision_files()) == 2
        source = next(p for p in project.revision_files() if "longer_name" in p.name).read_text()
        assert "type_=sa.String(length=100)" in source
    else:
        assert len(project.revision_files()) == 1
        assert "No changes in schema detected" in result.output


@pytest.mark.parametrize(("setting", "batch"), [("", True), ("render_as_batch = false\n", False)])
def test_migrate_render_as_batch(sqlite_project: Project, setting: str, batch: bool) -> None:
    project = ready(sqlite_project, config=setting)
    ok(project.run("migrate", "-m", "initial"))
    ok(project.run("upgrade"))
    project.models(USERS + "    email: Mapped[str | None] = mapped_column(sa.String(120))\n")

    ok(project.run("migrate", "-m", "email"))
    source = next(p for p in project.revision_files() if "email" in p.name).read_text()
    if batch:
        assert "with op.batch_alter_table('users', schema=None) as batch_op:" in source
        assert "batch_op.add_column(sa.Column('email'" in source
    else:
        assert "batch_alter_table" not in source
        assert "op.add_column('users', sa.Column('email'" in source
    # Either way the generated revision applies on SQLite.
    ok(project.run("upgrade"))
    assert "email" in project.columns("users")


# --------------------------------------------------------------------------- check


def test_check_and_current_check_heads(project: Project) -> None:
    ready(project)
    ok(project.run("migrate", "-m", "initial", "--rev-id", "aaa"))

    behind = project.run("check")
    assert behind.exit_code == 1, behind
    assert "pending revisions: aaa" in behind.stdout
    heads_behind = project.run("current", "--check-heads")
    assert heads_behind.exit_code == 1, heads_behind
    assert "not at head" in heads_behind.stderr

    ok(project.run("upgrade"))
    in_sync = ok(project.run("check"))
    assert "No changes" in in_sync.stdout
    assert stdout_lines(ok(project.run("current", "--check-heads"))) == ["aaa (head)"]

    project.models(USERS + "    email: Mapped[str | None] = mapped_column(sa.String(120))\n")
    changed = project.run("check")
    assert changed.exit_code == 1, changed
    assert "add_column users.email" in changed.stdout
    # The database is at head: current --check-heads does not look at the models.
    ok(project.run("current", "--check-heads"))
    # check wrote nothing.
    assert len(project.revision_files()) == 1
    assert "email" not in project.columns("users")


# --------------------------------------------------------------------------- upgrade / downgrade


def test_upgrade_and_downgrade_with_revision_arguments(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)

    ok(project.run("upgrade", "+1"))
    assert project.version() == ["r1"]
    assert user_tables(project) == {"t1"}
    ok(project.run("upgrade", "+1"))
    assert project.version() == ["r2"]
    ok(project.run("downgrade", "-1"))
    assert project.version() == ["r1"]
    assert user_tables(project) == {"t1"}

    progress = ok(project.run("upgrade", "r3"))
    assert project.version() == ["r3"]
    assert user_tables(project) == {"t1", "t2", "t3"}
    assert "r1 -> r2" in progress.stderr and "r2 -> r3" in progress.stderr
    assert progress.stdout == ""

    ok(project.run("downgrade"))  # default: -1
    assert project.version() == ["r2"]
    ok(project.run("downgrade", "r1"))
    assert project.version() == ["r1"]
    ok(project.run("upgrade"))  # default: head
    assert project.version() == ["r3"]


def test_upgrade_unknown_revision(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    result = usage_error(project.run("upgrade", "nope"))
    assert "Unknown revision 'nope'" in result.stderr
    assert project.version() == []


def test_downgrade_to_base(project: Project) -> None:
    ready(project)
    three_revisions(project)
    ok(project.run("upgrade"))
    assert user_tables(project) == {"t1", "t2", "t3"}

    result = ok(project.run("downgrade", "base"))
    assert user_tables(project) == set()
    assert project.version() == []
    assert "Downgrade r1 -> <base>, r1 message" in result.stderr
    assert "The database has no revision (base)." in ok(project.run("current")).stderr


def test_upgrade_sql_prints_the_script_and_touches_nothing(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    result = ok(project.run("upgrade", "--sql"))
    sql = result.stdout
    assert "CREATE TABLE alembic_version" in sql
    for table in ("t1", "t2", "t3"):
        assert f"CREATE TABLE {table}" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('r1')" in sql
    assert "UPDATE alembic_version SET version_num='r3'" in sql
    # Offline: the SQLite file was not even created.
    assert not (project.path / "app.db").exists()


def test_upgrade_sql_range(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    sql = ok(project.run("upgrade", "r1:r3", "--sql")).stdout
    assert "CREATE TABLE t1" not in sql
    assert "CREATE TABLE t2" in sql and "CREATE TABLE t3" in sql


def test_downgrade_sql_defaults_to_the_last_revision(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    ok(project.run("upgrade"))

    sql = ok(project.run("downgrade", "--sql")).stdout
    assert "DROP TABLE t3" in sql
    assert "DROP TABLE t2" not in sql
    assert (
        "UPDATE alembic_version SET version_num='r2' WHERE alembic_version.version_num = 'r3'"
        in sql
    )
    # The database is untouched.
    assert project.version() == ["r3"]
    assert user_tables(project) == {"t1", "t2", "t3"}


# --------------------------------------------------------------------------- stamp


def test_stamp(project: Project) -> None:
    ready(project)
    three_revisions(project)

    ok(project.run("stamp", "r2"))
    assert project.version() == ["r2"]
    assert user_tables(project) == set()  # stamping runs no migration
    ok(project.run("upgrade"))
    assert project.version() == ["r3"]
    assert user_tables(project) == {"t3"}

    ok(project.run("stamp", "r1"))
    assert project.version() == ["r1"]
    ok(project.run("stamp", "base"))
    assert project.version() == []


def test_stamp_purge_replaces_an_unknown_revision(project: Project) -> None:
    ready(project)
    three_revisions(project)
    ok(project.run("stamp", "r1"))
    project.query("UPDATE alembic_version SET version_num = 'gone'")

    refused = usage_error(project.run("stamp", "r2"))
    assert "'gone'" in refused.stderr
    ok(project.run("stamp", "--purge", "r2"))
    assert project.version() == ["r2"]


def test_stamp_sql(project: Project) -> None:
    ready(project)
    three_revisions(project)
    sql = ok(project.run("stamp", "r3", "--sql")).stdout
    assert "CREATE TABLE alembic_version" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('r3')" in sql
    assert "CREATE TABLE t1" not in sql
    assert project.version() == []


# --------------------------------------------------------------------------- merge, branches


def test_merge_two_heads(project: Project) -> None:
    ready(project)
    add_revision(project, "root", None, "t_root")
    add_revision(project, "left", "root", "t_left")
    ok(project.run("revision", "-m", "right", "--head", "root", "--splice", "--rev-id", "right"))

    assert sorted(stdout_lines(project.run("heads"))) == ["left (head)", "right (head)"]
    branches = ok(project.run("branches"))
    assert stdout_lines(branches)[0] == "root (branchpoint)"
    assert sorted(stdout_lines(branches)[1:]) == ["-> left", "-> right"]

    ambiguous = usage_error(project.run("upgrade"))
    assert "more than one head" in ambiguous.stderr
    ok(project.run("upgrade", "heads"))
    assert project.version() == ["left", "right"]

    merged = ok(project.run("merge", "-m", "join branches", "--rev-id", "joined", "heads"))
    assert "joined_join_branches.py" in merged.stdout
    assert stdout_lines(project.run("heads")) == ["joined (head) (mergepoint)"]
    ok(project.run("upgrade"))
    assert project.version() == ["joined"]
    assert user_tables(project) == {"t_root", "t_left"}
    # A relative step back through a merge point is ambiguous; naming a parent is not.
    ambiguous_step = usage_error(project.run("downgrade", "-1"))
    assert "ambiguous" in ambiguous_step.stderr
    assert project.version() == ["joined"]
    ok(project.run("downgrade", "left"))
    assert project.version() == ["left", "right"]


def test_merge_named_revisions(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    add_revision(project, "root", None)
    add_revision(project, "left", "root")
    add_revision(project, "right", "root")
    ok(project.run("merge", "left", "right", "-m", "both", "--rev-id", "mm"))
    shown = ok(project.run("show", "mm"))
    assert "Parent: left, right" in shown.stdout
    assert "both" in shown.stdout


# --------------------------------------------------------------- history, show, heads, current


def test_history(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    full = stdout_lines(ok(project.run("history")))
    assert full == [
        "r2 -> r3 (head), r3 message",
        "r1 -> r2, r2 message",
        "<base> -> r1, r1 message",
    ]
    assert stdout_lines(project.run("history", "-r", "base:r2")) == full[1:]
    assert stdout_lines(project.run("history", "-r", "r2:")) == full[:2]
    assert stdout_lines(project.run("history", "--rev-range", ":r1")) == full[2:]

    ok(project.run("upgrade", "r2"))
    marked = stdout_lines(ok(project.run("history", "-i")))
    assert marked[1] == "r1 -> r2 (current), r2 message"
    assert "(current)" not in marked[0] + marked[2]
    assert stdout_lines(project.run("history", "--indicate-current", "-r", "current:")) == [
        "r2 -> r3 (head), r3 message",
        "r1 -> r2 (current), r2 message",
    ]

    verbose = ok(project.run("history", "--verbose", "-r", "r3:"))
    assert "Rev: r3 (head)" in verbose.stdout
    assert "Parent: r2" in verbose.stdout
    assert f"Path: {project.path / 'migrations' / 'versions' / 'r3.py'}" in verbose.stdout

    bad = usage_error(project.run("history", "-r", "r2"))
    assert "[start]:[end]" in bad.stderr


def test_show(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    head = ok(project.run("show"))
    assert head.stdout.startswith("Rev: r3 (head)\nParent: r2\n")
    assert "r3 message" in head.stdout
    first = ok(project.run("show", "r1"))
    assert first.stdout.startswith("Rev: r1\nParent: <base>\n")
    unknown = usage_error(project.run("show", "zzz"))
    assert "zzz" in unknown.stderr


def test_current(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    empty = ok(project.run("current"))
    assert empty.stdout == ""
    assert "no revision" in empty.stderr
    # Reading the revision created nothing.
    assert not (project.path / "app.db").exists()

    ok(project.run("upgrade", "r2"))
    assert stdout_lines(ok(project.run("current"))) == ["r2"]
    ok(project.run("upgrade"))
    assert stdout_lines(ok(project.run("current"))) == ["r3 (head)"]
    verbose = ok(project.run("current", "--verbose"))
    assert "Rev: r3 (head)" in verbose.stdout
    assert "Parent: r2" in verbose.stdout
    assert project.database_url in verbose.stderr


def test_heads(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    assert stdout_lines(ok(project.run("heads"))) == ["r3 (head)"]
    verbose = ok(project.run("heads", "-v"))
    assert verbose.stdout.startswith("Rev: r3 (head)\nParent: r2\n")


# --------------------------------------------------------------------------- edit


EDITOR_SCRIPT = """\
#!/bin/sh
echo "# edited-by-stub-editor" >> "$1"
"""


def test_edit_opens_the_revision_in_editor(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    editor = project.path.parent / "editor.sh"
    editor.write_text(EDITOR_SCRIPT)
    editor.chmod(0o755)
    versions = project.path / "migrations" / "versions"

    ok(project.run("edit", env={"EDITOR": str(editor)}))
    assert (versions / "r3.py").read_text().endswith("# edited-by-stub-editor\n")
    ok(project.run("edit", "r1", env={"VISUAL": str(editor)}))
    assert (versions / "r1.py").read_text().endswith("# edited-by-stub-editor\n")
    assert "edited" not in (versions / "r2.py").read_text()


def test_edit_without_an_editor(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    result = usage_error(project.run("edit"))
    assert "No editor is set" in result.stderr
    assert "EDITOR" in result.stderr


def test_edit_with_a_failing_editor(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    result = usage_error(project.run("edit", env={"EDITOR": "false"}))
    assert "exited with status 1" in result.stderr
    missing = usage_error(project.run("edit", env={"EDITOR": "no-such-editor-here"}))
    assert "no-such-editor-here" in missing.stderr


# --------------------------------------------------------------------------- -x and global options

X_REVISION = '''\
"""create a table named by -x table=NAME"""
from alembic import context, op
import sqlalchemy as sa

revision = "xrev"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    name = context.get_x_argument(as_dictionary=True)["table"]
    op.create_table(name, sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    name = context.get_x_argument(as_dictionary=True)["table"]
    op.drop_table(name)
'''


def test_x_arguments_reach_revision_scripts(project: Project) -> None:
    ready(project)
    (project.path / "migrations" / "versions" / "xrev.py").write_text(X_REVISION)

    ok(project.run("-x", "table=before_cmd", "upgrade"))
    assert user_tables(project) == {"before_cmd"}
    ok(project.run("downgrade", "base", "-x", "table=before_cmd"))
    assert user_tables(project) == set()

    ok(project.run("upgrade", "-x", "table=after_cmd", "-x", "other=1"))
    assert user_tables(project) == {"after_cmd"}
    ok(project.run("--x-arg", "table=after_cmd", "downgrade", "base"))
    assert user_tables(project) == set()


@pytest.mark.parametrize("position", ["before", "after"])
def test_global_options_before_and_after_the_command(
    sqlite_project: Project, position: str
) -> None:
    """--database-url, --models, -d and -c given on either side of the command name."""
    project = sqlite_project
    project.models(USERS)
    # A configuration file that points everywhere else.
    project.write(
        "elsewhere.toml",
        f'database_url = "sqlite:///{project.path / "wrong.db"}"\nmodels = "no_such_models"\n',
    )
    project.write("migratectl.toml", 'database_url = "sqlite:///also-wrong.db"\n')
    other = project.path / "other.db"
    options = [
        "-c",
        "elsewhere.toml",
        "--database-url",
        f"sqlite:///{other}",
        "--models",
        "models",
        "-d",
        "repo",
    ]

    def run(*command: str) -> Result:
        args = [*options, *command] if position == "before" else [*command, *options]
        return project.run(*args)

    ok(run("init"))
    assert (project.path / "repo" / "env.py").is_file()
    ok(run("migrate", "-m", "initial", "--rev-id", "aaa"))
    assert [p.name for p in project.revision_files("repo")] == ["aaa_initial.py"]
    ok(run("upgrade"))
    assert stdout_lines(ok(run("current"))) == ["aaa (head)"]

    other_project = Project(project.path, f"sqlite:///{other}")
    assert "users" in other_project.tables()
    assert not (project.path / "wrong.db").exists()
    assert not (project.path / "also-wrong.db").exists()


def test_flag_after_the_command_wins_over_one_before(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    other = project.path / "other.db"
    ok(
        project.run(
            "--database-url",
            project.database_url,
            "upgrade",
            "--database-url",
            f"sqlite:///{other}",
        )
    )
    assert Project(project.path, f"sqlite:///{other}").version() == ["r3"]
    assert not (project.path / "app.db").exists()


def test_version_option() -> None:
    expected = f"migratectl {migratectl.__version__}"
    for command in (["migratectl", "--version"], [sys.executable, "-m", "migratectl", "--version"]):
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc
        assert proc.stdout.strip() == expected
        assert proc.stderr == ""


# --------------------------------------------------------------------------- models stay unimported

BROKEN_MODELS = 'raise RuntimeError("the models module was imported")\n'


def test_models_are_not_imported_by_commands_that_do_not_compare(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    three_revisions(project)
    project.write("models.py", BROKEN_MODELS)

    ok(project.run("upgrade"))
    assert project.version() == ["r3"]
    assert stdout_lines(ok(project.run("current"))) == ["r3 (head)"]
    assert len(stdout_lines(ok(project.run("history")))) == 3
    ok(project.run("heads"))
    ok(project.run("show", "r2"))
    ok(project.run("status"))
    ok(project.run("downgrade", "-1"))
    assert project.version() == ["r2"]
    ok(project.run("stamp", "r1"))
    ok(project.run("upgrade", "--sql"))
    assert project.version() == ["r1"]

    failed = usage_error(project.run("migrate", "-m", "x"))
    assert "RuntimeError: the models module was imported" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1  # one paragraph
    verbose = project.run("migrate", "-m", "x", "-v")
    assert verbose.exit_code == 2, verbose
    assert "Traceback" in verbose.stderr  # -v shows it
    assert 'raise RuntimeError("the models module was imported")' in verbose.stderr
    assert len(project.revision_files()) == 3


def test_no_models_configured_only_matters_for_autogenerate(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config(models=None)
    ok(project.run("init"))
    three_revisions(project)
    ok(project.run("upgrade"))
    result = usage_error(project.run("migrate", "-m", "x"))
    assert "No models are configured" in result.stderr
    assert "--models" in result.stderr


def test_relative_sqlite_url_in_env_is_relative_to_cwd(sqlite_project: Project) -> None:
    """MIGRATECTL_DATABASE_URL with a relative SQLite path means the current folder."""
    project = sqlite_project
    ok(project.run("init", env={"MIGRATECTL_DATABASE_URL": "sqlite:///app.db"}))
    three_revisions(project)
    ok(project.run("upgrade", env={"MIGRATECTL_DATABASE_URL": "sqlite:///app.db"}))
    assert project.version() == ["r3"]
    # init kept the secret-bearing variable as a reference, not its value.
    assert (
        'database_url = "${MIGRATECTL_DATABASE_URL}"'
        in (project.path / "migratectl.toml").read_text()
    )
