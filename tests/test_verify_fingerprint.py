"""Fingerprints, and the snapshots verify reads from them: a state seen before costs one
query, and any other is read anew only in the parts (tables; types and sequences) whose
fingerprint changed. Both shortcuts must never hide a difference a full snapshot would show.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Project

pytestmark = pytest.mark.legacy_sqlalchemy

VERSION_TABLE = "alembic_version"


def read(project: Project, reader: Any = None) -> tuple[Any, Any, Any, Any]:
    """(whole fingerprint, part fingerprints, full snapshot, the reader's snapshot)."""
    from migratectl.commands.verify_fingerprint import read_parts, whole_fingerprint
    from migratectl.commands.verify_schema import take_snapshot

    engine = project.engine()
    try:
        with engine.connect() as connection:
            parts = read_parts(connection)
            digests = parts[0] if parts is not None else None
            return (
                whole_fingerprint(digests) if digests is not None else None,
                digests,
                take_snapshot(connection, VERSION_TABLE),
                reader.read(connection) if reader is not None else None,
            )
    finally:
        engine.dispose()


# Changes that each alter what a snapshot holds, on PostgreSQL, with the part they are in
# (the SQLite fingerprint is the whole CREATE text of every object; MySQL and MariaDB have
# none: always a full snapshot).
PG_CHANGES = [
    ("ALTER TABLE account ALTER COLUMN name SET DEFAULT 'y'", "account"),
    ("ALTER TABLE account ALTER COLUMN name SET NOT NULL", "account"),
    ("ALTER TABLE account ALTER COLUMN name TYPE VARCHAR(30)", "account"),
    ("COMMENT ON COLUMN account.name IS 'shown'", "account"),
    ("COMMENT ON TABLE account IS 'people'", "account"),
    ("ALTER TABLE account ADD CONSTRAINT account_name_key UNIQUE (name)", "account"),
    ("ALTER TABLE account ADD CONSTRAINT name_set CHECK (name <> '')", "account"),
    ("CREATE INDEX ix_name ON account (lower(name)) WHERE name IS NOT NULL", "account"),
    (
        "ALTER TABLE account ADD COLUMN parent INTEGER REFERENCES account (id) ON DELETE CASCADE",
        "account",
    ),
    ("CREATE TYPE mood AS ENUM ('happy')", None),
    ("CREATE SEQUENCE counter START 5", None),
    ("ALTER TABLE account DROP CONSTRAINT account_pkey", "account"),
    ("ALTER TABLE account ADD COLUMN code INTEGER GENERATED ALWAYS AS IDENTITY", "account"),
    ("ALTER TABLE other RENAME COLUMN id TO other_id", "other"),
]


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize(("change", "part"), PG_CHANGES)
def test_a_change_a_snapshot_sees_changes_its_part_of_the_fingerprint(
    project: Project, change: str, part: str | None
) -> None:
    """Every change a snapshot sees changes the fingerprint, in the part it belongs to (and
    only there: the other parts are carried over from the state before)."""
    from migratectl.commands.verify_fingerprint import SnapshotReader

    project.query("CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(20) DEFAULT 'x')")
    project.query("CREATE TABLE other (id INTEGER PRIMARY KEY)")
    reader = SnapshotReader(VERSION_TABLE, outlines=False)
    whole, parts, snapshot, _ = read(project, reader)
    project.query(change)
    now_whole, now_parts, now_snapshot, from_parts = read(project, reader)
    assert now_snapshot != snapshot  # the snapshot sees it ...
    assert now_whole != whole  # ... and so does the fingerprint, ...
    changed = {
        name for name in parts.keys() | now_parts.keys() if parts.get(name) != now_parts.get(name)
    }
    assert part in changed  # ... in the part it is in
    assert from_parts == now_snapshot  # read in parts, the same snapshot
    if part is not None:
        assert changed <= {part, None}  # an identity's sequence is one of the sequences
    project.query("INSERT INTO other VALUES (1)")
    assert read(project)[0] == now_whole  # rows are no change


def test_rows_do_not_change_a_fingerprint(sqlite_project: Project) -> None:
    sqlite_project.query("CREATE TABLE account (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)")
    first = read(sqlite_project)[0]
    sqlite_project.query("INSERT INTO account (name) VALUES ('a')")
    assert read(sqlite_project)[0] == first is not None


def _changes(backend: str) -> list[str]:
    drop_index = "DROP INDEX ix_child_parent" + (" ON child" if backend == "mariadb" else "")
    changes = [
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, name VARCHAR(20))",
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER, "
        "FOREIGN KEY (parent_id) REFERENCES parent (id))",
        "CREATE INDEX ix_child_parent ON child (id, parent_id)",
        "ALTER TABLE parent RENAME TO mother",  # the child's key now refers to mother
        "ALTER TABLE child ADD COLUMN note VARCHAR(10) DEFAULT 'x'",
        drop_index,
        "CREATE TABLE lonely (id INTEGER PRIMARY KEY)",
        "DROP TABLE child",
    ]
    if backend == "postgresql":
        changes[1:1] = [
            "CREATE TYPE mood AS ENUM ('happy')",
            "ALTER TYPE mood ADD VALUE 'sad'",
            "ALTER TABLE parent ADD COLUMN feeling mood",
            "CREATE TABLE counted (id SERIAL PRIMARY KEY)",
            "ALTER TABLE counted RENAME TO tallied",  # its sequence's owner is renamed too
        ]
    return changes


