"""The lint rules (SPEC §2 "lint rules") and the finding a rule makes.

Each rule has a stable id (``MC102``) and name (``drop-column``); either one names it in
``[lint] disable`` and in ``# migratectl: allow …`` markers. ``dialect`` is ``None`` for rules
that hold everywhere, else the one dialect (``postgresql`` or ``mysql``, which covers MariaDB)
whose rules run only when the configured URL's dialect or ``[lint] dialect`` is that one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    summary: str  # one line: what the rule flags
    why: str  # why it hurts in production
    fix: str  # the safe way
    dialect: str | None = None
    # the operation names of earlier versions that allow-markers may still use
    legacy_names: tuple[str, ...] = ()


RULES: tuple[Rule, ...] = (
    Rule(
        "MC000",
        "unknown-allow",
        "an allow-marker that names no rule",
        "a misspelt marker acknowledges nothing, so the finding it meant to allow stays hidden "
        "behind a comment that looks like it works",
        "name a rule by id or name: `# migratectl: allow MC102` or "
        "`# migratectl: allow drop-column`",
    ),
    Rule(
        "MC101",
        "drop-table",
        "`drop_table`, raw `DROP TABLE`",
        "the table and every row in it are gone, and code still running uses it",
        "stop using the table in a release first, back it up, then drop it in a later revision",
        legacy_names=("drop_table",),
    ),
    Rule(
        "MC102",
        "drop-column",
        "`drop_column`, raw `ALTER TABLE … DROP COLUMN`",
        "the column's values are gone, and code still running reads or writes it",
        "stop using the column in a release first, then drop it in a later revision",
        legacy_names=("drop_column",),
    ),
    Rule(
        "MC103",
        "delete-rows",
        "raw `TRUNCATE`, `DELETE` or `UPDATE` without `WHERE`",
        "every row of the table is deleted or overwritten",
        "add a `WHERE` clause naming the rows meant, or acknowledge the statement",
    ),
    Rule(
        "MC201",
        "rename-table",
        "`rename_table`",
        "clients still running use the old name and fail until they are replaced",
        "create the new table (or a view under the old name), move the code, then drop the old",
        legacy_names=("rename",),
    ),
    Rule(
        "MC202",
        "rename-column",
        "`alter_column(…, new_column_name=…)`",
        "clients still running use the old name and fail until they are replaced",
        "add the new column, write both, backfill, move the reads, then drop the old column",
        legacy_names=("rename",),
    ),
    Rule(
        "MC301",
        "narrowing-type",
        "a type change that can lose values: a shorter string, a smaller integer or numeric, "
        "text to a bounded string, a change of type family",
        "values that do not fit are truncated, rounded or refused, and the change fails or "
        "loses data on a table that has them",
        "check that every value fits first, or add a new column of the new type and backfill it",
        legacy_names=("narrow_type",),
    ),
    Rule(
        "MC302",
        "rewriting-type",
        "a type change that rewrites the table under an ACCESS EXCLUSIVE lock (all but widening "
        "a `varchar`, `varchar` to `text`, raising a `numeric` precision at the same scale)",
        "PostgreSQL rewrites the whole table and its indexes while every read and write waits",
        "add a new column of the new type, backfill it in batches, then switch over",
        dialect="postgresql",
    ),
    Rule(
        "MC303",
        "copying-alter",
        "an `ALTER TABLE` the server runs by copying the table (a column's type change, a "
        "primary key change)",
        "MySQL/MariaDB copies the table row by row and blocks writes until it is done",
        "run it with an online schema change tool (gh-ost, pt-online-schema-change) or in a "
        "maintenance window",
        dialect="mysql",
    ),
    Rule(
        "MC401",
        "add-required-column",
        "a column added with `nullable=False` and no `server_default` to a table that exists "
        "before the revision",
        "the `ALTER TABLE` fails on a table that has rows, or the application's inserts fail",
        "add the column nullable (or with a `server_default`), backfill, then set it NOT NULL",
        legacy_names=("not_null",),
    ),
    Rule(
        "MC402",
        "set-not-null",
        "`alter_column(…, nullable=False)` on a column that was nullable before the revision",
        "fails on any NULL in the column, and on PostgreSQL scans the table under an ACCESS "
        "EXCLUSIVE lock",
        "backfill first; on PostgreSQL add a `CHECK (col IS NOT NULL) NOT VALID` constraint, "
        "validate it, then set NOT NULL",
        legacy_names=("not_null",),
    ),
    Rule(
        "MC403",
        "add-unique",
        "a unique constraint or unique index added to an existing table",
        "fails on duplicate rows, and builds the index while writes wait",
        "PostgreSQL: build the index `CONCURRENTLY`, then add the constraint `USING INDEX`",
    ),
    Rule(
        "MC404",
        "validating-foreign-key",
        "`create_foreign_key` on an existing table without `postgresql_not_valid=True`",
        "PostgreSQL checks every row while holding a lock that blocks writes on both tables",
        "create it with `postgresql_not_valid=True`, then `VALIDATE CONSTRAINT` in a later "
        "revision",
        dialect="postgresql",
    ),
    Rule(
        "MC405",
        "validating-check",
        "`create_check_constraint` on an existing table without `postgresql_not_valid=True`",
        "PostgreSQL checks every row while holding an ACCESS EXCLUSIVE lock",
        "create it with `postgresql_not_valid=True`, then `VALIDATE CONSTRAINT` in a later "
        "revision",
        dialect="postgresql",
    ),
    Rule(
        "MC406",
        "volatile-default",
        "a column added to an existing table with a volatile `server_default` (`random()`, "
        "`gen_random_uuid()`, `clock_timestamp()`, …)",
        "PostgreSQL rewrites the table to fill every row, under an ACCESS EXCLUSIVE lock",
        "add the column without a default, set the default, then backfill in batches",
        dialect="postgresql",
    ),
    Rule(
        "MC501",
        "blocking-index",
        "`create_index` on an existing table without `postgresql_concurrently=True`",
        "PostgreSQL blocks every write to the table until the index is built",
        "`create_index(…, postgresql_concurrently=True)` inside "
        "`with op.get_context().autocommit_block():`",
        dialect="postgresql",
    ),
    Rule(
        "MC502",
        "blocking-drop-index",
        "`drop_index` without `postgresql_concurrently=True`",
        "PostgreSQL takes an ACCESS EXCLUSIVE lock on the table while dropping the index",
        "`drop_index(…, postgresql_concurrently=True)` inside "
        "`with op.get_context().autocommit_block():`",
        dialect="postgresql",
    ),
    Rule(
        "MC503",
        "concurrently-in-transaction",
        "`postgresql_concurrently=True`, or raw `… CONCURRENTLY`, outside "
        "`op.get_context().autocommit_block()`",
        "PostgreSQL refuses `CONCURRENTLY` inside a transaction block, so the revision fails "
        "when it runs",
        "wrap the operation in `with op.get_context().autocommit_block():`",
        dialect="postgresql",
    ),
    Rule(
        "MC504",
        "enum-value-in-transaction",
        "`ALTER TYPE … ADD VALUE` outside an autocommit block",
        "before PostgreSQL 12 it fails in a transaction, and the new value cannot be used in "
        "the same transaction",
        "run it inside `with op.get_context().autocommit_block():`",
        dialect="postgresql",
    ),
)

BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


def find_rules(word: str) -> list[Rule]:
    """The rules a marker word or ``disable`` entry names: an id, a name, or a legacy name."""
    key = word.strip()
    if key.upper() in BY_ID:
        return [BY_ID[key.upper()]]
    if key.lower() in BY_NAME:
        return [BY_NAME[key.lower()]]
    return [rule for rule in RULES if key.lower() in rule.legacy_names]


@dataclass(frozen=True)
class Finding:
    """One operation a rule flags, as the JSON output shows it (SPEC §3, ``lint``)."""

    rule: str  # id, e.g. "MC102"
    name: str  # rule name, e.g. "drop-column"
    revision: str
    path: str  # as shown: relative to the current directory when it is below it
    line: int  # 1-based line where the call starts
    operation: str  # what the revision does: "drop_column", "execute", "alter_column", …
    table: str | None
    column: str | None
    message: str  # one sentence: what it does and why it hurts
    acknowledged: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "revision": self.revision,
            "path": self.path,
            "line": self.line,
            "operation": self.operation,
            "table": self.table,
            "column": self.column,
            "message": self.message,
            "acknowledged": self.acknowledged,
        }
