"""The configuration matrix at the command line: where each setting comes from, and what it does.

Each test sets a value at one or more levels (flag, environment, file, default) and checks the
outcome a user sees: the database `current --json` reports, the folder `init` creates, the
tables `upgrade` makes, the revision file `revision` writes, the error and its exit code.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from pathlib import Path

import pytest
from conftest import Project, Result

from migratectl.repository.config import build_config
from migratectl.settings import load_settings

USERS_MODEL = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


def in_folder(project: Project, folder: Path) -> Project:
    """The same project, run from ``folder`` (a sub-directory, say)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Project(folder, project.database_url, dict(project.env))


def current_database(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    result = project.run("current", "--json", *args, env=env)
    assert result.exit_code == 0, result
    return str(json.loads(result.stdout)["database"])


def init(project: Project, *args: str, env: dict[str, str] | None = None) -> None:
    result = project.run("init", *args, env=env)
    assert result.exit_code == 0, result


def write_revision(
    project: Project,
    rev: str,
    down: str | None,
    upgrade: str = "pass",
    directory: str = "migrations",
) -> Path:
    return project.write(
        f"{directory}/versions/{rev}.py",
        f'''
        """{rev}"""
        from alembic import op
        import sqlalchemy as sa

        revision = {rev!r}
        down_revision = {down!r}
        branch_labels = None
        depends_on = None


        def upgrade():
            {upgrade}


        def downgrade():
            pass
        ''',
    )


def assert_config_error(result: Result, *fragments: str) -> None:
    """Exit 2, nothing on stdout, no traceback, and the message holds every fragment."""
    assert result.exit_code == 2, result
    assert result.stdout == "", result
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result)


# --------------------------------------------------------------------------- precedence


