"""``verify``'s full-schema stairway and its ``data_kept`` check, on every backend.

Each test writes a small history by hand, as a user would, with one defect a weaker
comparison lets through (a downgrade that forgets a default, a key, a constraint, an index
condition, a comment, a type or a sequence), and checks that the failing check names it. The
data_kept tests put rows through renames, rebuilds and drop-and-add. The models are left
empty (models_match is not the point here) and written as SQLAlchemy 1.4 allows, so these
tests run with the oldest supported SQLAlchemy too.
"""

from __future__ import annotations

import pytest
from conftest import Project
from test_verify import CREATE_USERS, failed, verify, write_revision

pytestmark = pytest.mark.legacy_sqlalchemy


def initialised(project: Project) -> None:
    """A project whose models declare no table (declarative_base: SQLAlchemy 1.4 has it)."""
    project.write(
        "models.py", "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n"
    )
    project.config()
    assert project.run("init").exit_code == 0


def history(project: Project, *revisions: tuple[str, str, str]) -> None:
    """Revisions r1, r2, … in a row, each (message, upgrade body, downgrade body)."""
    for number, (message, upgrade, downgrade) in enumerate(revisions, start=1):
        down = f"r{number - 1}" if number > 1 else None
        write_revision(project, f"r{number}", down, upgrade, downgrade, message)


def stairway_detail(project: Project) -> str:
    _, checks = verify(project)
    assert not checks["stairway"]["ok"], checks
    return str(checks["stairway"]["detail"])


CREATE_AUDIT = 'op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))'

CREATE_ACCOUNT = """op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="new", nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False, comment="shown in lists"),
        sa.PrimaryKeyConstraint("id"),
    )"""


# --------------------------------------------------------------------------- the stairway


def test_a_downgrade_that_forgets_a_literal_server_default(project: Project) -> None:
    initialised(project)
    history(
        project,
        ("account", CREATE_ACCOUNT, 'op.drop_table("account")'),
        (
            "no status default",
            """with op.batch_alter_table("account") as batch_op:
        batch_op.alter_column(
            "status", server_default=None, existing_type=sa.String(20), existing_nullable=False
        )""",
            "pass",
        ),
    )
    detail = stairway_detail(project)
    assert detail.startswith("revision r2 (no status default): downgrade does not undo it: ")
    assert "table account, column status: server default was " in detail
    assert "new" in detail and detail.endswith(", now none"), detail


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_downgrade_that_loses_a_serial_default_and_the_primary_key(project: Project) -> None:
    initialised(project)
    history(
        project,
        ("account", CREATE_ACCOUNT, 'op.drop_table("account")'),
        (
            "account numbers by hand",
            """op.drop_constraint("account_pkey", "account", type_="primary")
    op.alter_column("account", "id", server_default=None)
    op.execute("DROP SEQUENCE account_id_seq")""",
            "pass",
        ),
    )
    detail = stairway_detail(project)
    assert detail.startswith("revision r2 (account numbers by hand): downgrade does not undo it")
    assert (
        "table account, column id: server default was nextval('account_id_seq'::regclass), now none"
    ) in detail
    assert "table account: primary key was (id), now none" in detail
    assert "missing: sequence account_id_seq" in detail


def test_a_downgrade_that_forgets_the_primary_key(project: Project) -> None:
    initialised(project)
    history(
        project,
        (
            "tags",
            """op.create_table(
        "tags",
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
    )""",
            'op.drop_table("tags")',
        ),
        (
            "tags by code",
            """with op.batch_alter_table("tags") as batch_op:
        batch_op.create_primary_key("pk_tags", ["code"])""",
            "pass",
        ),
    )
    detail = stairway_detail(project)
    assert detail.startswith("revision r2 (tags by code): downgrade does not undo it: ")
    assert "table tags: primary key was none, now (code)" in detail


def test_a_downgrade_that_forgets_a_unique_constraint(project: Project) -> None:
    initialised(project)
    history(
        project,
        (
            "users",
            """op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )""",
            'op.drop_table("users")',
        ),
        (
            "emails may repeat",
            """with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_email", type_="unique")""",
            "pass",
        ),
    )
    detail = stairway_detail(project)
    assert detail == (
        "revision r2 (emails may repeat): downgrade does not undo it: "
        "missing: table users, unique (email)"
    )


def test_a_downgrade_that_forgets_a_check_constraint(project: Project) -> None:
    initialised(project)
    history(
        project,
        (
            "items",
            """op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("price > 0", name="ck_items_price"),
    )""",
            'op.drop_table("items")',
        ),
        (
            "free items",
            """with op.batch_alter_table("items") as batch_op:
        batch_op.drop_constraint("ck_items_price", type_="check")""",
            "pass",
        ),
    )
    detail = stairway_detail(project)
    assert detail == (
        "revision r2 (free items): downgrade does not undo it: "
        "missing: table items, check price > 0"
    )


