"""``init``: create a migration repository from a template, or convert an existing one."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from migratectl.commands.init.conversion import (
    Conversion,
    find_alembic_files,
    read_alembic_config,
)
from migratectl.commands.init.old_env import read_env_py
from migratectl.errors import UsageError
from migratectl.output import Output, display_path
from migratectl.settings import (
    DEFAULT_DIRECTORY,
    ENV_DATABASE_URL,
    ENV_DATABASE_URL_FALLBACK,
    ENV_MODELS,
    Settings,
)
from migratectl.settings.sources import (
    CONFIG_FILENAME,
    PYPROJECT_FILENAME,
    read_config_file,
    resolve_sqlite_path,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"  # migratectl/templates
DEFAULT_TEMPLATE = "migratectl"
MULTIDB_TEMPLATE = "migratectl-multidb"
TEMPLATE_FILES = ("env.py", "script.py.mako", "README")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def bundled_templates() -> list[tuple[str, str]]:
    """(name, synopsis) of each bundled template; the synopsis is its README's first line."""
    found = []
    for folder in sorted(TEMPLATES.iterdir()):
        readme = folder / "README"
        if folder.is_dir() and readme.is_file():
            found.append((folder.name, readme.read_text().strip().splitlines()[0]))
    return found


def resolve_template(template: str | None, *, multidb: bool) -> Path:
    """A bundled template's name, or the path of a folder with env.py, script.py.mako, README."""
    if template is None:
        return TEMPLATES / (MULTIDB_TEMPLATE if multidb else DEFAULT_TEMPLATE)
    bundled = TEMPLATES / template
    if "/" not in template and os.sep not in template and bundled.is_dir():
        return bundled
    folder = Path(template).expanduser()
    if not folder.is_dir():
        names = ", ".join(name for name, _ in bundled_templates())
        raise UsageError(
            f"No template {template!r}: it is neither a bundled template nor a folder.",
            hint=f"Bundled templates: {names} (see `migratectl list-templates`).",
        )
    missing = [name for name in TEMPLATE_FILES if not (folder / name).is_file()]
    if missing:
        raise UsageError(
            f"The template folder {template} lacks " + ", ".join(missing) + ".",
            hint="A template holds env.py, script.py.mako and README.",
        )
    return folder


def _refuse_unwritable(directory: Path) -> None:
    parent = directory
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise UsageError(
            f"Cannot create {directory}: {parent} is not writable.",
            hint="Choose another --directory, or fix the folder's permissions.",
        )


def create_repository(
    settings: Settings, *, multidb: bool, template: str | None, package: bool
) -> list[Path]:
    """Write env.py, script.py.mako, README and versions/ (and migratectl.toml if needed)."""
    source = resolve_template(template, multidb=multidb)
    directory = settings.directory
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(
            f"{display_path(directory)} already exists and is not empty.",
            hint="Choose another --directory, or use `init --convert` for an existing "
            "Alembic or Flask-Migrate repository.",
        )
    _refuse_unwritable(directory)
    config_path = _config_file_to_write(settings)
    created: list[Path] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for item in sorted(source.iterdir()):
            if item.is_file() and item.name != "__init__.py":
                shutil.copyfile(item, directory / item.name)
                created.append(directory / item.name)
        (directory / "versions").mkdir()
        created.append(directory / "versions")
        if package:
            for folder in (directory, directory / "versions"):
                (folder / "__init__.py").touch()
                created.append(folder / "__init__.py")
        if config_path is not None:
            _write_config_file(config_path, settings, multidb=multidb)
            created.append(config_path)
    except OSError as exc:
        # Leave nothing half-written behind.
        shutil.rmtree(directory, ignore_errors=True)
        raise UsageError(f"Cannot create {display_path(directory)}: {exc.strerror}.") from None
    return created


