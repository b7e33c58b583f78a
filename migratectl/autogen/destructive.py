"""Which operations of a revision script lose data or lock tables, read from its source.

The analysis works on the file's syntax tree (``ast``), never on a database and never by
running the script, so ``migratectl lint`` can check a repository in CI and ``migrate`` can
warn about the file it has just written. It reads the ``upgrade()`` function (and the
``upgrade_<name>()`` functions of a multi-database repository) and reports:

``drop_table``
    ``op.drop_table``: the table and its rows are gone.
``drop_column``
    ``op.drop_column`` / ``batch_op.drop_column``: the column's values are gone.
``narrow_type``
    ``alter_column(..., type_=NEW, existing_type=OLD)`` where NEW cannot hold every value of
    OLD: a shorter string, a smaller integer, fewer digits, a date from a timestamp, fewer enum
    values, a string becoming a number... Widening is fine. A type change whose old type is
    not given (no ``existing_type``), or whose types this module does not know, is reported
    too: nothing proves that it keeps every value.
``not_null``
    ``alter_column(..., nullable=False)`` without ``server_default``, or ``add_column`` of a
    ``nullable=False`` column without ``server_default`` to a table the same ``upgrade()``
    did not create: it fails on a table that has rows (with NULLs).
``rename``
    ``op.rename_table`` or ``alter_column(..., new_column_name=...)``: the code still running
    against the database uses the old name.

A ``# migratectl: allow <operation>[, <operation>...]`` comment acknowledges the operations
it names: at the end of any line of the call, or on the comment lines directly above it.
Inside ``with op.batch_alter_table("t") as batch_op:`` the table is the one the ``with``
names. Operations in functions that ``upgrade()`` calls are not followed.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DROP_TABLE = "drop_table"
DROP_COLUMN = "drop_column"
NARROW_TYPE = "narrow_type"
NOT_NULL = "not_null"
RENAME = "rename"
OPERATIONS = (DROP_TABLE, DROP_COLUMN, NARROW_TYPE, NOT_NULL, RENAME)
# The operations after which values are gone for good (``migrate`` warns about these).
DATA_LOSS = frozenset({DROP_TABLE, DROP_COLUMN, NARROW_TYPE})

_ALLOW = re.compile(r"#\s*migratectl:\s*allow\b(?P<names>[^#]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Operation:
    """One risky operation in a revision script."""

    line: int  # 1-based line where the call starts
    operation: str  # one of OPERATIONS
    table: str | None
    column: str | None
    acknowledged: bool
    detail: str  # what it does, for messages: "drops the column and its values"

    @property
    def target(self) -> str:
        """``table.column``, ``table``, or ``?`` when the script computes the name."""
        table = self.table or "?"
        return f"{table}.{self.column}" if self.column else table


def analyze_source(source: str | bytes, filename: str = "<revision>") -> list[Operation]:
    """The risky operations of a revision script's ``upgrade()``, in source order.

    Raises SyntaxError (with filename and line) when the source does not parse.
    """
    tree = ast.parse(source, filename=filename)
    allowed = _allow_comments(source)
    aliases = _op_aliases(tree)
    found: list[Operation] = []
    for function in _upgrade_functions(tree):
        visitor = _UpgradeVisitor(aliases, allowed)
        for statement in function.body:
            visitor.visit(statement)
        found.extend(visitor.found)
    return found


def data_loss_warnings(path: str | os.PathLike[str]) -> list[str]:
    """One warning per operation of the revision at ``path`` that drops data for good, named
    by the lint rule that flags it (``MC102 drop-column users.age …``), as lint names it."""
    from migratectl.lint_rules import find_rules

    try:
        shown = os.path.relpath(path)
    except ValueError:
        shown = str(path)
    warnings = []
    for found in analyze_source(Path(path).read_bytes(), shown):
        if found.operation in DATA_LOSS and not found.acknowledged:
            rule = find_rules(found.operation)[0]
            warnings.append(
                f"{shown}:{found.line}: {rule.id} {rule.name} {found.target} {found.detail}; "
                "review it before you upgrade."
            )
    return warnings


# --------------------------------------------------------------------------- comments


@dataclass
class _AllowComments:
    by_line: dict[int, set[str]]
    comment_only: set[int]

    def names_for(self, first: int, last: int) -> set[str]:
        names: set[str] = set()
        for line in range(first, last + 1):
            names |= self.by_line.get(line, set())
        above = first - 1
        while above in self.comment_only:
            names |= self.by_line.get(above, set())
            above -= 1
        return names


def _allow_comments(source: str | bytes) -> _AllowComments:
    """``# migratectl: allow ...`` comments by line, and the lines holding only a comment."""
    data = source.encode() if isinstance(source, str) else source
    by_line: dict[int, set[str]] = {}
    code_lines: set[int] = set()
    comment_lines: set[int] = set()
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    for token in tokenize.tokenize(io.BytesIO(data).readline):
        if token.type == tokenize.COMMENT:
            line = token.start[0]
            comment_lines.add(line)
            match = _ALLOW.search(token.string)
            if match:
                names = re.split(r"[\s,]+", match.group("names").strip())
                by_line.setdefault(line, set()).update(
                    n.lower().replace("-", "_") for n in names if n
                )
        elif token.type not in skip and token.type != tokenize.ENDMARKER:
            code_lines.update(range(token.start[0], token.end[0] + 1))
    return _AllowComments(by_line, comment_only=comment_lines - code_lines)