def test_a_downgrade_that_forgets_on_delete_cascade(project: Project) -> None:
    initialised(project)
    key = 'batch_op.create_foreign_key("fk_posts_user", "users", ["user_id"], ["id"])'
    history(
        project,
        ("users", CREATE_USERS, 'op.drop_table("users")'),
        (
            "posts",
            """op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_posts_user", ondelete="CASCADE"
        ),
    )""",
            'op.drop_table("posts")',
        ),
        (
            "keep posts of deleted users",
            f"""with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_constraint("fk_posts_user", type_="foreignkey")
        {key}""",
            f"""with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_constraint("fk_posts_user", type_="foreignkey")
        {key}""",
        ),
    )
    detail = stairway_detail(project)
    assert detail == (
        "revision r3 (keep posts of deleted users): downgrade does not undo it: "
        "table posts, foreign key (user_id) → users(id): ondelete was CASCADE, now none"
    )


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_downgrade_that_forgets_a_comment(project: Project) -> None:
    initialised(project)
    history(
        project,
        ("account", CREATE_ACCOUNT, 'op.drop_table("account")'),
        (
            "name comment",
            """op.alter_column(
        "account",
        "name",
        comment="the holder's name",
        existing_comment="shown in lists",
        existing_type=sa.String(50),
        existing_nullable=False,
    )""",
            "pass",
        ),
    )
    detail = stairway_detail(project)
    assert detail == (
        "revision r2 (name comment): downgrade does not undo it: table account, column name: "
        "comment was shown in lists, now the holder's name"
    )


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_downgrade_that_forgets_an_index_condition(project: Project) -> None:
    initialised(project)
    history(
        project,
        (
            "users",
            """op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_users_email", "users", [sa.text("lower(email)")], postgresql_where=sa.text("active")
    )""",
            'op.drop_table("users")',
        ),
        (
            "plain email index",
            """op.drop_index("ix_users_email", table_name="users")
    op.create_index("ix_users_email", "users", ["email"])""",
            """op.drop_index("ix_users_email", table_name="users")
    op.create_index("ix_users_email", "users", [sa.text("lower(email)")])""",
        ),
    )
    detail = stairway_detail(project)
    assert detail == (
        "revision r2 (plain email index): downgrade does not undo it: table users, index "
        "ix_users_email: definition was CREATE INDEX ix_users_email ON public.users USING "
        "btree(lower((email)::text)) WHERE active, now CREATE INDEX ix_users_email ON "
        "public.users USING btree(lower((email)::text))"
    )


ENUM_TABLE = """op.create_table(
        "moods",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mood", sa.Enum("happy", "sad", name="mood"), nullable=False),
    )"""


@pytest.mark.parametrize("backend", ["postgresql"])
def test_enum_labels_and_types_and_sequences_left_behind(project: Project) -> None:
    initialised(project)
    history(
        project,
        ("moods", ENUM_TABLE, 'op.drop_table("moods")'),
        ("meh", "op.execute(\"ALTER TYPE mood ADD VALUE 'meh'\")", "pass"),
    )
    assert stairway_detail(project) == (
        "revision r2 (meh): downgrade does not undo it: "
        "enum type mood: labels was happy, sad, now happy, sad, meh"
    )

    history(
        project,
        ("moods", ENUM_TABLE, 'op.drop_table("moods")'),
        (
            "invoice numbers",
            'op.execute(sa.schema.CreateSequence(sa.Sequence("invoice_no", start=1000)))',
            "pass",
        ),
    )
    _, checks = verify(project)
    assert failed(checks) == ["models_match", "stairway", "downgrade_to_base"]
    assert checks["stairway"]["detail"] == (
        "revision r2 (invoice numbers): downgrade does not undo it: "
        "left behind: sequence invoice_no"
    )
    assert checks["downgrade_to_base"]["detail"] == (
        "left behind: enum type mood; left behind: sequence invoice_no"
    )
    assert project.tables() == set()


