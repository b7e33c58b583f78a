"""Bulk reflection (migratectl.database.reflection) changes how many queries autogenerate
costs, never what it finds: on every backend and across varied schema differences, the
operations rendered with it and without it (MIGRATECTL_BULK_REFLECTION=0, Alembic on its own)
are identical.

On PostgreSQL the number of queries a comparison costs does not grow with the number of tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, fresh_database
from sqlalchemy import event
from sqlalchemy.engine import Engine

from migratectl.commands.check import _read_ahead
from migratectl.database import reflection
from migratectl.repository.comparison import compare
from migratectl.settings import load_settings

Setup = Callable[[sa.engine.Connection, str], None]


def compared(project: Project, monkeypatch: pytest.MonkeyPatch, *, bulk: bool) -> str:
    """Autogenerate's upgrade and downgrade operations, rendered as a revision would hold them."""
    monkeypatch.setenv(reflection.SWITCH, "1" if bulk else "0")
    settings = load_settings(config=str(project.path / "migratectl.toml"))
    return rendered(compare(settings))


def rendered(operations: list[Any]) -> str:
    from alembic.autogenerate import render_python_code

    parts = []
    for ops in operations:
        parts.append(render_python_code(ops))
        parts.append(render_python_code(ops.reverse()))
    return "\n# ---\n".join(parts)


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    """Every statement sent to any database while the block runs."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def prepare(
    project: Project, setup: Setup, models: str, configure: str = "", module: str = "models"
) -> None:
    """The database as it is (``setup``), the models as they should be, and a repository."""
    project.models(models, module=module)
    project.config(f"[configure]\n{configure}" if configure else "", models=module)
    assert project.run("init").exit_code == 0
    engine = project.engine()
    try:
        with engine.begin() as connection:
            setup(connection, engine.dialect.name)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- scenarios


def tables_added_and_removed(connection: sa.engine.Connection, dialect: str) -> None:
    md = sa.MetaData()
    sa.Table(
        "users", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50))
    )
    sa.Table(
        "legacy",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("data", sa.Text),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("code", sa.String(10), server_default="x1"),
        sa.Index("ix_legacy_code", "code"),
    )
    md.create_all(connection)


TABLES_MODELS = """
    users = sa.Table(
        "users", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)),
    )
    posts = sa.Table(
        "posts", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Index("ix_posts_title", "title"),
    )
    """


def columns_changed(connection: sa.engine.Connection, dialect: str) -> None:
    md = sa.MetaData()
    sa.Table(
        "accounts",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=True),
        sa.Column("age", sa.Integer),
        sa.Column("obsolete", sa.Text),
        sa.Column("score", sa.Numeric(10, 2), nullable=False),
        sa.Column("flag", sa.Boolean, nullable=False),
    )
    md.create_all(connection)


COLUMNS_MODELS = """
    accounts = sa.Table(
        "accounts", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("age", sa.BigInteger),
        sa.Column("email", sa.String(120)),
        sa.Column("score", sa.Numeric(12, 4), nullable=True),
        sa.Column("flag", sa.Boolean, nullable=False),
    )
    """


def constraints_changed(connection: sa.engine.Connection, dialect: str) -> None:
    md = sa.MetaData()
    sa.Table(
        "people",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("name", sa.String(50)),
        sa.Column("nick", sa.String(20)),
        sa.Index("ix_people_name", "name"),
        sa.UniqueConstraint("email", name="uq_people_email"),
    )
    sa.Table("teams", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "members",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", name="fk_members_person")),
        sa.Column("team_id", sa.Integer),
    )
    md.create_all(connection)


CONSTRAINTS_MODELS = """
    people = sa.Table(
        "people", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("name", sa.String(50)),
        sa.Column("nick", sa.String(20)),
        sa.Index("ix_people_email", "email"),
        sa.UniqueConstraint("name", "nick", name="uq_people_name_nick"),
    )
    teams = sa.Table("teams", Base.metadata, sa.Column("id", sa.Integer, primary_key=True))
    members = sa.Table(
        "members", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer),
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", name="fk_members_team")),
    )
    """


def server_defaults_changed(connection: sa.engine.Connection, dialect: str) -> None:
    md = sa.MetaData()
    sa.Table(
        "options",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(20), server_default="new"),
        sa.Column("counter", sa.Integer, server_default="0"),
        sa.Column("label", sa.String(20), server_default="same"),
    )
    # Integer keys: SERIAL on PostgreSQL, whose nextval() default autogenerate must not report.
    sa.Table("numbered", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("big", md, sa.Column("id", sa.BigInteger, primary_key=True))
    sa.Table(
        "dropped", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Integer)
    )
    md.create_all(connection)
    if dialect == "postgresql":
        # A sequence no column owns, and one owned by another column: both defaults are real.
        connection.exec_driver_sql("CREATE SEQUENCE tickets_seq")
        connection.exec_driver_sql(
            "ALTER TABLE numbered ADD COLUMN ticket integer DEFAULT nextval('tickets_seq')"
        )
        connection.exec_driver_sql(
            "ALTER TABLE numbered ADD COLUMN copy_of_id integer DEFAULT nextval('numbered_id_seq')"
        )
        connection.exec_driver_sql(
            "ALTER TABLE dropped ADD COLUMN ticket bigint DEFAULT nextval('tickets_seq')"
        )


SERVER_DEFAULTS_MODELS = """
    options = sa.Table(
        "options", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(20), server_default="active"),
        sa.Column("counter", sa.Integer, server_default="0"),
        sa.Column("label", sa.String(20), server_default="same"),
        sa.Column("region", sa.String(10), server_default="eu"),
    )
    numbered = sa.Table("numbered", Base.metadata, sa.Column("id", sa.Integer, primary_key=True))
    big = sa.Table("big", Base.metadata, sa.Column("id", sa.BigInteger, primary_key=True))
    """


def comments_changed(connection: sa.engine.Connection, dialect: str) -> None:
    md = sa.MetaData()
    sa.Table(
        "notes",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text, comment="old body"),
        sa.Column("title", sa.String(50), comment="a title"),
        comment="old table comment",
    )
    md.create_all(connection)


COMMENTS_MODELS = """
    notes = sa.Table(
        "notes", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text, comment="new body"),
        sa.Column("title", sa.String(50)),
        comment="new table comment",
    )
    """


def schemas_changed(connection: sa.engine.Connection, dialect: str) -> None:
    connection.exec_driver_sql("CREATE SCHEMA other")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("CamelGone", md, sa.Column("id", sa.Integer, primary_key=True))
    for name in ("items", "MixedCase", "gone", "MixedGone"):
        sa.Table(
            name,
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(50)),
            schema="other",
        )
    md.create_all(connection)


SCHEMAS_MODELS = """
    users = sa.Table("users", Base.metadata, sa.Column("id", sa.Integer, primary_key=True))
    items = sa.Table(
        "items", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(80)),
        schema="other",
    )
    mixed = sa.Table(
        "MixedCase", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)),
        schema="other",
    )
    fresh = sa.Table(
        "fresh", Base.metadata, sa.Column("id", sa.Integer, primary_key=True), schema="other"
    )
    """

# name -> (database set-up, models, [configure] lines, text the operations must contain)
SCENARIOS: dict[str, tuple[Setup, str, str, list[str]]] = {
    "tables": (
        tables_added_and_removed,
        TABLES_MODELS,
        "",
        ["op.create_table('posts'", "op.drop_table('legacy')"],
    ),
    "columns": (
        columns_changed,
        COLUMNS_MODELS,
        "",
        [
            "op.add_column('accounts', sa.Column('email'",
            "op.drop_column('accounts', 'obsolete')",
            "op.alter_column('accounts', 'name'",
            "type_=sa.BigInteger()",
        ],
    ),
    "constraints": (
        constraints_changed,
        CONSTRAINTS_MODELS,
        "",
        ["ix_people_email", "ix_people_name", "uq_people_name_nick", "fk_members_team"],
    ),
    "server_defaults": (
        server_defaults_changed,
        SERVER_DEFAULTS_MODELS,
        "compare_server_default = true\n",
        ["'active'", "sa.Column('region'", "op.drop_table('dropped')"],
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_bulk_reflection_finds_what_alembic_finds(
    project: Project, monkeypatch: pytest.MonkeyPatch, scenario: str
) -> None:
    setup, models, configure, expected = SCENARIOS[scenario]
    prepare(project, setup, models, configure)

    alembic_alone = compared(project, monkeypatch, bulk=False)
    bulk = compared(project, monkeypatch, bulk=True)

    assert bulk == alembic_alone
    for text in expected:
        assert text in bulk, bulk


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])  # SQLite has no comments
def test_comments_compare_the_same(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare(project, comments_changed, COMMENTS_MODELS)

    alembic_alone = compared(project, monkeypatch, bulk=False)
    bulk = compared(project, monkeypatch, bulk=True)

    assert bulk == alembic_alone
    assert "new table comment" in bulk and "new body" in bulk, bulk


@pytest.mark.parametrize("backend", ["postgresql"])
def test_serial_columns_are_told_apart_from_real_sequence_defaults(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table's own SERIAL default is omitted; a sequence it does not own is a real default."""
    prepare(
        project, server_defaults_changed, SERVER_DEFAULTS_MODELS, "compare_server_default = true\n"
    )

    bulk = compared(project, monkeypatch, bulk=True)

    assert bulk == compared(project, monkeypatch, bulk=False)
    dropped = bulk[bulk.index("op.create_table('dropped'") :]
    assert "nextval('tickets_seq'::regclass)" in dropped, bulk  # not owned: kept
    assert "nextval('dropped_id_seq'" not in bulk, bulk  # owned SERIAL: omitted
    assert "drop_column('numbered', 'copy_of_id')" in bulk, bulk


