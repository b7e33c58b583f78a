"""Messages and exit codes (SPEC §3): each mistake gets its own short paragraph and exit code;
"Unexpected … please report it" is kept for migratectl's own bugs; a closed stdout ends the
command quietly."""

from __future__ import annotations

import os
import subprocess
import textwrap

from conftest import Project, migratectl_command

REV1, REV2 = "ae0000000001", "ae0000000002"

MODELS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def revision_file(rev: str, down: str | None, table: str, *, down_line: bool = True) -> str:
    down_revision = f"down_revision = {down!r}\n" if down_line else ""
    return (
        textwrap.dedent(
            f'''
            """create {table}"""
            import sqlalchemy as sa
            from alembic import op

            revision = "{rev}"
            '''
        ).lstrip()
        + down_revision
        + textwrap.dedent(
            f"""
            def upgrade():
                op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))


            def downgrade():
                op.drop_table("{table}")
            """
        )
    )


def ready(project: Project) -> Project:
    project.models(MODELS)
    project.config()
    initialised = project.run("init")
    assert initialised.exit_code == 0, initialised
    project.write("migrations/versions/r1_users.py", revision_file(REV1, None, "users"))
    return project


def assert_not_unexpected(result: object) -> None:
    text = str(result)
    assert "Unexpected" not in text and "report it" not in text and "Traceback" not in text


# ---------------------------------------------------- revision files Alembic cannot read


