"""``init --convert``: an Alembic or Flask-Migrate project's configuration, as migratectl keys.

Alembic keeps its settings in alembic.ini (and, since Alembic 1.16, in ``[tool.alembic]`` of
pyproject.toml), and the rest in env.py: the models (``target_metadata``) and the arguments of
``context.configure()``. This module reads them without running anything — the ini and the
TOML as Alembic reads them (``%(here)s`` is the file's folder, paths are relative to the
current folder), env.py with :mod:`ast` — and records which setting became which migratectl
key, and what could not be carried over, so that nothing is dropped silently.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migratectl.errors import ConfigError, UsageError
from migratectl.output import display_path
from migratectl.settings.sources import PYPROJECT_FILENAME

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
            where = f"[tool.alembic] of {display_path(toml)}"
            for key, value in tool.items():
                if key == "post_write_hooks":
                    hooks = (_toml_hooks(value, where), where)
                else:
                    options[key] = (value, where)
    parser = _read_ini(ini) if ini is not None else None
    if parser is not None and ini is not None:
        conversion.read.append(ini)
        where = display_path(ini)
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
            f"{display_path(path)} is not a valid INI file: {_ini_problem(exc)}",
            hint="Fix it (Alembic cannot read it either), or pass --alembic-ini the right file.",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{display_path(path)} is not UTF-8 text (byte {exc.start} cannot be decoded).",
            hint="Save it as UTF-8.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {display_path(path)}: {exc.strerror}.") from None
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
        raise ConfigError(f"{display_path(path)} is not valid TOML: {exc}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {display_path(path)}: {exc}.") from None
    tool = data.get("tool", {})
    table = tool.get("alembic", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.alembic] in {display_path(path)} must be a table.")
    here = {"here": path.absolute().parent.as_posix()}

    def fill(value: Any, key: str) -> Any:
        if isinstance(value, str):
            try:
                return value % here
            except (KeyError, ValueError, TypeError) as exc:
                raise ConfigError(
                    f"{key} in [tool.alembic] of {display_path(path)} cannot be read "
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
