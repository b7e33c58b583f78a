"""Settings: the configuration file, environment variables and flags, merged and validated.

Precedence, highest first: flags, environment variables, the configuration file, defaults.
Nothing here imports SQLAlchemy or Alembic, so loading settings stays cheap.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migratectl.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_FILENAME = "migratectl.toml"
PYPROJECT_FILENAME = "pyproject.toml"
DEFAULT_DIRECTORY = "migrations"
DEFAULT_LOCK_TIMEOUT = 600.0
MAX_DDL_LOCK_TIMEOUT = 2_147_483  # seconds: PostgreSQL's lock_timeout is an int of milliseconds

ENV_DATABASE_URL = "MIGRATECTL_DATABASE_URL"
ENV_DATABASE_URL_FALLBACK = "DATABASE_URL"
ENV_MODELS = "MIGRATECTL_MODELS"
ENV_DIRECTORY = "MIGRATECTL_DIRECTORY"
ENV_CONFIG = "MIGRATECTL_CONFIG"

# key -> (expected type description, validator)
_STRING = "a string"
_BOOL = "true or false"
_NUMBER = "a number"
_INTEGER = "a whole number"
_STRINGS = "a list of strings"
_STRING_OR_STRINGS = "a string or a list of strings"
_TABLE = "a table"
_IMPORT_PATH = 'an import path "module:function"'
_BOOL_OR_IMPORT_PATH = 'true, false, or an import path "module:function"'
_STRING_OR_FALSE = "a string, or false"

TOP_LEVEL_KEYS: dict[str, str] = {
    "database_url": _STRING,
    "models": _STRING,
    "directory": _STRING,
    "compare_type": _BOOL,
    "render_as_batch": _BOOL,
    "sys_path": _STRINGS,
    "file_template": _STRING,
    "configure_hook": _STRING_OR_STRINGS,
    "lock_timeout": _NUMBER,
    "run_within": _IMPORT_PATH,
    "env_file": _STRING_OR_FALSE,
    "ddl_lock_timeout": _NUMBER,
    "ddl_retries": _INTEGER,
    "configure": _TABLE,
    "alembic": _TABLE,
    "binds": _TABLE,
    "lint": _TABLE,
}
BIND_KEYS: dict[str, str] = {"database_url": _STRING, "models": _STRING}
_VERSION = 'a version, e.g. "16" or "8.0"'
LINT_KEYS: dict[str, str] = {
    "disable": _STRINGS,
    "dialect": _STRING,
    "postgresql_version": _VERSION,
    "mysql_version": _VERSION,
}
LINT_DIALECTS = ("postgresql", "mysql", "mariadb", "sqlite")
_VERSION_TEXT = re.compile(r"^\d+(\.\d+)*$")

# [configure] keys whose string value is an import path to a callable.
CONFIGURE_CALLABLES = frozenset(
    {
        "include_object",
        "include_name",
        "process_revision_directives",
        "render_item",
        "on_version_apply",
        "compare_type",
        "compare_server_default",
    }
)
# The types of the EnvironmentContext.configure() arguments Alembic would trip over late.
CONFIGURE_TYPES: dict[str, str] = {
    "version_table": _STRING,
    "version_table_schema": _STRING,
    "upgrade_token": _STRING,
    "downgrade_token": _STRING,
    "alembic_module_prefix": _STRING,
    "sqlalchemy_module_prefix": _STRING,
    "user_module_prefix": _STRING,
    "transaction_per_migration": _BOOL,
    "transactional_ddl": _BOOL,
    "include_schemas": _BOOL,
    "render_as_batch": _BOOL,
    "version_table_pk": _BOOL,
    "template_args": _TABLE,
    **{key: _IMPORT_PATH for key in CONFIGURE_CALLABLES},
    "compare_type": _BOOL_OR_IMPORT_PATH,
    "compare_server_default": _BOOL_OR_IMPORT_PATH,
}
# configure() arguments migratectl passes itself, and where the user sets them instead.
CONFIGURE_RESERVED: dict[str, str] = {
    "connection": "database_url",
    "url": "database_url",
    "dialect_name": "database_url",
    "target_metadata": "models",
    "as_sql": "the --sql option",
    "literal_binds": "the --sql option",
    "dialect_opts": "the --sql option",
    "output_buffer": "the --sql option",
    "starting_rev": "the revision arguments of the command",
    "destination_rev": "the revision arguments of the command",
    "tag": "the --tag option",
    "fn": "the command",
}

# postgres:// (what Heroku, Render, Railway and Fly hand out) is SQLAlchemy's postgresql://.
_POSTGRES_ALIAS = re.compile(r"^postgres(?=(?:\+\w+)?://)")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# sqlite[+driver]:///relative/path[?query] — four slashes (or none after :///) are absolute.
_SQLITE_RELATIVE = re.compile(r"^(sqlite(?:\+\w+)?:///)(?!/)(?!:memory:)([^?]+)(\?.*)?$")
# What Alembic fills a file_template with (alembic.script.base.ScriptDirectory._rev_path).
_FILE_TEMPLATE_TOKENS = {
    "rev": "ae1027a6acf",
    "slug": "add_users",
    "epoch": 1700000000,
    "year": 2024,
    "month": 1,
    "day": 2,
    "hour": 3,
    "minute": 4,
    "second": 5,
}


@dataclass
class BindSettings:
    """One extra database of a multi-database repository (``[binds.NAME]``)."""

    name: str
    database_url: str | None
    models: str | None


@dataclass
class Settings:
    """Everything a command needs to know about the project, already merged and validated."""

    database_url: str | None = None
    models: str | None = None
    directory: Path = field(default_factory=lambda: Path.cwd() / DEFAULT_DIRECTORY)
    compare_type: bool = True
    render_as_batch: bool = True
    sys_path: list[Path] = field(default_factory=list)
    file_template: str | None = None
    configure_hooks: list[str] = field(default_factory=list)
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    run_within: str | None = None
    env_file: Path | None = None  # the dotenv file that was read, if any
    ddl_lock_timeout: float | None = None  # None: the server's own (PostgreSQL: no limit)
    ddl_retries: int = 0
    configure: dict[str, Any] = field(default_factory=dict)
    alembic: dict[str, Any] = field(default_factory=dict)
    binds: dict[str, BindSettings] = field(default_factory=dict)
    # [lint]: the rule ids turned off, the dialect whose rules run, the servers' versions.
    lint_disable: frozenset[str] = frozenset()
    lint_dialect: str | None = None
    lint_postgresql_version: tuple[int, ...] | None = None
    lint_mysql_version: tuple[int, ...] | None = None
    config_file: Path | None = None
    x_args: list[str] = field(default_factory=list)
    # Where database_url / models / directory came from ("--database-url", a variable, a file).
    sources: dict[str, str] = field(default_factory=dict)
    # True while a command runs inside the project (migratectl.project.project_environment).
    in_project: bool = False

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self.config_file.parent if self.config_file else Path.cwd()

    def require_database_url(self) -> str:
        if not self.database_url:
            raise ConfigError(
                "No database URL is configured.",
                hint=f"Set database_url in {self._config_place()}, the {ENV_DATABASE_URL} "
                f"or {ENV_DATABASE_URL_FALLBACK} environment variable, or pass --database-url.",
            )
        return self.database_url

    def _config_place(self) -> str:
        """Where a setting goes: the configuration file in use, or the one to create."""
        if self.config_file is not None and self.config_file.name == PYPROJECT_FILENAME:
            return f"[tool.migratectl] of {self.config_file.name}"
        return self.config_file.name if self.config_file else CONFIG_FILENAME

    def require_models(self) -> str:
        if not self.models:
            raise ConfigError(
                "No models are configured, and this command compares them with the database.",
                hint=f'Set models = "package.module" in {self._config_place()}, the {ENV_MODELS} '
                "environment variable, or pass --models.",
            )
        return self.models

    def activate_sys_path(self) -> None:
        """Put the configuration file's folder and ``sys_path`` on ``sys.path`` (once each)."""
        for entry in reversed([self.base_dir, *self.sys_path]):
            text = str(entry)
            if text not in sys.path:
                sys.path.insert(0, text)


