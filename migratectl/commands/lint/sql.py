"""The operations in a string of raw SQL, parsed with sqlglot in the database's dialect.

A string may hold several statements. Each is parsed on its own, so one that sqlglot cannot
parse costs only itself: it is reported as unread, never a crash. Statements sqlglot keeps as
an opaque command (``ALTER TYPE … ADD VALUE``, ``REINDEX … CONCURRENTLY``) are read from their
tokens. A part of the string the revision computes (an f-string's ``{name}``) arrives as a
placeholder name and comes out as an unknown (None) table or column.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from migratectl.commands.lint.operations import COMPUTED, ColumnSpec, Operation
from migratectl.commands.lint.types import sql_type_expression

# migratectl's dialect names -> sqlglot's
SQLGLOT_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


def read_sql(
    text: str,
    dialect: str | None,
    *,
    database: str,
    line: int,
    spans: tuple[tuple[int, int], ...],
    autocommit: bool,
) -> tuple[list[Operation], list[str]]:
    """The operations of ``text``, and why a statement of it could not be read (clauses)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    read = SQLGLOT_DIALECTS.get(dialect or "")
    dialect_object = sqlglot.Dialect.get_or_raise(read)
    try:
        tokens = dialect_object.tokenize(text)
    except SqlglotError:
        return [], ["sqlglot cannot split its SQL into statements"]
    base: dict[str, Any] = {
        "operation": "execute",
        "line": line,
        "spans": spans,
        "database": database,
        "autocommit": autocommit,
    }
    found: list[Operation] = []
    unread: list[str] = []
    for statement, words in _statements(text, tokens, dialect_object):
        try:
            with _quiet_sqlglot():
                parsed = sqlglot.parse_one(statement, read=read)
        except SqlglotError:
            parsed = None
        # op.execute("COMMIT") ends Alembic's transaction until an op.execute("BEGIN")
        if isinstance(parsed, (sqlglot.exp.Commit, sqlglot.exp.Transaction)):
            committed = isinstance(parsed, sqlglot.exp.Commit)
            base["autocommit"] = committed or autocommit
            found.append(Operation(kind="commit" if committed else "begin", **base))
            continue
        if parsed is None or isinstance(parsed, sqlglot.exp.Command):
            operations = list(_from_words(words, base))
            if not operations and parsed is None:
                unread.append(f"sqlglot cannot parse the statement {' '.join(words[:3])} …")
            elif words[0] == "DO":
                unread.append("lint does not read the statements inside a DO block")
            found.extend(operations)
        else:
            found.extend(_from_tree(parsed, base))
    return found, unread


def _statements(text: str, tokens: list[Any], dialect: Any) -> Iterator[tuple[str, list[str]]]:
    """Each statement's text and its words (upper-case keywords, names as written)."""
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    current: list[Any] = []
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            if current:
                statement = text[current[0].start : current[-1].end + 1]
                words: list[str] = []
                previous = None
                for t in current:
                    if t.token_type == TokenType.STRING and previous == TokenType.COMMAND:
                        # the tokenizer keeps the rest of a command (REINDEX …) as one string
                        try:
                            rest = dialect.tokenize(t.text)
                        except SqlglotError:
                            rest = []
                        words.extend(r.text.upper() for r in rest)
                    elif t.token_type == TokenType.STRING:
                        words.append(t.text)
                    else:
                        words.append(t.text.upper())
                    previous = t.token_type
                yield statement, words
            current = []
        else:
            current.append(token)


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for each statement it keeps as a command: lint says it itself."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _from_words(words: list[str], base: dict[str, Any]) -> Iterator[Operation]:
    if words[:2] == ["ALTER", "TYPE"] and "ADD" in words and "VALUE" in words:
        yield Operation(kind="add_enum_value", detail="ALTER TYPE … ADD VALUE", **base)
    elif "CONCURRENTLY" in words:
        yield Operation(kind="concurrently", detail=" ".join(words[:2]), concurrently=True, **base)


def _from_tree(tree: Any, base: dict[str, Any]) -> Iterator[Operation]:
    from sqlglot import exp

    if isinstance(tree, exp.Drop):
        kind = (tree.args.get("kind") or "").upper()
        for table in tree.args.get("tables") or []:
            if kind == "TABLE":
                yield Operation(kind="drop_table", table=_table(table), **base)
            elif kind == "INDEX":
                yield Operation(
                    kind="drop_index",
                    index=_name(table),
                    concurrently=bool(tree.args.get("concurrently")),
                    **base,
                )
    elif isinstance(tree, exp.TruncateTable):
        for table in tree.expressions:
            yield Operation(kind="delete_rows", table=_table(table), detail="TRUNCATE", **base)
    elif isinstance(tree, (exp.Delete, exp.Update)) and not tree.args.get("where"):
        statement = "DELETE" if isinstance(tree, exp.Delete) else "UPDATE"
        yield Operation(
            kind="delete_rows",
            table=_table(tree.this),
            detail=f"{statement} without WHERE",
            **base,
        )
    elif isinstance(tree, exp.Create):
        yield from _create(tree, base)
    elif isinstance(tree, exp.Alter) and (tree.args.get("kind") or "").upper() == "TABLE":
        table = _table(tree.this)
        for action in tree.args.get("actions") or []:
            yield from _alter_action(action, table, bool(tree.args.get("not_valid")), base)