def convert_repository(
    settings: Settings,
    *,
    multidb: bool,
    template: str | None,
    alembic_ini: str | None = None,
    output: Output | None = None,
) -> list[Path]:
    """Turn an Alembic or Flask-Migrate repository into a migratectl one, in place.

    The project's Alembic configuration (alembic.ini, ``[tool.alembic]``, the old env.py) is
    carried over to the migratectl.toml written; env.py is replaced (the old one kept as
    env.py.orig); versions/ and script.py.mako are left as they are, so the project's history
    keeps working. Everything is read and checked before anything is written.
    """
    output = output or Output()
    cwd = Path.cwd()
    config_path = _config_file_to_write(settings)
    # The folder the paths written (or to add) are relative to: the configuration file's.
    config_file = config_path or settings.config_file
    base = config_file.parent if config_file is not None else cwd
    conversion = Conversion()
    ini, toml = find_alembic_files(cwd, alembic_ini, settings.directory)
    read_alembic_config(conversion, ini, toml, cwd=cwd, base=base)
    settings = _converted_directory(settings, conversion)

    directory = settings.directory
    env_py = directory / "env.py"
    if not env_py.is_file():
        raise UsageError(
            f"{display_path(directory)} is not an Alembic repository (it has no env.py).",
            hint="Point --directory at the folder that holds env.py and versions/.",
        )
    original = env_py.read_text(errors="replace")
    if "migratectl" in original:
        raise UsageError(f"{display_path(directory)} is already a migratectl repository.")
    backup = directory / "env.py.orig"
    if backup.exists():
        raise UsageError(
            f"{display_path(backup)} already exists; converting again would overwrite it.",
            hint="Move it away first.",
        )
    search = [cwd, base, *(base / p for p in conversion.table.get("sys_path", []))]
    read_env_py(conversion, env_py, search=search)
    # A flag, a variable or the existing configuration file wins over the old files.
    for key in ("database_url", "models"):
        if key in settings.sources:
            conversion.drop(key)
            if key == "database_url":
                conversion.to_do.clear()
    mako = directory / "script.py.mako"
    multidb = multidb or (mako.is_file() and "engine_name" in mako.read_text(errors="replace"))
    source = resolve_template(template, multidb=multidb)
    _refuse_unwritable(directory)

    env_py.rename(backup)
    shutil.copyfile(source / "env.py", env_py)
    written = [backup, env_py]
    if not mako.is_file():
        shutil.copyfile(source / "script.py.mako", mako)
        written.append(mako)
    if not (directory / "versions").is_dir():
        (directory / "versions").mkdir()
        written.append(directory / "versions")
    if config_path is not None:
        _write_config_file(config_path, settings, multidb=multidb, conversion=conversion)
        written.append(config_path)
    _report(output, conversion, settings, config_path)
    return written


def _converted_directory(settings: Settings, conversion: Conversion) -> Settings:
    """The repository to convert: --directory (or the migratectl file's directory) if given,
    else the folder script_location names."""
    named = conversion.directory
    if named is None or named == settings.directory:
        return settings
    given = settings.sources.get("directory")
    if given is not None:
        origin = conversion.origins["directory"]
        conversion.drop("directory")
        conversion.cannot(
            f"{origin}: {given} names {display_path(settings.directory)}, which is converted "
            "instead."
        )
        return settings
    if not named.is_dir():
        raise UsageError(
            f"{conversion.origins['directory']} names {display_path(named)}, which is not "
            "a folder.",
            hint="Fix script_location, or pass --directory with the repository's folder.",
        )
    return dataclasses.replace(settings, directory=named)


def _report(
    output: Output, conversion: Conversion, settings: Settings, config_path: Path | None
) -> None:
    """Say what was carried over (key by key), what was not, and what the user must do."""
    if conversion.read:
        output.info("Read " + ", ".join(display_path(p) for p in conversion.read) + ".")
    if config_path is not None and conversion.origins:
        output.info(f"Carried over to {display_path(config_path)}:")
        for key, value, origin in conversion.carried():
            output.info(f"  {_toml_line(key, value)}    # {origin}")
    elif conversion.origins and settings.config_file is not None:
        config = display_path(settings.config_file)
        lacking = _lacking(conversion, settings.config_file)
        if lacking.origins:
            pyproject = settings.config_file.name == PYPROJECT_FILENAME
            where = " (under [tool.migratectl])" if pyproject else ""
            output.info(f"{config} exists and was left as it is. Add what it lacks{where}:")
            for key, value, origin in lacking.carried():
                if key in lacking.table:  # top level
                    output.info(f"  {_toml_line(key, value)}    # {origin}")
            for line in _toml_tables(lacking, prefix="tool.migratectl." if pyproject else ""):
                output.info(f"  {line}".rstrip())
        else:
            output.info(f"{config} exists and was left as it is; it sets every key carried.")
    if conversion.not_carried:
        output.info("Not carried over (move or set these yourself):")
        for _, text in conversion.not_carried:
            output.info(f"  - {text}")
    for text in conversion.to_do:
        output.info(text)