def test_a_correct_history_passes(project: Project, backend: str) -> None:
    """Every kind of object the stairway compares, created and dropped as it should be."""
    initialised(project)
    comment = ', comment="shown in lists"' if backend != "sqlite" else ""
    where = ', postgresql_where=sa.text("active")' if backend == "postgresql" else ""
    recreate = rebuilt(backend)
    history(
        project,
        ("users", CREATE_USERS, 'op.drop_table("users")'),
        (
            "posts",
            f"""op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False{comment}),
        sa.Column("state", sa.String(length=10), server_default="draft", nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("slug"),
        sa.CheckConstraint("price >= 0", name="ck_posts_price"),
    )
    op.create_index("ix_posts_title", "posts", ["title"]{where})""",
            """op.drop_index("ix_posts_title", table_name="posts")
    op.drop_table("posts")""",
        ),
        (
            "posts summary",
            f"""with op.batch_alter_table("posts", recreate="{recreate}") as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))""",
            f"""with op.batch_alter_table("posts", recreate="{recreate}") as batch_op:
        batch_op.drop_column("summary")""",
        ),
    )
    result, checks = verify(project)
    assert failed(checks) == ["models_match"], result  # no models: the history is the point
    assert checks["stairway"]["detail"] == "3 revision(s) downgraded and upgraded again"
    assert checks["data_kept"]["detail"] == (
        "3 revision(s) applied with a row in every table; every table kept its rows"
    )
    assert checks["downgrade_to_base"]["ok"]
    assert project.tables() == set()


# --------------------------------------------------------------------------- data_kept


RENAMED = """op.create_table(
        "{name}",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )"""


def test_a_rename_written_as_drop_and_add_loses_the_rows(project: Project) -> None:
    initialised(project)
    history(
        project,
        ("users", CREATE_USERS, 'op.drop_table("users")'),
        (
            "users are members",
            'op.drop_table("users")\n    ' + RENAMED.format(name="members"),
            'op.drop_table("members")\n    ' + RENAMED.format(name="users"),
        ),
    )
    result, checks = verify(project)
    assert failed(checks) == ["models_match", "data_kept"], result
    assert checks["data_kept"]["detail"] == (
        "revision r2 (users are members): table users lost its rows: it is gone and the new "
        "table members, with its columns, is empty (a rename written as drop and add; "
        "op.rename_table keeps the rows)"
    )
    assert project.tables() == set()


def rebuilt(backend: str) -> str:
    """SQLite's batch mode moves and copies the table; elsewhere (where a rebuild renames the
    serial's sequence on PostgreSQL, which the stairway rightly reports) it alters it."""
    return "always" if backend == "sqlite" else "auto"


def test_rename_table_and_a_batch_rebuild_keep_the_rows(project: Project, backend: str) -> None:
    initialised(project)
    recreate = rebuilt(backend)
    history(
        project,
        ("users", CREATE_USERS, 'op.drop_table("users")'),
        (
            "users are members",
            'op.rename_table("users", "members")',
            'op.rename_table("members", "users")',
        ),
        (
            "members rebuilt",
            f"""with op.batch_alter_table("members", recreate="{recreate}") as batch_op:
        batch_op.add_column(sa.Column("joined", sa.Date(), nullable=True))""",
            f"""with op.batch_alter_table("members", recreate="{recreate}") as batch_op:
        batch_op.drop_column("joined")""",
        ),
    )
    result, checks = verify(project)
    assert failed(checks) == ["models_match"], result
    assert str(checks["data_kept"]["detail"]).endswith("every table kept its rows")


GENERATED = """op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("seen", sa.DateTime(), nullable=False),
        sa.Column("balance", sa.Numeric(10, 2), nullable=False),
        sa.Column("vip", sa.Boolean(), nullable=False),
        sa.Column("tier", sa.Enum("gold", "silver", name="tier"), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "orders",
        sa.Column("number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("parent_number", sa.BigInteger(), nullable=True),
        sa.Column("quantity", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["parent_number"], ["orders.number"]),
    )
    op.create_table(
        "picky",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 5", name="ck_picky_quantity"),
    )"""


