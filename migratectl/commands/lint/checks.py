"""Which rules one operation breaks, judged against the schema the replay knows before it.

:func:`judge` returns every rule the operation breaks, for any dialect; the engine keeps the
dialect rules only when the database's dialect is theirs. Where the replay does not know a
column's earlier state (a table from before the history, SQL lint could not read), the
rules about it flag the operation and the message says that the state is not known: lint
errs on the side of a finding that an allow-marker or ``existing_nullable=`` / ``existing_type=``
can answer, never on a silent miss.

Judgements worth knowing:

- A table the revision itself creates holds no rows: nothing added to it (a required column,
  an index, a constraint, a type change) is flagged; dropping or renaming it still is.
- MC402 flags ``nullable=False`` even with a ``server_default=``: a default fills new rows,
  not the NULLs already there. A ``CHECK (column IS NOT NULL)`` constraint added before (the
  PostgreSQL recipe) makes it safe, so it is not flagged then.
- MC403 leaves out a unique index built ``CONCURRENTLY``: it is the safe first step of the
  recipe (the constraint then comes ``USING INDEX``).
- MC502 leaves out an index of a table the revision created.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from migratectl.commands.lint.operations import COMPUTED, ColumnSpec, Operation
from migratectl.commands.lint.replay import Schema
from migratectl.commands.lint.types import (
    narrowing,
    rewrites_postgresql_table,
    same_type,
    type_text,
)

# PostgreSQL functions whose value differs per row: a default calling one rewrites the table.
VOLATILE_FUNCTIONS = frozenset(
    {
        "random",
        "gen_random_uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "uuidv4",
        "uuidv7",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "txid_current",
        "gen_random_bytes",
    }
)


@dataclass(frozen=True)
class Breach:
    rule: str
    message: str  # one sentence
    table: str | None
    column: str | None


def judge(operation: Operation, schema: Schema) -> list[Breach]:
    return list(_judge(operation, schema))


def _judge(op: Operation, schema: Schema) -> Iterator[Breach]:
    table, column = op.table, op.column
    shown = f"table {table}" if table else "a table whose name the revision computes"
    existing = table is None or not schema.is_new(table)
    kind = op.kind
    if kind == "drop_table":
        yield Breach("MC101", f"Drops {shown} and every row in it.", table, None)
    elif kind == "drop_column":
        yield Breach("MC102", f"Drops column {_target(op)} and its values.", table, column)
    elif kind == "delete_rows":
        verb = "overwrites" if op.detail.startswith("UPDATE") else "deletes"
        yield Breach("MC103", f"{op.detail} on {shown} {verb} every row of it.", table, None)
    elif kind == "rename_table":
        new = _shown_name(op.new_name)
        yield Breach(
            "MC201",
            f"Renames {shown} to {new} while clients still running use the old name.",
            table,
            None,
        )
    elif kind == "add_column" and existing:
        yield from _add_column(op, op.columns[0] if op.columns else None)
    elif kind == "alter_column":
        yield from _alter_column(op, schema, existing)
    elif kind == "create_index":
        yield from _create_index(op, existing)
    elif kind == "drop_index":
        owner = table or schema.index_table(op.index)
        if owner is None or not schema.is_new(owner):
            on = f" on {owner}" if owner else ""
            if not op.concurrently:
                yield Breach(
                    "MC502",
                    f"Drops index {_shown_name(op.index)}{on} without CONCURRENTLY, under an "
                    "ACCESS EXCLUSIVE lock on the table.",
                    owner,
                    None,
                )
        if op.concurrently and not op.autocommit:
            yield _in_transaction("DROP INDEX CONCURRENTLY", owner)
    elif kind == "create_unique_constraint" and existing:
        yield _unique(table)
    elif kind == "create_foreign_key" and existing and not op.not_valid:
        yield Breach(
            "MC404",
            f"Adds a foreign key to existing {shown} that PostgreSQL validates at once, "
            "checking every row while writes to both tables wait.",
            table,
            None,
        )
    elif kind == "create_check_constraint" and existing and not op.not_valid:
        yield Breach(
            "MC405",
            f"Adds a check constraint to existing {shown} that PostgreSQL validates at "
            "once, checking every row under an ACCESS EXCLUSIVE lock.",
            table,
            None,
        )
    elif (
        kind == "create_primary_key"
        and existing
        or (kind == "drop_constraint" and op.constraint_type == "primary" and existing)
    ):
        yield Breach(
            "MC303",
            f"Changes the primary key of {shown}, which MySQL/MariaDB does by copying the "
            "table while writes wait.",
            table,
            None,
        )
    elif kind == "concurrently" and not op.autocommit:
        yield _in_transaction(op.detail + " … CONCURRENTLY", None)
    elif kind == "add_enum_value" and not op.autocommit:
        yield Breach(
            "MC504",
            "ALTER TYPE … ADD VALUE runs inside the revision's transaction, where the new value "
            "cannot be used (and before PostgreSQL 12 the statement fails).",
            None,
            None,
        )


def _add_column(op: Operation, spec: ColumnSpec | None) -> Iterator[Breach]:
    table, target = op.table, _target(op)
    if spec is None:
        return
    if spec.nullable is False and spec.server_default is None:
        yield Breach(
            "MC401",
            f"Adds NOT NULL column {target} without a server_default to an existing table, "
            "which fails on a table that has rows.",
            table,
            op.column,
        )
    if spec.unique:
        yield _unique(table, op.column)
    if spec.foreign_key:
        yield Breach(
            "MC404",
            f"Adds column {target} with a foreign key that PostgreSQL validates at once, "
            "checking every row while writes to both tables wait.",
            table,
            op.column,
        )
    volatile = _volatile_call(spec.server_default)
    if volatile:
        yield Breach(
            "MC406",
            f"Adds column {target} with the volatile default {volatile}(), which makes "
            "PostgreSQL rewrite the table under an ACCESS EXCLUSIVE lock.",
            table,
            op.column,
        )


def _alter_column(op: Operation, schema: Schema, existing: bool) -> Iterator[Breach]:
    table, column, target = op.table, op.column, _target(op)
    known = schema.column(table, column)
    if op.new_name is not None and op.new_name != column:
        yield Breach(
            "MC202",
            f"Renames column {target} to {_shown_name(op.new_name)} while clients still "
            "running use the old name.",
            table,
            column,
        )
    if not existing:
        return
    if op.type is not None:
        old = op.existing_type
        if old is None and known is not None:
            old = known.type
        yield from _type_change(op, old, op.type)
    if op.nullable is False and not schema.checked_not_null(table, column):
        before = op.existing_nullable
        if before is None and known is not None:
            before = known.nullable
        if before is not False:
            unknown = (
                ""
                if before is True
                else " (lint does not know whether it was nullable: pass existing_nullable=)"
            )
            yield Breach(
                "MC402",
                f"Sets {target} NOT NULL, which fails on any NULL in it and scans the table "
                f"under a lock{unknown}.",
                table,
                column,
            )


def _type_change(op: Operation, old: ast.expr | None, new: ast.expr) -> Iterator[Breach]:
    table, column, target = op.table, op.column, _target(op)
    new_text = type_text(new)
    if old is None:
        unknown = (
            f"Changes {target} to {new_text} without existing_type= and no earlier revision "
            "gives the old type"
        )
        yield Breach("MC301", f"{unknown}, so nothing shows that every value fits.", table, column)
        yield Breach(
            "MC302", f"{unknown}; PostgreSQL may rewrite the table under a lock.", table, column
        )
        yield Breach(
            "MC303", f"{unknown}; MySQL/MariaDB copies the table to change it.", table, column
        )
        return
    if same_type(old, new):
        return
    old_text = type_text(old)
    reason = narrowing(old, new)
    if reason is not None:
        yield Breach("MC301", f"Column {target} {reason}.", table, column)
    if rewrites_postgresql_table(old, new):
        yield Breach(
            "MC302",
            f"Changing {target} from {old_text} to {new_text} rewrites the table and its "
            "indexes under an ACCESS EXCLUSIVE lock.",
            table,
            column,
        )
    yield Breach(
        "MC303",
        f"Changing {target} from {old_text} to {new_text} makes MySQL/MariaDB copy the table "
        "while writes wait.",
        table,
        column,
    )


def _create_index(op: Operation, existing: bool) -> Iterator[Breach]:
    table, name = op.table, _shown_name(op.index)
    if existing and op.unique and not op.concurrently:
        yield _unique(table)
    if existing and not op.concurrently:
        yield Breach(
            "MC501",
            f"Builds index {name} on existing table {table or '?'} without CONCURRENTLY, "
            "blocking every write to the table until it is built.",
            table,
            None,
        )
    if op.concurrently and not op.autocommit:
        yield _in_transaction("CREATE INDEX CONCURRENTLY", table)


def _unique(table: str | None, column: str | None = None) -> Breach:
    return Breach(
        "MC403",
        f"Adds a unique constraint to existing table {table or '?'}, which fails on duplicate "
        "rows and builds its index while writes wait.",
        table,
        column,
    )


def _in_transaction(statement: str, table: str | None) -> Breach:
    return Breach(
        "MC503",
        f"{statement} runs inside the revision's transaction, which PostgreSQL refuses, so "
        "the revision fails when it runs.",
        table,
        None,
    )


def _target(op: Operation) -> str:
    """``table.column`` as messages name it; a name the revision computes (a loop over a
    query's rows, a variable) is said to be computed rather than shown as ``?``."""
    if op.table is None and op.column is None:
        return "a column whose table and name the revision computes"
    table = op.table if op.table is not None else "(a computed table)"
    column = op.column if op.column is not None else "(a computed column)"
    return f"{table}.{column}"


def _shown_name(name: str | None) -> str:
    return "a computed name" if name is None or name == COMPUTED else name


def _volatile_call(default: str | None) -> str | None:
    """The first volatile function a ``server_default``'s SQL calls, read with sqlglot."""
    if not default or default == "?":
        return None
    import sqlglot
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    try:
        tokens = sqlglot.Dialect.get_or_raise("postgres").tokenize(default)
    except SqlglotError:
        return None
    for token, following in zip(tokens, tokens[1:], strict=False):
        if following.token_type == TokenType.L_PAREN and token.token_type != TokenType.STRING:
            name = token.text.lower()
            if name in VOLATILE_FUNCTIONS:
                return name
    return None
