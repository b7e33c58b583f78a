"""Autogenerate's comparison of the models with the database, writing nothing.

``check``, ``adopt`` and ``verify`` ask what ``migrate`` would write without writing it;
``migrate`` and ``revision --autogenerate`` share the hook that waits for every database of a
multi-database repository.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from migratectl.output import Output
from migratectl.repository.config import alembic_logging, build_config, is_multidb
from migratectl.repository.translation import translate_errors
from migratectl.settings import Settings

if TYPE_CHECKING:
    pass


def compare(
    settings: Settings,
    output: Output | None = None,
    connection: Any = None,
    *,
    tables_present: list[str] | None = None,
) -> list[Any]:
    """Autogenerate's operations for the models against the database, writing nothing.

    ``connection``: the (only) database's, already open; otherwise env.py connects.
    ``tables_present``: filled with the models' tables each database already holds.
    """
    from alembic import command

    captured: list[Any] = []

    def capture(context: Any, revision: Any, directives: list[Any]) -> None:
        for script in directives:
            captured.extend(script.upgrade_ops_list)
        directives[:] = []

    after_all = after_all_databases(settings, capture)

    def per_database(context: Any, revision: Any, directives: list[Any]) -> None:
        if tables_present is not None:
            tables_present.extend(model_tables_in_database(context))
        if after_all is not None:
            after_all(context, revision, directives)

    config = build_config(settings, output, autogenerate=True)
    if connection is not None:
        config.attributes["connection"] = connection
    with translate_errors(settings), alembic_logging(output or Output(), config):
        command.revision(config, autogenerate=True, process_revision_directives=per_database)
    return captured


def describe_operations(upgrade_ops: Any) -> list[str]:
    """One line per change, e.g. "add_column users.email" (flattened autogenerate diffs)."""
    lines: list[str] = []
    for diff in upgrade_ops.as_diffs():
        lines.append(_describe_diff(diff))
    return lines


def schema_differences(settings: Settings, output: Output | None = None) -> list[str]:
    """What autogenerate would change for the models against the database, one line each
    (read-only, like ``compare``)."""
    return [line for ops in compare(settings, output) for line in describe_operations(ops)]


def _describe_diff(diff: Any) -> str:
    if isinstance(diff, list):  # column modifications come as a list of tuples
        return "; ".join(_describe_diff(d) for d in diff)
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        return f"{kind} {_qualified(diff[1].schema, diff[1].name)}"
    if kind in ("add_column", "remove_column"):
        return f"{kind} {_qualified(diff[1], diff[2])}.{diff[3].name}"
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        return f"{kind} {index.name} on {_qualified(index.table.schema, index.table.name)}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = diff[1]
        table = constraint.table
        name = constraint.name or "(unnamed)"
        return f"{kind} {name} on {_qualified(table.schema, table.name)}"
    if kind.startswith("modify_"):
        schema, table, column = diff[1], diff[2], diff[3]
        old, new = _readable_value(diff[5]), _readable_value(diff[6])
        return f"{kind} {_qualified(schema, table)}.{column}: {old} -> {new}"
    if kind in ("add_table_comment", "remove_table_comment"):
        return f"{kind} {_qualified(diff[1].schema, diff[1].name)}"
    return " ".join(str(part) for part in diff)


def _readable_value(value: Any) -> str:
    """A type, default or flag of a column change as a user reads it: VARCHAR(50),
    CURRENT_TIMESTAMP, 'a', True — not the Python repr of SQLAlchemy objects."""
    from sqlalchemy.sql.elements import ClauseElement
    from sqlalchemy.types import TypeEngine

    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, TypeEngine):
        try:
            return str(value.compile())
        except Exception:  # a type the default dialect cannot compile (a dialect's own)
            return repr(value)
    # A server default, as SQL: a plain string is a literal, text() and expressions as written.
    arg = getattr(value, "arg", value)
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    if isinstance(arg, ClauseElement):
        text = getattr(arg, "text", None)
        return text if isinstance(text, str) else str(arg)
    return repr(value)


def _qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


def after_all_databases(
    settings: Settings, hook: Callable[..., None] | None
) -> Callable[..., None] | None:
    """Alembic calls a revision hook after each database's comparison; run ``hook`` once, after
    the last one, when every database's operations are in the script."""
    if hook is None:
        return None
    expected = 1 + len(settings.binds) if is_multidb(settings) else 1

    def when_complete(context: Any, revision: Any, directives: list[Any]) -> None:
        if all(len(script.upgrade_ops_list) >= expected for script in directives):
            hook(context, revision, directives)

    return when_complete


def model_tables(metadata: Any) -> list[Any]:
    """The Table objects of a MetaData, or of a list of them (None: none)."""
    if metadata is None:
        return []
    collection = metadata if isinstance(metadata, (list, tuple)) else [metadata]
    return [table for item in collection for table in item.tables.values()]


def model_tables_in_database(context: Any) -> list[str]:
    """The models' tables (of this database) that the database already holds."""
    from sqlalchemy import inspect

    inspector = inspect(context.connection)
    by_schema: dict[str | None, list[str]] = {}
    for table in model_tables(context.opts.get("target_metadata")):
        by_schema.setdefault(table.schema, []).append(table.name)
    present: list[str] = []
    for schema, names in by_schema.items():
        existing = set(inspector.get_table_names(schema=schema))
        present.extend(f"{schema}.{name}" if schema else name for name in names if name in existing)
    return sorted(present)
