"""The operations of a revision's ``upgrade()``, read from its syntax tree.

The reader walks ``upgrade()`` (and a multi-database repository's ``upgrade_<name>()``) in
source order, and, where it calls a function defined at module level in the same file, that
function's body too — each once, so a helper called twice is reported once, at the lines of
the operations inside it. It knows which ``batch_alter_table`` block is open (also in a helper
that receives the ``batch_op``), and whether an ``op.get_context().autocommit_block()`` is.
The SQL of ``op.execute()`` and of ``op.get_bind().execute()`` is handed to :mod:`.sql`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from typing import Any

from migratectl.commands.lint.operations import ColumnSpec, Operation, UnreadSQL

# Alembic's positional parameters, table first where the operation names one.
SIGNATURES: dict[str, list[str]] = {
    "create_table": ["table_name"],
    "drop_table": ["table_name"],
    "rename_table": ["old_table_name", "new_table_name"],
    "add_column": ["table_name", "column"],
    "drop_column": ["table_name", "column_name"],
    "alter_column": ["table_name", "column_name"],
    "create_index": ["index_name", "table_name", "columns"],
    "drop_index": ["index_name", "table_name"],
    "create_unique_constraint": ["constraint_name", "table_name", "columns"],
    "create_foreign_key": [
        "constraint_name",
        "source_table",
        "referent_table",
        "local_cols",
        "remote_cols",
    ],
    "create_check_constraint": ["constraint_name", "table_name", "condition"],
    "create_primary_key": ["constraint_name", "table_name", "columns"],
    "drop_constraint": ["constraint_name", "table_name", "type_"],
}
_TABLE_PARAMETER = {"rename_table": "old_table_name", "create_foreign_key": "source_table"}
COMPUTED = "__migratectl_computed__"  # what stands for a computed part of an SQL string

# (sql text, database, line, spans, autocommit) -> operations, why statements are unread
SqlReader = Callable[
    [str, str, int, tuple[tuple[int, int], ...], bool], tuple[list[Operation], list[str]]
]


def read_upgrade(tree: ast.Module, read_sql: SqlReader) -> tuple[list[Operation], list[UnreadSQL]]:
    """Every operation of the revision's upgrade functions, in the order they run."""
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    roots = [f for name, f in functions.items() if name == "upgrade" or name.startswith("upgrade_")]
    operations: list[Operation] = []
    unread: list[UnreadSQL] = []
    for root in roots:
        database = root.name[len("upgrade_") :] if root.name.startswith("upgrade_") else ""
        helpers = {name: f for name, f in functions.items() if f not in roots}
        visitor = _Visitor(_op_aliases(tree), helpers, database, read_sql)
        for statement in root.body:
            visitor.visit(statement)
        operations.extend(visitor.operations)
        unread.extend(visitor.unread)
    return operations, unread


def _op_aliases(tree: ast.Module) -> set[str]:
    """Names ``alembic.op`` is bound to: ``op``, or ``X`` in ``from alembic import op as X``."""
    aliases = {"op"}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "alembic":
            aliases.update(a.asname or a.name for a in node.names if a.name == "op")
    return aliases