# --------------------------------------------------------------------------- the syntax tree


def _op_aliases(tree: ast.Module) -> set[str]:
    """Names ``alembic.op`` is bound to: ``op``, or ``X`` in ``from alembic import op as X``."""
    aliases = {"op"}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "alembic":
            aliases.update(a.asname or a.name for a in node.names if a.name == "op")
    return aliases


def _upgrade_functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
            node.name == "upgrade" or node.name.startswith("upgrade_")
        ):
            yield node


class _UpgradeVisitor(ast.NodeVisitor):
    """Walks an ``upgrade()`` body in source order, knowing which batch table is open."""

    def __init__(self, op_names: set[str], allowed: _AllowComments) -> None:
        self.op_names = op_names
        self.allowed = allowed
        self.batches: dict[str, str | None] = {}  # batch_op name -> its table
        self.created: set[str | None] = set()  # tables this upgrade() creates
        self.found: list[Operation] = []

    def visit_With(self, node: ast.With) -> None:
        opened: dict[str, str | None] = {}
        for item in node.items:
            call = item.context_expr
            if (
                isinstance(call, ast.Call)
                and self._is_op(call.func, "batch_alter_table")
                and isinstance(item.optional_vars, ast.Name)
            ):
                opened[item.optional_vars.id] = _qualified(
                    _argument(call, 0, "table_name"), _keyword(call, "schema")
                )
            self.visit(call)
        saved = dict(self.batches)
        self.batches.update(opened)
        for statement in node.body:
            self.visit(statement)
        self.batches = saved

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)  # nested calls first: they run first
        func = node.func
        if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name):
            return
        receiver, method = func.value.id, func.attr
        if receiver in self.op_names:
            self._op_call(node, method)
        elif receiver in self.batches:
            self._batch_call(node, method, self.batches[receiver])

    def _is_op(self, func: ast.expr, method: str) -> bool:
        return (
            isinstance(func, ast.Attribute)
            and func.attr == method
            and isinstance(func.value, ast.Name)
            and func.value.id in self.op_names
        )

    def _op_call(self, node: ast.Call, method: str) -> None:
        schema = _keyword(node, "schema")
        if method == "create_table":
            self.created.add(_qualified(_argument(node, 0, "table_name"), schema))
        elif method == "drop_table":
            table = _qualified(_argument(node, 0, "table_name"), schema)
            self._add(node, DROP_TABLE, table, None, "drops the table and its rows")
        elif method == "rename_table":
            old = _qualified(_argument(node, 0, "old_table_name"), schema)
            new = _argument(node, 1, "new_table_name")
            self._add(node, RENAME, old, None, f"renames it to {new or '?'}")
        elif method == "drop_column":
            table = _qualified(_argument(node, 0, "table_name"), schema)
            column = _argument(node, 1, "column_name")
            self._add(node, DROP_COLUMN, table, column, "drops the column and its values")
        elif method == "add_column":
            table = _qualified(_argument(node, 0, "table_name"), schema)
            self._add_column(node, table, _argument_node(node, 1, "column"))
        elif method == "alter_column":
            table = _qualified(_argument(node, 0, "table_name"), schema)
            self._alter_column(node, table, _argument(node, 1, "column_name"))

    def _batch_call(self, node: ast.Call, method: str, table: str | None) -> None:
        if method == "drop_column":
            column = _argument(node, 0, "column_name")
            self._add(node, DROP_COLUMN, table, column, "drops the column and its values")
        elif method == "add_column":
            self._add_column(node, table, _argument_node(node, 0, "column"))
        elif method == "alter_column":
            self._alter_column(node, table, _argument(node, 0, "column_name"))

    def _add_column(self, node: ast.Call, table: str | None, column: ast.expr | None) -> None:
        if table in self.created or not isinstance(column, ast.Call):
            return
        if _keyword(column, "nullable") is not False or _has_value(column, "server_default"):
            return
        name = _argument(column, 0, "name")
        self._add(node, NOT_NULL, table, name, "adds a NOT NULL column without a server default")

    def _alter_column(self, node: ast.Call, table: str | None, column: str | None) -> None:
        new_type = _keyword_node(node, "type_")
        if new_type is not None:
            narrowing = narrowing_change(_keyword_node(node, "existing_type"), new_type)
            if narrowing is not None:
                self._add(node, NARROW_TYPE, table, column, narrowing)
        if (
            _keyword(node, "nullable") is False
            and _keyword(node, "existing_nullable") is not False
            and not _has_value(node, "server_default")
        ):
            self._add(node, NOT_NULL, table, column, "sets NOT NULL without a server default")
        new_name = _name_text(_keyword(node, "new_column_name"))
        if _keyword_node(node, "new_column_name") is not None:
            self._add(node, RENAME, table, column, f"renames it to {new_name or '?'}")

    def _add(
        self, node: ast.Call, operation: str, table: str | None, column: str | None, detail: str
    ) -> None:
        allowed = self.allowed.names_for(node.lineno, node.end_lineno or node.lineno)
        self.found.append(
            Operation(node.lineno, operation, table, column, operation in allowed, detail)
        )


