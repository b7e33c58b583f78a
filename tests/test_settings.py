"""load_settings: precedence, discovery, path resolution, interpolation and validation.

Every call passes ``cwd=`` and ``environ=`` explicitly, so nothing here depends on the process.
"""

from __future__ import annotations

import math
import sys
import textwrap
from pathlib import Path

import pytest

from migratectl.errors import ConfigError
from migratectl.settings import load_settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def config_error(**kwargs: object) -> str:
    """The text of the ConfigError load_settings raises (as the CLI prints it)."""
    with pytest.raises(ConfigError) as info:
        load_settings(**kwargs)  # type: ignore[arg-type]
    return str(info.value)


# --------------------------------------------------------------------------- defaults


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.config_file is None
    assert settings.database_url is None
    assert settings.models is None
    assert settings.directory == tmp_path.resolve() / "migrations"
    assert settings.compare_type is True
    assert settings.render_as_batch is True
    assert settings.sys_path == [tmp_path.resolve()]
    assert settings.file_template is None
    assert settings.configure_hooks == []
    assert settings.lock_timeout == 600
    assert settings.configure == {}
    assert settings.alembic == {}
    assert settings.binds == {}


def test_missing_database_url_and_models_are_reported_when_required(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, environ={})
    with pytest.raises(ConfigError, match="No database URL is configured"):
        settings.require_database_url()
    with pytest.raises(ConfigError, match="No models are configured"):
        settings.require_models()


# --------------------------------------------------------------------------- precedence


@pytest.fixture
def layered(tmp_path: Path) -> Path:
    """A project whose migratectl.toml sets database_url, models and directory."""
    write(
        tmp_path / "migratectl.toml",
        """
        database_url = "sqlite:///file.db"
        models = "file_models"
        directory = "file_migrations"
        lock_timeout = 30
        """,
    )
    return tmp_path


def test_file_values_apply_without_flags_or_environment(layered: Path) -> None:
    settings = load_settings(cwd=layered, environ={})
    assert settings.config_file == layered / "migratectl.toml"
    assert settings.database_url == f"sqlite:///{layered / 'file.db'}"
    assert settings.models == "file_models"
    assert settings.directory == layered / "file_migrations"
    assert settings.lock_timeout == 30
    assert settings.sources == {
        "database_url": str(layered / "migratectl.toml"),
        "models": str(layered / "migratectl.toml"),
        "directory": str(layered / "migratectl.toml"),
    }


def test_database_url_fallback_variable_beats_the_file(layered: Path) -> None:
    settings = load_settings(cwd=layered, environ={"DATABASE_URL": "sqlite:////srv/env2.db"})
    assert settings.database_url == "sqlite:////srv/env2.db"
    assert settings.sources["database_url"] == "DATABASE_URL"


def test_migratectl_database_url_beats_database_url(layered: Path) -> None:
    environ = {
        "DATABASE_URL": "sqlite:////srv/env2.db",
        "MIGRATECTL_DATABASE_URL": "sqlite:////srv/env1.db",
    }
    settings = load_settings(cwd=layered, environ=environ)
    assert settings.database_url == "sqlite:////srv/env1.db"
    assert settings.sources["database_url"] == "MIGRATECTL_DATABASE_URL"


def test_flags_beat_environment_and_file(layered: Path) -> None:
    environ = {
        "DATABASE_URL": "sqlite:////srv/env2.db",
        "MIGRATECTL_DATABASE_URL": "sqlite:////srv/env1.db",
        "MIGRATECTL_MODELS": "env_models",
        "MIGRATECTL_DIRECTORY": "env_migrations",
    }
    settings = load_settings(
        cwd=layered,
        environ=environ,
        database_url="sqlite:////srv/flag.db",
        models="flag_models",
        directory="flag_migrations",
        lock_timeout=5,
    )
    assert settings.database_url == "sqlite:////srv/flag.db"
    assert settings.models == "flag_models"
    assert settings.directory == layered / "flag_migrations"
    assert settings.lock_timeout == 5
    assert settings.sources == {
        "database_url": "--database-url",
        "models": "--models",
        "directory": "--directory",
    }


