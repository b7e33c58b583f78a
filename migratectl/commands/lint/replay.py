"""The schema before each revision, known by replaying the operations of the ones before it.

Offline and approximate by design: the replay knows what the revision files say (tables,
their columns with type and nullability, unique columns, indexes), nothing of what a
database holds. A table that no revision creates existed before the history began, so lint
counts it as existing; only a table the revision being read creates itself is new. A column
the replay has not seen (of such a table, or added by SQL lint could not read) has an unknown
state, and the rules say so rather than guess.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace

from migratectl.commands.lint.operations import COMPUTED, ColumnSpec, Operation


@dataclass
class ColumnState:
    nullable: bool | None
    type: ast.expr | None
    unique: bool = False


@dataclass
class TableState:
    created_by: str | None  # the revision that created it; None: before the history
    columns: dict[str, ColumnState] = field(default_factory=dict)
    # columns a CHECK (column IS NOT NULL) guards, so SET NOT NULL needs no scan
    checked_not_null: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class IndexState:
    table: str | None
    unique: bool


class Schema:
    """One database's tables as the revisions read so far leave them."""

    def __init__(self) -> None:
        self.tables: dict[str, TableState] = {}
        self.indexes: dict[str, IndexState] = {}
        self.revision = ""  # the revision being read

    def begin(self, revision: str) -> None:
        self.revision = revision

    def is_new(self, table: str | None) -> bool:
        """Whether the revision being read created ``table`` itself (so it holds no rows)."""
        state = self.tables.get(_key(table)) if table else None
        return state is not None and state.created_by == self.revision

    def column(self, table: str | None, column: str | None) -> ColumnState | None:
        """What the replay knows of a column before the operation; None: nothing."""
        if table is None or column is None:
            return None
        state = self.tables.get(_key(table))
        return state.columns.get(_key(column)) if state else None

    def checked_not_null(self, table: str | None, column: str | None) -> bool:
        state = self.tables.get(_key(table)) if table else None
        return state is not None and column is not None and _key(column) in state.checked_not_null

    def index_table(self, index: str | None) -> str | None:
        found = self.indexes.get(_key(index)) if index else None
        return found.table if found else None

    # ------------------------------------------------------------------ applying

    def apply(self, operation: Operation) -> None:
        handler = getattr(self, f"_{operation.kind}", None)
        if handler is not None:
            handler(operation)

    def _table(self, name: str) -> TableState:
        """The state of ``name``, made up (as existing before the history) when unseen."""
        return self.tables.setdefault(_key(name), TableState(created_by=None))

    def _create_table(self, operation: Operation) -> None:
        if operation.table is None:
            return
        table = TableState(created_by=self.revision)
        self.tables[_key(operation.table)] = table
        for spec in operation.columns:
            _merge(table, spec)

    def _drop_table(self, operation: Operation) -> None:
        if operation.table is not None:
            self.tables.pop(_key(operation.table), None)
            for name, index in list(self.indexes.items()):
                if index.table == _key(operation.table):
                    del self.indexes[name]

    def _rename_table(self, operation: Operation) -> None:
        if operation.table is None or operation.new_name is None:
            return
        state = self.tables.pop(_key(operation.table), None) or TableState(created_by=None)
        self.tables[_key(operation.new_name)] = state
        for name, index in list(self.indexes.items()):
            if index.table == _key(operation.table):
                self.indexes[name] = replace(index, table=_key(operation.new_name))

    def _add_column(self, operation: Operation) -> None:
        if operation.table is not None:
            for spec in operation.columns:
                _merge(self._table(operation.table), spec)

    def _drop_column(self, operation: Operation) -> None:
        if operation.table is not None and operation.column is not None:
            self._table(operation.table).columns.pop(_key(operation.column), None)

    def _alter_column(self, operation: Operation) -> None:
        if operation.table is None or operation.column is None:
            return
        table = self._table(operation.table)
        state = table.columns.pop(_key(operation.column), None)
        if state is None:
            state = ColumnState(operation.existing_nullable, operation.existing_type)
        if operation.nullable is not None:
            state.nullable = operation.nullable
        if operation.type is not None:
            state.type = operation.type
        if operation.new_name == COMPUTED:
            return  # renamed to a computed name: the column is no longer known
        table.columns[_key(operation.new_name or operation.column)] = state

    def _create_index(self, operation: Operation) -> None:
        if operation.index is not None:
            self.indexes[_key(operation.index)] = IndexState(
                _key(operation.table) if operation.table else None, operation.unique
            )
        if operation.unique and operation.table and len(operation.index_columns) == 1:
            state = self.column(operation.table, operation.index_columns[0])
            if state is not None:
                state.unique = True

    def _create_check_constraint(self, operation: Operation) -> None:
        column = not_null_check_column(operation.detail)
        if operation.table is not None and column is not None:
            self._table(operation.table).checked_not_null.add(_key(column))

    def _drop_index(self, operation: Operation) -> None:
        if operation.index is not None:
            self.indexes.pop(_key(operation.index), None)


def _merge(table: TableState, spec: ColumnSpec) -> None:
    if spec.name is None:
        return
    known = table.columns.get(_key(spec.name))
    if known is not None and spec.type is None:  # a constraint naming a column defined above
        known.unique = known.unique or spec.unique
        if spec.primary_key:
            known.nullable = False
        return
    table.columns[_key(spec.name)] = ColumnState(
        spec.nullable, spec.type, unique=spec.unique or spec.primary_key
    )


def _key(name: str) -> str:
    return name.lower()


def not_null_check_column(condition: str) -> str | None:
    """The column of a ``column IS NOT NULL`` check condition, read with sqlglot."""
    if not condition:
        return None
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(condition)
    except SqlglotError:
        return None
    if isinstance(tree, exp.Paren):
        tree = tree.this
    if isinstance(tree, exp.Not) and isinstance(tree.this, exp.Is):
        tree = tree.this
        if isinstance(tree.this, exp.Column) and isinstance(tree.expression, exp.Null):
            return str(tree.this.name)
    return None
