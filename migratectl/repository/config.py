"""Settings made into Alembic's ``Config`` (no alembic.ini) and ``ScriptDirectory``; the
project's environment entered around a command (:func:`in_project`); the hold on Alembic's
log lines.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from migratectl.errors import (
    ConfigError,
    MigratectlError,
    UsageError,
)
from migratectl.output import Output, display_path
from migratectl.repository.project import project_environment
from migratectl.runtime.context import AUTOGENERATE, LOCK_TIMEOUT, LOGGING, OUTPUT, SETTINGS, WRITES
from migratectl.settings import Settings, load_settings

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory


def resolve_settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else load_settings()


P = ParamSpec("P")


R = TypeVar("R")


def in_project(
    command: Callable[Concatenate[Settings, P], R],
) -> Callable[Concatenate[Settings | None, P], R]:
    """Run ``command`` inside the project: its folders on sys.path and its ``run_within``
    entered, around everything that loads env.py, revisions, models and hooks."""

    @functools.wraps(command)
    def run(settings: Settings | None = None, *args: P.args, **kwargs: P.kwargs) -> R:
        resolved = resolve_settings(settings)
        with project_environment(resolved):
            return command(resolved, *args, **kwargs)

    return run


def require_repository(settings: Settings) -> None:
    env_py = settings.directory / "env.py"
    if not env_py.is_file():
        raise UsageError(
            f"No migration repository at {display_path(settings.directory)}.",
            hint="Run `migratectl init` to create it, or point --directory / `directory` "
            "at an existing one.",
        )
    if settings.binds and not is_multidb(settings):
        binds = ", ".join(f"[binds.{name}]" for name in settings.binds)
        where = display_path(settings.config_file) if settings.config_file else "the configuration"
        raise ConfigError(
            f"{where} has {binds}, but the repository {display_path(settings.directory)} serves "
            "one database (it was not made with `init --multidb`): the binds would be ignored.",
            hint="To migrate several databases, create a multi-database repository with "
            "`migratectl init --multidb -d NEW_DIRECTORY`, or convert this one with "
            "`migratectl init --convert --multidb`; otherwise remove the [binds] tables.",
        )


def build_config(
    settings: Settings,
    output: Output | None = None,
    *,
    autogenerate: bool = False,
    writes: bool = False,
    lock_timeout: float | None = None,
) -> Config:
    """An Alembic Config for this project, without any alembic.ini."""
    from alembic.config import Config

    config = Config(
        cmd_opts=argparse.Namespace(x=list(settings.x_args), quiet=True),
        attributes={
            SETTINGS: settings,
            OUTPUT: output or Output(),
            AUTOGENERATE: autogenerate,
            WRITES: writes,
            LOCK_TIMEOUT: lock_timeout,
        },
    )
    config.set_main_option("script_location", _escape(str(settings.directory)))
    # The multi-database script.py.mako writes one function pair per name ("" = default).
    config.set_main_option("databases", ",".join(["", *settings.binds]))
    if settings.file_template:
        config.set_main_option("file_template", _escape(settings.file_template))
    for key, value in settings.alembic.items():
        if isinstance(value, dict):
            # [alembic.NAME] is an Alembic section; `fmt.type = "exec"` is a nested table in
            # TOML, but Alembic's option name is the dotted "fmt.type".
            for option, option_value in _dotted_options(value):
                config.set_section_option(key, option, _escape(_ini_value(option_value)))
        else:
            config.set_main_option(key, _escape(_ini_value(value)))
    if "version_locations" in settings.alembic:
        _set_version_locations(config, settings)
    if settings.database_url:
        # For tools that read it from the Config (never printed: masked in all output).
        config.set_main_option("sqlalchemy.url", _escape(settings.database_url))
    for hook in settings.configure_hooks:
        config = _run_configure_hook(hook, config, settings)
    return config


def _run_configure_hook(hook: str, config: Config, settings: Settings) -> Config:
    """Call one ``configure_hook``; it may change the Config or return a replacement."""
    from alembic.config import Config

    from migratectl.models import describe_exception, describe_type, import_callable

    settings.activate_sys_path()
    function = import_callable(hook, what="configure_hook")
    try:
        replaced = function(config)
    except MigratectlError:
        raise
    except Exception as exc:
        raise ConfigError(
            f'configure_hook "{hook}" raised an error: {describe_exception(exc)}',
            hint="Run with -v to see the traceback.",
        ) from exc
    if replaced is None:
        return config
    if not isinstance(replaced, Config):
        raise ConfigError(
            f'configure_hook "{hook}" returned {describe_type(replaced)}, not an Alembic Config.',
            hint="Return nothing to keep the Config it was given (changed in place), "
            "or return a replacement Config.",
        )
    return replaced


def _dotted_options(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _dotted_options(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _escape(value: str) -> str:
    """Config values go through ConfigParser interpolation: a literal % is written %%."""
    return value.replace("%", "%%")


def _set_version_locations(config: Config, settings: Settings) -> None:
    """[alembic] version_locations, a string or a list, relative to the configuration file.

    Alembic would resolve them against the current folder; migratectl resolves every relative
    path in its file against the file's folder, so commands work from any sub-folder.
    """
    from migratectl.repository.revision_graph import path_separator, version_locations

    separator = path_separator(settings)
    if separator is None:
        separator = os.pathsep
        config.set_main_option("path_separator", "os")
    if not hasattr(config, "get_version_locations_list"):
        # Alembic before 1.16 splits version_locations on version_path_separator instead.
        chosen = config.get_main_option("path_separator") or "os"
        config.set_main_option("version_path_separator", chosen)
    locations = [str(path) for path in version_locations(settings)]
    config.set_main_option("version_locations", _escape(separator.join(locations)))


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def script_directory(config: Config) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config)


@contextmanager
def alembic_logging(output: Output, config: Config | None = None) -> Iterator[None]:
    """Alembic's log lines: all of them with -v, otherwise just "Running upgrade …", whatever
    the application's logging configuration (env.py takes the hold again through
    ``config``, once the application is imported)."""
    from migratectl.logs import AlembicLogging

    hold = AlembicLogging(output)
    if config is not None:
        config.attributes[LOGGING] = hold
    hold.take()
    try:
        yield
    finally:
        hold.release()


def is_multidb(settings: Settings) -> bool:
    """Whether the repository was created with ``init --multidb``."""
    env_py = settings.directory / "env.py"
    try:
        return "run_multidb_migrations" in env_py.read_text(errors="replace")
    except OSError:
        return False