def test_each_state_read_in_parts_is_its_full_snapshot(project: Project, backend: str) -> None:
    """A walk of changes, some of them back to an earlier state: at every state the reader's
    snapshot is the one a full reading gives."""
    from migratectl.commands.verify_fingerprint import SnapshotReader

    project.query(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) PRIMARY KEY)")
    reader = SnapshotReader(VERSION_TABLE, outlines=False)
    seen = []
    for change in [*_changes(backend), "DROP TABLE lonely"]:
        project.query(change)
        whole, _, full, from_parts = read(project, reader)
        assert from_parts == full, change
        seen.append(full)
    assert len(set(seen)) == len(seen)  # every change was one a snapshot sees
    if backend != "mariadb":  # fingerprints: only what changed was read again
        assert reader.reflected < 3 * len(seen)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_states_are_outlines_until_read_in_full(project: Project) -> None:
    """On PostgreSQL a new state is read from its fingerprint alone: its tables and their
    columns, told apart by key, never compared item by item; read in full it is the full
    snapshot, and a state seen before is the snapshot kept for it."""
    from migratectl.commands.verify_fingerprint import SnapshotReader

    project.query(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) PRIMARY KEY)")
    reader = SnapshotReader(VERSION_TABLE)
    first = read(project, reader)[3]
    assert first.complete and not first  # the empty database, in full
    project.query("CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    whole, _, full, outline = read(project, reader)
    assert not outline.complete and outline.key == whole != first.key
    assert outline.tables == {"account"} and outline.columns("account") == {"id", "name"}
    with pytest.raises(TypeError):
        assert outline == full
    engine = project.engine()
    try:
        with engine.connect() as connection:
            in_full = reader.read_in_full(connection)
            again = reader.read(connection)
    finally:
        engine.dispose()
    assert in_full.complete and in_full == full and in_full.key == whole
    assert again is in_full
    project.query("DROP TABLE account")
    assert read(project, reader)[3] is first


# --------------------------------------------------------------------------- through verify


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_state_unlike_its_fingerprint_but_alike_in_full_passes(project: Project) -> None:
    """A downgrade that puts a check constraint back NOT VALID leaves another fingerprint
    (the catalogue says so) but the same snapshot (verify does not compare validation): the
    stairway rebuilds the state it should equal, compares both in full and passes, and the
    walk goes on from the state the downgrade left."""
    from test_verify import verify
    from test_verify_schema import history, initialised

    initialised(project)
    create = """op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("id > 0", name="positive"),
    )"""
    history(
        project,
        ("account", create, 'op.drop_table("account")'),
        (
            "note",
            'op.add_column("account", sa.Column("note", sa.String(20)))',
            'op.drop_column("account", "note")\n'
            '    op.execute("ALTER TABLE account DROP CONSTRAINT positive")\n'
            '    op.execute("ALTER TABLE account ADD CONSTRAINT positive "'
            '"CHECK (id > 0) NOT VALID")',
        ),
    )
    _, checks = verify(project)
    assert [name for name, check in checks.items() if not check["ok"]] == ["models_match"]
    assert project.tables() == set()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_difference_found_by_fingerprint_is_described_in_full(project: Project) -> None:
    """The middle one of three revisions leaves a column behind in its downgrade: found by
    the fingerprint, described from both states read in full, and the state the downgrade
    left is the one the later checks see (downgrade_to_base goes on down from it)."""
    from test_verify import verify
    from test_verify_schema import history, initialised

    initialised(project)
    history(
        project,
        (
            "account",
            'op.create_table("account", sa.Column("id", sa.Integer(), primary_key=True))',
            'op.drop_table("account")',
        ),
        (
            "status",
            'op.add_column("account", sa.Column("status", sa.String(9), server_default="new"))',
            'op.drop_column("account", "status")\n'
            '    op.add_column("account", sa.Column("status", sa.String(9)))',
        ),
        (
            "status dropped",
            'op.drop_column("account", "status")',
            'op.add_column("account", sa.Column("status", sa.String(9), server_default="new"))',
        ),
    )
    _, checks = verify(project)
    assert checks["stairway"]["detail"] == (
        "revision r2 (status): downgrade does not undo it: left behind: table account, column "
        "status"
    )
    assert checks["downgrade_to_base"]["ok"], checks
    assert project.tables() == set()
