"""Fingerprints of a schema, and the snapshots ``verify`` takes of each state from them.

A fingerprint is a digest, read in one query, of everything :func:`take_snapshot` compares,
part by part: one digest per table (its columns, constraints, indexes, comment) and one for
the types and sequences. Each part's digest covers a superset of what that part of a snapshot
holds (SQLite: every object's ``CREATE`` text; PostgreSQL: the catalogue's own text of each
column, constraint, index, enum type and sequence, names included), so equal digests mean
equal parts. MySQL and MariaDB have none yet: each of their snapshots is taken in full.

:class:`SnapshotReader` uses them: a state whose fingerprint it has seen costs that one query.
Any other state is, on SQLite, reflected only in the parts whose digest changed since the last
state it read (a revision usually changes a table or two), the rest carried over; on
PostgreSQL it is known by its fingerprint alone until the caller asks for it in full.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING

from migratectl.commands.verify_schema import Snapshot, part_of, take_snapshot

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def read_parts(
    connection: Connection,
) -> tuple[dict[str | None, str], dict[str, set[str]]] | None:
    """Each part's digest (table name -> digest; None -> the types and sequences; rows are no
    part of it), and each table's columns (PostgreSQL's ordinary and partitioned tables; none
    read on SQLite), or None for a dialect without fingerprints."""
    from sqlalchemy import text

    query = {"sqlite": _SQLITE_FINGERPRINT, "postgresql": _PG_FINGERPRINT}.get(
        connection.dialect.name
    )
    if query is None:
        return None
    rows: dict[str | None, list[str]] = {}
    outline: dict[str, set[str]] = {}
    for part, kind, name, *values in connection.execute(text(query)):
        rows.setdefault(part, []).append(
            "\x1f".join("" if v is None else str(v) for v in (kind, name, *values))
        )
        if kind == "relation" and name in ("r", "p"):
            outline.setdefault(part, set())
        elif kind == "column":
            outline.setdefault(part, set()).add(name)
    digests = {part: _digest(sorted(found)) for part, found in rows.items()}
    return digests, outline


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\x1e".join(texts).encode()).hexdigest()


def whole_fingerprint(parts: dict[str | None, str]) -> str:
    # "\x00" stands for None: no table is named that.
    return _digest(sorted(f"{part or chr(0)}\x1d{digest}" for part, digest in parts.items()))


class SnapshotReader:
    """The snapshots of one database's successive states: a state seen before is its snapshot
    again. Any other is, on SQLite, the last one read with the parts whose fingerprint changed
    read anew; on PostgreSQL, whose reflection costs a dozen round trips, it is read from its
    fingerprint alone (an outline: :class:`Snapshot`), and in full only when the caller asks
    (:meth:`read_in_full`: a state whose fingerprint is unlike the one it should have).
    """

    def __init__(self, version_table: str, *, outlines: bool = True) -> None:
        self.version_table = version_table
        self.outlines = outlines  # False: every state in full (or in parts), PostgreSQL's too
        self.seen: dict[str, Snapshot] = {}  # whole fingerprint -> the snapshot of that state
        self.last: tuple[dict[str | None, str], Snapshot] | None = None
        self.reflected = 0  # parts read from the catalogue (for the tests: how much work)

    def read(self, connection: Connection) -> Snapshot:
        read = read_parts(connection)
        if read is None:
            return take_snapshot(connection, self.version_table)
        parts, outline = read
        key = whole_fingerprint(parts)
        found = self.seen.get(key)
        if found is None:
            if self.last is None:  # the first state (the empty database) in full
                found = replace(take_snapshot(connection, self.version_table), key=key)
                self.reflected += len(parts)
            elif self.outlines and connection.dialect.name == "postgresql":
                tables = {
                    name: frozenset(columns)
                    for name, columns in outline.items()
                    if name != self.version_table
                }
                found = Snapshot(key=key, outline=tables)
            else:
                known, previous = self.last
                every = parts.keys() | known.keys()
                changed = {part for part in every if parts.get(part) != known.get(part)}
                fresh = take_snapshot(connection, self.version_table, only=changed)
                self.reflected += len(changed)
                kept = (item for item in previous.items if part_of(item) not in changed)
                shapes = {k: v for k, v in previous.shapes.items() if k not in changed}
                found = Snapshot(frozenset(kept) | fresh.items, {**shapes, **fresh.shapes}, key=key)
            self.seen[key] = found
        self.last = (parts, found)
        return found

    def read_in_full(self, connection: Connection) -> Snapshot:
        """The state now, reflected in full (and so kept for its fingerprint)."""
        found = take_snapshot(connection, self.version_table)
        read = read_parts(connection)
        if read is None:
            return found
        found = replace(found, key=whole_fingerprint(read[0]))
        self.seen[found.key] = found  # type: ignore[index]
        self.last = (read[0], found)
        return found


_SQLITE_FINGERPRINT = """
select tbl_name, type, name, sql from sqlite_master where name not like 'sqlite_%'
"""

# The first column names the part: the table, or null for types and sequences. Column order
# (attnum) is left out: a snapshot does not compare it, and a column dropped and added again
# comes back at another position.
_PG_FINGERPRINT = """
with rel as (
    select c.oid, c.relname, c.relkind
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind in ('r', 'p', 'v', 'm', 'f')
)
select r.relname, 'relation', r.relkind::text,
       (select d.description from pg_description d
        where d.objoid = r.oid and d.classoid = 'pg_class'::regclass and d.objsubid = 0),
       null, null
from rel r
union all
select r.relname, 'column', a.attname,
       format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull::text
       || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
       || ' collation=' || a.attcollation::text,
       case when a.atthasdef then (select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d
            where d.adrelid = a.attrelid and d.adnum = a.attnum) end,
       (select ds.description from pg_description ds
        where ds.objoid = r.oid and ds.classoid = 'pg_class'::regclass and ds.objsubid = a.attnum)
from rel r
cross join lateral (
    select * from pg_attribute a
    where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
) a
union all
select r.relname, 'constraint', k.conname, k.contype::text, pg_get_constraintdef(k.oid),
       k.condeferrable::text || k.condeferred::text || k.convalidated::text
from rel r join pg_constraint k on k.conrelid = r.oid
union all
select r.relname, 'index', pg_get_indexdef(i.indexrelid), null, null, null
from rel r join pg_index i on i.indrelid = r.oid
union all
select null, 'type', t.typname, t.typtype::text, format_type(t.typbasetype, t.typtypmod),
       coalesce(t.typdefault, '') || ' ' || t.typnotnull::text
from pg_type t join pg_namespace n on n.oid = t.typnamespace
where n.nspname = current_schema() and t.typtype in ('e', 'd', 'c')
      and (t.typrelid = 0 or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
union all
select null, 'enum label', t.typname, e.enumlabel, e.enumsortorder::text, null
from pg_type t
join pg_namespace n on n.oid = t.typnamespace
join pg_enum e on e.enumtypid = t.oid
where n.nspname = current_schema()
union all
select null, 'sequence', c.relname,
       format_type(s.seqtypid, null) || ' ' || s.seqstart::text || ' ' || s.seqincrement::text,
       s.seqmin::text || ' ' || s.seqmax::text || ' ' || s.seqcycle::text,
       t.relname || '.' || a.attname
from pg_class c
join pg_namespace n on n.oid = c.relnamespace and n.nspname = current_schema()
join pg_sequence s on s.seqrelid = c.oid
left join pg_depend d on d.objid = c.oid and d.classid = 'pg_class'::regclass
     and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
left join pg_class t on t.oid = d.refobjid
left join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
where c.relkind = 'S'
"""