def test_environment_beats_file_for_models_and_directory(layered: Path) -> None:
    environ = {"MIGRATECTL_MODELS": "env_models", "MIGRATECTL_DIRECTORY": "env_migrations"}
    settings = load_settings(cwd=layered, environ=environ)
    assert settings.models == "env_models"
    assert settings.sources["models"] == "MIGRATECTL_MODELS"
    assert settings.directory == layered / "env_migrations"


def test_empty_environment_variables_are_ignored(layered: Path) -> None:
    environ = {
        "MIGRATECTL_DATABASE_URL": "",
        "DATABASE_URL": "",
        "MIGRATECTL_MODELS": "",
        "MIGRATECTL_DIRECTORY": "",
        "MIGRATECTL_CONFIG": "",
    }
    settings = load_settings(cwd=layered, environ=environ)
    assert settings.database_url == f"sqlite:///{layered / 'file.db'}"
    assert settings.models == "file_models"
    assert settings.directory == layered / "file_migrations"


def test_flag_and_environment_paths_are_relative_to_cwd_not_to_the_file(layered: Path) -> None:
    work = layered / "sub" / "work"
    work.mkdir(parents=True)
    from_env = load_settings(
        cwd=work,
        environ={"MIGRATECTL_DIRECTORY": "env_dir", "MIGRATECTL_DATABASE_URL": "sqlite:///e.db"},
    )
    assert from_env.directory == work / "env_dir"
    # Kept as typed: SQLAlchemy opens it relative to the process's working directory.
    assert from_env.database_url == "sqlite:///e.db"
    from_flags = load_settings(
        cwd=work, environ={}, directory="flag_dir", database_url="sqlite:///f.db"
    )
    assert from_flags.directory == work / "flag_dir"
    assert from_flags.database_url == "sqlite:///f.db"


# --------------------------------------------------------------------------- choosing the file


def test_migratectl_config_variable_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'models = "discovered"\n')
    other = write(tmp_path / "conf" / "other.toml", 'models = "chosen"\ndirectory = "mig"\n')
    settings = load_settings(cwd=tmp_path, environ={"MIGRATECTL_CONFIG": "conf/other.toml"})
    assert settings.config_file == other
    assert settings.models == "chosen"
    # Relative paths in the file are relative to the file, not to the cwd.
    assert settings.directory == tmp_path / "conf" / "mig"