class _Visitor(ast.NodeVisitor):
    def __init__(
        self,
        op_names: set[str],
        helpers: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
        database: str,
        read_sql: SqlReader,
    ) -> None:
        self.op_names = op_names
        self.helpers = helpers
        self.database = database
        self.read_sql = read_sql
        self.followed: set[str] = set()
        self.batches: dict[str, str | None] = {}  # batch_op name -> its table
        self.connections: set[str] = set()  # names bound to op.get_bind()
        self.autocommit = 0  # autocommit_block()s open
        self.committed = False  # after op.execute("COMMIT"), until op.execute("BEGIN")
        self.call_sites: list[tuple[int, int]] = []  # of the helpers being read, outermost first
        self.operations: list[Operation] = []
        self.unread: list[UnreadSQL] = []

    # ------------------------------------------------------------------ structure

    def visit_With(self, node: ast.With) -> None:
        opened: dict[str, str | None] = {}
        autocommit = False
        for item in node.items:
            call = item.context_expr
            self.visit(call)
            if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
                continue
            if call.func.attr == "autocommit_block":
                autocommit = True
            elif self._is_op(call.func, "batch_alter_table") and isinstance(
                item.optional_vars, ast.Name
            ):
                opened[item.optional_vars.id] = _qualified(
                    _string(_argument(call, ["table_name"], "table_name")), call
                )
        saved = dict(self.batches)
        self.batches.update(opened)
        self.autocommit += autocommit
        for statement in node.body:
            self.visit(statement)
        self.autocommit -= autocommit
        self.batches = saved

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        if self._is_bind_call(node.value):
            self.connections.update(t.id for t in node.targets if isinstance(t, ast.Name))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        """A function defined inside upgrade() runs only when called: not followed."""

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)  # nested calls first: they run first
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.helpers:
            self._follow(node, self.helpers[func.id])
            return
        if not isinstance(func, ast.Attribute):
            return
        method = func.attr
        if method in ("execute", "exec_driver_sql") and (
            self._is_op(func, "execute") or self._is_connection(func.value)
        ):
            self._execute(node)
            return
        if not isinstance(func.value, ast.Name):
            return
        receiver = func.value.id
        if receiver in self.op_names and method in SIGNATURES:
            self._operation(node, method, SIGNATURES[method], None, batch=False)
        elif receiver in self.batches and method in SIGNATURES:
            table_parameter = _TABLE_PARAMETER.get(method, "table_name")
            names = [n for n in SIGNATURES[method] if n != table_parameter]
            self._operation(node, method, names, self.batches[receiver], batch=True)

    def _follow(self, call: ast.Call, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if function.name in self.followed:
            return
        self.followed.add(function.name)
        saved_batches, saved_connections = dict(self.batches), set(self.connections)
        parameters = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
        for parameter, argument in zip(parameters, call.args, strict=False):
            if isinstance(argument, ast.Name) and argument.id in self.batches:
                self.batches[parameter] = self.batches[argument.id]
            else:
                self.batches.pop(parameter, None)
        self.call_sites.append((call.lineno, call.end_lineno or call.lineno))
        for statement in function.body:
            self.visit(statement)
        self.call_sites.pop()
        self.batches, self.connections = saved_batches, saved_connections

    def _is_op(self, func: ast.expr, method: str) -> bool:
        return (
            isinstance(func, ast.Attribute)
            and func.attr == method
            and isinstance(func.value, ast.Name)
            and func.value.id in self.op_names
        )

    def _is_bind_call(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Call) and self._is_op(node.func, "get_bind")

    def _is_connection(self, node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id in self.connections) or self._is_bind_call(
            node
        )

    def _outside(self) -> bool:
        """Whether an operation here runs outside a transaction."""
        return self.autocommit > 0 or self.committed

    def _spans(self, node: ast.AST) -> tuple[tuple[int, int], ...]:
        own = (node.lineno, node.end_lineno or node.lineno)  # type: ignore[attr-defined]
        return (own, *reversed(self.call_sites))

    # ------------------------------------------------------------------ operations

    def _execute(self, node: ast.Call) -> None:
        argument = node.args[0] if node.args else _keyword(node, "sqltext")
        text = sql_text(argument)
        if text is None:
            self.unread.append(
                UnreadSQL(self.database, node.lineno, "its SQL is not a string in the file")
            )
            return
        read, reasons = self.read_sql(
            text, self.database, node.lineno, self._spans(node), self._outside()
        )
        self.unread.extend(UnreadSQL(self.database, node.lineno, reason) for reason in reasons)
        self.operations.extend(read)
        for operation in read:
            if operation.kind in ("commit", "begin"):
                self.committed = operation.kind == "commit"

    def _operation(
        self, node: ast.Call, method: str, names: list[str], batch_table: str | None, batch: bool
    ) -> None:
        def argument(name: str) -> ast.expr | None:
            return _argument(node, names, name)

        if batch:
            table = batch_table
        else:
            table_node = argument(_TABLE_PARAMETER.get(method, "table_name"))
            table = _qualified(_string(table_node), node)
        fields: dict[str, Any] = {}
        if method == "create_table":
            fields["columns"] = tuple(
                _column_spec(a) for a in node.args[1:] if _is_column(a)
            ) + _constraint_columns(node.args[1:])
        elif method == "rename_table":
            fields["new_name"] = _qualified(_string(argument("new_table_name")), node)
        elif method == "add_column":
            column = argument("column")
            spec = _column_spec(column) if _is_column(column) else ColumnSpec(None, None, None, "?")
            fields.update(column=spec.name, columns=(spec,))
        elif method in ("drop_column", "alter_column"):
            fields["column"] = _string(argument("column_name"))
        if method == "alter_column":
            new_name = _keyword(node, "new_column_name")
            fields.update(
                new_name=_string(new_name) if new_name is not None else None,
                nullable=_bool(_keyword(node, "nullable")),
                existing_nullable=_bool(_keyword(node, "existing_nullable")),
                type=_keyword(node, "type_"),
                existing_type=_keyword(node, "existing_type"),
            )
            if new_name is not None and fields["new_name"] is None:
                fields["new_name"] = COMPUTED
        if method in ("create_index", "drop_index"):
            fields["index"] = _string(argument("index_name"))
            fields["concurrently"] = _bool(_keyword(node, "postgresql_concurrently")) is True
        if method == "create_index":
            fields["unique"] = _bool(_keyword(node, "unique")) is True
            fields["index_columns"] = tuple(_strings(argument("columns")))
        if method == "create_check_constraint":
            fields["detail"] = sql_text(argument("condition")) or ""
        if method in ("create_foreign_key", "create_check_constraint"):
            fields["not_valid"] = _bool(_keyword(node, "postgresql_not_valid")) is True
        if method == "drop_constraint":
            fields["constraint_type"] = _string(argument("type_"))
        self.operations.append(
            Operation(
                kind=method,
                operation=method,
                line=node.lineno,
                spans=self._spans(node),
                database=self.database,
                table=table,
                autocommit=self._outside(),
                **fields,
            )
        )


# ---------------------------------------------------------------------- arguments


def _argument(call: ast.Call, names: list[str], name: str) -> ast.expr | None:
    keyword = _keyword(call, name)
    if keyword is not None:
        return keyword
    if name not in names:
        return None
    position = names.index(name)
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    return positional[position] if position < len(positional) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    # sa.Column(op.f("ix_name")) and quoted_name("x", quote=True) keep the literal
    if isinstance(node, ast.Call) and node.args and _last_name(node.func) in ("f", "quoted_name"):
        return _string(node.args[0])
    return None


def _strings(node: ast.expr | None) -> Iterator[str]:
    if isinstance(node, (ast.List, ast.Tuple)):
        for element in node.elts:
            value = _string(element)
            if value is not None:
                yield value


def _bool(node: ast.expr | None) -> bool | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def _qualified(table: str | None, call: ast.Call) -> str | None:
    schema = _string(_keyword(call, "schema"))
    if table is None:
        return None
    return f"{schema}.{table}" if schema else table


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _is_column(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Call) and _last_name(node.func) == "Column"


def _column_spec(call: ast.expr | None) -> ColumnSpec:
    assert isinstance(call, ast.Call)
    positional = list(call.args)
    name = _string(positional[0]) if positional and _string(positional[0]) is not None else None
    if name is not None:
        positional = positional[1:]
    name = name or _string(_keyword(call, "name"))
    foreign_key = any(
        isinstance(a, ast.Call) and _last_name(a.func) == "ForeignKey" for a in positional
    )
    types = [
        a
        for a in positional
        if not (isinstance(a, ast.Call) and _last_name(a.func) == "ForeignKey")
    ]
    column_type = _keyword(call, "type_") or (types[0] if types else None)
    primary_key = _bool(_keyword(call, "primary_key")) is True
    nullable_node = _keyword(call, "nullable")
    nullable = _bool(nullable_node) if nullable_node is not None else not primary_key
    return ColumnSpec(
        name=name,
        type=column_type,
        nullable=nullable,
        server_default=default_text(_keyword(call, "server_default")),
        unique=_bool(_keyword(call, "unique")) is True,
        primary_key=primary_key,
        foreign_key=foreign_key,
    )


def _constraint_columns(arguments: list[ast.expr]) -> tuple[ColumnSpec, ...]:
    """``sa.UniqueConstraint("a")`` / ``sa.PrimaryKeyConstraint("id")`` of a create_table.

    They mark columns defined by the ``sa.Column`` arguments; they come back as specs without
    a type (name only), which the replay merges into the column of the same name.
    """
    specs: list[ColumnSpec] = []
    for argument in arguments:
        if not isinstance(argument, ast.Call):
            continue
        kind = _last_name(argument.func)
        if kind in ("UniqueConstraint", "PrimaryKeyConstraint"):
            for element in argument.args:
                column = _string(element)
                if column is not None:
                    specs.append(
                        ColumnSpec(
                            column,
                            None,
                            False if kind == "PrimaryKeyConstraint" else None,
                            None,
                            unique=True,
                            primary_key=kind == "PrimaryKeyConstraint",
                        )
                    )
    return tuple(specs)


def default_text(node: ast.expr | None) -> str | None:
    """A ``server_default``'s SQL: ``'0'`` for a plain string, the text of ``sa.text(…)``,
    ``name()`` for ``sa.func.name()``; ``?`` when computed, None when there is none."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return "'" + node.value.replace("'", "''") + "'"
    if isinstance(node, ast.Call):
        name = _last_name(node.func)
        if name == "text" and node.args:
            text = sql_text(node.args[0])
            return text if text is not None else "?"
        if isinstance(node.func, ast.Attribute) and _is_func_namespace(node.func.value):
            return f"{node.func.attr}()"
        if name == "FetchedValue":
            return None
    return "?"


def _is_func_namespace(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "func") or (
        isinstance(node, ast.Name) and node.id == "func"
    )


def sql_text(node: ast.expr | None) -> str | None:
    """The SQL a string expression holds, computed parts replaced by a placeholder name.

    None when nothing in it is literal (a variable, a call) — lint cannot read it.
    """
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call):
        name = _last_name(node.func)
        if name == "text" and node.args:
            return sql_text(node.args[0])
        if name == "format" and isinstance(node.func, ast.Attribute):
            template = sql_text(node.func.value)
            return _fill_braces(template) if template is not None else None
        return None
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            else:
                parts.append(COMPUTED)
        return "".join(parts)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Add):
            left, right = sql_text(node.left), sql_text(node.right)
            if left is None and right is None:
                return None
            return (left if left is not None else COMPUTED) + (
                right if right is not None else COMPUTED
            )
        if isinstance(node.op, ast.Mod):
            template = sql_text(node.left)
            if template is None:
                return None
            return (
                template.replace("%%", "\0")
                .replace("%s", COMPUTED)
                .replace("%d", COMPUTED)
                .replace("\0", "%")
            )
    return None


def _fill_braces(template: str) -> str:
    out, depth = [], 0
    for character in template:
        if character == "{":
            depth += 1
            if depth == 1:
                out.append(COMPUTED)
            continue
        if character == "}" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(character)
    return "".join(out)