def _create(tree: Any, base: dict[str, Any]) -> Iterator[Operation]:
    from sqlglot import exp

    kind = (tree.args.get("kind") or "").upper()
    target = tree.this
    if kind == "TABLE" and isinstance(target, exp.Schema):
        columns = tuple(_column(c) for c in target.expressions if isinstance(c, exp.ColumnDef))
        yield Operation(kind="create_table", table=_table(target.this), columns=columns, **base)
    elif kind == "INDEX" and isinstance(target, exp.Index):
        params = target.args.get("params")
        names = [
            o.this.name
            for o in (params.args.get("columns") or [] if params else [])
            if isinstance(o, exp.Ordered) and isinstance(o.this, exp.Column)
        ]
        yield Operation(
            kind="create_index",
            table=_table(target.args.get("table")),
            index=_name(target.this),
            unique=bool(tree.args.get("unique")),
            concurrently=bool(tree.args.get("concurrently")),
            index_columns=tuple(names),
            **base,
        )


def _alter_action(
    action: Any, table: str | None, not_valid: bool, base: dict[str, Any]
) -> Iterator[Operation]:
    from sqlglot import exp

    if isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "COLUMN":
        for column in action.args.get("tables") or []:
            yield Operation(kind="drop_column", table=table, column=_name(column), **base)
    elif isinstance(action, exp.AlterRename):
        yield Operation(kind="rename_table", table=table, new_name=_table(action.this), **base)
    elif isinstance(action, exp.RenameColumn):
        yield Operation(
            kind="alter_column",
            table=table,
            column=_name(action.this),
            new_name=_name(action.args.get("to")) or COMPUTED,
            **base,
        )
    elif isinstance(action, exp.ColumnDef):
        spec = _column(action)
        yield Operation(kind="add_column", table=table, column=spec.name, columns=(spec,), **base)
    elif isinstance(action, exp.ModifyColumn) and isinstance(action.this, exp.ColumnDef):
        spec = _column(action.this)
        yield Operation(
            kind="alter_column",
            table=table,
            column=spec.name,
            type=spec.type,
            nullable=spec.nullable,
            **base,
        )
    elif isinstance(action, exp.AlterColumn):
        dtype = action.args.get("dtype")
        allow_null = action.args.get("allow_null")
        yield Operation(
            kind="alter_column",
            table=table,
            column=_name(action.this),
            type=_type(dtype) if dtype is not None else None,
            nullable=None if allow_null is None else bool(allow_null),
            **base,
        )
    elif isinstance(action, exp.AddConstraint):
        for constraint in action.expressions:
            kinds = (
                constraint.expressions if isinstance(constraint, exp.Constraint) else [constraint]
            )
            for kind in kinds:
                operation = _constraint_kind(kind)
                if operation is not None:
                    condition = kind.this.sql() if operation == "create_check_constraint" else ""
                    yield Operation(
                        kind=operation, table=table, not_valid=not_valid, detail=condition, **base
                    )


def _constraint_kind(node: Any) -> str | None:
    from sqlglot import exp

    if isinstance(node, exp.UniqueColumnConstraint):
        return "create_unique_constraint"
    if isinstance(node, (exp.ForeignKey, exp.Reference)):
        return "create_foreign_key"
    if isinstance(node, exp.CheckColumnConstraint):
        return "create_check_constraint"
    if isinstance(node, (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint)):
        return "create_primary_key"
    return None


def _column(node: Any) -> ColumnSpec:
    from sqlglot import exp

    nullable: bool | None = True
    default: str | None = None
    unique = primary_key = foreign_key = False
    for constraint in node.args.get("constraints") or []:
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.NotNullColumnConstraint):
            nullable = bool(kind.args.get("allow_null"))
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            primary_key, nullable = True, False
        elif isinstance(kind, exp.UniqueColumnConstraint):
            unique = True
        elif isinstance(kind, exp.DefaultColumnConstraint):
            # as PostgreSQL spells it (the volatile-default rule reads function names)
            default = kind.this.sql(dialect="postgres") if kind.this is not None else None
        elif isinstance(kind, exp.Reference):
            foreign_key = True
        elif isinstance(
            kind, (exp.GeneratedAsIdentityColumnConstraint, exp.ComputedColumnConstraint)
        ):
            default = default or "(generated)"
    dtype = node.args.get("kind")
    return ColumnSpec(
        name=_name(node.this),
        type=_type(dtype) if dtype is not None else None,
        nullable=nullable,
        server_default=default,
        unique=unique,
        primary_key=primary_key,
        foreign_key=foreign_key,
    )


def _type(dtype: Any) -> Any:
    from sqlglot import exp

    if not isinstance(dtype, exp.DataType):
        return None
    name = dtype.this.name if hasattr(dtype.this, "name") else str(dtype.this)
    arguments = [e.sql() for e in dtype.expressions]
    return sql_type_expression(name, arguments)


def _name(node: Any) -> str | None:
    if node is None:
        return None
    name = str(node.name)
    return None if not name or COMPUTED in name else name


def _table(node: Any) -> str | None:
    from sqlglot import exp

    if not isinstance(node, exp.Table):
        return _name(node)
    name = _name(node)
    if name is None:
        return None
    schema = node.args.get("db")
    return f"{_name(schema)}.{name}" if schema is not None and _name(schema) else name
