"""Where settings come from: the configuration file (found upwards, ``migratectl.toml`` or
``[tool.migratectl]`` in pyproject.toml), the ``.env`` file, ``${VAR}`` interpolation, and
the spellings of URLs (``postgres://``, relative SQLite paths, unencoded ``@``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migratectl.errors import ConfigError

# postgres:// (what Heroku, Render, Railway and Fly hand out) is SQLAlchemy's postgresql://.
_POSTGRES_ALIAS = re.compile(r"^postgres(?=(?:\+\w+)?://)")


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


# sqlite[+driver]:///relative/path[?query] — four slashes (or none after :///) are absolute.
_SQLITE_RELATIVE = re.compile(r"^(sqlite(?:\+\w+)?:///)(?!/)(?!:memory:)([^?]+)(\?.*)?$")


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_FILENAME = "migratectl.toml"
PYPROJECT_FILENAME = "pyproject.toml"


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


def environment_with_env_file(
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