@pytest.mark.parametrize("backend", ["postgresql"])  # schemas inside one database
def test_schemas_compare_the_same(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """include_schemas: a sequence outside the search path has a schema-qualified name, a
    mixed-case one a quoted name; the dropped tables' SERIAL keys render without a default."""
    prepare(project, schemas_changed, SCHEMAS_MODELS, "include_schemas = true\n")

    alembic_alone = compared(project, monkeypatch, bulk=False)
    bulk = compared(project, monkeypatch, bulk=True)

    assert bulk == alembic_alone
    for dropped in ("'gone', schema='other'", "'MixedGone', schema='other'", "'CamelGone'"):
        assert f"op.drop_table({dropped})" in bulk, bulk
    assert "op.create_table('fresh'" in bulk, bulk
    assert "nextval" not in bulk, bulk


# --------------------------------------------------------------------------- round trips


def many_tables(count: int) -> tuple[Setup, str]:
    """``count`` related tables (key, FK, index, unique, defaults), and models that match."""

    def table(md: sa.MetaData, index: int) -> sa.Table:
        columns: list[sa.SchemaItem] = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(50), nullable=False, index=True),
            sa.Column("email", sa.String(100), unique=True),
            sa.Column("amount", sa.Numeric(10, 2), server_default="0"),
        ]
        if index:
            columns.append(sa.Column("parent_id", sa.Integer, sa.ForeignKey(f"t{index - 1}.id")))
        return sa.Table(f"t{index}", md, *columns)

    def setup(connection: sa.engine.Connection, dialect: str) -> None:
        md = sa.MetaData()
        for index in range(count):
            table(md, index)
        md.create_all(connection)

    models = (
        "def _table(index):\n"
        "    columns = [\n"
        "        sa.Column('id', sa.Integer, primary_key=True),\n"
        "        sa.Column('name', sa.String(50), nullable=False, index=True),\n"
        "        sa.Column('email', sa.String(100), unique=True),\n"
        "        sa.Column('amount', sa.Numeric(10, 2), server_default='0'),\n"
        "    ]\n"
        "    if index:\n"
        "        columns.append(sa.Column('parent_id', sa.Integer, "
        "sa.ForeignKey(f't{index - 1}.id')))\n"
        "    return sa.Table(f't{index}', Base.metadata, *columns)\n\n\n"
        f"tables = [_table(i) for i in range({count})]\n"
    )
    return setup, models


