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
from collections.abc import Callable
from typing import Any

from migratectl.commands.lint.arguments import (
    argument_node,
    column_spec,
    constraint_columns,
    core_statement,
    is_column,
    keyword_node,
    literal_bool,
    literal_string,
    literal_strings,
    qualified_table,
    sql_text,
    table_names,
)
from migratectl.commands.lint.operations import COMPUTED, ColumnSpec, Operation, UnreadSQL

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
    # upgrade_<name>() of a multi-database repository runs by itself (its upgrade() finds it
    # through globals()); one that a function calls by name is a helper, not a database's
    nodes = list(ast.walk(tree))
    called = {
        node.func.id
        for node in nodes
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    roots = [
        f
        for name, f in functions.items()
        if name == "upgrade" or (name.startswith("upgrade_") and name not in called)
    ]
    operations: list[Operation] = []
    unread: list[UnreadSQL] = []
    for root in roots:
        database = root.name[len("upgrade_") :] if root.name.startswith("upgrade_") else ""
        helpers = {name: f for name, f in functions.items() if f not in roots}
        visitor = _Visitor(_op_aliases(tree), helpers, database, read_sql, table_names(nodes))
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
        table_names: dict[str, str],
    ) -> None:
        self.op_names = op_names
        self.table_names = table_names  # variables bound to sa.table("name", …)
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
                opened[item.optional_vars.id] = qualified_table(
                    literal_string(argument_node(call, ["table_name"], "table_name")), call
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
        argument = node.args[0] if node.args else keyword_node(node, "sqltext")
        text = sql_text(argument)
        if text is None:
            self._core_statement(node, argument)
            return
        read, reasons = self.read_sql(
            text, self.database, node.lineno, self._spans(node), self._outside()
        )
        self.unread.extend(UnreadSQL(self.database, node.lineno, reason) for reason in reasons)
        self.operations.extend(read)
        for operation in read:
            if operation.kind in ("commit", "begin"):
                self.committed = operation.kind == "commit"

    def _core_statement(self, node: ast.Call, argument: ast.expr | None) -> None:
        statement = core_statement(argument)
        if statement is None:
            self.unread.append(
                UnreadSQL(self.database, node.lineno, "its SQL is not a string in the file")
            )
            return
        verb, table, filtered = statement
        if verb in ("update", "delete") and not filtered:
            name = literal_string(table) if isinstance(table, ast.Constant) else None
            if isinstance(table, ast.Name):
                name = self.table_names.get(table.id)
            elif isinstance(table, ast.Call) and table.args:
                name = literal_string(table.args[0])
            self.operations.append(
                Operation(
                    kind="delete_rows",
                    operation="execute",
                    line=node.lineno,
                    spans=self._spans(node),
                    database=self.database,
                    table=name,
                    autocommit=self._outside(),
                    detail=f"{verb.upper()} without WHERE",
                )
            )

    def _operation(
        self, node: ast.Call, method: str, names: list[str], batch_table: str | None, batch: bool
    ) -> None:
        def argument(name: str) -> ast.expr | None:
            return argument_node(node, names, name)

        if batch:
            table = batch_table
        else:
            table_node = argument(_TABLE_PARAMETER.get(method, "table_name"))
            table = qualified_table(literal_string(table_node), node)
        fields: dict[str, Any] = {}
        if method == "create_table":
            fields["columns"] = tuple(
                column_spec(a) for a in node.args[1:] if is_column(a)
            ) + constraint_columns(node.args[1:])
        elif method == "rename_table":
            fields["new_name"] = qualified_table(literal_string(argument("new_table_name")), node)
        elif method == "add_column":
            column = argument("column")
            spec = column_spec(column) if is_column(column) else ColumnSpec(None, None, None, "?")
            fields.update(column=spec.name, columns=(spec,))
        elif method in ("drop_column", "alter_column"):
            fields["column"] = literal_string(argument("column_name"))
        if method == "alter_column":
            new_name = keyword_node(node, "new_column_name")
            fields.update(
                new_name=literal_string(new_name) if new_name is not None else None,
                nullable=literal_bool(keyword_node(node, "nullable")),
                existing_nullable=literal_bool(keyword_node(node, "existing_nullable")),
                type=keyword_node(node, "type_"),
                existing_type=keyword_node(node, "existing_type"),
            )
            if new_name is not None and fields["new_name"] is None:
                fields["new_name"] = COMPUTED
        if method in ("create_index", "drop_index"):
            fields["index"] = literal_string(argument("index_name"))
            fields["concurrently"] = (
                literal_bool(keyword_node(node, "postgresql_concurrently")) is True
            )
        if method == "create_index":
            fields["unique"] = literal_bool(keyword_node(node, "unique")) is True
            fields["index_columns"] = tuple(literal_strings(argument("columns")))
        if method == "create_check_constraint":
            fields["detail"] = sql_text(argument("condition")) or ""
        if method in ("create_foreign_key", "create_check_constraint"):
            fields["not_valid"] = literal_bool(keyword_node(node, "postgresql_not_valid")) is True
        if method == "drop_constraint":
            fields["constraint_type"] = literal_string(argument("type_"))
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
