"""What a column type change does: lose values (MC301), rewrite a PostgreSQL table (MC302).

Types are Python expressions as a revision writes them (``sa.String(length=50)``); a type read
from raw SQL is turned into one (``VARCHAR(50)``) so that both are judged alike. Whether a
change can lose values is :func:`migratectl.autogen.destructive.narrowing_change`, the same
judgement ``migrate`` warns with.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from migratectl.autogen.destructive import narrowing_change

_VARCHARS = {"string", "varchar", "nvarchar", "unicode", "character varying"}
_TEXTS = {"text", "unicodetext", "citext"}
_NUMERICS = {"numeric", "decimal"}


def type_text(node: ast.expr) -> str:
    return ast.unparse(node)


def same_type(old: ast.expr, new: ast.expr) -> bool:
    def normal(node: ast.expr) -> str:
        call = type_parts(node)
        if call is None:
            return re.sub(r"\s+", "", ast.unparse(node)).lower()
        name, args, kwargs = call
        return f"{_canonical(name)}{args}{sorted(kwargs.items())}"

    return normal(old) == normal(new)


def narrowing(old: ast.expr, new: ast.expr) -> str | None:
    """Why ``old`` → ``new`` may lose values (a clause for a message), or None when it cannot."""
    return narrowing_change(old, new)


def rewrites_postgresql_table(old: ast.expr, new: ast.expr) -> bool:
    """Whether PostgreSQL rewrites the table for ``ALTER COLUMN … TYPE`` from ``old`` to ``new``.

    It does not for: a ``varchar`` made longer or unbounded, ``varchar`` to ``text`` (and
    ``text`` to an unbounded ``varchar``), and a ``numeric`` whose precision grows at the same
    scale (or becomes unbounded).
    """
    old_parts, new_parts = type_parts(old), type_parts(new)
    if old_parts is None or new_parts is None:
        return True
    old_name, new_name = _canonical(old_parts[0]), _canonical(new_parts[0])
    if old_name == "varchar" and new_name in ("varchar", "text"):
        if new_name == "text":
            return False
        old_length, new_length = (
            _first_number(old_parts, "length"),
            _first_number(new_parts, "length"),
        )
        if new_length is None:
            return False
        return old_length is None or new_length < old_length
    if old_name == "text" and new_name in ("text", "varchar"):
        # an unbounded varchar is text to PostgreSQL; a bounded one checks every value
        return new_name == "varchar" and _first_number(new_parts, "length") is not None
    if old_name == "numeric" and new_name == "numeric":
        old_precision = _first_number(old_parts, "precision")
        new_precision = _first_number(new_parts, "precision")
        if new_precision is None:
            return False
        if old_precision is None:
            return True
        old_scale = _number_at(old_parts, 1, "scale") or 0
        new_scale = _number_at(new_parts, 1, "scale") or 0
        return not (new_precision >= old_precision and new_scale == old_scale)
    return True


def type_parts(node: ast.expr) -> tuple[str, list[Any], dict[str, Any]] | None:
    """(lower-case class name, literal positional args, literal keyword args) of a type."""
    while isinstance(node, ast.Call):
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


def sql_type_expression(sql_type: str, arguments: list[str]) -> ast.expr | None:
    """A raw SQL type (``VARCHAR``, ``["50"]``) as the expression a revision would write."""
    name = re.sub(r"\W+", "_", sql_type.strip()).strip("_")
    if not name:
        return None
    literal = [a for a in arguments if re.fullmatch(r"\d+", a.strip())]
    try:
        return ast.parse(f"{name}({', '.join(literal)})", mode="eval").body
    except SyntaxError:
        return None


def _canonical(name: str) -> str:
    if name in _VARCHARS:
        return "varchar"
    if name in _TEXTS:
        return "text"
    if name in _NUMERICS:
        return "numeric"
    return name


def _first_number(parts: tuple[str, list[Any], dict[str, Any]], keyword: str) -> float | None:
    return _number_at(parts, 0, keyword)


def _number_at(
    parts: tuple[str, list[Any], dict[str, Any]], position: int, keyword: str
) -> float | None:
    _, args, kwargs = parts
    value = kwargs.get(keyword, args[position] if position < len(args) else None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


_UNKNOWN = object()


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _UNKNOWN
