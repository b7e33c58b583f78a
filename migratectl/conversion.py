"""``init --convert``: an Alembic or Flask-Migrate project's configuration, as migratectl keys.

Alembic keeps its settings in alembic.ini (and, since Alembic 1.16, in ``[tool.alembic]`` of
pyproject.toml), and the rest in env.py: the models (``target_metadata``) and the arguments of
``context.configure()``. This module reads them without running anything — the ini and the
TOML as Alembic reads them (``%(here)s`` is the file's folder, paths are relative to the
current folder), env.py with :mod:`ast` — and records which setting became which migratectl
key, and what could not be carried over, so that nothing is dropped silently.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migratectl.errors import ConfigError, UsageError
from migratectl.settings import CONFIGURE_CALLABLES, CONFIGURE_RESERVED, PYPROJECT_FILENAME

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ALEMBIC_INI = "alembic.ini"
# The variable a literal password of sqlalchemy.url is replaced by.
PASSWORD_VARIABLE = "DATABASE_PASSWORD"
# sqlite[+driver]:///path[?query], but not :memory:.
_SQLITE_FILE = re.compile(r"^(sqlite(?:\+\w+)?:///)(?!:memory:)([^?]+)(\?.*)?$")
# What `alembic init` writes until the user sets a real URL.
_PLACEHOLDER_URL = "driver://user:pass@localhost/dbname"
# scheme://user:password@host: the password's span in a URL.
_URL_PASSWORD = re.compile(r"^(?P<head>[a-zA-Z][\w+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)")
# Alembic's path separators, and its legacy splitting (alembic/config.py).
_PATH_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
_LEGACY_SPLIT = {
    "version_locations": re.compile(r", *|(?: +)"),
    "prepend_sys_path": re.compile(r", *|(?: +)|\:"),
}
_LOGGING_SECTIONS = re.compile(r"^(loggers|handlers|formatters|(logger|handler|formatter)_.*)$")
# migratectl's own top-level keys among the context.configure() arguments.
_TOP_LEVEL_CONFIGURE = ("compare_type", "render_as_batch")
# Packages whose MetaData holds no table of the project's own.
_LIBRARY_MODELS = ("sqlmodel", "flask_sqlalchemy", "sqlalchemy")

# Names only the multi-database templates use, at the top level of env.py.
_MULTIDB_NAMES = ("bind_names", "db_names", "USE_TWOPHASE", "SQLALCHEMY_BINDS")
# The functions of Alembic's and Flask-Migrate's env.py templates, and what they call.
_STANDARD_FUNCTIONS = frozenset(
    {
        "run_migrations_offline",
        "run_migrations_online",
        "do_run_migrations",
        "run_async_migrations",
        "get_engine",
        "get_engine_url",
        "get_metadata",
        "process_revision_directives",
    }
)
_STANDARD_CALLS = frozenset(
    {
        *_STANDARD_FUNCTIONS,
        "configure",
        "begin_transaction",
        "run_migrations",
        "is_offline_mode",
        "get_main_option",
        "get_section",
        "engine_from_config",
        "async_engine_from_config",
        "connect",
        "run_sync",
        "dispose",
        "run",
        "hasattr",
        "getattr",
        "str",
        "info",
        "render_as_string",
        "replace",
        "get",
        "is_empty",
    }
)


@dataclass
class Conversion:
    """The migratectl settings an Alembic project's files amount to, and what they lack."""

    # The keys as migratectl.toml is to hold them ("configure" and "alembic" are tables).
    table: dict[str, Any] = field(default_factory=dict)
    # "directory" / "configure.compare_server_default" -> where the value came from.
    origins: dict[str, str] = field(default_factory=dict)
    # (the key it concerns, or "", and what could not be carried over).
    not_carried: list[tuple[str, str]] = field(default_factory=list)
    # What the user must do before the next command (set the password variable).
    to_do: list[str] = field(default_factory=list)
    # The repository script_location names, when it names one.
    directory: Path | None = None
    # Files read, for the report.
    read: list[Path] = field(default_factory=list)

    def carry(self, key: str, value: Any, origin: str) -> None:
        """Set ``key`` (``"models"``, ``"configure.version_table"``, ...) from ``origin``."""
        table = self.table
        *parents, last = _key_path(key)
        for parent in parents:
            table = table.setdefault(parent, {})
        table[last] = value
        self.origins[key] = origin

    def cannot(self, text: str, about: str = "") -> None:
        """Record what could not be carried over (``about``: the key it would have set)."""
        self.not_carried.append((about, text))

    def said(self, key: str) -> bool:
        """Whether something was recorded as not carried over for ``key``."""
        return any(about == key for about, _ in self.not_carried)

    def drop(self, key: str) -> None:
        """Forget a top-level key and what was said about it (something else gives it)."""
        self.table.pop(key, None)
        self.origins.pop(key, None)
        self.not_carried = [(about, text) for about, text in self.not_carried if about != key]

    def carried(self) -> Iterator[tuple[str, Any, str]]:
        """(dotted key, value, origin) of each carried key, in the order carried."""
        for key, origin in self.origins.items():
            table: Any = self.table
            for part in _key_path(key):
                table = table[part]
            yield key, table, origin