def _lacking(conversion: Conversion, config_file: Path) -> Conversion:
    """The carried keys an existing configuration file does not set."""
    table = read_config_file(config_file)
    lacking = Conversion()
    for key, value, origin in conversion.carried():
        parent, _, child = key.partition(".")
        present = parent in table and (not child or child in table[parent])
        if not present:
            lacking.carry(key, value, origin)
    return lacking


def _config_file_to_write(settings: Settings) -> Path | None:
    """Where init writes migratectl.toml: nowhere when a configuration file already exists."""
    if settings.config_file is None:
        return Path.cwd() / CONFIG_FILENAME
    if not settings.config_file.exists():
        return settings.config_file
    return None


# The variable a migratectl.toml written by init reads the database password from.
PASSWORD_VARIABLE = "DATABASE_PASSWORD"
# scheme://user:PASSWORD@…, split as SQLAlchemy's make_url splits it.
_URL_PASSWORD = re.compile(r"^(?P<head>[\w+]+://[^:/]*:)(?P<password>[^@]*)(?P<rest>@.*)$", re.S)


def password_variable(settings: Settings) -> str | None:
    """The variable the configuration file init writes will read the password from: a
    password given on the command line is never written into the file."""
    url = settings.database_url
    if _config_file_to_write(settings) is None or not url:
        return None
    if settings.sources.get("database_url") in (ENV_DATABASE_URL, ENV_DATABASE_URL_FALLBACK):
        return None  # the file reads the whole URL from that variable
    match = _URL_PASSWORD.match(url)
    return PASSWORD_VARIABLE if match and match.group("password") else None


def _without_password(url: str) -> str:
    match = _URL_PASSWORD.match(url)
    if not match or not match.group("password"):
        return url
    return f"{match.group('head')}${{{PASSWORD_VARIABLE}}}{match.group('rest')}"


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(items) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _toml_line(key: str, value: Any) -> str:
    """``configure.compare_server_default`` = true, as one TOML line (a dotted key)."""
    parent, _, child = key.partition(".")
    name = f"{parent}.{_toml_key(child)}" if child else _toml_key(parent)
    return f"{name} = {_toml_value(value)}"


