"""The schema operations lint reads from a revision, whether written as ``op.*`` or raw SQL.

One :class:`Operation` is what a rule judges and what the replay applies: ``kind`` is the
Alembic operation it is or stands for (``drop_column``, ``create_index``, …; raw SQL that
deletes rows is ``delete_rows``), ``operation`` the call the revision makes (``drop_column``,
``execute``). Names the revision computes are ``None``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

COMPUTED = "__migratectl_computed__"  # what stands for a computed part of an SQL string


@dataclass(frozen=True)
class ColumnSpec:
    """A column as ``create_table`` / ``add_column`` (or ``CREATE TABLE``) defines it."""

    name: str | None
    type: ast.expr | None
    nullable: bool | None  # None: computed
    server_default: str | None  # its SQL text when literal, "?" when computed, None: none
    unique: bool = False
    primary_key: bool = False
    foreign_key: bool = False


@dataclass(frozen=True)
class Operation:
    kind: str
    operation: str  # the call in the revision: "drop_column", "execute", …
    line: int  # 1-based line of the call (of the op.execute for raw SQL)
    # Line spans where an allow-marker counts: the call's own, then each call site of the
    # helper function it is in, innermost first.
    spans: tuple[tuple[int, int], ...]
    database: str  # "" or the name of a multi-database repository's database
    table: str | None = None
    column: str | None = None
    new_name: str | None = None  # rename_table / rename column target
    columns: tuple[ColumnSpec, ...] = ()  # create_table, add_column
    nullable: bool | None = None  # alter_column nullable=
    existing_nullable: bool | None = None
    type: ast.expr | None = None  # alter_column type_=
    existing_type: ast.expr | None = None
    unique: bool = False  # create_index(unique=True), CREATE UNIQUE INDEX
    concurrently: bool = False
    not_valid: bool = False  # postgresql_not_valid=True, NOT VALID
    autocommit: bool = False  # inside op.get_context().autocommit_block()
    index: str | None = None  # create_index / drop_index: the index name
    constraint_type: str | None = None  # drop_constraint type_=
    detail: str = ""  # raw SQL: what the statement is ("TRUNCATE", "DELETE without WHERE")
    index_columns: tuple[str, ...] = field(default=())

    @property
    def raw(self) -> bool:
        return self.operation == "execute"


@dataclass(frozen=True)
class UnreadSQL:
    """An ``op.execute()`` whose SQL lint could not read (computed, or not parseable)."""

    database: str
    line: int
    reason: str