def _key_path(key: str) -> list[str]:
    """``"alembic.post_write_hooks"`` -> ["alembic", "post_write_hooks"]; a top-level key
    and the option of a table keep their own dots (``"alembic.my.option"``)."""
    return key.split(".", 1) if key.startswith(("configure.", "alembic.")) else [key]


# --------------------------------------------------------------------------- alembic.ini


def find_alembic_files(
    cwd: Path, alembic_ini: str | None, directory: Path
) -> tuple[Path | None, Path | None]:
    """(alembic.ini, pyproject.toml) to read, as Alembic finds them.

    ``alembic_ini`` is the ``--alembic-ini`` option (Alembic's ``-c``; it may name a
    pyproject.toml). Without it: ./alembic.ini, else the one Flask-Migrate keeps in the
    repository; ./pyproject.toml when it has ``[tool.alembic]``.
    """
    ini: Path | None = None
    toml: Path | None = None
    if alembic_ini is not None:
        given = (cwd / alembic_ini).absolute()
        if not given.is_file():
            raise UsageError(
                f"The Alembic configuration file {alembic_ini} does not exist.",
                hint="Pass --alembic-ini the path of the project's alembic.ini "
                "(or of its pyproject.toml).",
            )
        if given.name == PYPROJECT_FILENAME:
            toml = given
        else:
            ini = given
    if ini is None:
        for candidate in (cwd / ALEMBIC_INI, directory / ALEMBIC_INI):
            if candidate.is_file():
                ini = candidate
                break
    if toml is None and (cwd / PYPROJECT_FILENAME).is_file():
        toml = cwd / PYPROJECT_FILENAME
    return ini, toml


