"""Turn a ``models`` setting ("package.module" or "package.module:attr") into MetaData."""

from __future__ import annotations

import importlib
import re
import traceback
import types
from typing import TYPE_CHECKING, Any

from migratectl.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import MetaData


def import_module(module_name: str, *, what: str) -> Any:
    """Import the user's module, turning every failure into a ConfigError naming ``what``."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            path_given = _file_path_given(module_name, what)
            if path_given is not None:
                raise path_given from None
            raise ConfigError(
                f'Cannot import {what} "{module_name}": no module named "{exc.name}".',
                hint="Check the module path and the sys_path setting "
                "(the configuration file's folder is on sys.path).",
            ) from None
        raise ConfigError(
            f'Importing {what} "{module_name}" failed: {describe_exception(exc)}',
            hint=f'A module that "{module_name}" imports is missing; install it or fix the import.',
        ) from exc
    except SystemExit as exc:  # sys.exit() at import time: not the exit code of this command
        raise ConfigError(
            f'Importing {what} "{module_name}" called sys.exit({exc.code!r}).',
            hint="A module that migratectl imports must not exit; move that call under "
            'if __name__ == "__main__":.',
        ) from exc
    except Exception as exc:
        path_given = _file_path_given(module_name, what) if module_name.startswith(".") else None
        if path_given is not None:  # "./app/models.py": importlib asks for a package
            raise path_given from None
        raise ConfigError(
            f'Importing {what} "{module_name}" raised an error: {describe_exception(exc)}',
            hint="Run with -v to see the traceback.",
        ) from exc


def _file_path_given(module_name: str, what: str) -> ConfigError | None:
    """``app/models.py`` instead of ``app.models``: say to use dots."""
    if not ("/" in module_name or "\\" in module_name or module_name.endswith(".py")):
        return None
    dotted = re.sub(r"[/\\]+", ".", re.sub(r"\.py$", "", module_name).lstrip("./\\"))
    return ConfigError(
        f'Cannot import {what} "{module_name}": that is a file path, and a module is named '
        "with dots.",
        hint=f'Use "{dotted}" (a module path from the configuration file\'s folder, or from '
        "sys_path).",
    )


def describe_exception(exc: BaseException) -> str:
    """The last line of the exception as Python prints it (for SyntaxError: where it is)."""
    line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    if isinstance(exc, SyntaxError) and exc.filename:
        # Its last line lacks the place; the lines before it are not shown.
        line += f" ({exc.filename}, line {exc.lineno})"
    return line


def import_object(spec: str, *, what: str) -> Any:
    """``"module:attr"`` (attr may be dotted) -> the object."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f'{what} "{spec}" must have the form "module:name".',
            hint='For example "myapp.migrations:configure".',
        )
    obj = import_module(module_name, what=what)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f'{what} "{spec}": module "{module_name}" has no attribute "{attr}".',
                hint="Check the name after the colon.",
            ) from None
    return obj


def import_callable(spec: str, *, what: str) -> Any:
    """``"module:function"`` -> the function; anything not callable is a ConfigError."""
    obj = import_object(spec, what=what)
    if not callable(obj):
        raise ConfigError(
            f'{what} "{spec}" is not callable (it is {describe_type(obj)}).',
            hint="Name a function.",
        )
    return obj


def describe_type(value: Any) -> str:
    """``3`` -> "an int", ``MetaData()`` -> "a MetaData"."""
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _as_metadata(obj: Any) -> MetaData | None:
    """``obj`` itself when it is a MetaData, else its ``.metadata`` when that is one."""
    from sqlalchemy import MetaData

    try:
        if isinstance(obj, MetaData):
            return obj
        metadata = getattr(obj, "metadata", None)
        return metadata if isinstance(metadata, MetaData) else None
    except Exception:
        # Proxies such as Flask's ``current_app`` raise outside their context.
        return None


def _reached_metadata(value: Any) -> tuple[MetaData, bool] | None:
    """The MetaData a module-level name leads to, and whether the name is where it is kept.

    Every name counts: a MetaData, a registry, a declarative base, SQLModel's class,
    Flask-SQLAlchemy's ``db``, a model class, a Table. Modules do not (``sqlalchemy``, a
    sub-package): their own names are theirs. The name "keeps" the MetaData when it is the
    MetaData, or holds it itself rather than through a base class or a Table's parent —
    so an error lists ``Base`` rather than every model derived from it.
    """
    from sqlalchemy.sql.schema import SchemaItem

    # type(value), not isinstance(): a proxy may raise when asked for its __class__.
    kind = type(value)
    if issubclass(kind, types.ModuleType):
        return None
    metadata = _as_metadata(value)
    if metadata is None:
        return None
    if issubclass(kind, type):
        keeps = "metadata" in vars(value)
    else:
        keeps = not issubclass(kind, SchemaItem) or value is metadata
    return metadata, keeps


def resolve_metadata(spec: str) -> MetaData | list[MetaData]:
    """The MetaData named by ``spec``; a list when the attribute is a list of them."""
    module_name, _, attr = spec.partition(":")
    module = import_module(module_name, what="the models module")
    if attr:
        obj: Any = module
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise ConfigError(
                    f'The models module "{module_name}" has no attribute "{attr}".',
                    hint="Name a MetaData, a declarative base, or a list of them after the colon.",
                )
            obj = getattr(obj, part)
        if isinstance(obj, (list, tuple)):
            items = [_as_metadata(item) for item in obj]
            if not items or any(item is None for item in items):
                raise ConfigError(
                    f'"{spec}" must be a MetaData, a declarative base, or a list of them.'
                )
            return [item for item in items if item is not None]
        metadata = _as_metadata(obj)
        if metadata is None:
            raise ConfigError(
                f'"{spec}" is a {type(obj).__name__}, not a MetaData or a declarative base.',
                hint="Name a MetaData, a declarative base, or a list of them after the colon.",
            )
        return metadata

    # One entry per MetaData: the names that keep it, and the names that merely reach it.
    found: dict[int, tuple[MetaData, list[str], list[str]]] = {}
    for name, value in vars(module).items():
        if name.startswith("__"):
            continue
        reached = _reached_metadata(value)
        if reached is not None:
            metadata, keeps = reached
            _, keepers, reachers = found.setdefault(id(metadata), (metadata, [], []))
            (keepers if keeps else reachers).append(name)
    if not found:
        raise ConfigError(
            f'The models module "{module_name}" defines no MetaData or declarative base.',
            hint=f'Import your models there, or name one: models = "{module_name}:Base".',
        )
    if len(found) > 1:
        names = sorted(
            " / ".join(sorted(keepers or reachers)) for _, keepers, reachers in found.values()
        )
        raise ConfigError(
            f'The models module "{module_name}" has {len(found)} separate MetaData: '
            + ", ".join(names)
            + ".",
            hint=f'Name the one to use, e.g. models = "{module_name}:{names[0].split(" ")[0]}", '
            "or a list of them.",
        )
    return next(iter(found.values()))[0]
