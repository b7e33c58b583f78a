"""The whole schema of a database, as ``verify`` compares it before and after each step.

A :class:`Snapshot` holds, outside the version table: tables (with their comment); columns
with their type as this dialect writes it, nullability, server default, identity,
autoincrement, computed expression and comment; each table's primary key; foreign keys with
their referred columns and ON DELETE / ON UPDATE / DEFERRABLE options; unique and check
constraints; indexes with their columns or expressions, uniqueness and conditions; and
PostgreSQL's enum types (with their labels) and sequences (and the column owning each).

Constraints are identified by what they hold (their columns, referred table, expression), not
by name, because servers invent names (MySQL's ``posts_ibfk_1`` is numbered anew when a key is
created again). A name is still compared where the user chose it: a name the server invents
(``users_pkey``, ``posts_user_id_fkey``, ``posts_ibfk_1``, ``CONSTRAINT_1``, MySQL's
``PRIMARY``) counts as no name, any other one must come back. Indexes always carry the
user's name (``CREATE INDEX`` needs one) and are identified by it.

Reflection uses the Inspector's bulk ``get_multi_*`` reads where SQLAlchemy has them (2.0 and
later) and one read per table before that. On PostgreSQL and SQLite the server's own text of
each index (``pg_get_indexdef``, ``sqlite_master``) is compared instead: it has the
expressions and conditions that older SQLAlchemy versions leave out. MariaDB's sequences are
compared by name.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

NONE = "none"


@dataclass(frozen=True, order=True)
class SchemaItem:
    """One object: ``kind`` within ``table`` (None for types and sequences), told apart from
    its siblings by ``key``, with its compared attributes as (name, text) pairs."""

    table: str | None
    kind: str  # "table", "column", "primary key", "foreign key", "unique", "check", ...
    key: str
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def identity(self) -> tuple[str | None, str, str]:
        return (self.table, self.kind, self.key)

    @property
    def label(self) -> str:
        """``table posts, column title``, ``enum type mood``, ``table users``."""
        if self.kind == "table":
            return f"table {self.key}"
        if self.table is None:
            return f"{self.kind} {self.key}"
        return f"table {self.table}, {self.kind} {self.key}"


@dataclass(frozen=True)
class TableShape:
    """A table as the Inspector reflects it: its columns (with their SQLAlchemy types), its
    primary key's columns and its foreign keys."""

    columns: list[dict[str, Any]]
    primary_key: list[str]
    foreign_keys: list[dict[str, Any]]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A comparable, hashable picture of the schema.

    ``shapes`` (not compared) keeps each table's columns and keys as reflected, for putting a
    row into it; ``key`` is the state's fingerprint, where the dialect has them. A snapshot
    with an ``outline`` (table -> column names) was read from its fingerprint alone: it has no
    items, is told apart from other states by its ``key`` only, and is never compared with
    ``==`` (that raises).
    """

    items: frozenset[SchemaItem] = field(default_factory=frozenset)
    shapes: Mapping[str, TableShape] = field(default_factory=dict)
    key: str | None = None
    outline: Mapping[str, frozenset[str]] | None = None

    @property
    def complete(self) -> bool:
        return self.outline is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        if not (self.complete and other.complete):
            raise TypeError("a snapshot read from its fingerprint alone compares by its key")
        return self.items == other.items

    def __hash__(self) -> int:
        return hash(self.items)

    def __bool__(self) -> bool:
        if not self.complete:
            raise TypeError("a snapshot read from its fingerprint alone has no items")
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def tables(self) -> frozenset[str]:
        if self.outline is not None:
            return frozenset(self.outline)
        return frozenset(item.key for item in self.items if item.kind == "table")

    def columns(self, table: str) -> frozenset[str]:
        if self.outline is not None:
            return self.outline.get(table, frozenset())
        return frozenset(
            item.key for item in self.items if item.kind == "column" and item.table == table
        )

    def by_identity(self) -> dict[tuple[str | None, str, str], SchemaItem]:
        return {item.identity: item for item in self.items}


# --------------------------------------------------------------------------- comparing


def describe_difference(before: Snapshot, after: Snapshot, *, limit: int = 12) -> str:
    """What changed from ``before`` to ``after``, object by object: ``left behind: table
    audit``, ``missing: table posts, column summary``, ``table account, column id: server
    default was nextval('account_id_seq'::regclass), now none``, ``table account: primary
    key was (id), now none``. A table's own parts are not listed when the table itself is
    left behind or missing."""
    old, new = before.by_identity(), after.by_identity()
    gone_tables = before.tables - after.tables
    new_tables = after.tables - before.tables
    parts: list[str] = []
    for identity in sorted(set(old) | set(new), key=_order):
        was, now = old.get(identity), new.get(identity)
        if was == now:
            continue
        table = identity[0] or _owner_table(was or now)
        if identity[1] != "table" and (table in gone_tables or table in new_tables):
            continue  # part of a table (or a sequence a table's column owns) already named
        if was is not None and now is not None:
            parts.extend(_changed(was, now))
        elif identity[1] in _SINGLE:  # one per table: an attribute of the table, in effect
            shown = was or now
            assert shown is not None
            parts.append(f"table {table}: {shown.kind} was {_summary(was)}, now {_summary(now)}")
        elif now is not None:
            parts.append(f"left behind: {now.label}")
        elif was is not None:
            parts.append(f"missing: {was.label}")
    if len(parts) > limit:
        parts = [*parts[:limit], f"and {len(parts) - limit} more difference(s)"]
    return "; ".join(parts)


_SINGLE = ("primary key",)
_KIND_ORDER = ("table", "column", "primary key", "foreign key", "unique", "check", "index")


def _order(identity: tuple[str | None, str, str]) -> tuple[bool, str, int, str, str]:
    """Tables and their parts first, then types and sequences."""
    table, kind, key = identity
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    return (table is None and kind != "table", table or "", rank, kind, key)


def _owner_table(item: SchemaItem | None) -> str | None:
    owner = dict(item.attributes).get("owner") if item is not None else None
    return owner.rsplit(".", 1)[0] if owner else None


def _changed(was: SchemaItem, now: SchemaItem) -> list[str]:
    old, new = dict(was.attributes), dict(now.attributes)
    if was.kind in _SINGLE:
        return [f"table {was.table}: {was.kind} was {_summary(was)}, now {_summary(now)}"]
    return [
        f"{was.label}: {name} was {old.get(name, NONE)}, now {new.get(name, NONE)}"
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]


def _summary(item: SchemaItem | None) -> str:
    if item is None:
        return NONE
    attributes = dict(item.attributes)
    name = attributes.get("name")
    return item.key + (f" named {name}" if name else "")


# --------------------------------------------------------------------------- reading


def take_snapshot(
    connection: Connection, version_table: str, only: Collection[str | None] | None = None
) -> Snapshot:
    """Read the schema of ``connection``'s default schema, the version table left out.

    ``only``: read just these parts (see :func:`part_of`): the named tables, and with None in
    it the types and sequences."""
    from sqlalchemy import inspect

    inspector = inspect(connection)
    dialect = connection.dialect
    tables = sorted(
        name
        for name in inspector.get_table_names()
        if name != version_table and (only is None or name in only)
    )
    read = _Reader(inspector, tables)
    items: set[SchemaItem] = set()
    shapes: dict[str, TableShape] = {}
    native_indexes = _index_texts(connection, tables)
    for table in tables:
        comment = read.one("table_comment", table) or {}
        items.add(SchemaItem(None, "table", table, _attrs(comment=comment.get("text"))))
        items.update(_columns(table, read.many("columns", table), dialect))
        key = read.one("pk_constraint", table) or {}
        shapes[table] = TableShape(
            read.many("columns", table),
            list(key.get("constrained_columns") or ()),
            read.many("foreign_keys", table),
        )
        items.update(_constraints(table, read, dialect.name))
        native = native_indexes.get(table, {})
        uniques = {unique.get("name") for unique in read.many("unique_constraints", table)}
        for index in read.many("indexes", table):
            if index.get("duplicates_constraint") or index.get("name") in uniques | {None}:
                continue  # a unique constraint's own index (MySQL's unique constraints)
            if index["name"] in native:
                continue  # the server's own text says it all
            options = {k: _sql(v) for k, v in sorted((index.get("dialect_options") or {}).items())}
            items.add(
                SchemaItem(
                    table,
                    "index",
                    index["name"],
                    _attrs(
                        columns=_index_columns(index),
                        unique="yes" if index.get("unique") else None,
                        sorting=_sql(index.get("column_sorting")) or None,
                        **{k: v for k, v in options.items() if v},
                    ),
                )
            )
        for name, definition in native.items():
            items.add(SchemaItem(table, "index", name, _attrs(definition=definition)))
    if only is None or None in only:
        items.update(_types_and_sequences(connection, inspector))
    return Snapshot(frozenset(items), shapes)


def part_of(item: SchemaItem) -> str | None:
    """The part of a snapshot ``item`` belongs to: its table's name (a table's own item
    included), or None for the types and sequences."""
    return item.key if item.kind == "table" else item.table


_FK_DEFAULTS = {("ondelete", "NO ACTION"), ("onupdate", "NO ACTION"), ("deferrable", "False")}


def _constraints(table: str, read: _Reader, dialect_name: str) -> list[SchemaItem]:
    """The primary key, foreign keys, unique and check constraints of ``table``."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    key = read.one("pk_constraint", table) or {}
    if key.get("constrained_columns"):
        found.append(("primary key", _columns_text(key["constrained_columns"]), key))
    for fk in read.many("foreign_keys", table):
        referred = f"{fk['referred_table']}{_columns_text(fk['referred_columns'])}"
        found.append(
            ("foreign key", f"{_columns_text(fk['constrained_columns'])} → {referred}", fk)
        )
    for unique in read.many("unique_constraints", table):
        found.append(("unique", _columns_text(unique["column_names"]), unique))
    for check in read.many("check_constraints", table):
        found.append(("check", _definition(str(check.get("sqltext"))), check))
    items = []
    for kind, content, reflected in found:
        options = {
            option: str(value)
            for option, value in (reflected.get("options") or {}).items()
            if value is not None and (option, str(value)) not in _FK_DEFAULTS
        }
        name = _user_name(reflected.get("name"), table, dialect_name)
        items.append(SchemaItem(table, kind, content, _attrs(name=name, **options)))
    return _keyed(items)