def test_rows_are_generated_for_keys_and_constraints(project: Project) -> None:
    """NOT NULL columns of many types, a unique column, a BIGINT key the database does not
    number, a foreign key (the parent filled first) and a self-reference get a row; a table
    whose check refuses the generated row is named."""
    initialised(project)
    history(
        project,
        (
            "shop",
            GENERATED,
            'op.drop_table("picky")\n    op.drop_table("orders")\n'
            '    op.drop_table("customers")\n    sa.Enum(name="tier").drop(op.get_bind(), '
            "checkfirst=True)",
        ),
        ("nothing", "pass", "pass"),
    )
    result, checks = verify(project)
    assert failed(checks) == ["models_match"], result
    detail = str(checks["data_kept"]["detail"])
    assert detail.startswith(
        "2 revision(s) applied with a row in every table but 1; every table with rows kept "
        "them; no row could be put into table picky (the database refused a generated row: "
    ), detail
    assert "ck_picky_quantity" in detail and detail.endswith(")"), detail

    # The rows really are there: a step that empties orders (a child) is caught.
    write_revision(project, "r2", "r1", 'op.execute("DELETE FROM orders")', "pass", "purge")
    result, checks = verify(project)
    assert failed(checks) == ["models_match", "data_kept"], result
    assert checks["data_kept"]["detail"] == (
        "revision r2 (purge): table orders had rows and has none now"
    )
    assert project.tables() == set()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_upgrade_that_cannot_run_on_a_table_with_rows(project: Project) -> None:
    initialised(project)
    history(
        project,
        ("users", CREATE_USERS, 'op.drop_table("users")'),
        (
            "email",
            'op.add_column("users", sa.Column("email", sa.String(120), nullable=False))',
            'op.drop_column("users", "email")',
        ),
    )
    result, checks = verify(project)
    assert "data_kept" in failed(checks), result
    detail = str(checks["data_kept"]["detail"])
    assert detail.startswith("revision r2 (email): upgrade raised "), detail
    assert '"email"' in detail and detail.endswith("with a row in every table"), detail
    assert checks["stairway"]["ok"] and checks["downgrade_to_base"]["ok"]
    assert project.tables() == set()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_step_that_fails_only_with_rows_is_taken_again_without_them(project: Project) -> None:
    """data_kept's rows ride on the upgrade's walk: a step their row makes fail (a check the
    generated name, "x", breaks) fails data_kept, is taken again from an empty database without rows
    (MariaDB's DDL would have left what it did), and the upgrade walks on to head."""
    initialised(project)
    history(
        project,
        ("users", CREATE_USERS, 'op.drop_table("users")'),
        (
            "real names",
            'op.create_check_constraint("real_name", "users", "name <> \'x\'")',
            'op.drop_constraint("real_name", "users", type_="check")',
        ),
        ("audit", CREATE_AUDIT, 'op.drop_table("audit")'),
    )
    result, checks = verify(project)
    assert failed(checks) == ["models_match", "data_kept"], result  # models: none here
    detail = str(checks["data_kept"]["detail"])
    assert detail.startswith("revision r2 (real names): upgrade raised "), detail
    assert detail.endswith("with a row in every table"), detail
    assert checks["upgrade"]["detail"] == "3 revision(s) applied one at a time"
    assert project.tables() == set()


def test_the_installed_command_names_the_lost_table(project: Project) -> None:
    initialised(project)
    history(
        project,
        ("users", CREATE_USERS, 'op.drop_table("users")'),
        (
            "users are members",
            'op.drop_table("users")\n    ' + RENAMED.format(name="members"),
            'op.drop_table("members")\n    ' + RENAMED.format(name="users"),
        ),
    )
    result = project.run_cli("verify")
    assert result.exit_code == 1, result
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok single_head",
        "ok upgrade",
        "FAIL models_match",
        "ok stairway",
        "FAIL data_kept",
        "ok downgrade_to_base",
    ]
    assert lines[4].startswith(
        "FAIL data_kept: revision r2 (users are members): table users lost its rows"
    )
    assert project.tables() == set()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_sequence_left_behind(project: Project) -> None:
    initialised(project)
    history(
        project,
        ("users", CREATE_USERS, 'op.drop_table("users")'),
        ("invoice numbers", 'op.execute("CREATE SEQUENCE invoice_no")', "pass"),
    )
    _, checks = verify(project)
    assert checks["stairway"]["detail"] == (
        "revision r2 (invoice numbers): downgrade does not undo it: "
        "left behind: sequence invoice_no"
    )
    assert checks["downgrade_to_base"]["detail"] == "left behind: sequence invoice_no"


def test_snapshots_are_values(project: Project, backend: str) -> None:
    """Two reads of one schema are equal and hash alike; a change is named by table and
    column; the version table is left out."""
    from migratectl.commands.verify_schema import describe_difference, take_snapshot

    project.query("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    project.query("CREATE TABLE account (id INTEGER PRIMARY KEY, name VARCHAR(20) DEFAULT 'x')")
    engine = project.engine()
    try:
        with engine.connect() as connection:
            first = take_snapshot(connection, "alembic_version")
            second = take_snapshot(connection, "alembic_version")
        assert first == second and hash(first) == hash(second) and len({first, second}) == 1
        assert first.tables == {"account"}
        assert describe_difference(first, second) == ""
        if backend == "sqlite":
            project.query("CREATE TABLE account2 (id INTEGER PRIMARY KEY, name VARCHAR(20))")
            project.query("INSERT INTO account2 SELECT * FROM account")
            project.query("DROP TABLE account")
            project.query("ALTER TABLE account2 RENAME TO account")
        else:
            project.query("ALTER TABLE account ALTER COLUMN name DROP DEFAULT")
        with engine.connect() as connection:
            third = take_snapshot(connection, "alembic_version")
    finally:
        engine.dispose()
    assert third != first
    assert describe_difference(first, third).startswith(
        "table account, column name: server default was 'x"
    )
    assert describe_difference(first, third).endswith(", now none")