def read_alembic_config(
    conversion: Conversion, ini: Path | None, toml: Path | None, *, cwd: Path, base: Path
) -> None:
    """Carry alembic.ini's and ``[tool.alembic]``'s settings into ``conversion``.

    Relative paths are Alembic's: relative to ``cwd``; they are written relative to ``base``,
    the folder of the migratectl configuration file.
    """
    options: dict[str, tuple[Any, str]] = {}
    hooks: tuple[dict[str, Any], str] | None = None
    tool: dict[str, Any] = {}
    if toml is not None:
        tool = _read_tool_alembic(toml)
        if tool:
            where = f"[tool.alembic] of {_display(toml)}"
            for key, value in tool.items():
                if key == "post_write_hooks":
                    hooks = (_toml_hooks(value, where), where)
                else:
                    options[key] = (value, where)
    parser = _read_ini(ini) if ini is not None else None
    if parser is not None and ini is not None:
        conversion.read.append(ini)
        where = _display(ini)
        if not parser.has_section("alembic"):
            raise ConfigError(
                f"{where} has no [alembic] section.",
                hint="Pass --alembic-ini the project's Alembic configuration file.",
            )
        for key in parser.options("alembic"):
            if key != "here":
                options[key] = (_ini_get(parser, "alembic", key, where), where)
        for section in parser.sections():
            if section == "alembic":
                continue
            if section == "post_write_hooks":
                values = {
                    key: _ini_get(parser, section, key, where)
                    for key in parser.options(section)
                    if key != "here"
                }
                # An empty section, as `alembic init` writes it, names no hook.
                named = {k: v for k, v in values.items() if v} if values.get("hooks") else {}
                hooks = (named, f"[post_write_hooks] of {where}")
            elif not _LOGGING_SECTIONS.match(section):
                conversion.cannot(
                    f"the section [{section}] of {where}: migratectl.toml has no place for it "
                    "(a database of Alembic's multidb template goes into [binds.NAME])."
                )
        if parser.has_section("loggers"):
            conversion.cannot(
                f"the logging configuration of {where} ([loggers], [handlers], [formatters]): "
                "migratectl prints its own output; -v adds Alembic's log lines."
            )

    if toml is not None and tool:
        conversion.read.append(toml)
    separators = {
        name: _PATH_SEPARATORS.get(str(options.pop(name, ("", ""))[0]))
        for name in ("path_separator", "version_path_separator")
    }
    for key, (value, where) in options.items():
        origin = f"{key} in {where}"
        if key == "script_location":
            conversion.directory = _script_location(str(value), origin, cwd)
            conversion.carry("directory", _relative(conversion.directory, base), origin)
        elif key == "prepend_sys_path":
            paths = _paths(key, value, separators["path_separator"], cwd)
            conversion.carry("sys_path", [_relative(p, base) for p in paths], origin)
        elif key == "version_locations":
            separator = separators["path_separator"] or separators["version_path_separator"]
            paths = _paths(key, value, separator, cwd)
            conversion.carry(f"alembic.{key}", [_relative(p, base) for p in paths], origin)
        elif key == "sqlalchemy.url":
            _carry_url(conversion, str(value), origin, cwd=cwd, base=base)
        elif key == "databases":
            conversion.cannot(
                f"{origin} ({value}): the databases of Alembic's multidb template; set each "
                "under [binds.NAME] (its database_url and models)."
            )
        elif key.startswith("sqlalchemy."):
            conversion.cannot(
                f"{origin}: an engine option for env.py's engine_from_config(); migratectl "
                "makes the engine from database_url (put driver options in the URL's query)."
            )
        elif key == "truncate_slug_length" and isinstance(value, str) and value.isdigit():
            conversion.carry(f"alembic.{key}", int(value), origin)
        elif value == "" and key == "timezone":
            continue  # `timezone =` means local time, Alembic's default
        else:
            conversion.carry(f"alembic.{key}", value, origin)
    if hooks is not None and hooks[0]:
        conversion.carry("alembic.post_write_hooks", hooks[0], hooks[1])


def _read_ini(path: Path) -> configparser.ConfigParser:
    """alembic.ini as Alembic reads it: ``%(here)s`` is the file's folder."""
    parser = configparser.ConfigParser({"here": path.absolute().parent.as_posix()})
    try:
        with path.open(encoding="utf-8") as fh:
            parser.read_file(fh)
    except configparser.Error as exc:
        raise ConfigError(
            f"{_display(path)} is not a valid INI file: {_ini_problem(exc)}",
            hint="Fix it (Alembic cannot read it either), or pass --alembic-ini the right file.",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{_display(path)} is not UTF-8 text (byte {exc.start} cannot be decoded).",
            hint="Save it as UTF-8.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {_display(path)}: {exc.strerror}.") from None
    return parser


