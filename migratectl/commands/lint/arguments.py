"""What the arguments of an ``op.*`` call say, read from its syntax tree (literals only).

A value the revision computes reads as None; ``sql_text`` reads what is literal of an SQL
string and puts :data:`~migratectl.commands.lint.operations.COMPUTED` where a part is not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from migratectl.commands.lint.operations import COMPUTED, ColumnSpec


def argument_node(call: ast.Call, names: list[str], name: str) -> ast.expr | None:
    found = keyword_node(call, name)
    if found is not None:
        return found
    if name not in names:
        return None
    position = names.index(name)
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    return positional[position] if position < len(positional) else None


def keyword_node(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def literal_string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    # sa.Column(op.f("ix_name")) and quoted_name("x", quote=True) keep the literal
    if isinstance(node, ast.Call) and node.args and last_name(node.func) in ("f", "quoted_name"):
        return literal_string(node.args[0])
    return None


def literal_strings(node: ast.expr | None) -> Iterator[str]:
    if isinstance(node, (ast.List, ast.Tuple)):
        for element in node.elts:
            value = literal_string(element)
            if value is not None:
                yield value


def literal_bool(node: ast.expr | None) -> bool | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def qualified_table(table: str | None, call: ast.Call) -> str | None:
    schema = literal_string(keyword_node(call, "schema"))
    if table is None:
        return None
    return f"{schema}.{table}" if schema else table


def last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def is_column(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Call) and last_name(node.func) == "Column"


def column_spec(call: ast.expr | None) -> ColumnSpec:
    assert isinstance(call, ast.Call)
    positional = list(call.args)
    name = (
        literal_string(positional[0])
        if positional and literal_string(positional[0]) is not None
        else None
    )
    if name is not None:
        positional = positional[1:]
    name = name or literal_string(keyword_node(call, "name"))
    foreign_key = any(
        isinstance(a, ast.Call) and last_name(a.func) == "ForeignKey" for a in positional
    )
    types = [
        a
        for a in positional
        if not (
            isinstance(a, ast.Call)
            and last_name(a.func) in ("ForeignKey", "Identity", "Computed", "Sequence")
        )
    ]
    column_type = keyword_node(call, "type_") or (types[0] if types else None)
    primary_key = literal_bool(keyword_node(call, "primary_key")) is True
    nullable_node = keyword_node(call, "nullable")
    nullable = literal_bool(nullable_node) if nullable_node is not None else not primary_key
    # an identity or computed column fills itself: it needs no server_default to be NOT NULL
    generated = any(
        isinstance(a, ast.Call) and last_name(a.func) in ("Identity", "Computed", "Sequence")
        for a in positional
    )
    default = default_text(keyword_node(call, "server_default"))
    return ColumnSpec(
        name=name,
        type=column_type,
        nullable=nullable,
        server_default="(generated)" if generated and default is None else default,
        unique=literal_bool(keyword_node(call, "unique")) is True,
        primary_key=primary_key,
        foreign_key=foreign_key,
    )


def constraint_columns(arguments: list[ast.expr]) -> tuple[ColumnSpec, ...]:
    """``sa.UniqueConstraint("a")`` / ``sa.PrimaryKeyConstraint("id")`` of a create_table.

    They mark columns defined by the ``sa.Column`` arguments; they come back as specs without
    a type (name only), which the replay merges into the column of the same name.
    """
    specs: list[ColumnSpec] = []
    for argument in arguments:
        if not isinstance(argument, ast.Call):
            continue
        kind = last_name(argument.func)
        if kind in ("UniqueConstraint", "PrimaryKeyConstraint"):
            for element in argument.args:
                column = literal_string(element)
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
        name = last_name(node.func)
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
        name = last_name(node.func)
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


def table_names(nodes: Iterable[ast.AST]) -> dict[str, str]:
    """Variables bound to ``sa.table("name", …)`` / ``sa.Table("name", …)`` among ``nodes``."""
    found: dict[str, str] = {}
    for node in nodes:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and last_name(node.value.func) in ("table", "Table")
            and node.value.args
        ):
            name = literal_string(node.value.args[0])
            if name is not None:
                found[node.targets[0].id] = name
    return found


_VERBS = ("update", "delete", "insert", "select")
_FILTERS = ("where", "filter", "filter_by")


def core_statement(node: ast.expr | None) -> tuple[str, ast.expr | None, bool] | None:
    """A SQLAlchemy Core statement built in place — ``t.update().values(…)``,
    ``sa.delete(t).where(…)`` —: (verb, the table expression, whether it has a WHERE)."""
    chain: list[tuple[str, ast.Call]] = []
    while isinstance(node, ast.Call):
        name = last_name(node.func)
        if name is None:
            return None
        chain.append((name, node))
        node = node.func.value if isinstance(node.func, ast.Attribute) else None
    for position in range(len(chain) - 1, -1, -1):
        verb, call = chain[position]
        if verb not in _VERBS:
            continue
        if call.args:  # sa.update(t): the function form
            table: ast.expr | None = call.args[0]
        else:
            table = call.func.value if isinstance(call.func, ast.Attribute) else None
        filtered = any(name in _FILTERS for name, _ in chain[:position]) or (
            keyword_node(call, "whereclause") is not None
        )
        return verb, table, filtered
    return None
