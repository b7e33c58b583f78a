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

:func:`prefetch` reads the catalogue ahead of time — the table names and the eight bulk reads
Alembic starts its comparison with, asked exactly as Alembic will ask them — while another
thread imports the models; :func:`install` then answers each of those calls once from what was
read. A call asked differently (other tables, other options) goes to the database as usual.

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


PREFETCHED = "migratectl.prefetched"  # Connection.info key: what prefetch() read

# Alembic's bulk reads at the start of a comparison (alembic/autogenerate/compare/util.py).
_MULTI_KEYS = (
    "columns",
    "pk_constraint",
    "foreign_keys",
    "indexes",
    "unique_constraints",
    "table_comment",
    "check_constraints",
    "table_options",
)


def install(migration_context: Any) -> None:
    """Make autogenerate on ``migration_context`` reflect in bulk (where it knows how)."""
    if not enabled() or migration_context.connection is None:
        return
    prefetched: _Prefetched | None = migration_context.connection.info.pop(PREFETCHED, None)
    if prefetched is not None:
        prefetched.serve(migration_context.connection.dialect)
    if migration_context.dialect.name == "postgresql":
        owners = prefetched.sequence_owners if prefetched is not None else None
        _answer_serial_questions_in_bulk(migration_context, owners)


def prefetch(connection: Any, *, version_table: str, version_table_schema: str | None) -> None:
    """Read what autogenerate asks first, in the default schema, and keep it on ``connection``.

    Any error drops what was read (and the transaction it was read in): the comparison then
    asks the database itself and reports the error as usual.
    """
    if not enabled():
        return
    dialect = connection.dialect
    if not hasattr(dialect, "_overrides_default"):
        return  # a SQLAlchemy whose heuristics we do not mirror
    from sqlalchemy.engine.reflection import ObjectKind, ObjectScope

    prefetched = _Prefetched()
    try:
        available = dialect.get_table_names(connection, schema=None, info_cache={})
        prefetched.add("get_table_names", (None, None), available)
        # Alembic leaves the version table out when it lives in the schema compared.
        left_out = version_table if version_table_schema is None else None
        names = [name for name in available if name != left_out]
        info_cache: dict[Any, Any] = {}
        for key in _MULTI_KEYS:
            method = f"get_multi_{key}"
            filter_names = _alembic_filter(dialect, method, names, available)
            try:
                rows = getattr(dialect, method)(
                    connection,
                    schema=None,
                    filter_names=filter_names,
                    kind=ObjectKind.TABLE,
                    scope=ObjectScope.DEFAULT,
                    info_cache=info_cache,
                )
                rows = list(rows.items() if isinstance(rows, dict) else rows)
            except NotImplementedError:
                continue  # Alembic's own call finds that out without the database
            prefetched.add(method, (None, _names(filter_names)), rows)
        if dialect.name == "postgresql":
            prefetched.sequence_owners = _SequenceOwners(connection)
            prefetched.sequence_owners.lookup("")  # read now, while nothing else waits
    except Exception:
        connection.rollback()
        return
    connection.info[PREFETCHED] = prefetched


def _alembic_filter(dialect: Any, method: str, names: list[str], available: list[str]) -> Any:
    """The ``filter_names`` Alembic passes (alembic/autogenerate/compare/util.py, _pre_cache):
    all tables (None) when it compares most of more than 100, else their names."""
    most = names and available and len(names) > 100 and len(names) / len(available) > 0.5
    return None if most and dialect._overrides_default(method) else names


def _names(filter_names: Any) -> frozenset[str] | None:
    return None if filter_names is None else frozenset(filter_names)


class _Prefetched:
    """Dialect answers read ahead, each given once to a call asked the same way."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[tuple[Any, ...], Any]] = {}
        self.sequence_owners: _SequenceOwners | None = None

    def add(self, method: str, question: tuple[Any, ...], answer: Any) -> None:
        self.answers[method] = (question, answer)

    def serve(self, dialect: Any) -> None:
        """Wrap each prefetched method of ``dialect`` (this engine's own instance)."""
        from sqlalchemy.engine.reflection import ObjectKind, ObjectScope

        answers = self.answers
        for method in list(answers):
            asked_for = getattr(dialect, method)

            def answer(
                connection: Any,
                schema: Any = None,
                filter_names: Any = None,
                _method: str = method,
                _asked_for: Any = asked_for,
                **kw: Any,
            ) -> Any:
                stored = answers.get(_method)
                options = {k: v for k, v in kw.items() if k != "info_cache"}
                if _method == "get_table_names":
                    plain = not options
                else:
                    plain = options.pop("kind", ObjectKind.TABLE) == ObjectKind.TABLE
                    plain &= options.pop("scope", ObjectScope.DEFAULT) == ObjectScope.DEFAULT
                    plain &= not options
                if stored is not None and plain and stored[0] == (schema, _names(filter_names)):
                    del answers[_method]
                    setattr(dialect, _method, _asked_for)  # served once: the real one again
                    return stored[1]
                if filter_names is not None:
                    kw["filter_names"] = filter_names
                return _asked_for(connection, schema=schema, **kw)

            setattr(dialect, method, answer)


def _answer_serial_questions_in_bulk(
    migration_context: Any, owners: _SequenceOwners | None
) -> None:
    from alembic.ddl.postgresql import PostgresqlImpl

    impl = migration_context.impl
    if type(impl).autogen_column_reflect is not PostgresqlImpl.autogen_column_reflect:
        return  # a customised implementation: leave its questions alone
    if owners is None:
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