def test_config_flag_beats_migratectl_config_variable(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", 'models = "from_a"\n')
    write(tmp_path / "b.toml", 'models = "from_b"\n')
    settings = load_settings(cwd=tmp_path, environ={"MIGRATECTL_CONFIG": "a.toml"}, config="b.toml")
    assert settings.models == "from_b"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_config_naming_a_missing_file_is_an_error(tmp_path: Path, how: str) -> None:
    kwargs: dict[str, object] = {"cwd": tmp_path}
    if how == "flag":
        kwargs.update(environ={}, config="nope.toml")
    else:
        kwargs.update(environ={"MIGRATECTL_CONFIG": "nope.toml"})
    message = config_error(**kwargs)
    assert f"{tmp_path / 'nope.toml'} does not exist" in message


def test_missing_config_file_is_allowed_for_init(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, environ={}, config="new.toml", config_must_exist=False)
    assert settings.config_file == tmp_path / "new.toml"
    assert settings.directory == tmp_path / "migrations"


def test_config_naming_a_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    message = config_error(cwd=tmp_path, environ={}, config="conf")
    assert str(tmp_path / "conf") in message


def test_pyproject_tool_table_is_read(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "demo"

        [tool.migratectl]
        database_url = "sqlite:///py.db"
        models = "pymodels"
        directory = "db/migrations"

        [tool.migratectl.configure]
        version_table = "py_versions"
        """,
    )
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.config_file == tmp_path / "pyproject.toml"
    assert settings.database_url == f"sqlite:///{tmp_path / 'py.db'}"
    assert settings.models == "pymodels"
    assert settings.directory == tmp_path / "db" / "migrations"
    assert settings.configure == {"version_table": "py_versions"}


def test_migratectl_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.migratectl]\nmodels = "from_pyproject"\n')
    write(tmp_path / "migratectl.toml", 'models = "from_migratectl"\n')
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.config_file == tmp_path / "migratectl.toml"
    assert settings.models == "from_migratectl"


def test_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'models = "outer"\n')
    inner = tmp_path / "pkg"
    write(inner / "pyproject.toml", '[project]\nname = "inner"\n\n[tool.ruff]\nline-length = 99\n')
    settings = load_settings(cwd=inner, environ={})
    assert settings.config_file == tmp_path / "migratectl.toml"
    assert settings.models == "outer"


def test_nearer_pyproject_with_the_table_wins_over_a_parent_file(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'models = "outer"\n')
    inner = tmp_path / "pkg"
    write(inner / "pyproject.toml", '[tool.migratectl]\nmodels = "inner"\n')
    settings = load_settings(cwd=inner, environ={})
    assert settings.config_file == inner / "pyproject.toml"
    assert settings.models == "inner"


def test_pyproject_with_invalid_toml_is_skipped_during_discovery(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'models = "outer"\n')
    write(tmp_path / "pkg" / "pyproject.toml", "[project\nname = \n")
    settings = load_settings(cwd=tmp_path / "pkg", environ={})
    assert settings.models == "outer"


def test_pyproject_with_a_non_table_tool_migratectl_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool]\nmigratectl = "yes"\n')
    message = config_error(cwd=tmp_path, environ={})
    assert "[tool.migratectl]" in message
    assert "must be a table" in message


def test_discovery_from_a_sub_directory_resolves_paths_against_the_file(tmp_path: Path) -> None:
    write(
        tmp_path / "migratectl.toml",
        """
        database_url = "sqlite:///data/app.db"
        sys_path = ["src", "."]

        [binds.analytics]
        database_url = "sqlite:///analytics.db"
        models = "analytics.models"
        """,
    )
    deep = tmp_path / "sub" / "dir"
    deep.mkdir(parents=True)
    settings = load_settings(cwd=deep, environ={})
    assert settings.config_file == tmp_path / "migratectl.toml"
    assert settings.base_dir == tmp_path
    assert settings.directory == tmp_path / "migrations"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    assert settings.sys_path == [tmp_path / "src", tmp_path]
    bind = settings.binds["analytics"]
    assert bind.database_url == f"sqlite:///{tmp_path / 'analytics.db'}"
    assert bind.models == "analytics.models"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////abs/app.db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql://app@db/app",
        "sqlite+aiosqlite:////abs/app.db",
    ],
)
def test_urls_that_are_not_relative_sqlite_paths_are_kept(tmp_path: Path, url: str) -> None:
    write(tmp_path / "migratectl.toml", f'database_url = "{url}"\n')
    assert load_settings(cwd=tmp_path / ".", environ={}).database_url == url


def test_relative_sqlite_path_keeps_driver_and_query(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'database_url = "sqlite+aiosqlite:///app.db?timeout=5"\n')
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'app.db'}?timeout=5"


# --------------------------------------------------------------------------- interpolation


def test_interpolation_in_every_string_value(tmp_path: Path) -> None:
    write(
        tmp_path / "migratectl.toml",
        """
        database_url = "postgresql://app:${DB_PASSWORD}@${DB_HOST:-localhost}/app"
        models = "${APP}.models"
        directory = "${MIGRATIONS:-db/migrations}"
        sys_path = ["${SRC:-src}"]
        file_template = "${PREFIX}_%(rev)s"
        configure_hook = ["${APP}.hooks:configure"]

        [configure]
        version_table = "${APP}_versions"
        include_schemas = true

        [alembic]
        timezone = "${TZ:-UTC}"

        [alembic.post_write_hooks]
        hooks = "${HOOKS:-}"

        [binds.reports]
        database_url = "sqlite:///${REPORTS}.db"
        models = "${APP}.reports"
        """,
    )
    environ = {"DB_PASSWORD": "s3cret", "APP": "shop", "PREFIX": "p", "REPORTS": "rep"}
    settings = load_settings(cwd=tmp_path, environ=environ)
    assert settings.database_url == "postgresql://app:s3cret@localhost/app"
    assert settings.models == "shop.models"
    assert settings.directory == tmp_path / "db" / "migrations"
    assert settings.sys_path == [tmp_path / "src"]
    assert settings.file_template == "p_%(rev)s"
    assert settings.configure_hooks == ["shop.hooks:configure"]
    assert settings.configure == {"version_table": "shop_versions", "include_schemas": True}
    assert settings.alembic == {"timezone": "UTC", "post_write_hooks": {"hooks": ""}}
    assert settings.binds["reports"].database_url == f"sqlite:///{tmp_path / 'rep.db'}"
    assert settings.binds["reports"].models == "shop.reports"


def test_set_variable_beats_its_default(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'directory = "${MIGRATIONS:-default_dir}"\n')
    settings = load_settings(cwd=tmp_path, environ={"MIGRATIONS": "chosen_dir"})
    assert settings.directory == tmp_path / "chosen_dir"


def test_empty_variable_takes_the_default_like_a_shell(tmp_path: Path) -> None:
    # ${VAR:-default}: the default applies when VAR is unset *or empty* (POSIX sh, compose).
    write(tmp_path / "migratectl.toml", 'directory = "${MIGRATIONS:-default_dir}"\n')
    settings = load_settings(cwd=tmp_path, environ={"MIGRATIONS": ""})
    assert settings.directory == tmp_path / "default_dir"


def test_empty_variable_without_default_is_the_empty_string(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'models = "app${SUFFIX}.models"\n')
    assert load_settings(cwd=tmp_path, environ={"SUFFIX": ""}).models == "app.models"


@pytest.mark.parametrize(
    ("body", "key", "variable"),
    [
        ('database_url = "postgresql://app:${DB_PASSWORD}@db/app"', "database_url", "DB_PASSWORD"),
        ('models = "${APP}.models"', "models", "APP"),
        ('directory = "${MIGRATIONS}"', "directory", "MIGRATIONS"),
        ('sys_path = ["src", "${SRC}"]', "sys_path", "SRC"),
        ('configure_hook = ["${HOOKS}:run"]', "configure_hook", "HOOKS"),
        ('[configure]\nversion_table = "${VT}"', "configure.version_table", "VT"),
        ('[binds.x]\ndatabase_url = "${X_URL}"', "binds.x.database_url", "X_URL"),
        ('[binds.x]\nmodels = "${X_MODELS}"', "binds.x.models", "X_MODELS"),
        ('[alembic]\ntimezone = "${TZ}"', "alembic.timezone", "TZ"),
    ],
)
def test_missing_variable_without_default_names_variable_and_key(
    tmp_path: Path, body: str, key: str, variable: str
) -> None:
    write(tmp_path / "migratectl.toml", body + "\n")
    message = config_error(cwd=tmp_path, environ={})
    assert message.startswith(f"{key} uses the environment variable {variable}, which is not set")


def test_value_overridden_by_a_flag_or_env_needs_no_variable(tmp_path: Path) -> None:
    # The file's database_url is not used, so its ${DB_PASSWORD} need not be set.
    write(
        tmp_path / "migratectl.toml",
        """
        database_url = "postgresql://app:${DB_PASSWORD}@db/app"
        models = "${APP}.models"
        directory = "${MIGRATIONS}"
        """,
    )
    settings = load_settings(
        cwd=tmp_path,
        environ={"MIGRATECTL_DATABASE_URL": "sqlite:////srv/ci.db", "MIGRATECTL_MODELS": "m"},
        directory="mig",
    )
    assert settings.database_url == "sqlite:////srv/ci.db"
    assert settings.models == "m"
    assert settings.directory == tmp_path / "mig"


def test_interpolated_value_is_not_interpolated_again(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'models = "${A}"\n')
    assert load_settings(cwd=tmp_path, environ={"A": "${B}"}).models == "${B}"


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "named", "suggestion"),
    [
        ('databse_url = "sqlite://"', '"databse_url"', '"database_url"'),
        ('model = "app.models"', '"model"', '"models"'),
        ("compare_types = false", '"compare_types"', '"compare_type"'),
        ('[binds.x]\ndatabase_ur = "sqlite://"', '"binds.x.database_ur"', '"database_url"'),
    ],
)
def test_unknown_key_names_key_file_and_closest_known_key(
    tmp_path: Path, body: str, named: str, suggestion: str
) -> None:
    path = write(tmp_path / "migratectl.toml", body + "\n")
    message = config_error(cwd=tmp_path, environ={})
    assert f"Unknown key {named} in {path}" in message
    assert f"Did you mean {suggestion}?" in message


def test_unknown_key_without_a_close_match_lists_the_known_keys(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", "zzzz = 1\n")
    message = config_error(cwd=tmp_path, environ={})
    assert '"zzzz"' in message
    assert "Did you mean" not in message
    assert "database_url, models, directory" in message


def test_unknown_key_in_pyproject_names_the_pyproject(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", '[tool.migratectl]\ndatabse_url = "x"\n')
    message = config_error(cwd=tmp_path, environ={})
    assert f'Unknown key "databse_url" in {path}' in message


@pytest.mark.parametrize(
    ("body", "key", "described"),
    [
        ('compare_type = "yes"', "compare_type", 'the string "yes"'),
        ("render_as_batch = 1", "render_as_batch", "the number 1"),
        ('lock_timeout = "ten"', "lock_timeout", 'the string "ten"'),
        ("lock_timeout = true", "lock_timeout", "the boolean true"),
        ('sys_path = "src"', "sys_path", 'the string "src"'),
        ("sys_path = [1]", "sys_path", "a list"),
        ("database_url = 5", "database_url", "the number 5"),
        ("models = []", "models", "an empty list"),
        ("configure_hook = 3", "configure_hook", "the number 3"),
        ('configure = "x"', "configure", 'the string "x"'),
        ("alembic = 1", "alembic", "the number 1"),
        ("binds = []", "binds", "an empty list"),
        ("file_template = 2024-01-01", "file_template", "date"),
        ('binds = { x = "y" }', "binds.x", "must be a table"),
        ("[binds.x]\nmodels = false", "binds.x.models", "the boolean false"),
    ],
)
def test_wrong_value_type_names_the_key(
    tmp_path: Path, body: str, key: str, described: str
) -> None:
    path = write(tmp_path / "migratectl.toml", body + "\n")
    message = config_error(cwd=tmp_path, environ={})
    assert message.startswith(f"{key} in {path} must be"), message
    assert described in message


@pytest.mark.parametrize("value", ["-1", "nan", "-inf"])
def test_lock_timeout_must_be_a_non_negative_number(tmp_path: Path, value: str) -> None:
    write(tmp_path / "migratectl.toml", f"lock_timeout = {value}\n")
    message = config_error(cwd=tmp_path, environ={})
    assert "lock_timeout" in message


def test_lock_timeout_accepts_integers_and_floats(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", "lock_timeout = 2.5\n")
    assert load_settings(cwd=tmp_path, environ={}).lock_timeout == 2.5
    write(tmp_path / "migratectl.toml", "lock_timeout = 0\n")
    assert load_settings(cwd=tmp_path, environ={}).lock_timeout == 0
    assert math.isinf(load_settings(cwd=tmp_path, environ={}, lock_timeout=math.inf).lock_timeout)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "migratectl.toml", 'models = "app"\n\ndatabase_url = \n')
    message = config_error(cwd=tmp_path, environ={})
    assert f"{path} is not valid TOML" in message
    assert "line 3" in message


def test_file_that_is_not_utf8_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "migratectl.toml"
    path.write_bytes(b'models = "caf\xe9"\n')
    message = config_error(cwd=tmp_path, environ={})
    assert str(path) in message
    assert "UTF-8" in message


def test_unreadable_pyproject_during_discovery_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'models = "outer"\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_bytes(b"\xff\xfe[tool.migratectl]\n")
    assert load_settings(cwd=tmp_path / "pkg", environ={}).models == "outer"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("%(rev)s_%(nope)s", "nope"),
        ("%(rev)s_%(slug", "file_template"),
        ("%(year)q", "file_template"),
    ],
)
def test_bad_file_template_is_a_configuration_error(
    tmp_path: Path, template: str, problem: str
) -> None:
    write(tmp_path / "migratectl.toml", f'file_template = "{template}"\n')
    message = config_error(cwd=tmp_path, environ={})
    assert "file_template" in message
    assert problem in message


def test_good_file_template_is_kept_verbatim(tmp_path: Path) -> None:
    template = "%(year)d%(month).2d%(day).2d_%(hour).2d%(minute).2d_%(rev)s_%(slug)s_%(epoch)s"
    write(tmp_path / "migratectl.toml", f'file_template = "{template}"\n')
    assert load_settings(cwd=tmp_path, environ={}).file_template == template


# --------------------------------------------------------------------------- other keys


def test_tables_and_lists_are_passed_through(tmp_path: Path) -> None:
    write(
        tmp_path / "migratectl.toml",
        """
        compare_type = false
        render_as_batch = false
        configure_hook = "hooks:configure"

        [configure]
        version_table = "my_versions"
        transaction_per_migration = false
        include_object = "hooks:skip_tmp"

        [alembic]
        truncate_slug_length = 12

        [alembic.post_write_hooks]
        hooks = "fmt"
        "fmt.type" = "exec"
        """,
    )
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.compare_type is False
    assert settings.render_as_batch is False
    assert settings.configure_hooks == ["hooks:configure"]
    assert settings.configure == {
        "version_table": "my_versions",
        "transaction_per_migration": False,
        "include_object": "hooks:skip_tmp",
    }
    assert settings.alembic == {
        "truncate_slug_length": 12,
        "post_write_hooks": {"hooks": "fmt", "fmt.type": "exec"},
    }


def test_x_args_are_kept(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, environ={}, x_args=["tenant=a", "dry=1"])
    assert settings.x_args == ["tenant=a", "dry=1"]


def test_activate_sys_path_puts_file_folder_and_sys_path_first(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", 'sys_path = ["src", "lib"]\n')
    settings = load_settings(cwd=tmp_path / ".", environ={})
    settings.activate_sys_path()
    settings.activate_sys_path()  # twice: no duplicates
    assert sys.path[:3] == [str(tmp_path), str(tmp_path / "src"), str(tmp_path / "lib")]
    assert sys.path.count(str(tmp_path / "src")) == 1


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ('script_location = "elsewhere"', ["alembic.script_location", "directory"]),
        ('"sqlalchemy.url" = "sqlite://"', ["alembic.sqlalchemy.url", "database_url"]),
        ('sqlalchemy.url = "sqlite://"', ["alembic.sqlalchemy", "database_url"]),
        ('truncate_slug_length = ""', ["alembic.truncate_slug_length", "whole number"]),
        ("truncate_slug_length = 2.5", ["alembic.truncate_slug_length", "the number 2.5"]),
        ('path_separator = "comma"', ["alembic.path_separator", '"newline"']),
        ("[alembic.DEFAULT]\nx = 1", ['Unknown key "alembic.DEFAULT"']),
    ],
)
def test_alembic_options_alembic_would_trip_over(
    tmp_path: Path, body: str, fragments: list[str]
) -> None:
    header = "" if body.startswith("[") else "[alembic]\n"
    write(tmp_path / "migratectl.toml", header + body + "\n")
    message = config_error(cwd=tmp_path, environ={})
    for fragment in fragments:
        assert fragment in message


def test_alembic_numbers_may_be_strings(tmp_path: Path) -> None:
    write(tmp_path / "migratectl.toml", '[alembic]\ntruncate_slug_length = "${TSL:-30}"\n')
    assert load_settings(cwd=tmp_path, environ={}).alembic == {"truncate_slug_length": "30"}


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("version_table = 5", ["configure.version_table", "must be a string, not the number 5"]),
        ("version_table_schema = []", ["configure.version_table_schema", "must be a string"]),
        ('transaction_per_migration = "no"', ["configure.transaction_per_migration", "true or"]),
        ("include_schemas = 1", ["configure.include_schemas", "true or false"]),
        ("include_object = true", ["configure.include_object", 'import path "module:function"']),
        ("compare_type = 1", ["configure.compare_type", "true, false, or an import path"]),
        ("template_args = 1", ["configure.template_args", "must be a table"]),
        ('url = "sqlite://"', ["configure.url", "passed by migratectl itself", "database_url"]),
        ("connection = 1", ["configure.connection", "database_url"]),
        ('target_metadata = "x"', ["configure.target_metadata", "models"]),
        ("as_sql = true", ["configure.as_sql", "--sql"]),
    ],
)
def test_configure_values_are_checked(tmp_path: Path, body: str, fragments: list[str]) -> None:
    write(tmp_path / "migratectl.toml", "[configure]\n" + body + "\n")
    message = config_error(cwd=tmp_path, environ={})
    for fragment in fragments:
        assert fragment in message


def test_configure_accepts_well_typed_options(tmp_path: Path) -> None:
    write(
        tmp_path / "migratectl.toml",
        """
        [configure]
        compare_type = "hooks:compare_type"
        compare_server_default = true
        include_schemas = false
        version_table_schema = "audit"
        autogenerate_plugins = ["alembic.autogenerate.*"]
        """,
    )
    configure = load_settings(cwd=tmp_path, environ={}).configure
    assert configure["autogenerate_plugins"] == ["alembic.autogenerate.*"]