def _ini_problem(exc: configparser.Error) -> str:
    """What is wrong, and on which line; never the line's text (it may hold a password)."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"it has no [section] header before line {exc.lineno}."
    if isinstance(exc, configparser.ParsingError):
        numbers = [str(number) for number, _ in exc.errors]
        lines = f"lines {', '.join(numbers)} are" if len(numbers) > 1 else f"line {numbers[0]} is"
        return f"{lines} neither a [section] header nor an option."
    return _first_line(exc)


def _ini_get(parser: configparser.ConfigParser, section: str, key: str, where: str) -> str:
    # The messages name the problem, never the value: it may hold a password.
    try:
        return parser.get(section, key)
    except configparser.InterpolationMissingOptionError as exc:
        problem = f"%({exc.reference})s names no option"
    except configparser.InterpolationSyntaxError:
        problem = "it holds a % that is neither %% nor %(name)s"
    except configparser.Error as exc:
        problem = type(exc).__name__
    raise ConfigError(
        f"{key} in [{section}] of {where} cannot be read: {problem}.",
        hint="A literal % is written %% in an ini file; %(here)s is the file's folder.",
    )


def _read_tool_alembic(path: Path) -> dict[str, Any]:
    """``[tool.alembic]``, with ``%(here)s`` (the file's folder) filled in as Alembic does."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_display(path)} is not valid TOML: {exc}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {_display(path)}: {exc}.") from None
    tool = data.get("tool", {})
    table = tool.get("alembic", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.alembic] in {_display(path)} must be a table.")
    here = {"here": path.absolute().parent.as_posix()}

    def fill(value: Any, key: str) -> Any:
        if isinstance(value, str):
            try:
                return value % here
            except (KeyError, ValueError, TypeError) as exc:
                raise ConfigError(
                    f"{key} in [tool.alembic] of {_display(path)} cannot be read "
                    f"({type(exc).__name__}: {exc}).",
                    hint="Alembic fills in %(here)s; a literal % is written %%.",
                ) from None
        if isinstance(value, list):
            return [fill(item, key) for item in value]
        if isinstance(value, dict):
            return {k: fill(v, key) for k, v in value.items()}
        return value

    return {key: fill(value, key) for key, value in table.items()}


def _toml_hooks(value: Any, where: str) -> dict[str, Any]:
    """``[[tool.alembic.post_write_hooks]]`` as the ini section migratectl's [alembic] holds."""
    if not isinstance(value, list) or not all(
        isinstance(hook, dict) and isinstance(hook.get("name"), str) for hook in value
    ):
        raise ConfigError(
            f"post_write_hooks in {where} must be a list of tables, each with a name.",
            hint='For example [[tool.alembic.post_write_hooks]] name = "ruff" type = "exec".',
        )
    section: dict[str, Any] = {"hooks": ", ".join(hook["name"] for hook in value)}
    for hook in value:
        for key, option in hook.items():
            if key != "name":
                section[f"{hook['name']}.{key}"] = option
    return section


def _script_location(value: str, origin: str, cwd: Path) -> Path:
    if re.match(r"^[A-Za-z_][\w.]*:(?![\\/])", value):
        raise UsageError(
            f"{origin} is a package resource ({value}).",
            hint="Pass --directory with the folder it names.",
        )
    return (cwd / value).resolve()  # whether it is a folder matters only if it is converted


def _paths(key: str, value: Any, separator: str | None, cwd: Path) -> list[Path]:
    if isinstance(value, list):
        parts = [str(part) for part in value]
    elif separator is not None:
        parts = str(value).split(separator)
    else:
        parts = _LEGACY_SPLIT[key].split(str(value))
    return [(cwd / part.strip()).resolve() for part in parts if part.strip()]


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive
        return path.as_posix()


def _carry_url(conversion: Conversion, url: str, origin: str, *, cwd: Path, base: Path) -> None:
    url = _sqlite_relative_to(url.strip(), cwd, base)
    if not url or url == _PLACEHOLDER_URL:
        conversion.cannot(
            f"{origin}: it is empty or Alembic's placeholder; set database_url "
            "(or the DATABASE_URL variable).",
            about="database_url",
        )
        return
    match = _URL_PASSWORD.match(url)
    if match and match.group("pw") and not match.group("pw").startswith("${"):
        url = match.group("head") + "${" + PASSWORD_VARIABLE + "}" + url[match.end("pw") :]
        conversion.to_do.append(
            f"database_url reads its password from ${{{PASSWORD_VARIABLE}}}: the password of "
            f"{origin} is not copied into the file. Set the {PASSWORD_VARIABLE} environment "
            "variable (or put it in .env) to the password as the URL had it (percent-encoded "
            "where it holds @ : / % # ?)."
        )
    conversion.carry("database_url", url, origin)


def _sqlite_relative_to(url: str, cwd: Path, base: Path) -> str:
    """A SQLite file as migratectl.toml in ``base`` names it: Alembic read a relative path
    from the current folder; a file under ``base`` (``%(here)s/app.db``) is written relative
    to it, so the file works on every checkout."""
    match = _SQLITE_FILE.match(url)
    if not match:
        return url
    prefix, path, query = match.group(1), match.group(2), match.group(3) or ""
    file = (cwd / path).resolve()
    try:
        return f"{prefix}{file.relative_to(base.resolve()).as_posix()}{query}"
    except ValueError:
        return f"{prefix}{file}{query}"


# --------------------------------------------------------------------------- env.py


@dataclass
class _Imports:
    """What the top-level imports of env.py bind: name -> module, or name -> (module, attr)."""

    modules: dict[str, str] = field(default_factory=dict)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)


