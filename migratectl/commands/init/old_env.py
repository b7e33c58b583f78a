"""``init --convert``: what an old Alembic or Flask-Migrate env.py says, read from its
source (``ast``, never run): ``target_metadata``, ``context.configure()`` keywords, the URL,
and the custom code that cannot be carried over.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migratectl.commands.init.conversion import PASSWORD_VARIABLE, Conversion
from migratectl.output import display_path
from migratectl.settings.validation import CONFIGURE_CALLABLES, CONFIGURE_RESERVED

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
class _Imports:
    """What the top-level imports of env.py bind: name -> module, or name -> (module, attr)."""

    modules: dict[str, str] = field(default_factory=dict)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)


def read_env_py(conversion: Conversion, env_py: Path, *, search: list[Path]) -> None:
    """Carry ``target_metadata`` and the ``context.configure()`` arguments of the old env.py,
    and name its code that migratectl's env.py does not do. ``search``: the folders its
    imports are found in (sys_path), to tell a module from an attribute."""
    where = display_path(env_py)
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
