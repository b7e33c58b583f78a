"""Bulk reflection for autogenerate: the catalogue in a number of queries that does not grow with
the number of tables.

Alembic (1.18 and later) reads columns, keys, constraints, indexes and comments of all tables at
once, through the Inspector's ``get_multi_*`` methods. One question it still asks table by
table, on PostgreSQL: for an integer column whose default is ``nextval('seq')``, is the sequence
owned by that column (a SERIAL, whose default autogenerate must not report)? That is one round
trip per table — most of the time ``check`` spends behind a slow network. :func:`install` makes
the question cost one query for the whole database: every sequence and its owning column is read
the first time it is asked, and each answer comes from that; anything the query did not settle
goes to Alembic's own per-sequence query, so the answers cannot differ.

What stays per table: MySQL / MariaDB, whose SQLAlchemy dialect reads each table with its own
``SHOW CREATE TABLE`` (there is no multi-table form), and SQLite, whose ``PRAGMA`` reads happen
in-process (no network between). Alembic versions before 1.18 reflect each table separately.

``MIGRATECTL_BULK_REFLECTION=0`` turns this off; the tests use it to compare both ways.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

SWITCH = "MIGRATECTL_BULK_REFLECTION"

# Alembic's own pattern (alembic/ddl/postgresql.py, autogen_column_reflect).
_NEXTVAL = re.compile(r"nextval\('(.+?)'::regclass\)")

# Every sequence, by the name PostgreSQL prints for it in a column default (regclass output,
# schema-qualified when not on the search_path), with the column that owns it, if any.
_SEQUENCE_OWNERS = """
select c.oid::regclass::text, c.relname, a.attname
from pg_class as c
left join (
    pg_depend d
    join pg_class t on t.oid = d.refobjid
    join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
) on d.objid = c.oid
    and d.classid = 'pg_class'::regclass
    and d.refclassid = 'pg_class'::regclass
where c.relkind = 'S'
"""


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") != "0"


def install(migration_context: Any) -> None:
    """Make autogenerate on ``migration_context`` reflect in bulk (where it knows how)."""
    if not enabled() or migration_context.connection is None:
        return
    if migration_context.dialect.name == "postgresql":
        _answer_serial_questions_in_bulk(migration_context)


def _answer_serial_questions_in_bulk(migration_context: Any) -> None:
    from alembic.ddl.postgresql import PostgresqlImpl

    impl = migration_context.impl
    if type(impl).autogen_column_reflect is not PostgresqlImpl.autogen_column_reflect:
        return  # a customised implementation: leave its questions alone
    owners = _SequenceOwners(migration_context.connection)
    per_table = impl.autogen_column_reflect  # Alembic's: one query per sequence

    def autogen_column_reflect(inspector: Any, table: Any, column_info: dict[str, Any]) -> None:
        from sqlalchemy.dialects.postgresql import BIGINT, INTEGER

        default = column_info.get("default")
        if default and isinstance(column_info["type"], (INTEGER, BIGINT)):
            match = _NEXTVAL.match(default)
            if match:
                known, owner = owners.lookup(match.group(1))
                if known:
                    if owner is not None and owner[1] == column_info["name"]:
                        logging.getLogger("alembic.ddl.postgresql").info(
                            "Detected sequence named '%s' as owned by integer column "
                            "'%s(%s)', assuming SERIAL and omitting",
                            owner[0],
                            table.name,
                            owner[1],
                        )
                        del column_info["default"]
                    return
        per_table(inspector, table, column_info)

    # Alembic listens with impl._compat_autogen_column_reflect(inspector), which returns this.
    impl.autogen_column_reflect = autogen_column_reflect


class _SequenceOwners:
    """Sequence name -> (sequence, owning column) or None, read in one query on first use."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._owners: dict[str, tuple[str, str] | None] | None = None

    def lookup(self, name: str) -> tuple[bool, tuple[str, str] | None]:
        """(True, owner) when the bulk query settled it; (False, None) for Alembic to ask."""
        if self._owners is None:
            self._owners = self._read()
        if name not in self._owners:
            return False, None
        return True, self._owners[name]

    def _read(self) -> dict[str, tuple[str, str] | None]:
        from sqlalchemy import text

        rows: dict[str, list[tuple[str, str] | None]] = {}
        for name, sequence, column in self.connection.execute(text(_SEQUENCE_OWNERS)):
            rows.setdefault(name, []).append((sequence, column) if column is not None else None)
        # A sequence with several owners is ambiguous; Alembic's own query decides those.
        return {name: found[0] for name, found in rows.items() if len(found) == 1}