class _Reader:
    """Each reflection read: in bulk (``get_multi_*``) where the Inspector has it, else per
    table; a read the dialect does not support gives nothing."""

    def __init__(self, inspector: Any, tables: list[str]) -> None:
        self.inspector = inspector
        self.tables = tables
        self.bulk = hasattr(inspector, "get_multi_columns") and bool(tables)
        self.read: dict[str, dict[str, Any]] = {}

    def _all(self, what: str) -> dict[str, Any]:
        if what not in self.read:
            found: dict[str, Any] = {}
            try:
                if self.bulk:
                    rows = getattr(self.inspector, f"get_multi_{what}")(filter_names=self.tables)
                    found = {key[1]: value for key, value in rows.items()}
                else:
                    for table in self.tables:
                        found[table] = getattr(self.inspector, f"get_{what}")(table)
            except NotImplementedError:
                found = {}
            self.read[what] = found
        return self.read[what]

    def many(self, what: str, table: str) -> list[dict[str, Any]]:
        return list(self._all(what).get(table) or [])

    def one(self, what: str, table: str) -> dict[str, Any] | None:
        return self._all(what).get(table)


def _columns(table: str, columns: list[dict[str, Any]], dialect: Any) -> Iterable[SchemaItem]:
    for column in columns:
        identity = column.get("identity")
        computed = column.get("computed")
        yield SchemaItem(
            table,
            "column",
            column["name"],
            _attrs(
                type=_type_text(column["type"], dialect),
                nullable="NULL" if column.get("nullable", True) else "NOT NULL",
                **{"server default": _sql(column.get("default"))},
                identity=_mapping_text(identity) if identity else None,
                # MySQL's AUTO_INCREMENT; elsewhere it follows from the default or identity
                autoincrement="yes"
                if column.get("autoincrement") is True and dialect.name in ("mysql", "mariadb")
                else None,
                computed=_mapping_text(computed) if computed else None,
                comment=column.get("comment"),
            ),
        )