def read_env_py(conversion: Conversion, env_py: Path, *, search: list[Path]) -> None:
    """Carry ``target_metadata`` and the ``context.configure()`` arguments of the old env.py,
    and name its code that migratectl's env.py does not do. ``search``: the folders its
    imports are found in (sys_path), to tell a module from an attribute."""
    where = _display(env_py)
    try:
        tree = ast.parse(env_py.read_text(errors="replace"), filename=str(env_py))
    except SyntaxError as exc:
        conversion.cannot(
            f"everything in {where}: it cannot be parsed ({exc.msg}, line {exc.lineno})."
        )
        return
    conversion.read.append(env_py)
    imports = _imports(tree)
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    flask = "current_app" in imports.names or "current_app" in imports.modules
    # Alembic's and Flask-Migrate's multidb templates: one database per name.
    multidb = any(
        isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) in _MULTIDB_NAMES
        for node in tree.body
    )
    passed: set[str] = set()  # env.py functions handed to configure(), named there

    for call in _configure_calls(tree):
        for keyword in call.keywords:
            if multidb and keyword.arg in ("upgrade_token", "downgrade_token"):
                continue  # migratectl's multidb env.py names the functions the same way
            _carry_keyword(conversion, keyword, imports, functions, passed, where, flask)

    _carry_target_metadata(conversion, tree, imports, where, flask, search)
    _carry_env_url(conversion, tree, where, flask)
    if "database_url" not in conversion.origins and not conversion.said("database_url"):
        conversion.cannot(
            f"the database URL: neither the Alembic configuration nor {where} names one "
            "that can be read. Set database_url, or the DATABASE_URL variable.",
            about="database_url",
        )
    if multidb:
        conversion.cannot(
            f"the databases of {where}'s multi-database code: migratectl's multidb env.py "
            "replaces it; set each extra database under [binds.NAME] (its database_url and "
            "models). Changes made inside that template's functions are not listed here."
        )

    for node in tree.body:
        for text, line in _custom_code(node, functions, passed, flask=flask, multidb=multidb):
            conversion.cannot(f"{text} ({where}, line {line})")


def _imports(tree: ast.Module) -> _Imports:
    found = _Imports()
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found.modules[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    found.modules.setdefault(root, root)
                    found.modules[alias.name] = alias.name  # the dotted name is imported too
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found.names[alias.asname or alias.name] = (node.module, alias.name)
    return found


def _configure_calls(tree: ast.Module) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "configure"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "context"
        ):
            yield node


