"""What each configuration key may hold: the keys of every table (top level, ``[binds.NAME]``,
``[configure]`` against the installed Alembic, ``[alembic]``), their types, and the error
that names an unknown key with the closest known one.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migratectl.errors import ConfigError
from migratectl.lint_rules import RULES, find_rules

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


def lint_rule_ids(entries: list[str], where: str) -> frozenset[str]:
    """The ids of the rules ``[lint] disable`` names (by id or name); an entry that names no
    rule is an error, never silently ignored."""
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