def _types_and_sequences(connection: Connection, inspector: Any) -> Iterable[SchemaItem]:
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        labels: dict[str, list[str]] = {}
        for name, label in connection.execute(text(_PG_ENUMS)):
            labels.setdefault(name, []).append(label)
        for name, found in labels.items():
            yield SchemaItem(None, "enum type", name, _attrs(labels=", ".join(found)))
        for name, *settings, owner in connection.execute(text(_PG_SEQUENCES)):
            described = "{} from {} by {}, min {}, max {}, cycle {}".format(*settings)
            yield SchemaItem(None, "sequence", name, _attrs(definition=described, owner=owner))
        return
    try:
        names = inspector.get_sequence_names()
    except (NotImplementedError, AttributeError):
        return
    for name in names:
        yield SchemaItem(None, "sequence", name)


_PG_ENUMS = """
select t.typname, e.enumlabel
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
join pg_enum e on e.enumtypid = t.oid
where n.nspname = current_schema()
order by t.typname, e.enumsortorder
"""

_PG_SEQUENCES = """
select c.relname, format_type(s.seqtypid, null), s.seqstart, s.seqincrement, s.seqmin,
       s.seqmax, s.seqcycle,
       (select t.relname || '.' || a.attname
        from pg_depend d
        join pg_class t on t.oid = d.refobjid
        join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
        where d.objid = c.oid and d.classid = 'pg_class'::regclass
              and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
        limit 1)
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_sequence s on s.seqrelid = c.oid
where n.nspname = current_schema() and c.relkind = 'S'
"""