def test_a_revision_without_down_revision_is_named(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    project.write(
        "migrations/versions/r2_posts.py", revision_file(REV2, None, "p", down_line=False)
    )
    for args in (("history",), ("upgrade",)):
        result = project.run_cli(*args)
        assert result.exit_code == 2, result
        assert result.stderr.strip() == (
            "Error: Cannot load migrations/versions/r2_posts.py: it has no down_revision "
            "variable. Add one: down_revision = None in the first revision, otherwise the id "
            "of the revision it follows (as in the other files)."
        ), result
    assert project.tables() == set()


def test_a_dangling_symlink_in_versions_is_named(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    (project.path / "migrations/versions/r2_gone.py").symlink_to("elsewhere.py")
    result = project.run_cli("history")
    assert result.exit_code == 2, result
    assert result.stderr.strip() == (
        "Error: Cannot load migrations/versions/r2_gone.py: it is a symbolic link to "
        "elsewhere.py, which does not exist. Remove the link, or point it at a revision file."
    ), result
    upgraded = project.run("upgrade")
    assert upgraded.exit_code == 2, upgraded
    assert "r2_gone.py: it is a symbolic link" in upgraded.stderr
    assert_not_unexpected(upgraded)
    assert project.tables() == set()


def test_a_symlink_loop_in_versions_is_named(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    (project.path / "migrations/versions/r2_a.py").symlink_to("r2_b.py")
    (project.path / "migrations/versions/r2_b.py").symlink_to("r2_a.py")
    result = project.run_cli("history")
    assert result.exit_code == 2, result
    assert "it is a symbolic link that loops back on itself." in result.stderr, result
    assert "Remove the link, or point it at a revision file." in result.stderr
    assert_not_unexpected(result)


def test_a_cycle_of_revisions_is_a_clear_error_for_every_command(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    project.write("migrations/versions/r1_users.py", revision_file(REV1, REV2, "users"))
    project.write("migrations/versions/r2_posts.py", revision_file(REV2, REV1, "posts"))
    expected = (
        f"Error: The revisions {REV1}, {REV2} form a cycle: following their down_revision "
        "never reaches the first revision. Fix down_revision in one of their files so that "
        "the chain ends at a revision whose down_revision is None."
    )
    result = project.run_cli("upgrade")
    assert result.exit_code == 2, result
    assert result.stderr.strip() == expected, result
    for args in (("history",), ("current",), ("heads",), ("check",)):
        other = project.run(*args)
        assert other.exit_code == 2, (args, other)
        assert other.stderr.strip() == expected, (args, other)
    assert project.tables() == set()


def test_a_deeply_nested_toml_array_is_a_configuration_error(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    config = project.path / "migratectl.toml"
    config.write_text(config.read_text() + "x = " + "[" * 3000 + "]" * 3000 + "\n")
    result = project.run_cli("history")
    assert result.exit_code == 2, result
    assert result.stderr.strip() == (
        f"Error: {config} nests arrays or inline tables too deeply to be read. No migratectl "
        "setting needs more than a few levels; flatten the value."
    ), result


# ------------------------------------------------------------------ SystemExit from env.py


def test_system_exit_in_env_py_is_a_file_error_not_a_check_result(
    sqlite_project: Project,
) -> None:
    project = ready(sqlite_project)
    env = project.path / "migrations/env.py"
    env.write_text('raise SystemExit("bye")\n' + env.read_text())
    for args in (("upgrade",), ("upgrade", "--sql"), ("stamp", "head")):
        result = project.run_cli(*args)
        assert result.exit_code == 2, (args, result)
        assert result.stderr.strip() == (
            "Error: Cannot load migrations/env.py, line 1: SystemExit: bye. Fix the file and "
            "run the command again (-v shows the traceback)."
        ), (args, result)
    assert project.tables() == set()


def test_system_exit_in_a_file_env_py_imports_names_that_file(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    project.write("migrations/versions/r2_posts.py", "import sys\nsys.exit(3)\n")
    result = project.run_cli("upgrade")
    assert result.exit_code == 2, result
    assert "Cannot load migrations/versions/r2_posts.py, line 2: SystemExit: 3." in result.stderr
    assert project.tables() == set()


# ------------------------------------------------------------------ a closed stdout


def many_revisions(project: Project, count: int = 30) -> None:
    (project.path / "migrations/versions/r1_users.py").unlink()
    down = None
    for i in range(count):
        rev = f"bf{i:010d}"
        project.write(f"migrations/versions/{rev}.py", revision_file(rev, down, f"t{i}"))
        down = rev


def test_a_closed_stdout_ends_quietly(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    many_revisions(project)
    for args in (("history",), ("history", "-v"), ("heads",), ("history", "--json")):
        reader, writer = os.pipe()
        os.close(reader)  # the reader is gone before a line is written: a real EPIPE
        try:
            proc = subprocess.run(
                [migratectl_command(), *args],
                cwd=project.path,
                stdout=writer,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        finally:
            os.close(writer)
        assert proc.stderr == "", (args, proc.stderr)
        assert proc.returncode == 141, (args, proc.returncode)


def test_a_reader_that_takes_one_line_and_leaves(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    many_revisions(project)
    proc = subprocess.Popen(
        [migratectl_command(), "history"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    errors = proc.stderr.read()
    code = proc.wait(timeout=120)
    assert first.startswith("bf0000000028 -> bf0000000029 (head)")
    assert errors == ""
    assert code in (0, 141)  # 0 when all of it fitted in the pipe before the reader left


# ------------------------------------------------------------------ async URL without greenlet


def test_an_async_url_without_greenlet_names_greenlet(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    blocked = project.path.parent / "blocked"
    blocked.mkdir()
    (blocked / "greenlet.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'greenlet'\", name='greenlet')\n"
    )
    url = "sqlite+aiosqlite:///" + str(project.path / "app.db")
    for args in (("current",), ("upgrade",)):
        result = project.run_cli(*args, env={"PYTHONPATH": str(blocked), "DATABASE_URL": url})
        assert result.exit_code == 2, result
        assert result.stderr.strip() == (
            "Error: The database URL 'sqlite+aiosqlite' is asynchronous, and SQLAlchemy needs "
            "the greenlet package for that; it is not installed. Install it: pip install "
            "'migratectl[async]' (or pip install greenlet)."
        ), result
    assert project.tables() == set()


# ------------------------------------------------------------------ relative steps that go nowhere


def test_downgrade_at_base_says_there_is_nothing_to_downgrade(project: Project) -> None:
    ready(project)
    result = project.run_cli("downgrade", "-1")
    assert result.exit_code == 2, result
    assert result.stderr.strip() == (
        "Error: The database is at base (no revision applied); there is nothing to downgrade. "
        "`migratectl current` shows where the database is."
    ), result
    assert project.run("upgrade").exit_code == 0
    too_far = project.run("downgrade", "-2")
    assert too_far.exit_code == 2, too_far
    assert "The database has fewer than 2 revisions applied, so it cannot go 2 revisions down." in (
        too_far.stderr
    )
    assert project.version() == [REV1]


def test_upgrade_with_a_negative_step_points_to_downgrade(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    assert project.run("upgrade").exit_code == 0
    result = project.run_cli("upgrade", "-1")
    assert result.exit_code == 2, result
    assert result.stderr.strip() == (
        "Error: `upgrade -1` asks for a revision below the current one; upgrade only goes up. "
        "To revert revisions run `migratectl downgrade -1`; to apply a number of revisions "
        "use +N (`migratectl upgrade +1`)."
    ), result
    assert project.version() == [REV1]
    beyond = project.run("upgrade", "+2")
    assert beyond.exit_code == 2, beyond
    assert "There are fewer than 2 revisions to apply above the current one." in beyond.stderr
    up = project.run("downgrade", "+1")
    assert up.exit_code == 2, up
    assert "`downgrade +1` asks for a revision above the current one" in up.stderr
    assert project.version() == [REV1]


def test_offline_downgrade_to_a_named_target_starts_at_head(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    project.write("migrations/versions/r2_posts.py", revision_file(REV2, REV1, "posts"))
    to_base = project.run_cli("downgrade", "base", "--sql")
    assert to_base.exit_code == 0, to_base
    assert to_base.stdout.index("DROP TABLE posts") < to_base.stdout.index("DROP TABLE users")
    assert f"DELETE FROM alembic_version WHERE alembic_version.version_num = '{REV1}'" in (
        to_base.stdout
    )
    to_rev1 = project.run("downgrade", REV1, "--sql")
    assert to_rev1.exit_code == 0, to_rev1
    assert "DROP TABLE posts" in to_rev1.stdout and "DROP TABLE users" not in to_rev1.stdout
    assert project.tables() == set()  # offline: nothing ran


# ------------------------------------------------------------------ migrate --sql


def test_migrate_does_not_offer_sql_and_explains_it(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    helped = project.run_cli("migrate", "--help")
    assert helped.exit_code == 0, helped
    assert "--sql" not in helped.stdout
    assert "--rev-id" in helped.stdout
    result = project.run_cli("migrate", "--sql", "-m", "x")
    assert result.exit_code == 2, result
    assert result.stderr.strip() == (
        "Error: migrate has no --sql: it compares the models with the database, so it needs a "
        "connection, and it writes a revision file rather than running SQL. Run `migratectl "
        "migrate`, then `migratectl upgrade --sql` to print the revision's SQL."
    ), result
    assert [p.name for p in project.revision_files()] == ["r1_users.py"]


# ------------------------------------------------------------------ where to set what is missing


def test_no_database_url_names_the_pyproject_and_both_variables(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(MODELS)
    project.write("pyproject.toml", '[project]\nname = "app"\n\n[tool.migratectl]\n')
    assert project.run("init").exit_code == 0
    result = project.run_cli("current")
    assert result.exit_code == 2, result
    assert result.stderr.strip() == (
        "Error: No database URL is configured. Set database_url in [tool.migratectl] of "
        "pyproject.toml, the MIGRATECTL_DATABASE_URL or DATABASE_URL environment variable, or "
        "pass --database-url."
    ), result
    checked = project.run("check", env={"DATABASE_URL": project.database_url})
    assert checked.exit_code == 2, checked
    assert checked.stderr.strip() == (
        "Error: No models are configured, and this command compares them with the database. "
        'Set models = "package.module" in [tool.migratectl] of pyproject.toml, the '
        "MIGRATECTL_MODELS environment variable, or pass --models."
    ), checked


def test_no_database_url_without_a_configuration_file(sqlite_project: Project) -> None:
    assert sqlite_project.run("init").exit_code == 0
    (sqlite_project.path / "migratectl.toml").unlink()  # init wrote one: go without
    result = sqlite_project.run_cli("current")
    assert result.exit_code == 2, result
    assert "Set database_url in migratectl.toml, the MIGRATECTL_DATABASE_URL or DATABASE_URL " in (
        result.stderr
    )


# ------------------------------------------------------------------ init -d with a configuration


def test_init_with_a_directory_records_it_in_the_existing_configuration(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    project.models(MODELS)
    project.config("\n[configure]\ncompare_server_default = true\n")
    result = project.run_cli("init", "-t", "migratectl", "-d", "db/migrations")
    assert result.exit_code == 0, result
    assert (
        'Recorded directory = "db/migrations" in migratectl.toml, so the other commands find it.'
    ) in result.stderr
    assert "review the script it writes in db/migrations/versions" in result.stderr
    text = (project.path / "migratectl.toml").read_text()
    assert text.endswith(
        'directory = "db/migrations"\n\n[configure]\ncompare_server_default = true\n'
    ), text
    made = project.run_cli("revision", "-m", "first")
    assert made.exit_code == 0, made
    assert len(project.revision_files("db/migrations")) == 1
    assert project.run("upgrade").exit_code == 0
    assert "alembic_version" in project.tables()


def test_init_with_a_directory_in_a_pyproject_records_it_under_its_table(
    sqlite_project: Project,
) -> None:
    project = sqlite_project
    project.models(MODELS)
    project.write(
        "pyproject.toml",
        f'[project]\nname = "app"\n\n[tool.migratectl]\nmodels = "models"\n'
        f'database_url = "{project.database_url}"\n\n[tool.other]\nx = 1\n',
    )
    result = project.run("init", "-d", "db")
    assert result.exit_code == 0, result
    assert 'Recorded directory = "db" in pyproject.toml' in result.stderr
    assert project.run("history").exit_code == 0
    assert (project.path / "pyproject.toml").read_text().count('directory = "db"') == 1
    assert len(project.revision_files("db")) == 0 and (project.path / "db/env.py").is_file()


def test_init_with_another_directory_than_the_file_names_says_so(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(MODELS)
    project.config('directory = "migrations"\n')
    before = (project.path / "migratectl.toml").read_text()
    result = project.run_cli("init", "-d", "other")
    assert result.exit_code == 0, result
    assert (
        "Warning: migratectl.toml names the repository 'migrations', so the other commands "
        "will not find 'other': set directory = \"other\" there, or pass -d other to every "
        "command."
    ) in result.stderr, result
    assert (project.path / "migratectl.toml").read_text() == before


# ------------------------------------------------------------------ --models given as a path


def test_models_given_as_a_file_path_gets_a_use_dots_hint(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    project.write("myapp/__init__.py", "")
    (project.path / "models.py").rename(project.path / "myapp/models.py")
    assert project.run("upgrade").exit_code == 0
    for given, dotted in (
        ("myapp/models.py", "myapp.models"),
        ("./myapp/models.py", "myapp.models"),
    ):
        result = project.run_cli("check", "--models", given)
        assert result.exit_code == 2, result
        assert result.stderr.strip() == (
            f'Error: Cannot import the models module "{given}": that is a file path, and a '
            f'module is named with dots. Use "{dotted}" (a module path from the configuration '
            "file's folder, or from sys_path)."
        ), result
    assert project.run("check", "--models", "myapp.models").exit_code == 0


# ------------------------------------------------------------------ check results, -v


def test_current_check_heads_reports_a_finding_not_an_error(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    result = project.run_cli("current", "--check-heads")
    assert result.exit_code == 1, result
    assert result.stderr == (
        f"The database has no revision (base).\nThe database is not at head (heads: {REV1}).\n"
    ), result
    assert "Error" not in result.output


def test_with_v_the_hint_does_not_say_run_with_v(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    assert project.run("upgrade").exit_code == 0
    project.write("broken_models.py", 'raise ValueError("boom")\n')
    plain = project.run_cli("check", "--models", "broken_models")
    assert plain.exit_code == 2, plain
    assert plain.stderr.strip().endswith("ValueError: boom. Run with -v to see the traceback.")
    verbose = project.run_cli("-v", "check", "--models", "broken_models")
    assert verbose.exit_code == 2, verbose
    assert "Traceback (most recent call last)" in verbose.stderr
    assert 'raise ValueError("boom")' in verbose.stderr
    assert verbose.stderr.rstrip().endswith(
        'Error: Importing the models module "broken_models" raised an error: ValueError: boom'
    ), verbose
    assert "-v" not in verbose.stderr.splitlines()[-1]
    project.write("migrations/versions/r2_posts.py", "x = 1 / 0\n")
    loaded = project.run_cli("--verbose", "history")
    assert loaded.exit_code == 2, loaded
    assert loaded.stderr.rstrip().endswith(
        "Error: Cannot load migrations/versions/r2_posts.py, line 1: ZeroDivisionError: "
        "division by zero. Fix the file and run the command again."
    ), loaded


def test_system_exit_while_importing_the_models_names_the_module(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    assert project.run("upgrade").exit_code == 0
    project.write("exiting_models.py", "import sys\nsys.exit('bye')\n")
    for args in (
        ("check", "--models", "exiting_models"),
        ("migrate", "-m", "x", "--models", "exiting_models"),
    ):
        result = project.run_cli(*args)
        assert result.exit_code == 2, (args, result)
        assert result.stderr.strip() == (
            "Error: Importing the models module \"exiting_models\" called sys.exit('bye'). A "
            "module that migratectl imports must not exit; move that call under "
            'if __name__ == "__main__":.'
        ), (args, result)