def _toml_tables(conversion: Conversion, prefix: str = "") -> list[str]:
    """The carried [configure] and [alembic] keys, as TOML tables; an [alembic] option that
    is itself a table (post_write_hooks) is the Alembic section [alembic.NAME]."""
    lines: list[str] = []
    for name in ("configure", "alembic"):
        table = conversion.table.get(name, {})
        sections = {k: v for k, v in table.items() if name == "alembic" and isinstance(v, dict)}
        options = {k: v for k, v in table.items() if k not in sections}
        if options:
            lines += ["", f"[{prefix}{name}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in options.items()]
        for section, values in sections.items():
            lines += ["", f"[{prefix}alembic.{_toml_key(section)}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items()]
    return lines


def _write_config_file(
    path: Path, settings: Settings, *, multidb: bool, conversion: Conversion | None = None
) -> None:
    sources = settings.sources
    carried = conversion.table if conversion is not None else {}
    # Flags are relative to the current folder, the file's values to the file's folder.
    here = Path.cwd().resolve()
    elsewhere = path.parent.resolve() != here
    lines = [
        "# migratectl configuration. Every key is described in migratectl's README",
        "# (Configuration) and in its migratectl.toml.example.",
        "# Any string may use ${VAR} or ${VAR:-default} to read the environment.",
        "",
    ]
    url_source = sources.get("database_url")
    if url_source in (ENV_DATABASE_URL, ENV_DATABASE_URL_FALLBACK):
        # Keep the secret in the environment, where it came from.
        lines.append(f'database_url = "${{{url_source}}}"')
    elif settings.database_url:
        url = settings.database_url
        if elsewhere:
            url = resolve_sqlite_path(url, here)  # the SQLite file the flag meant
        lines.append(f"database_url = {_toml_string(_without_password(url))}")
    elif "database_url" in carried:
        lines.append(f"database_url = {_toml_string(carried['database_url'])}")
    else:
        lines.append('# database_url = "sqlite:///app.db"')
    if sources.get("models") == ENV_MODELS:
        lines.append(f'models = "${{{ENV_MODELS}}}"')
    elif settings.models:
        lines.append(f"models = {_toml_string(settings.models)}")
    elif "models" in carried:
        lines.append(f"models = {_toml_string(carried['models'])}")
    else:
        lines.append('# models = "myapp.models"   # module, or module:Base / module:metadata')
    if "sys_path" in carried:
        lines.append(f"sys_path = {_toml_value(carried['sys_path'])}")
    elif settings.models and elsewhere:
        # The models were named from the current folder: keep it importable.
        sys_path = Path(os.path.relpath(here, path.parent)).as_posix()
        lines.append(f"sys_path = [{_toml_string(sys_path)}]")
    directory = Path(os.path.relpath(settings.directory, path.parent))
    if directory != Path(DEFAULT_DIRECTORY) or "directory" in carried:
        lines.append(f"directory = {_toml_string(directory.as_posix())}")
    for key in ("compare_type", "render_as_batch"):
        if key in carried:
            lines.append(f"{key} = {_toml_value(carried[key])}")
        else:
            lines.append(f"# {key} = true")
    if conversion is not None and (carried.get("configure") or carried.get("alembic")):
        lines += _toml_tables(conversion)
    else:
        lines += [
            "",
            "# [configure]            # extra arguments for Alembic's context.configure()",
            "# compare_server_default = true",
        ]
    if multidb:
        lines += [
            "",
            "# Each extra database of this multi-database repository:",
            "# [binds.analytics]",
            '# database_url = "${ANALYTICS_DATABASE_URL}"',
            '# models = "myapp.analytics_models"',
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def record_directory(settings: Settings) -> tuple[bool, str] | None:
    """After ``init -d DIR`` in a project whose configuration file already exists: write
    ``directory = "DIR"`` into it, so that the other commands find the new repository.

    Returns (written, what to tell the user), or None when the file already names DIR. A
    file that names another directory itself, or has a shape not edited safely here, is left
    as it is and the message says what to change."""
    from migratectl.settings.sources import PYPROJECT_FILENAME, read_config_file, tomllib

    path = settings.config_file
    if path is None or not path.is_file() or settings.sources.get("directory") != "--directory":
        return None
    table = read_config_file(path)
    named = (path.parent / table.get("directory", DEFAULT_DIRECTORY)).resolve()
    if named == settings.directory:
        return None
    relative = Path(os.path.relpath(settings.directory, path.parent)).as_posix()
    line = f"directory = {_toml_string(relative)}"
    by_hand = (
        False,
        f"{display_path(path)} names the repository {table.get('directory', DEFAULT_DIRECTORY)!r}, "
        f"so the other commands will not find {relative!r}: set {line} there, or pass "
        f"-d {display_path(settings.directory)} to every command.",
    )
    if "directory" in table:
        return by_hand
    lines = path.read_text().splitlines(keepends=True)
    at: int | None
    if path.name == PYPROJECT_FILENAME:
        heads = [i for i, text in enumerate(lines) if text.strip() == "[tool.migratectl]"]
        at = heads[0] + 1 if heads else None
    else:  # a top-level key: before the first table (and the blank lines above it)
        at = next((i for i, text in enumerate(lines) if text.lstrip().startswith("[")), len(lines))
        while at > 0 and not lines[at - 1].strip():
            at -= 1
    if at is None:
        return by_hand
    if at == len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.insert(at, line + "\n")
    text = "".join(lines)
    try:
        edited = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return by_hand
    if path.name == PYPROJECT_FILENAME:
        edited = edited.get("tool", {}).get("migratectl", {})
    if edited.get("directory") != relative:
        return by_hand
    path.write_text(text)
    return True, f"Recorded {line} in {display_path(path)}, so the other commands find it."