def _index_texts(connection: Connection, tables: list[str]) -> dict[str, dict[str, str]]:
    """Table -> index -> the server's own ``CREATE INDEX`` text, where it keeps one (indexes
    that back a constraint left out: the constraint is compared), for ``tables``."""
    from sqlalchemy import bindparam, text

    name = connection.dialect.name
    if name == "postgresql":
        query = _PG_INDEXES
    elif name == "sqlite":
        query = (
            "select tbl_name, name, sql from sqlite_master where type = 'index' "
            "and sql is not null and tbl_name in :tables"
        )
    else:
        return {}
    if not tables:
        return {}
    statement = text(query).bindparams(bindparam("tables", expanding=True))
    found: dict[str, dict[str, str]] = {}
    for table, index, definition in connection.execute(statement, {"tables": tables}):
        if definition:
            found.setdefault(table, {})[index] = _definition(definition)
    return found


_PG_INDEXES = """
select t.relname, i.relname, pg_get_indexdef(i.oid)
from pg_index x
join pg_class i on i.oid = x.indexrelid
join pg_class t on t.oid = x.indrelid
join pg_namespace n on n.oid = t.relnamespace
where n.nspname = current_schema() and t.relname in :tables
  and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)
"""


# --------------------------------------------------------------------------- normalising

_SPACE = re.compile(r"\s+")


def _sql(value: Any) -> str | None:
    """SQL text with whitespace collapsed and redundant outer parentheses removed."""
    if value is None:
        return None
    text = _SPACE.sub(" ", str(value)).strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


_QUOTES = re.compile(r'["`\[\]]')
_PUNCTUATION_SPACE = re.compile(r"\s+(?=[(),])|(?<=[(,])\s+")


def _definition(value: str) -> str:
    """A statement's text as the server or SQLAlchemy may spell it either way: identifier
    quotes and the spaces around parentheses and commas left out."""
    return _PUNCTUATION_SPACE.sub("", _QUOTES.sub("", _sql(value) or ""))


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _type_text(type_: Any, dialect: Any) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # a reflected type this dialect cannot render: its repr still compares
        return repr(type_)


def _columns_text(columns: Iterable[Any]) -> str:
    return "(" + ", ".join(str(column) for column in columns) + ")"


def _index_columns(index: dict[str, Any]) -> str:
    expressions = index.get("expressions")
    names = expressions if expressions else index.get("column_names") or []
    return _columns_text(_sql(name) if name is not None else "<expression>" for name in names)


def _mapping_text(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{key} {_sql(value)}" for key, value in sorted(mapping.items()))


def _attrs(**attributes: Any) -> tuple[tuple[str, str], ...]:
    """The attributes that have a value, in a stable order."""
    return tuple(sorted((k, str(v)) for k, v in attributes.items() if v not in (None, "")))


def _keyed(items: Iterable[SchemaItem]) -> list[SchemaItem]:
    """Two constraints with the same content (and so the same key) are both kept."""
    seen: dict[tuple[str | None, str, str], int] = {}
    kept = []
    for item in sorted(items):
        count = seen.get(item.identity, 0)
        seen[item.identity] = count + 1
        if count:
            item = SchemaItem(item.table, item.kind, f"{item.key} #{count + 1}", item.attributes)
        kept.append(item)
    return kept


def _user_name(name: str | None, table: str, dialect_name: str) -> str | None:
    """``name``, or None when it is one the server invents for an unnamed constraint."""
    if not name:
        return None
    if dialect_name == "postgresql":
        if name.startswith(f"{table}_") and re.search(r"_(pkey|fkey|key|check|excl)\d*$", name):
            return None
    elif dialect_name in ("mysql", "mariadb"):
        invented = (r"PRIMARY", rf"{re.escape(table)}_(ibfk|chk)_\d+", r"CONSTRAINT_\d+")
        if any(re.fullmatch(pattern, name) for pattern in invented):
            return None
    return name