def _carry_keyword(
    conversion: Conversion,
    keyword: ast.keyword,
    imports: _Imports,
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
    passed: set[str],
    where: str,
    flask: bool,
) -> None:
    line = f"{where}, line {keyword.value.lineno}"
    source = ast.unparse(keyword.value)
    if keyword.arg is None:
        if flask and source == "conf_args":
            conversion.cannot(
                "the keyword arguments of Flask-Migrate's Migrate(app, db, ...) (conf_args): "
                "they are in the application; set the ones it passes in migratectl.toml "
                "(compare_type and render_as_batch are true unless set, others go under "
                f"[configure]) ({line})."
            )
        else:
            conversion.cannot(f"context.configure(**{source}) ({line}).")
        return
    name = keyword.arg
    if name in CONFIGURE_RESERVED:
        return  # the connection, the models, offline options: migratectl passes them itself
    key = name if name in _TOP_LEVEL_CONFIGURE else f"configure.{name}"
    origin = f"context.configure({name}=...) in {where}"
    try:
        value = ast.literal_eval(keyword.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = _UNREADABLE
    if value is None:
        return  # Alembic's default
    if value is not _UNREADABLE and _is_toml_value(value):
        if key in conversion.origins and _lookup(conversion, key) != value:
            conversion.cannot(
                f"context.configure({name}={source}) ({line}): another call passes "
                f"{name}={_lookup(conversion, key)!r}, which was kept."
            )
        elif key not in conversion.origins:
            conversion.carry(key, value, origin)
        return
    target = _import_path(keyword.value, imports)
    if target is not None and name in CONFIGURE_CALLABLES:
        conversion.carry(f"configure.{name}", target, origin)
        return
    if isinstance(keyword.value, ast.Name) and keyword.value.id in functions:
        passed.add(keyword.value.id)
        defined = functions[keyword.value.id].lineno
        conversion.cannot(
            f"context.configure({name}={source}): {source} is defined in {where} "
            f"(line {defined}); move it into a module of the project and set "
            f'[configure] {name} = "module:{source}".'
        )
        return
    conversion.cannot(f"context.configure({name}={source}) ({line}): not a literal value.")


_UNREADABLE = object()


def _is_toml_value(value: Any) -> bool:
    if isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_toml_value(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_toml_value(v) for k, v in value.items())
    return False


def _lookup(conversion: Conversion, key: str) -> Any:
    return dict((k, v) for k, v, _ in conversion.carried()).get(key)


def _import_path(node: ast.expr, imports: _Imports) -> str | None:
    """``include_object`` imported by ``from myapp.migrations import include_object`` ->
    ``"myapp.migrations:include_object"``; None for anything env.py defines or computes."""
    chain = _chain(node)
    if not chain:
        return None
    if chain[0] in imports.names:
        module, attr = imports.names[chain[0]]
        return f"{module}:{'.'.join([attr, *chain[1:]])}"
    for size in range(len(chain) - 1, 0, -1):
        found = imports.modules.get(".".join(chain[:size]))
        if found is not None:
            return f"{found}:{'.'.join(chain[size:])}"
    return None


def _chain(node: ast.expr) -> list[str]:
    """``a.b.c`` -> ["a", "b", "c"]; [] for anything but names and attributes."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return []
    parts.append(node.id)
    return parts[::-1]


def _carry_target_metadata(
    conversion: Conversion,
    tree: ast.Module,
    imports: _Imports,
    where: str,
    flask: bool,
    search: list[Path],
) -> None:
    assigned = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "target_metadata" for t in node.targets)
    ]
    if not assigned:
        if flask:
            conversion.cannot(
                f"the models: {where} takes them from the Flask application "
                "(current_app.extensions['migrate'].db.metadata), which cannot be read without "
                "running it. Set models to the module that defines db and the models, e.g. "
                'models = "myapp:db", or pass --models.',
                about="models",
            )
        else:
            conversion.cannot(
                f"the models: {where} assigns no target_metadata. Set models "
                '(e.g. models = "myapp.models:Base") for migrate and check.',
                about="models",
            )
        return
    node = assigned[-1]
    source = ast.unparse(node.value)
    line = f"{where}, line {node.lineno}"
    if isinstance(node.value, ast.Constant) and node.value.value is None:
        conversion.cannot(
            f"the models: target_metadata = None ({line}), so autogenerate had no models. "
            'Set models (e.g. models = "myapp.models:Base") for migrate and check.',
            about="models",
        )
        return
    chain = _chain(node.value)
    if chain and chain[-1] == "metadata" and len(chain) > 1:
        chain = chain[:-1]  # Base.metadata -> Base: a declarative base is a models value
    spec = _models_spec(chain, imports, search)
    if spec is None:
        conversion.cannot(
            f"the models: target_metadata = {source} ({line}) is not an imported name. "
            'Set models (e.g. models = "myapp.models:Base") for migrate and check.',
            about="models",
        )
        return
    if spec.split(".")[0].split(":")[0] in _LIBRARY_MODELS:
        conversion.cannot(
            f"the models: target_metadata = {source} ({line}) comes from "
            f"{spec.split(':')[0]} itself, which defines none of the project's tables. Set "
            'models to the module that defines them (e.g. models = "app.models").',
            about="models",
        )
        return
    conversion.carry("models", spec, f"target_metadata = {source} in {where}")


def _carry_env_url(conversion: Conversion, tree: ast.Module, where: str, flask: bool) -> None:
    """``config.set_main_option("sqlalchemy.url", os.environ["DB_URL"])``: env.py's URL wins
    over alembic.ini's, as it did when Alembic ran it."""
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "set_main_option"
            and len(call.args) == 2
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value == "sqlalchemy.url"
        ):
            continue
        source = ast.unparse(call.args[1])
        line = f"{where}, line {node.lineno}"
        variable = _environment_variable(call.args[1])
        conversion.drop("database_url")
        conversion.to_do[:] = [t for t in conversion.to_do if PASSWORD_VARIABLE not in t]
        if variable is not None:
            conversion.carry("database_url", f"${{{variable}}}", f"{source} in {where}")
        elif flask and "get_engine_url" in source:
            conversion.cannot(
                f"the database URL: {where} takes it from the Flask application "
                "(SQLALCHEMY_DATABASE_URI). Set database_url, or the DATABASE_URL variable.",
                about="database_url",
            )
        else:
            conversion.cannot(
                f"the database URL: {where} sets it to {source} ({line}). Set database_url "
                '(for instance database_url = "${DATABASE_URL}").',
                about="database_url",
            )