def find_config_file(start: Path) -> Path | None:
    """The first ``migratectl.toml``, or ``pyproject.toml`` with ``[tool.migratectl]``, upwards."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT_FILENAME
        if pyproject.is_file():
            try:
                data = _read_toml(pyproject)
            except ConfigError:
                continue
            if isinstance(data.get("tool"), dict) and "migratectl" in data["tool"]:
                return pyproject
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}.", hint="Fix the syntax at the line named."
        ) from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(
            f"{path} nests arrays or inline tables too deeply to be read.",
            hint="No migratectl setting needs more than a few levels; flatten the value.",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded).",
            hint="TOML files must be UTF-8; save it in that encoding.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None


def read_config_file(path: Path) -> dict[str, Any]:
    """The migratectl table of ``path`` (top level, or ``[tool.migratectl]`` of a pyproject)."""
    data = _read_toml(path)
    if path.name == PYPROJECT_FILENAME:
        tool = data.get("tool", {})
        table = tool.get("migratectl", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise ConfigError(f"[tool.migratectl] in {path} must be a table.")
        return table
    return data


def _closest(key: str, known: list[str]) -> str:
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    return f' Did you mean "{match[0]}"?' if match else ""


def _check_type(key: str, value: Any, expected: str, where: str) -> None:
    ok = {
        _STRING: isinstance(value, str),
        _BOOL: isinstance(value, bool),
        _NUMBER: isinstance(value, (int, float)) and not isinstance(value, bool),
        _INTEGER: isinstance(value, int) and not isinstance(value, bool),
        _STRINGS: isinstance(value, list) and all(isinstance(v, str) for v in value),
        _STRING_OR_STRINGS: isinstance(value, str)
        or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
        _TABLE: isinstance(value, dict),
        _IMPORT_PATH: isinstance(value, str),
        _BOOL_OR_IMPORT_PATH: isinstance(value, (bool, str)),
        _STRING_OR_FALSE: isinstance(value, str) or value is False,
        # A float is refused: 8.10 written as a number would be read as 8.1.
        _VERSION: isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool)),
    }[expected]
    if not ok:
        raise ConfigError(
            f"{key} in {where} must be {expected}, not {_describe(value)}.",
            hint=f"Fix the value of {key}.",
        )


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def validate(table: Mapping[str, Any], where: str) -> None:
    """Reject unknown keys (with a suggestion) and values of the wrong type."""
    known = list(TOP_LEVEL_KEYS)
    for key, value in table.items():
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(
                f'Unknown key "{key}" in {where}.{_closest(key, known)}',
                hint="Known keys: " + ", ".join(known) + ".",
            )
        _check_type(key, value, TOP_LEVEL_KEYS[key], where)
    for key, value in table.get("configure", {}).items():
        if key in CONFIGURE_RESERVED:
            raise ConfigError(
                f"configure.{key} in {where} is passed by migratectl itself.",
                hint=f"Use {CONFIGURE_RESERVED[key]} instead.",
            )
        if key in CONFIGURE_TYPES:
            _check_type(f"configure.{key}", value, CONFIGURE_TYPES[key], where)
        else:
            known_configure = configure_parameters() - CONFIGURE_RESERVED.keys()
            if key not in known_configure:
                raise ConfigError(
                    f'Unknown key "configure.{key}" in {where}.'
                    + _closest(key, sorted(known_configure)),
                    hint="[configure] takes the keyword arguments of the installed Alembic's "
                    "EnvironmentContext.configure() (compare_server_default, include_schemas, "
                    "version_table, …).",
                )
    for name, bind in table.get("binds", {}).items():
        if not isinstance(bind, dict):
            raise ConfigError(f"binds.{name} in {where} must be a table.")
        for key, value in bind.items():
            if key not in BIND_KEYS:
                raise ConfigError(
                    f'Unknown key "binds.{name}.{key}" in {where}.{_closest(key, list(BIND_KEYS))}',
                    hint="A bind takes database_url and models.",
                )
            _check_type(f"binds.{name}.{key}", value, BIND_KEYS[key], where)
    for key, value in table.get("lint", {}).items():
        if key not in LINT_KEYS:
            raise ConfigError(
                f'Unknown key "lint.{key}" in {where}.{_closest(key, list(LINT_KEYS))}',
                hint="[lint] takes " + ", ".join(LINT_KEYS) + ".",
            )
        _check_type(f"lint.{key}", value, LINT_KEYS[key], where)


@functools.cache
def configure_parameters() -> frozenset[str]:
    """The keyword arguments the installed Alembic's ``EnvironmentContext.configure()`` takes:
    those of its signature, and those it passes on through ``**kw`` (named in its docstring,
    e.g. ``version_table``). Imports Alembic: called only for a key outside CONFIGURE_TYPES."""
    import inspect

    from alembic.runtime.environment import EnvironmentContext

    configure = EnvironmentContext.configure
    named = {
        name
        for name, parameter in inspect.signature(configure).parameters.items()
        if name != "self" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    }
    documented = re.findall(r":param (\w+):", inspect.getdoc(configure) or "")
    return frozenset(named.union(documented))


def lint_rule_ids(entries: list[str], where: str) -> frozenset[str]:
    """The ids of the rules ``[lint] disable`` names (by id or name); an entry that names no
    rule is an error, never silently ignored."""
    if not entries:
        return frozenset()
    from migratectl.commands.lint.rules import RULES, find_rules

    ids: set[str] = set()
    for entry in entries:
        rules = find_rules(entry)
        if not rules:
            known = {word.lower(): word for rule in RULES for word in (rule.id, rule.name)}
            match = difflib.get_close_matches(entry.strip().lower(), known, n=1, cutoff=0.5)
            suggestion = f' Did you mean "{known[match[0]]}"?' if match else ""
            raise ConfigError(
                f'lint.disable in {where} names "{entry}", which is no lint rule.{suggestion}',
                hint='Name rules by id or name, e.g. disable = ["MC201", "rename-column"]; '
                "`migratectl lint --help` and the README list them.",
            )
        ids.update(rule.id for rule in rules)
    return frozenset(ids)


def lint_dialect(value: str, where: str) -> str:
    dialect = value.strip().lower()
    if dialect not in LINT_DIALECTS:
        raise ConfigError(
            f'lint.dialect in {where} is "{value}", which is no dialect lint knows.'
            + _closest(dialect, list(LINT_DIALECTS)),
            hint="Use one of " + ", ".join(f'"{d}"' for d in LINT_DIALECTS) + ".",
        )
    return dialect


def lint_version(key: str, value: str | int, where: str) -> tuple[int, ...]:
    text = str(value).strip()
    if not _VERSION_TEXT.match(text):
        raise ConfigError(
            f'lint.{key} in {where} is "{value}", which is not a version number.',
            hint=f'Write the server\'s major (and minor) version, e.g. {key} = "16" or "8.0".',
        )
    return tuple(int(part) for part in text.split("."))


def interpolate(value: Any, key: str, environ: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of ``value``."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            # As in a shell: ${VAR:-default} also applies the default when VAR is empty.
            if default is not None and not environ.get(name):
                return default
            if name in environ:
                return environ[name]
            raise ConfigError(
                f"{key} uses the environment variable {name}, which is not set.",
                hint=f"Set {name}, or give a default: ${{{name}:-value}}.",
            )

        return _INTERPOLATION.sub(substitute, value)
    if isinstance(value, list):
        return [interpolate(item, key, environ) for item in value]
    if isinstance(value, dict):
        return {k: interpolate(v, f"{key}.{k}", environ) for k, v in value.items()}
    return value


def check_file_template(template: str, where: str) -> None:
    """Reject a template Alembic could not fill in, or that would put a revision file outside
    its versions folder, before any revision is written."""
    try:
        filled = template % _FILE_TEMPLATE_TOKENS
    except KeyError as exc:
        raise ConfigError(
            f"file_template in {where} uses %({exc.args[0]})s, which Alembic does not provide.",
            hint="Use only " + ", ".join(f"%({name})s" for name in _FILE_TEMPLATE_TOKENS) + ".",
        ) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"file_template in {where} is not a valid template ({exc}).",
            hint='For example "%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s"; '
            "a literal % is written %%.",
        ) from None
    path = Path(filled.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise ConfigError(
            f"file_template in {where} would write revision files outside the versions "
            f"folder ({template!r}).",
            hint="Use a file name, or sub-folders of the versions folder "
            '(e.g. "%(year)d/%(rev)s_%(slug)s"); no ".." and no absolute path.',
        )


# [alembic] options that migratectl's own keys set, and the values Alembic parses itself.
_ALEMBIC_OWN_OPTIONS = {"script_location": "directory", "sqlalchemy": "database_url"}
# The main options Alembic reads (alembic/script/base.py ScriptDirectory.from_config,
# alembic/config.py, alembic/command.py), and post_write_hooks, a section of its own.
ALEMBIC_OPTIONS = (
    "file_template",
    "output_encoding",
    "path_separator",
    "prepend_sys_path",
    "recursive_version_locations",
    "revision_environment",
    "sourceless",
    "timezone",
    "truncate_slug_length",
    "version_locations",
    "version_path_separator",
    "post_write_hooks",
)
_ALEMBIC_SEPARATORS = ("space", "newline", "os", ":", ";")


# [alembic] options Alembic reads as booleans, and the words its asbool() accepts.
_ALEMBIC_FLAGS = frozenset({"revision_environment", "sourceless", "recursive_version_locations"})
_ALEMBIC_TRUTH_WORDS = frozenset(
    {"true", "yes", "on", "y", "t", "1", "false", "no", "off", "n", "f", "0"}
)


def check_alembic_options(options: Mapping[str, Any], where: str) -> None:
    """Reject [alembic] values Alembic would only trip over later, deep in a command."""
    for key, value in options.items():
        own = _ALEMBIC_OWN_OPTIONS.get(key.split(".")[0])
        if own:
            raise ConfigError(
                f"alembic.{key} in {where} is set by migratectl from its {own} key.",
                hint=f"Set {own} (top level) instead of alembic.{key}.",
            )
        if key not in ALEMBIC_OPTIONS:
            raise ConfigError(
                f'Unknown key "alembic.{key}" in {where}: Alembic reads no such option.'
                + _closest(key, list(ALEMBIC_OPTIONS)),
                hint="[alembic] takes " + ", ".join(ALEMBIC_OPTIONS) + ".",
            )
        if key in _ALEMBIC_FLAGS and not (
            isinstance(value, bool)
            or (isinstance(value, str) and value.strip().lower() in _ALEMBIC_TRUTH_WORDS)
        ):
            raise ConfigError(
                f"alembic.{key} in {where} must be true or false, not {_describe(value)}.",
                hint=f"For example {key} = true.",
            )
        if key == "truncate_slug_length" and not (
            (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, str) and value.strip().isdigit())
        ):
            raise ConfigError(
                f"alembic.truncate_slug_length in {where} must be a whole number, "
                f"not {_describe(value)}.",
                hint="For example truncate_slug_length = 40.",
            )
        if key in ("path_separator", "version_path_separator") and (
            value not in _ALEMBIC_SEPARATORS
        ):
            raise ConfigError(
                f"alembic.{key} in {where} must be one of "
                + ", ".join(f'"{s}"' for s in _ALEMBIC_SEPARATORS)
                + f", not {_describe(value)}.",
            )


def normalize_url(url: str) -> str:
    """``postgres://…`` -> ``postgresql://…``; every other URL as it is."""
    return _POSTGRES_ALIAS.sub("postgresql", url, count=1)


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a dotenv file sets; a line that is not ``NAME=value`` is an error naming
    the line (never its text: it may hold a password)."""
    import io

    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded).",
            hint="Save the file as UTF-8.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise ConfigError(
                f"{path}, line {binding.original.line}: not a variable assignment.",
                hint="Each line of a .env file is NAME=value, a comment (#), or blank; "
                'quote a value that holds spaces or # (NAME="a value").',
            )
    values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    return {name: value for name, value in values.items() if value is not None}


def _environment_with_env_file(
    table: Mapping[str, Any], base: Path, env: Mapping[str, str], where: str
) -> tuple[Mapping[str, str], Path | None, dict[str, str]]:
    """The environment with the dotenv file's variables under it (a variable set in the real
    environment wins), the file read, and the variables it added."""
    setting = table.get("env_file")
    if setting is False:
        return env, None, {}
    if setting is None:
        path = base / ".env"
        if not path.is_file():
            return env, None, {}
    else:
        path = (base / interpolate(setting, "env_file", env)).resolve()
        if not path.is_file():
            raise ConfigError(
                f"env_file in {where} names {path}, which does not exist.",
                hint="Fix the path (relative to the configuration file), or remove the key.",
            )
    added = {name: value for name, value in read_env_file(path).items() if name not in env}
    return {**added, **env}, path, added


# How SQLAlchemy's make_url splits scheme://user:password@host: the user name runs to the
# first ":" or "/", the password to the first "@", the host to the first "/", ":" or "?".
_URL_LOGIN = re.compile(r"^[\w+]+://(?P<user>[^:/]*)(?::[^@]*)?@(?P<host>[^/:?]*)")


def check_url_login(url: str, source: str) -> None:
    """Refuse a URL whose user part holds a second, unencoded "@": SQLAlchemy would take the
    rest of the password for the host. The URL is not shown: it holds the password."""
    match = _URL_LOGIN.match(url)
    if match and "@" in match.group("user") + match.group("host"):
        raise ConfigError(
            f'The database URL from {source} has an unencoded "@" in its user name or '
            "password, so SQLAlchemy would read part of the password as the host (the URL is "
            "not shown: it holds the password).",
            hint='Percent-encode them: @ is written %40 (a password "p@ss" becomes "p%40ss"), '
            ": is %3A, / is %2F, % is %25, # is %23, ? is %3F. "
            'python -c "import urllib.parse, getpass; '
            "print(urllib.parse.quote(getpass.getpass(), safe=''))\" prints the encoded form "
            "of a password typed at its prompt.",
        )


def resolve_sqlite_path(url: str, base: Path) -> str:
    """Make a relative SQLite path in ``url`` absolute against ``base``."""
    match = _SQLITE_RELATIVE.match(url)
    if not match:
        return url
    prefix, path, query = match.group(1), match.group(2), match.group(3) or ""
    return f"{prefix}{(base / path).resolve()}{query}"


def load_settings(
    *,
    config: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    models: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    x_args: list[str] | None = None,
    lock_timeout: float | None = None,
    ddl_lock_timeout: float | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    config_must_exist: bool = True,
    url_needed: bool = True,
) -> Settings:
    """Merge flags (the keyword arguments), the environment, the file and the defaults.

    ``url_needed=False`` (lint, which only reads the URL's dialect): a ``database_url`` in the
    file whose ``${VAR}`` is not set is left out instead of being an error, as on a developer's
    machine or a CI job that has no database."""
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).resolve()

    config_path: Path | None = None
    explicit = config if config is not None else env.get(ENV_CONFIG) or None
    if explicit is not None:
        config_path = (here / Path(explicit)).resolve()
        if config_path.is_dir():
            raise ConfigError(
                f"The configuration file {config_path} is a folder.",
                hint="Point --config / MIGRATECTL_CONFIG at a TOML file.",
            )
        if not config_path.is_file() and config_must_exist:
            raise ConfigError(
                f"The configuration file {config_path} does not exist.",
                hint="Check --config / MIGRATECTL_CONFIG, or run `migratectl init` to create it.",
            )
    else:
        config_path = find_config_file(here)

    table: dict[str, Any] = {}
    if config_path is not None and config_path.is_file():
        table = read_config_file(config_path)
        validate(table, str(config_path))
    base = config_path.parent if config_path is not None else here
    where = str(config_path) if config_path is not None else "defaults"
    env, env_file, added = _environment_with_env_file(table, base, env, where)
    if environ is None:
        # As Flask's CLI does: env.py, the revisions and the application see them too.
        for name, value in added.items():
            os.environ.setdefault(name, value)

    def from_file(key: str, default: Any = None) -> Any:
        # Interpolated only when used: a value a flag or variable overrides needs no ${VAR}.
        return interpolate(table[key], key, env) if key in table else default

    settings = Settings(config_file=config_path, env_file=env_file)
    sources = settings.sources

    # database_url: flag > MIGRATECTL_DATABASE_URL > DATABASE_URL > file
    if database_url:
        settings.database_url, sources["database_url"] = database_url, "--database-url"
    elif env.get(ENV_DATABASE_URL):
        settings.database_url, sources["database_url"] = env[ENV_DATABASE_URL], ENV_DATABASE_URL
    elif env.get(ENV_DATABASE_URL_FALLBACK):
        settings.database_url = env[ENV_DATABASE_URL_FALLBACK]
        sources["database_url"] = ENV_DATABASE_URL_FALLBACK
    elif "database_url" in table:
        try:
            settings.database_url = resolve_sqlite_path(from_file("database_url"), base)
            sources["database_url"] = where
        except ConfigError:
            if url_needed:
                raise
    if settings.database_url:
        settings.database_url = normalize_url(settings.database_url)
        check_url_login(settings.database_url, sources["database_url"])

    if models:
        settings.models, sources["models"] = models, "--models"
    elif env.get(ENV_MODELS):
        settings.models, sources["models"] = env[ENV_MODELS], ENV_MODELS
    elif "models" in table:
        settings.models, sources["models"] = from_file("models"), where

    if directory is not None:
        settings.directory = (here / Path(directory)).resolve()
        sources["directory"] = "--directory"
    elif env.get(ENV_DIRECTORY):
        settings.directory = (here / env[ENV_DIRECTORY]).resolve()
        sources["directory"] = ENV_DIRECTORY
    else:
        settings.directory = (base / from_file("directory", DEFAULT_DIRECTORY)).resolve()
        if "directory" in table:
            sources["directory"] = where

    settings.compare_type = table.get("compare_type", True)
    settings.render_as_batch = table.get("render_as_batch", True)
    settings.sys_path = [(base / p).resolve() for p in from_file("sys_path", ["."])]
    settings.file_template = from_file("file_template")
    settings.alembic = dict(from_file("alembic", {}))
    check_alembic_options(settings.alembic, where)
    for template in (settings.file_template, settings.alembic.get("file_template")):
        if isinstance(template, str):
            check_file_template(template, where)
    hooks = from_file("configure_hook", [])
    settings.configure_hooks = [hooks] if isinstance(hooks, str) else list(hooks)
    settings.lock_timeout = float(
        lock_timeout
        if lock_timeout is not None
        else table.get("lock_timeout", DEFAULT_LOCK_TIMEOUT)
    )
    if math.isnan(settings.lock_timeout) or settings.lock_timeout < 0:
        raise ConfigError(
            f"lock_timeout must be a number of seconds, 0 or more (not {settings.lock_timeout:g}).",
            hint=f"Fix lock_timeout in {where}, or pass --lock-timeout.",
        )
    settings.run_within = from_file("run_within")
    ddl_timeout = (
        ddl_lock_timeout if ddl_lock_timeout is not None else table.get("ddl_lock_timeout")
    )
    if ddl_timeout is not None:
        if math.isnan(ddl_timeout) or not 0 < ddl_timeout <= MAX_DDL_LOCK_TIMEOUT:
            raise ConfigError(
                "ddl_lock_timeout must be a number of seconds greater than 0 and at most "
                f"{MAX_DDL_LOCK_TIMEOUT} (not {ddl_timeout:g}).",
                hint=f"Fix ddl_lock_timeout in {where}, or pass --ddl-lock-timeout; leave it "
                "out to keep the server's own limit.",
            )
        settings.ddl_lock_timeout = float(ddl_timeout)
    settings.ddl_retries = table.get("ddl_retries", 0)
    if settings.ddl_retries < 0:
        raise ConfigError(
            f"ddl_retries must be 0 or more (not {settings.ddl_retries}).",
            hint=f"Fix ddl_retries in {where}.",
        )
    settings.configure = dict(from_file("configure", {}))
    for name, bind in from_file("binds", {}).items():
        url = bind.get("database_url")
        if url:
            check_url_login(url, f"[binds.{name}] in {where}")
        settings.binds[name] = BindSettings(
            name=name,
            database_url=resolve_sqlite_path(normalize_url(url), base) if url else None,
            models=bind.get("models"),
        )
    lint = from_file("lint", {})
    settings.lint_disable = lint_rule_ids(lint.get("disable", []), where)
    if "dialect" in lint:
        settings.lint_dialect = lint_dialect(lint["dialect"], where)
    if "postgresql_version" in lint:
        settings.lint_postgresql_version = lint_version(
            "postgresql_version", lint["postgresql_version"], where
        )
    if "mysql_version" in lint:
        settings.lint_mysql_version = lint_version("mysql_version", lint["mysql_version"], where)
    settings.x_args = list(x_args or [])
    return settings