def test_database_url_precedence(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write("migratectl.toml", 'database_url = "sqlite:///a.db"\n')
    init(p)
    assert current_database(p) == sqlite(p.path / "a.db")

    env = {"DATABASE_URL": sqlite(p.path / "d.db")}
    assert current_database(p, env=env) == sqlite(p.path / "d.db")

    env["MIGRATECTL_DATABASE_URL"] = sqlite(p.path / "b.db")
    assert current_database(p, env=env) == sqlite(p.path / "b.db")

    flag = sqlite(p.path / "c.db")
    assert current_database(p, "--database-url", flag, env=env) == flag
    result = p.run("--database-url", flag, "current", "--json", env=env)
    assert json.loads(result.stdout)["database"] == flag


def test_winning_database_is_the_one_migrated(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write("migratectl.toml", 'database_url = "sqlite:///a.db"\n')
    init(p)
    write_revision(p, "r1", None, 'op.create_table("t", sa.Column("id", sa.Integer))')
    env = {"MIGRATECTL_DATABASE_URL": "sqlite:///b.db", "DATABASE_URL": "sqlite:///d.db"}
    result = p.run("upgrade", "--database-url", "sqlite:///c.db", env=env)
    assert result.exit_code == 0, result
    assert (p.path / "c.db").exists()
    assert not any((p.path / name).exists() for name in ("a.db", "b.db", "d.db"))

    result = p.run("upgrade", env=env)
    assert result.exit_code == 0, result
    assert (p.path / "b.db").exists()
    assert not (p.path / "a.db").exists()


def test_models_precedence(sqlite_project: Project) -> None:
    p = sqlite_project
    for name in ("file", "env", "flag"):
        p.models(
            f"""
            class T(Base):
                __tablename__ = "from_{name}"
                id: Mapped[int] = mapped_column(primary_key=True)
            """,
            module=f"models_{name}",
        )
    p.config(models="models_file")
    init(p)

    def compared_table(*args: str, env: dict[str, str] | None = None) -> list[str]:
        result = p.run("check", "--json", *args, env=env)
        assert result.exit_code == 1, result
        return list(json.loads(result.stdout)["operations"])

    assert compared_table() == ["add_table from_file"]
    env = {"MIGRATECTL_MODELS": "models_env"}
    assert compared_table(env=env) == ["add_table from_env"]
    assert compared_table("--models", "models_flag", env=env) == ["add_table from_flag"]


def test_directory_precedence(sqlite_project: Project) -> None:
    p = sqlite_project
    p.config('directory = "dir_file"\n')
    init(p)
    assert (p.path / "dir_file" / "env.py").is_file()
    env = {"MIGRATECTL_DIRECTORY": "dir_env"}
    init(p, env=env)
    assert (p.path / "dir_env" / "env.py").is_file()
    init(p, "-d", "dir_flag", env=env)
    assert (p.path / "dir_flag" / "env.py").is_file()
    # Each command reads the repository the same rules choose.
    write_revision(p, "only_in_env_dir", None, directory="dir_env")
    result = p.run("heads", "--json", env=env)
    assert [r["revision"] for r in json.loads(result.stdout)["revisions"]] == ["only_in_env_dir"]
    result = p.run("heads", "--json")
    assert json.loads(result.stdout)["revisions"] == []


def test_config_file_precedence(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write("migratectl.toml", 'database_url = "sqlite:///discovered.db"\n')
    p.write("conf/env.toml", 'database_url = "sqlite:///env.db"\n')
    p.write("conf/flag.toml", 'database_url = "sqlite:///flag.db"\n')
    init(p)
    init(p, "-c", "conf/flag.toml")  # the default directory is relative to the file: conf/
    assert (p.path / "conf" / "migrations" / "env.py").is_file()

    assert current_database(p) == sqlite(p.path / "discovered.db")
    env = {"MIGRATECTL_CONFIG": "conf/env.toml"}
    # Paths in the file are relative to the file's folder, not to the cwd.
    assert current_database(p, env=env) == sqlite(p.path / "conf" / "env.db")
    assert current_database(p, "-c", "conf/flag.toml", env=env) == sqlite(
        p.path / "conf" / "flag.db"
    )
    assert current_database(p, "--config", str(p.path / "conf" / "flag.toml")) == sqlite(
        p.path / "conf" / "flag.db"
    )


@pytest.mark.parametrize("how", ["flag", "env"])
def test_config_naming_a_missing_file(sqlite_project: Project, how: str) -> None:
    p = sqlite_project
    p.config()
    init(p)
    if how == "flag":
        result = p.run("current", "--config", "missing.toml")
    else:
        result = p.run("current", env={"MIGRATECTL_CONFIG": "missing.toml"})
    assert_config_error(result, str(p.path / "missing.toml"), "does not exist")


# --------------------------------------------------------------------------- pyproject.toml


def test_pyproject_tool_table(sqlite_project: Project) -> None:
    p = sqlite_project
    p.models(USERS_MODEL)
    p.write(
        "pyproject.toml",
        """
        [project]
        name = "shop"
        version = "1.0"

        [tool.ruff]
        line-length = 100

        [tool.migratectl]
        database_url = "sqlite:///shop.db"
        models = "models"
        directory = "db/migrations"
        """,
    )
    init(p)
    assert (p.path / "db" / "migrations" / "env.py").is_file()
    assert not (p.path / "migratectl.toml").exists()  # the pyproject is the configuration
    assert p.run("migrate", "-m", "initial").exit_code == 0
    assert len(p.revision_files("db/migrations")) == 1
    assert p.run("upgrade").exit_code == 0
    assert current_database(p) == sqlite(p.path / "shop.db")
    p.database_url = sqlite(p.path / "shop.db")
    assert "users" in p.tables()


def test_migratectl_toml_wins_over_pyproject_in_the_same_folder(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write("pyproject.toml", '[tool.migratectl]\ndatabase_url = "sqlite:///py.db"\n')
    p.write("migratectl.toml", 'database_url = "sqlite:///toml.db"\n')
    init(p)
    assert current_database(p) == sqlite(p.path / "toml.db")


def test_pyproject_without_the_table_is_skipped(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write("migratectl.toml", 'database_url = "sqlite:///outer.db"\n')
    init(p)
    service = in_folder(p, p.path / "service")
    service.write("pyproject.toml", '[project]\nname = "service"\nversion = "0.1"\n')
    assert current_database(service) == sqlite(p.path / "outer.db")
    service.write("pyproject.toml", '[tool.migratectl]\ndatabase_url = "sqlite:///inner.db"\n')
    init(service)
    assert current_database(service) == sqlite(p.path / "service" / "inner.db")


# --------------------------------------------------------------------------- relative paths


def test_from_a_sub_directory_paths_resolve_against_the_file(sqlite_project: Project) -> None:
    p = sqlite_project
    p.models(USERS_MODEL)
    p.write("migratectl.toml", 'database_url = "sqlite:///app.db"\nmodels = "models"\n')
    deep = in_folder(p, p.path / "sub" / "dir")
    init(deep)
    assert (p.path / "migrations" / "env.py").is_file()
    assert not (deep.path / "migrations").exists()
    assert not (deep.path / "migratectl.toml").exists()

    migrated = deep.run("migrate", "-m", "initial")
    assert migrated.exit_code == 0, migrated
    assert len(p.revision_files()) == 1
    assert deep.run("upgrade").exit_code == 0
    assert "users" in p.tables()  # p.database_url is project/app.db
    assert not (deep.path / "app.db").exists()
    assert current_database(deep) == sqlite(p.path / "app.db")

    # The installed command, as a user runs it from the sub-directory.
    checked = p.run_cli("check", cwd=deep.path)
    assert checked.exit_code == 0, checked
    status = p.run_cli("current", "--json", cwd=deep.path)
    assert status.exit_code == 0, status
    assert json.loads(status.stdout)["database"] == sqlite(p.path / "app.db")


def test_without_a_file_relative_paths_are_relative_to_the_cwd(sqlite_project: Project) -> None:
    p = sqlite_project
    init(p, "-d", "migs")
    (p.path / "migratectl.toml").unlink()  # init wrote one; this test runs without
    write_revision(p, "r1", None, 'op.create_table("t", sa.Column("id", sa.Integer))', "migs")

    result = p.run("upgrade", "-d", "migs", "--database-url", "sqlite:///rel.db")
    assert result.exit_code == 0, result
    assert (p.path / "rel.db").exists()

    work = in_folder(p, p.path / "work")
    missing = work.run("current", "-d", "migs", "--database-url", "sqlite:///rel.db")
    assert missing.exit_code == 2, missing
    assert "No migration repository at migs" in missing.stderr
    env = {"MIGRATECTL_DIRECTORY": "../migs", "MIGRATECTL_DATABASE_URL": "sqlite:///../rel.db"}
    state = work.run("current", "--json", env=env)
    assert state.exit_code == 0, state
    assert json.loads(state.stdout)["current"] == ["r1"]


# --------------------------------------------------------------------------- interpolation


def test_interpolation_in_database_url_models_and_directory(sqlite_project: Project) -> None:
    p = sqlite_project
    p.models(USERS_MODEL, module="shop_models")
    p.write(
        "migratectl.toml",
        """
        database_url = "sqlite:///${DB_NAME:-fallback}.db"
        models = "${MODELS_MODULE}"
        directory = "${MIG_DIR:-migrations}"
        """,
    )
    env = {"MODELS_MODULE": "shop_models", "MIG_DIR": "custom"}
    init(p, env=env)
    assert (p.path / "custom" / "env.py").is_file()
    assert current_database(p, env=env) == sqlite(p.path / "fallback.db")
    env["DB_NAME"] = "named"
    assert current_database(p, env=env) == sqlite(p.path / "named.db")
    check = p.run("check", "--json", env=env)
    assert json.loads(check.stdout)["operations"] == ["add_table users"]


def test_interpolation_in_configure_table(sqlite_project: Project) -> None:
    p = sqlite_project
    p.config('[configure]\nversion_table = "${VERSION_TABLE:-default_versions}"\n', models=None)
    init(p)
    write_revision(p, "r1", None)
    assert p.run("upgrade", env={"VERSION_TABLE": "from_env_versions"}).exit_code == 0
    assert "from_env_versions" in p.tables()
    assert "alembic_version" not in p.tables()


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('database_url = "postgresql://app:${DB_PASSWORD}@db/app"\n', "database_url"),
        (
            'database_url = "sqlite://"\n[configure]\nversion_table = "${DB_PASSWORD}"\n',
            "configure",
        ),
        (
            'database_url = "sqlite://"\n[binds.reports]\ndatabase_url = "${DB_PASSWORD}"\n',
            "binds.reports.database_url",
        ),
    ],
)
def test_missing_variable_is_a_configuration_error(
    sqlite_project: Project, body: str, key: str
) -> None:
    p = sqlite_project
    p.write("migratectl.toml", body)
    result = p.run("current")
    assert_config_error(result, "DB_PASSWORD", "not set", key)
    assert "${DB_PASSWORD:-value}" in result.stderr  # the hint shows the default syntax


def test_missing_variable_of_an_overridden_value_is_not_needed(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write("migratectl.toml", 'database_url = "postgresql://app:${DB_PASSWORD}@db/app"\n')
    init(p, "--database-url", p.database_url)
    assert current_database(p, env={"MIGRATECTL_DATABASE_URL": p.database_url}) == p.database_url


# --------------------------------------------------------------------------- invalid files


INVALID_FILES = [
    ('databse_url = "sqlite://"\n', ['Unknown key "databse_url"', 'Did you mean "database_url"?']),
    (
        '[binds.reports]\ndatabase_url = "sqlite://"\nmodel = "x"\n',
        ['Unknown key "binds.reports.model"', 'Did you mean "models"?'],
    ),
    ('compare_type = "yes"\n', ["compare_type in", 'must be true or false, not the string "yes"']),
    ('lock_timeout = "ten"\n', ["lock_timeout in", 'must be a number, not the string "ten"']),
    ('sys_path = "src"\n', ["sys_path in", 'must be a list of strings, not the string "src"']),
    ('models = "m"\n\ndatabase_url = "sqlite://\n', ["is not valid TOML", "line 3"]),
    ("lock_timeout = -5\n", ["lock_timeout must be a number of seconds, 0 or more"]),
    ('file_template = "%(rev)s_%(message)s"\n', ["file_template in", "%(message)s"]),
]


@pytest.mark.parametrize(("content", "fragments"), INVALID_FILES)
@pytest.mark.parametrize("command", [["current"], ["upgrade"], ["history"], ["check"]])
def test_invalid_configuration_exits_2_naming_key_and_file(
    sqlite_project: Project, content: str, fragments: list[str], command: list[str]
) -> None:
    p = sqlite_project
    init(p, "--database-url", p.database_url)
    path = p.write("migratectl.toml", content)
    result = p.run(*command)
    assert_config_error(result, *fragments)
    assert str(path) in result.stderr
    assert not (p.path / "app.db").exists()


def test_invalid_configuration_in_pyproject(sqlite_project: Project) -> None:
    p = sqlite_project
    path = p.write("pyproject.toml", '[tool.migratectl]\ndatabse_url = "sqlite://"\n')
    result = p.run("init")
    assert_config_error(result, 'Unknown key "databse_url"', str(path), "Did you mean")
    assert not (p.path / "migrations").exists()


def test_invalid_configuration_with_the_installed_command(sqlite_project: Project) -> None:
    p = sqlite_project
    path = p.write("migratectl.toml", 'database_url = "sqlite://"\nlock_timeout = "ten"\n')
    result = p.run_cli("upgrade")
    assert_config_error(result, "lock_timeout", str(path))


# --------------------------------------------------------------------------- sys.path


def test_sys_path_src_layout(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write("src/myapp/__init__.py", "")
    p.models(USERS_MODEL, module="src/myapp/models")
    p.config('sys_path = ["src"]\n', models="myapp.models")
    deep = in_folder(p, p.path / "src" / "myapp")
    init(deep)
    migrated = deep.run("migrate", "-m", "initial")
    assert migrated.exit_code == 0, migrated
    (script,) = p.revision_files()
    assert "op.create_table('users'" in script.read_text()


def test_without_sys_path_the_src_layout_does_not_import(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write("src/myapp/__init__.py", "")
    p.models(USERS_MODEL, module="src/myapp/models")
    p.config(models="myapp.models")
    init(p)
    result = p.run("migrate", "-m", "initial")
    assert_config_error(result, 'Cannot import the models module "myapp.models"', "sys_path")


# --------------------------------------------------------------------------- [configure]


def test_configure_version_table(sqlite_project: Project) -> None:
    p = sqlite_project
    p.models(USERS_MODEL)
    p.config('[configure]\nversion_table = "my_versions"\n')
    init(p)
    assert p.run("migrate", "-m", "initial", "--rev-id", "r1").exit_code == 0
    assert p.run("upgrade").exit_code == 0
    assert "my_versions" in p.tables()
    assert "alembic_version" not in p.tables()
    assert p.query("SELECT version_num FROM my_versions") == [("r1",)]

    state = json.loads(p.run("current", "--json").stdout)
    assert state["current"] == ["r1"]
    assert state["up_to_date"] is True
    assert p.run("check").exit_code == 0
    assert p.run("downgrade", "base").exit_code == 0
    assert p.query("SELECT version_num FROM my_versions") == []
    assert "users" not in p.tables()


def test_configure_include_object(sqlite_project: Project) -> None:
    p = sqlite_project
    p.models(
        USERS_MODEL
        + """
class TmpCache(Base):
    __tablename__ = "tmp_cache"
    id: Mapped[int] = mapped_column(primary_key=True)
"""
    )
    p.write(
        "hooks.py",
        """
        def skip_tmp(obj, name, type_, reflected, compare_to):
            return not (type_ == "table" and name.startswith("tmp_"))
        """,
    )
    p.config('[configure]\ninclude_object = "hooks:skip_tmp"\n')
    init(p)
    assert p.run("migrate", "-m", "initial").exit_code == 0
    (script,) = p.revision_files()
    assert "op.create_table('users'" in script.read_text()
    assert "tmp_" not in script.read_text()
    assert p.run("upgrade").exit_code == 0
    # A tmp_ table in the database that no model has is not dropped either.
    p.query("CREATE TABLE tmp_import (id INTEGER)")
    check = p.run("check")
    assert check.exit_code == 0, check
    assert p.run("migrate", "-m", "nothing").exit_code == 0
    assert len(p.revision_files()) == 1


def test_configure_callable_that_is_not_callable(sqlite_project: Project) -> None:
    p = sqlite_project
    p.models(USERS_MODEL)
    p.config('[configure]\ninclude_object = "hooks:LIMIT"\n')
    p.write("hooks.py", "LIMIT = 3\n")
    init(p)
    result = p.run("migrate", "-m", "initial")
    assert_config_error(result, 'include_object "hooks:LIMIT" is not callable (it is an int)')
    assert p.revision_files() == []


def test_configure_callable_that_cannot_be_imported(sqlite_project: Project) -> None:
    p = sqlite_project
    p.models(USERS_MODEL)
    p.config('[configure]\ninclude_object = "hooks:nope"\n')
    p.write("hooks.py", "def skip_tmp(*args):\n    return True\n")
    init(p)
    result = p.run("migrate", "-m", "initial")
    assert_config_error(result, "include_object", '"hooks:nope"', 'no attribute "nope"')
    assert p.revision_files() == []


@pytest.mark.parametrize("per_migration", [True, False])
def test_configure_transaction_per_migration(sqlite_project: Project, per_migration: bool) -> None:
    p = sqlite_project
    setting = "" if per_migration else "[configure]\ntransaction_per_migration = false\n"
    p.config(setting, models=None)
    init(p)
    write_revision(p, "r1", None, 'op.create_table("first", sa.Column("id", sa.Integer))')
    write_revision(p, "r2", "r1", 'op.execute("SELECT * FROM no_such_table")')
    result = p.run("upgrade")
    assert result.exit_code == 4, result
    assert "r2" in result.stderr
    if per_migration:
        # Each revision commits on its own: r1 stays applied.
        assert p.version() == ["r1"]
        assert "first" in p.tables()
    else:
        # One transaction for the whole upgrade: r2's failure rolls back r1 too.
        assert p.version() == []
        assert "first" not in p.tables()


# --------------------------------------------------------------------------- configure_hook


HOOKS = """
from pathlib import Path

from alembic.config import Config

MARKER = Path(__file__).with_name("hook.log")


def log(line):
    with MARKER.open("a") as fh:
        fh.write(line + "\\n")


def configure(config):
    log("configure")
    config.set_main_option("revision_environment", "true")


def first(config):
    log("first")
    config.set_main_option("file_template", "first_%%(rev)s")


def second(config):
    log("second saw " + config.get_main_option("file_template"))
    config.set_main_option("file_template", "second_%%(rev)s")


def replace(config):
    log("replace")
    new = Config(attributes=config.attributes)
    new.set_main_option("script_location", config.get_main_option("script_location"))
    new.set_main_option("file_template", "replaced_%%(rev)s")
    return new


def explode(config):
    raise RuntimeError("hook exploded")


def wrong_return(config):
    return 42


not_callable = 3
"""


@pytest.fixture
def hooked(sqlite_project: Project) -> Project:
    sqlite_project.write("hooks.py", HOOKS)
    return sqlite_project


def hook_log(project: Project) -> list[str]:
    marker = project.path / "hook.log"
    return marker.read_text().splitlines() if marker.exists() else []


def test_configure_hook_receives_the_config(hooked: Project) -> None:
    p = hooked
    p.config(models=None)
    init(p)
    # Without revision_environment, Alembic refuses revision --sql.
    refused = p.run("revision", "--sql", "-m", "x")
    assert refused.exit_code == 2, refused
    assert "revision_environment" in refused.stderr
    assert hook_log(p) == []

    p.config('configure_hook = "hooks:configure"\n', models=None)
    result = p.run("revision", "--sql", "-m", "x", "--rev-id", "r1")
    assert result.exit_code == 0, result
    assert hook_log(p) == ["configure"]
    assert [f.name for f in p.revision_files()] == ["r1_x.py"]


def test_configure_hook_returning_a_replacement_config(hooked: Project) -> None:
    p = hooked
    p.config('configure_hook = "hooks:replace"\n', models=None)
    init(p)
    result = p.run("revision", "-m", "x", "--rev-id", "r1")
    assert result.exit_code == 0, result
    assert hook_log(p) == ["replace"]
    assert [f.name for f in p.revision_files()] == ["replaced_r1.py"]
    write_revision(p, "r2", "r1", 'op.create_table("t", sa.Column("id", sa.Integer))')
    assert p.run("upgrade").exit_code == 0  # migrations run through the replacement too
    assert p.version() == ["r2"]


def test_configure_hook_list_runs_each_in_order(hooked: Project) -> None:
    p = hooked
    p.config('configure_hook = ["hooks:first", "hooks:second"]\n', models=None)
    init(p)
    result = p.run("revision", "-m", "x", "--rev-id", "r1")
    assert result.exit_code == 0, result
    assert hook_log(p) == ["first", "second saw first_%(rev)s"]
    assert [f.name for f in p.revision_files()] == ["second_r1.py"]


@pytest.mark.parametrize(
    ("hook", "fragments"),
    [
        ("hooks:explode", ['configure_hook "hooks:explode"', "RuntimeError: hook exploded"]),
        ("hooks:not_callable", ['configure_hook "hooks:not_callable"', "not callable"]),
        ("hooks:wrong_return", ['configure_hook "hooks:wrong_return"', "returned an int"]),
        ("hooks:missing", ['configure_hook "hooks:missing"', 'no attribute "missing"']),
        ("nohooks:configure", ['configure_hook "nohooks"', 'no module named "nohooks"']),
        ("hooks", ['configure_hook "hooks" must have the form "module:name"']),
    ],
)
def test_configure_hook_errors(hooked: Project, hook: str, fragments: list[str]) -> None:
    p = hooked
    p.config(f'configure_hook = "{hook}"\n', models=None)
    init(p)
    assert_config_error(p.run("upgrade"), *fragments)


# --------------------------------------------------------------------------- [alembic]


def test_file_template_at_top_level(sqlite_project: Project) -> None:
    p = sqlite_project
    p.config(
        'file_template = "%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s"\n'
        '[alembic]\ntimezone = "UTC"\n',
        models=None,
    )
    assert_dated_revision(p)


def test_file_template_in_the_alembic_table(sqlite_project: Project) -> None:
    p = sqlite_project
    p.config(
        '[alembic]\nfile_template = "%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s"\n'
        'timezone = "UTC"\n',
        models=None,
    )
    assert_dated_revision(p)


def assert_dated_revision(p: Project) -> None:
    init(p)
    before = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d")
    result = p.run("revision", "-m", "Add users table", "--rev-id", "abc123")
    after = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d")
    assert result.exit_code == 0, result
    (script,) = p.revision_files()
    match = re.fullmatch(r"(\d{8})_abc123_add_users_table\.py", script.name)
    assert match, script.name
    assert match.group(1) in (before, after)
    assert "Revision ID: abc123" in script.read_text()


def test_truncate_slug_length(sqlite_project: Project) -> None:
    p = sqlite_project
    p.config("[alembic]\ntruncate_slug_length = 10\n", models=None)
    init(p)
    result = p.run("revision", "-m", "a very long message here", "--rev-id", "r1")
    assert result.exit_code == 0, result
    assert [f.name for f in p.revision_files()] == ["r1_a_very_.py"]


POST_WRITE_SCRIPT = """
import sys

with open(sys.argv[1], "a") as fh:
    fh.write("# stamped by the post-write hook\\n")
"""


@pytest.mark.parametrize("quoted", [True, False], ids=["quoted-keys", "dotted-keys"])
def test_nested_alembic_table_is_a_section(sqlite_project: Project, quoted: bool) -> None:
    p = sqlite_project
    p.write("stamp.py", POST_WRITE_SCRIPT)
    q = '"' if quoted else ""
    p.config(
        f"""
        [alembic.post_write_hooks]
        hooks = "stamp"
        {q}stamp.type{q} = "exec"
        {q}stamp.executable{q} = "{sys.executable}"
        {q}stamp.options{q} = "{p.path / "stamp.py"} REVISION_SCRIPT_FILENAME"
        """,
        models=None,
    )
    settings = load_settings(cwd=p.path, environ={})
    section = build_config(settings).get_section("post_write_hooks")
    assert section is not None
    section.pop("here", None)  # ConfigParser's default, present in every section
    assert section == {
        "hooks": "stamp",
        "stamp.type": "exec",
        "stamp.executable": sys.executable,
        "stamp.options": f"{p.path / 'stamp.py'} REVISION_SCRIPT_FILENAME",
    }
    init(p)
    result = p.run("revision", "-m", "x", "--rev-id", "r1")
    assert result.exit_code == 0, result
    (script,) = p.revision_files()
    assert script.read_text().endswith("# stamped by the post-write hook\n")


def test_alembic_options_keep_percent_signs(sqlite_project: Project) -> None:
    p = sqlite_project
    p.config(
        '[alembic]\ntimezone = "100%"\n'
        '[alembic.post_write_hooks]\nhooks = "fmt"\n"fmt.options" = "--ratio 50%"\n'
    )
    settings = load_settings(cwd=p.path, environ={})
    config = build_config(settings)
    assert config.get_main_option("timezone") == "100%"
    assert config.get_section_option("post_write_hooks", "fmt.options") == "--ratio 50%"