def queries_for(project: Project, monkeypatch: pytest.MonkeyPatch, *, bulk: bool) -> int:
    with counted_queries() as statements:
        rendered = compared(project, monkeypatch, bulk=bulk)
    assert "op." not in rendered, f"models and database differ: {rendered}"
    return len(statements)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_query_count_does_not_grow_with_tables_on_postgresql(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Not asserted elsewhere: MySQL/MariaDB read each table with its own SHOW CREATE TABLE
    (SQLAlchemy has no multi-table form for them); SQLite's PRAGMAs run in-process."""
    counts: dict[tuple[int, bool], int] = {}
    for size in (5, 50):
        folder = tmp_path_factory.mktemp(f"tables{size}")
        with contextmanager(fresh_database)(backend, folder) as url:
            (folder / "project").mkdir()
            project = Project(folder / "project", url)
            setup, models = many_tables(size)
            prepare(project, setup, models, module=f"models{size}")
            for bulk in (False, True):
                counts[(size, bulk)] = queries_for(project, monkeypatch, bulk=bulk)

    # Alembic alone asks one question per SERIAL table; with bulk reflection the count is flat.
    assert counts[(50, False)] - counts[(5, False)] >= 45, counts
    assert counts[(50, True)] - counts[(5, True)] <= 2, counts
    assert counts[(50, True)] < 30, counts


# --------------------------------------------------------------------------- read ahead


def compared_after_prefetch(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, object] | None]:
    """What `check` does behind a network: the version table and the catalogue read ahead on
    the connection, then the comparison on that connection. Also returns the answers no call
    asked for (None when nothing was read ahead)."""
    monkeypatch.setenv(reflection.SWITCH, "1")
    settings = load_settings(config=str(project.path / "migratectl.toml"))
    engine = project.engine()
    try:
        with engine.connect() as connection:
            _read_ahead(settings, connection)
            prefetched = connection.info.get(reflection.PREFETCHED)
            text = rendered(compare(settings, connection=connection))
            assert reflection.PREFETCHED not in connection.info
    finally:
        engine.dispose()
    return text, None if prefetched is None else dict(prefetched.answers)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_catalogue_read_ahead_finds_what_alembic_finds(
    project: Project, monkeypatch: pytest.MonkeyPatch, scenario: str
) -> None:
    setup, models, configure, _ = SCENARIOS[scenario]
    prepare(project, setup, models, configure)

    alembic_alone = compared(project, monkeypatch, bulk=False)
    ahead, unasked = compared_after_prefetch(project, monkeypatch)

    assert ahead == alembic_alone
    assert unasked is not None, "nothing was read ahead"
    assert unasked == {}, f"read ahead but asked differently: {sorted(unasked)}"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_catalogue_read_ahead_with_other_schemas(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """include_schemas: Alembic asks schema by schema, so nothing is read ahead to go unused;
    the comparison is Alembic's own."""
    prepare(project, schemas_changed, SCHEMAS_MODELS, "include_schemas = true\n")

    ahead, unasked = compared_after_prefetch(project, monkeypatch)

    assert ahead == compared(project, monkeypatch, bulk=False)
    assert unasked is None


def test_an_answer_read_ahead_is_given_once_and_only_to_the_same_question(
    project: Project,
) -> None:
    prepare(project, tables_added_and_removed, "")
    engine = project.engine()
    try:
        with engine.connect() as connection:
            reflection.prefetch(
                connection, version_table="alembic_version", version_table_schema=None
            )
            prefetched = connection.info.pop(reflection.PREFETCHED)
            dialect = connection.dialect
            prefetched.serve(dialect)
            inspector = sa.inspect(connection)
            with counted_queries() as statements:
                assert set(inspector.get_table_names()) == {"users", "legacy"}
                assert set(inspector.get_multi_columns(filter_names=["users"])) == {
                    (None, "users")
                }  # asked differently: from the database
            asked_differently = len(statements)
            with counted_queries() as statements:
                columns = inspector.get_multi_columns(filter_names=["users", "legacy"])
            assert len(statements) == 0  # read ahead: no query
            assert {name for _, name in columns} == {"users", "legacy"}
            assert "get_multi_columns" not in prefetched.answers
            with counted_queries() as statements:
                again = inspector.get_multi_columns(filter_names=["users", "legacy"])
            assert statements  # given once: now the database
            assert again.keys() == columns.keys()
            assert asked_differently > 0
    finally:
        engine.dispose()