def _environment_variable(node: ast.expr) -> str | None:
    """``os.environ["X"]``, ``os.environ.get("X")``, ``os.getenv("X")`` -> ``"X"``."""
    key: ast.expr | None
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
        key = node.slice
    elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
        "os.environ.get",
        "os.getenv",
    ):
        key = node.args[0] if node.args else None
    else:
        return None
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value
    return None


def _models_spec(chain: list[str], imports: _Imports, search: list[Path]) -> str | None:
    """``["models", "Base"]`` with ``from myapp import models`` -> ``"myapp.models:Base"``."""
    if not chain:
        return None
    if chain[0] in imports.names:
        module, attr = imports.names[chain[0]]
        rest = [attr, *chain[1:]]
    else:
        for size in range(len(chain), 0, -1):
            if ".".join(chain[:size]) in imports.modules:
                module, rest = imports.modules[".".join(chain[:size])], chain[size:]
                break
        else:
            return None
    # `from myapp import models`: models is a module when its file is there.
    while rest and _is_module(f"{module}.{rest[0]}", search):
        module, rest = f"{module}.{rest[0]}", rest[1:]
    return f"{module}:{'.'.join(rest)}" if rest else module


def _is_module(name: str, search: list[Path]) -> bool:
    parts = name.split(".")
    for folder in search:
        target = folder.joinpath(*parts)
        if target.with_suffix(".py").is_file() or (target / "__init__.py").is_file():
            return True
    return False


def _custom_code(
    node: ast.stmt,
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
    passed: set[str],
    *,
    flask: bool,
    multidb: bool,
) -> Iterator[tuple[str, int]]:
    """What one top-level statement of env.py does beyond Alembic's and Flask-Migrate's
    templates (which migratectl's env.py does itself), with its line."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return  # a docstring
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if node.name in passed:
            return
        if node.name not in _STANDARD_FUNCTIONS:
            kind = "event listener" if _listens(node) else "function"
            yield f"{kind} {node.name}()", node.lineno
        elif not multidb:
            for call, line in _calls(node):
                yield f"{call}() in {node.name}()", line
        return
    text = ast.unparse(node)
    if multidb and any(name in text for name in _MULTIDB_NAMES):
        return
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = ast.unparse(node.targets[0])
        if target in ("config", "target_metadata") or (target == "logger" and "getLogger" in text):
            return
        if flask and target == "target_db" and "current_app" in text:
            return
    if "fileConfig" in text:
        return  # the logging set-up from alembic.ini, named with its sections
    if _is_main(node):
        return
    if "set_main_option" in text and "sqlalchemy.url" in text:
        return  # the database URL, named with database_url
    first = text.splitlines()[0] if text else type(node).__name__
    yield (first if len(first) <= 80 else first[:77] + "..."), node.lineno


def _listens(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("listens_for" in ast.unparse(d) for d in node.decorator_list)


def _calls(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[tuple[str, int]]:
    seen: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            last = name.rsplit(".", 1)[-1]
            if last not in _STANDARD_CALLS and "current_app" not in name and name not in seen:
                seen.add(name)
                yield name, node.lineno


def _is_main(node: ast.stmt) -> bool:
    """``if context.is_offline_mode(): run_migrations_offline() else: ...``, or a bare call of
    a template function."""
    if isinstance(node, ast.If):
        return "is_offline_mode" in ast.unparse(node.test) and all(
            _is_main(child) for child in [*node.body, *node.orelse]
        )
    if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
        call = node.value if isinstance(node.value, ast.Call) else node.value.value
        names = {n.id for n in ast.walk(call) if isinstance(n, ast.Name)} | {
            n.attr for n in ast.walk(call) if isinstance(n, ast.Attribute)
        }
        return bool(names) and names <= {
            *_STANDARD_FUNCTIONS,
            "asyncio",
            "run",
            "get_event_loop",
            "run_until_complete",
        }
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
