"""``verify``'s ``data_kept`` check: rows put into every table, and whether each step keeps them.

Before each step every table without a row gets one generated row: a value for each column
from its type, none where the database fills it (a server default, an identity or
autoincrement column, SQLite's rowid), the referred row's values in a foreign key (parents
are filled first), NULL where a nullable column's value is refused. A table no row can be put
into (a check constraint refuses it, a NOT NULL column of a type without a known value) is
named in the check's detail and not watched.

After the step each table that had rows must still have some. A table the step dropped is
not watched any more; one it renamed (``op.rename_table`` in the revision, or a new table
with the columns of one that is gone) is the same table under its new name, so a rename
written as drop-and-add — the new table empty — is caught. A table rebuilt under its own
name (SQLite's batch move-and-copy) is the same table.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import uuid
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migratectl.commands.verify_schema import Snapshot, TableShape

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

_NO_VALUE = object()


def row_counts(connection: Connection, tables: Iterable[str]) -> dict[str, int]:
    """Rows in each of ``tables``, a few dozen tables per query."""
    from sqlalchemy import text

    quote = connection.dialect.identifier_preparer.quote
    names = sorted(tables)
    counts: dict[str, int] = {}
    for start in range(0, len(names), 40):
        chunk = names[start : start + 40]
        # A colon in a name is no bind parameter.
        counted = (f"(SELECT count(*) FROM {quote(name)})".replace(":", r"\:") for name in chunk)
        row = connection.execute(text("SELECT " + ", ".join(counted))).one()
        counts.update(zip(chunk, (int(value) for value in row), strict=True))
    return counts  # the reads' transaction is the next step's (one round trip less each)


def fill_empty_tables(
    connection: Connection,
    counts: dict[str, int],
    shapes: Mapping[str, TableShape] | None = None,
) -> dict[str, str]:
    """Put one generated row into each table of ``counts`` that has none; the tables that
    could not get one, each with the reason. ``shapes``: the tables as a snapshot of this
    state reflected them (any other is reflected here)."""
    empty = {name for name, count in counts.items() if count == 0}
    if not empty:
        return {}
    refused: dict[str, str] = {}
    known = {name: shape for name, shape in (shapes or {}).items() if name in empty}
    for name in sorted(empty - set(known)):
        try:
            known[name] = _reflect(connection, name)
        except Exception as exc:  # a table SQLAlchemy cannot reflect: say so, go on
            refused[name] = f"its columns could not be read ({type(exc).__name__}: {exc})"
            empty.discard(name)
            connection.rollback()  # PostgreSQL: the failed read ended the transaction
    has_row = {name for name, count in counts.items() if count}
    remaining = set(empty)
    while remaining:
        ready = [
            name
            for name in sorted(remaining)
            if all(
                key["referred_table"] == name or key["referred_table"] not in remaining
                for key in known[name].foreign_keys
            )
        ] or sorted(remaining)  # a cycle: the keys that can be left empty are
        for name in ready:
            remaining.discard(name)
            reason = _insert_one(connection, name, known[name], has_row)
            if reason is None:
                has_row.add(name)
            else:
                refused[name] = reason
    return refused


def _reflect(connection: Connection, name: str) -> TableShape:
    from sqlalchemy import inspect

    inspector = inspect(connection)
    key = inspector.get_pk_constraint(name) or {}
    columns: list[Any] = inspector.get_columns(name)
    foreign_keys: list[Any] = inspector.get_foreign_keys(name)
    return TableShape(columns, list(key.get("constrained_columns") or ()), foreign_keys)


def _insert_one(
    connection: Connection, name: str, shape: TableShape, has_row: set[str]
) -> str | None:
    """Insert one generated row into table ``name``; None, or why it could not be done."""
    from sqlalchemy import column as column_clause
    from sqlalchemy import table as table_clause
    from sqlalchemy.exc import StatementError

    columns = {column["name"]: column for column in shape.columns}
    values: dict[str, Any] = {}
    from_keys: set[str] = set()
    for key in shape.foreign_keys:
        referred = _referred_values(connection, key, has_row)
        for local, remote in zip(key["constrained_columns"], key["referred_columns"], strict=True):
            column = columns[local]
            if referred is not None:
                values[local] = referred[remote]
            elif column.get("nullable", True):
                values[local] = None
            elif key["referred_table"] == name and remote not in key["constrained_columns"]:
                values[local] = (remote,)  # the row refers to itself: filled in below
            elif column.get("default") is None:
                return f"its parent table {key['referred_table']} has no row"
            from_keys.add(local)
    for column in shape.columns:
        if column["name"] in from_keys or _filled_by_database(column, shape, connection):
            continue
        value = _value_for(column["type"])
        if value is _NO_VALUE:
            if not column.get("nullable", True):
                return f"no value can be generated for column {column['name']} ({column['type']!r})"
            value = None
        values[column["name"]] = value
    for local, value in list(values.items()):
        if isinstance(value, tuple):  # a self-reference: the value of the referred column
            values[local] = values.get(value[0])
    plain = {
        local: None if columns[local].get("nullable", True) and local not in from_keys else value
        for local, value in values.items()
    }
    table = table_clause(name, *[column_clause(c["name"], c["type"]) for c in shape.columns])
    error = None
    for attempt in (values, plain) if plain != values else (values,):
        try:
            connection.execute(table.insert().values(attempt))
            connection.commit()
            return None
        except (StatementError, TypeError, ValueError) as exc:  # refused, or not bindable
            connection.rollback()
            error = exc
    return "the database refused a generated row" + _message(error)


def _message(error: BaseException | None) -> str:
    """`` (the driver's first line)``: PyMySQL's (code, text) pairs shown as the text."""
    cause = getattr(error, "orig", None) or error
    if cause is None:
        return ""
    texts = [arg for arg in getattr(cause, "args", ()) if isinstance(arg, str)]
    lines = (texts[-1] if texts else str(cause)).strip().splitlines()
    return f": {lines[0]}" if lines else ""


def _referred_values(
    connection: Connection, key: dict[str, Any], has_row: set[str]
) -> dict[str, Any] | None:
    """The referred columns' values in one row of the referred table, or None."""
    from sqlalchemy import column, select
    from sqlalchemy import table as table_clause

    parent = key["referred_table"]
    if parent not in has_row or key.get("referred_schema"):
        return None
    parent_table = table_clause(parent, *[column(name) for name in key["referred_columns"]])
    row = connection.execute(select(parent_table).limit(1)).first()
    return None if row is None else dict(zip(key["referred_columns"], row, strict=True))


def _filled_by_database(column: dict[str, Any], shape: TableShape, connection: Connection) -> bool:
    if column.get("default") is not None or column.get("computed") is not None:
        return True
    if column.get("identity") is not None or column.get("autoincrement") is True:
        return True
    # SQLite: a lone INTEGER PRIMARY KEY is the rowid, which SQLite numbers itself.
    return (
        connection.dialect.name == "sqlite"
        and shape.primary_key == [column["name"]]
        and str(column["type"]).upper() == "INTEGER"
    )


def _value_for(type_: Any) -> Any:
    """A value the column's type accepts (one row per table: uniqueness is not a concern)."""
    from sqlalchemy import types

    name = type(type_).__name__.upper()
    enums = getattr(type_, "enums", None)
    if enums:
        return enums[0]
    if "UUID" in name:
        try:
            as_uuid = type_.python_type is uuid.UUID
        except NotImplementedError:
            as_uuid = False
        return uuid.uuid4() if as_uuid else str(uuid.uuid4())
    if name in ("INET", "CIDR"):
        return "127.0.0.1"
    if name in ("MACADDR", "MACADDR8"):
        return "08:00:2b:01:02:03"
    kinds: list[tuple[type, Any]] = [
        (types.Boolean, True),
        (types.Integer, 1),
        (types.Float, 1.0),
        (types.Numeric, decimal.Decimal(1)),
        (types.DateTime, datetime.datetime(2000, 1, 1)),
        (types.Date, datetime.date(2000, 1, 1)),
        (types.Time, datetime.time(0, 0)),
        (types.Interval, datetime.timedelta(0)),
        (types.JSON, {}),
        (types.ARRAY, []),
        (types._Binary, b"x"),
        (types.String, "x"),
    ]
    for kind, value in kinds:
        if isinstance(type_, kind):
            return value
    try:
        python_type = type_.python_type
    except NotImplementedError:
        return _NO_VALUE
    by_python: dict[type, Any] = {
        int: 1,
        str: "x",
        bool: True,
        float: 1.0,
        bytes: b"x",
        decimal.Decimal: decimal.Decimal(1),
    }
    return by_python.get(python_type, _NO_VALUE)


def delete_rows(connections: dict[str, Connection], tables: Iterable[str]) -> None:
    """Delete every row of ``tables`` (named as in a snapshot; ``connections``: the suffix of
    a database's names -> a connection to it), children before parents (found by trying)."""
    from sqlalchemy import delete, table
    from sqlalchemy.exc import DBAPIError

    for suffix, names in _by_database(connections, tables).items():
        connection = connections[suffix]
        remaining = sorted(names)
        while remaining:
            left = []
            for name in remaining:
                try:
                    connection.execute(delete(table(name)))
                    connection.commit()
                except DBAPIError:
                    connection.rollback()
                    left.append(name)
            if len(left) == len(remaining):
                break  # what is left stays: the downgrades may still pass
            remaining = left


def renames_in(path: str | Path | None) -> dict[str, str]:
    """``old -> new`` for each ``op.rename_table("old", "new")`` in the revision's file."""
    if not path:
        return {}
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "rename_table":
            continue
        arguments = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
        for keyword in node.keywords:
            if keyword.arg in ("old_table_name", "new_table_name") and isinstance(
                keyword.value, ast.Constant
            ):
                arguments.append(keyword.value.value)
        old, new = (arguments + [None, None])[:2]
        if isinstance(old, str) and isinstance(new, str):
            found[old] = new
    return found


def rows_lost(
    before: Snapshot,
    after: Snapshot,
    had_rows: Iterable[str],
    counts: dict[str, int],
    renames: dict[str, str],
) -> list[str]:
    """The tables whose rows the step lost, each said in a sentence."""
    new_tables = after.tables - before.tables
    lost = []
    for name in sorted(had_rows):
        if name in after.tables:
            if not counts.get(name):
                lost.append(f"table {name} had rows and has none now")
            continue
        successor = renames.get(name)
        if successor not in new_tables:
            columns = before.columns(name)
            successor = next(
                (new for new in sorted(new_tables) if columns and columns <= after.columns(new)),
                None,
            )
        if successor is not None and not counts.get(successor):
            if renames.get(name) == successor:
                lost.append(f"table {name} lost its rows: renamed to {successor}, it is empty")
            else:
                lost.append(
                    f"table {name} lost its rows: it is gone and the new table {successor}, "
                    "with its columns, is empty (a rename written as drop and add; "
                    "op.rename_table keeps the rows)"
                )
    return lost


def _by_database(suffixes: Collection[str], tables: Iterable[str]) -> dict[str, list[str]]:
    """Each database's tables (by the suffix its names carry), under their own names."""
    local: dict[str, list[str]] = {suffix: [] for suffix in suffixes}
    for table in tables:
        suffix = next((s for s in suffixes if s and table.endswith(s)), "")
        local[suffix].append(table[: len(table) - len(suffix)])
    return local


def rows_in_databases(
    connections: dict[str, Connection],
    tables: Iterable[str],
    refused: dict[str, str] | None = None,
    known: dict[str, int] | None = None,
    shapes: Mapping[str, TableShape] | None = None,
) -> dict[str, int]:
    """Rows in each of ``tables`` (named as in a snapshot; ``connections``: the suffix of a
    database's names -> a connection to it; ``known``: the counts of this state, if read
    already; ``shapes``: the tables as a snapshot of it reflected them); with ``refused``, the
    empty ones are filled first and those that cannot be are noted there."""
    counts: dict[str, int] = {}
    for suffix, names in _by_database(connections, tables).items():
        if not names:
            continue
        connection = connections[suffix]
        if known is not None and all(name + suffix in known for name in names):
            found = {name: known[name + suffix] for name in names}
        else:
            found = row_counts(connection, names)
        if refused is not None:
            given = shapes or {}
            local = {name: given[name + suffix] for name in names if name + suffix in given}
            now_refused = fill_empty_tables(connection, found, local)
            filled = [
                name for name, count in found.items() if not count and name not in now_refused
            ]
            for name in filled:
                refused.pop(name + suffix, None)
            refused.update({name + suffix: why for name, why in now_refused.items()})
            found.update(row_counts(connection, filled))
        counts.update({name + suffix: count for name, count in found.items()})
    return counts