def _argument_node(call: ast.Call, position: int, name: str) -> ast.expr | None:
    keyword = _keyword_node(call, name)
    if keyword is not None:
        return keyword
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    return positional[position] if position < len(positional) else None


def _argument(call: ast.Call, position: int, name: str) -> str | None:
    """A string argument's value (None when missing or computed)."""
    value = _literal(_argument_node(call, position, name))
    return _name_text(value)


def _keyword_node(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _keyword(call: ast.Call, name: str) -> Any:
    return _literal(_keyword_node(call, name))


def _has_value(call: ast.Call, name: str) -> bool:
    """The keyword is given, and not as None / False."""
    node = _keyword_node(call, name)
    return node is not None and not (isinstance(node, ast.Constant) and node.value in (None, False))


_UNKNOWN = object()


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _UNKNOWN


def _name_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _qualified(table: str | None, schema: Any) -> str | None:
    if table is None:
        return None
    return f"{schema}.{table}" if isinstance(schema, str) and schema else table


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class _Shape:
    """What a column type can hold, as far as narrowing is concerned."""

    family: str  # string, binary, integer, numeric, float, boolean, date, datetime, time, enum
    size: float | None = None  # string length / integer bytes / float bits / None: unbounded
    scale: float | None = None  # numeric: digits after the point (inf: any)
    values: frozenset[str] | None = None  # enum labels, None when not literal
    text: bool = False  # TEXT / BLOB: unbounded, except next to MySQL's sized kinds


_INF = float("inf")
_STRINGS = {"string", "varchar", "nvarchar", "char", "nchar", "unicode", "character"}
_TEXTS = {"text", "unicodetext", "clob", "citext"}
_MYSQL_TEXTS = {"tinytext": 255.0, "mediumtext": 16777215.0, "longtext": _INF}
_BINARIES = {"varbinary", "binary"}
_BLOBS = {"largebinary", "blob", "bytea"}
_MYSQL_BLOBS = {"tinyblob": 255.0, "mediumblob": 16777215.0, "longblob": _INF}
_INTEGERS = {
    "tinyint": 1,
    "smallinteger": 2,
    "smallint": 2,
    "mediumint": 3,
    "integer": 4,
    "int": 4,
    "biginteger": 8,
    "bigint": 8,
}
_INTEGER_DIGITS = {1: 3, 2: 5, 3: 8, 4: 10, 8: 19}  # bytes -> decimal digits
_NUMERICS = {"numeric", "decimal"}
_FLOATS = {"real": 24, "float4": 24, "double": 53, "double_precision": 53, "float8": 53}
_DATETIMES = {"datetime", "timestamp"}
_FAMILY_OF_NAME = (
    ({"boolean", "bool"}, "boolean"),
    ({"date"}, "date"),
    (_DATETIMES, "datetime"),
    ({"time"}, "time"),
    ({"enum"}, "enum"),
)
# Longest text a value of these types becomes when stored in a string column.
_TEXT_WIDTH = {"boolean": 5, "date": 10}


def narrowing_change(existing: ast.expr | None, new: ast.expr) -> str | None:
    """Why changing a column from ``existing`` to ``new`` may lose values, or None if it can't.

    Both are the source of a type expression (``sa.String(length=50)``).
    """
    new_text = ast.unparse(new)
    if existing is None:
        return f"changes the type to {new_text} without existing_type=, so it may narrow it"
    old_text = ast.unparse(existing)
    if _normalise(old_text) == _normalise(new_text):
        return None
    old, new_shape = _shape(existing), _shape(new)
    change = f"changes {old_text} to {new_text}"
    if old is None or new_shape is None:
        return f"{change}; cannot tell whether every value fits"
    if _mysql_sized(existing) or _mysql_sized(new):
        old, new_shape = _with_mysql_text_size(old), _with_mysql_text_size(new_shape)
    return None if _holds(new_shape, old) else f"{change}, which cannot hold every value"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _type_call(node: ast.expr) -> tuple[str, list[Any], dict[str, Any]] | None:
    """(lower-case class name, literal positional args, literal keyword args) of a type."""
    while True:
        if isinstance(node, ast.Call):
            func = node.func
            # sa.String(50).with_variant(...): the type is the one the method is called on
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
                node = func.value
                continue
            name = _last_name(func)
            if name is None:
                return None
            args = [_literal(a) for a in node.args]
            kwargs = {k.arg: _literal(k.value) for k in node.keywords if k.arg}
            return name.lower(), args, kwargs
        name = _last_name(node)
        return (name.lower(), [], {}) if name else None


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _mysql_sized(node: ast.expr) -> bool:
    call = _type_call(node)
    return call is not None and call[0] in (*_MYSQL_TEXTS, *_MYSQL_BLOBS)


def _with_mysql_text_size(shape: _Shape) -> _Shape:
    """Next to MEDIUMTEXT & co. the database is MySQL, where TEXT holds 65,535 bytes."""
    if shape.text:
        return _Shape(shape.family, 65535.0)
    return shape


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _shape(node: ast.expr) -> _Shape | None:
    call = _type_call(node)
    if call is None:
        return None
    name, args, kwargs = call
    first = args[0] if args else None
    if name in _STRINGS or name in _BINARIES:
        length = _number(kwargs.get("length", first))
        family = "string" if name in _STRINGS else "binary"
        return _Shape(family, length if length is not None else _INF)
    if name in _MYSQL_TEXTS:
        return _Shape("string", _MYSQL_TEXTS[name])
    if name in _MYSQL_BLOBS:
        return _Shape("binary", _MYSQL_BLOBS[name])
    if name in _TEXTS or name in _BLOBS:
        return _Shape("string" if name in _TEXTS else "binary", _INF, text=True)
    if name in _INTEGERS:
        return _Shape("integer", _INTEGERS[name])
    if name in _NUMERICS:
        precision = _number(kwargs.get("precision", first))
        scale = _number(kwargs.get("scale", args[1] if len(args) > 1 else None))
        if precision is None:
            return _Shape("numeric", _INF, _INF)
        scale = scale or 0.0
        return _Shape("numeric", precision - scale, scale)
    if name == "float":
        bits = _number(kwargs.get("precision", first))
        return _Shape("float", bits if bits is not None else 53)
    if name in _FLOATS:
        return _Shape("float", _FLOATS[name])
    for names, family in _FAMILY_OF_NAME:
        if name in names:
            if family == "enum":
                labels = [a for a in args if isinstance(a, str)]
                literal = labels and len(labels) == len(args)
                return _Shape("enum", values=frozenset(labels) if literal else None)
            return _Shape(family)
    return None


def _holds(new: _Shape, old: _Shape) -> bool:
    """Can a column of shape ``new`` hold every value of shape ``old``?"""
    if new.family == old.family:
        if new.family == "enum":
            return new.values is not None and old.values is not None and new.values >= old.values
        if new.family == "numeric":
            return _at_least(new.size, old.size) and _at_least(new.scale, old.scale)
        return _at_least(new.size, old.size)
    if new.family == "string":
        return _at_least(new.size, _text_width(old))
    if old.family == "boolean":
        return new.family in ("integer", "numeric", "float")
    if old.family == "integer":
        digits = _INTEGER_DIGITS.get(int(old.size or 8), 19)
        if new.family == "numeric":
            return _at_least(new.size, digits)
        if new.family == "float":
            return _at_least(_float_digits(new.size), digits)
    return old.family == "date" and new.family == "datetime"


def _at_least(new: float | None, old: float | None) -> bool:
    return (new if new is not None else _INF) >= (old if old is not None else _INF)


def _text_width(shape: _Shape) -> float:
    """The longest text a value of ``shape`` becomes (inf when unknown or unbounded)."""
    if shape.family == "integer":
        return _INTEGER_DIGITS.get(int(shape.size or 8), 19) + 1  # and a sign
    if shape.family == "numeric" and shape.size != _INF:
        return (shape.size or 0) + (shape.scale or 0) + 2  # sign and point
    if shape.family == "enum" and shape.values:
        return max(len(v) for v in shape.values)
    return _TEXT_WIDTH.get(shape.family, _INF)


def _float_digits(bits: float | None) -> float:
    """Decimal digits a float of ``bits`` mantissa bits keeps exactly."""
    return 15 if bits is None or bits > 24 else 6
