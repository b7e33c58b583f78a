"""migratectl lint's rules MC000–MC504, each both ways, on revision files as Alembic writes them.

Lint reads no database: the URLs below name servers that do not exist, and only their dialect
matters. Where squawk documents a bad and a good example for a matching rule, the test carries
it over translated to Alembic operations (and to ``op.execute`` of squawk's own SQL).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import Project

PG = "postgresql://app@db.invalid/app"
MYSQL = "mysql+pymysql://app@db.invalid/app"
MARIADB = "mariadb://app@db.invalid/app"


class Repo:
    """A migration repository whose revisions the tests write by hand."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.last: str | None = None

    def revision(self, rev: str, upgrade: str, *, helpers: str = "", down: str | None = "") -> Path:
        """Write revision ``rev`` after the last one written, with ``upgrade`` as its body."""
        parent = self.last if down == "" else down
        self.last = rev
        source = (
            f'"""{rev}"""\n'
            "from alembic import op\n"
            "import sqlalchemy as sa\n"
            "\n"
            f"revision = {rev!r}\n"
            f"down_revision = {parent!r}\n"
            "branch_labels = None\n"
            "depends_on = None\n"
            "\n\n"
            + (textwrap.dedent(helpers).strip("\n") + "\n\n\n" if helpers else "")
            + "def upgrade():\n"
            + textwrap.indent(textwrap.dedent(upgrade).strip("\n"), "    ")
            + "\n\n\ndef downgrade():\n    op.drop_table('not_read')\n"
        )
        path = self.project.path / "migrations" / "versions" / f"{rev}.py"
        path.write_text(source)
        return path

    def line(self, rev: str, text: str) -> int:
        lines = (self.project.path / "migrations" / "versions" / f"{rev}.py").read_text()
        return next(n for n, line in enumerate(lines.splitlines(), 1) if text in line)

    def findings(self, *args: str) -> list[dict[str, Any]]:
        result = self.project.run("lint", "--json", *args)
        assert result.exit_code in (0, 1), result
        document = json.loads(result.stdout)
        assert set(document) == {"findings"}
        findings: list[dict[str, Any]] = document["findings"]
        assert result.exit_code == (1 if any(not f["acknowledged"] for f in findings) else 0)
        return findings

    def rules(self, *args: str) -> list[str]:
        return [f["rule"] for f in self.findings(*args)]

    def flagged(self, *args: str) -> list[tuple[str, str | None, str | None]]:
        return [(f["rule"], f["table"], f["column"]) for f in self.findings(*args)]


def make_repo(tmp_path: Path, url: str | None) -> Repo:
    folder = tmp_path / "project"
    folder.mkdir()
    project = Project(folder, url or "")
    if url:
        project.config(models=None)
    else:
        project.write("migratectl.toml", 'directory = "migrations"\n')
    assert project.run("init").exit_code == 0
    return Repo(project)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A repository configured for SQLite: only the rules for every dialect run."""
    return make_repo(tmp_path, f"sqlite:///{tmp_path / 'project' / 'app.db'}")


@pytest.fixture
def pg(tmp_path: Path) -> Repo:
    return make_repo(tmp_path, PG)


@pytest.fixture
def mysql(tmp_path: Path) -> Repo:
    return make_repo(tmp_path, MYSQL)


USERS = 'op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True))'


# --------------------------------------------------------------------------- MC101, MC102, MC103


def test_drop_table_op_and_raw(repo: Repo) -> None:
    # squawk ban-drop-table: `DROP TABLE "table_name";`
    repo.revision(
        "a1",
        """
        op.drop_table("legacy")
        op.execute('DROP TABLE "table_name";')
        op.drop_table("audit", schema="ops")
        """,
    )
    assert repo.flagged() == [
        ("MC101", "legacy", None),
        ("MC101", "table_name", None),
        ("MC101", "ops.audit", None),
    ]


def test_creating_tables_drops_nothing(repo: Repo) -> None:
    repo.revision("a1", USERS + '\nop.execute("CREATE TABLE t (id int)")')
    assert repo.findings() == []


def test_drop_column_op_batch_and_raw(repo: Repo) -> None:
    # squawk ban-drop-column: `ALTER TABLE "bar_tbl" DROP COLUMN "foo_col" CASCADE;`
    repo.revision(
        "a1",
        """
        op.drop_column("users", "age")
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.drop_column("nick")
        op.execute('ALTER TABLE "bar_tbl" DROP COLUMN "foo_col" CASCADE;')
        """,
    )
    assert repo.flagged() == [
        ("MC102", "users", "age"),
        ("MC102", "users", "nick"),
        ("MC102", "bar_tbl", "foo_col"),
    ]


def test_adding_a_column_drops_nothing(repo: Repo) -> None:
    repo.revision("a1", 'op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))')
    assert repo.findings() == []


def test_deleting_every_row(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        op.execute("DELETE FROM sessions")
        op.execute(sa.text("UPDATE users SET active = false"))
        op.execute("TRUNCATE TABLE events")
        """,
    )
    findings = repo.findings()
    assert [(f["rule"], f["table"], f["operation"]) for f in findings] == [
        ("MC103", "sessions", "execute"),
        ("MC103", "users", "execute"),
        ("MC103", "events", "execute"),
    ]
    assert (
        findings[0]["message"] == "DELETE without WHERE on table sessions deletes every row of it."
    )


def test_statements_with_where_delete_no_table(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        op.execute("DELETE FROM sessions WHERE expires < now()")
        op.execute("UPDATE users SET active = false WHERE id = 1")
        op.execute("INSERT INTO users (id) VALUES (1)")
        """,
    )
    assert repo.findings() == []


# --------------------------------------------------------------------------- MC201, MC202


def test_renaming_table(repo: Repo) -> None:
    # squawk renaming-table: `ALTER TABLE "table_name" RENAME TO "new_table_name";`
    repo.revision(
        "a1",
        """
        op.rename_table("orders", "purchases")
        op.execute('ALTER TABLE "table_name" RENAME TO "new_table_name";')
        """,
    )
    findings = repo.findings()
    assert [(f["rule"], f["table"]) for f in findings] == [
        ("MC201", "orders"),
        ("MC201", "table_name"),
    ]
    assert "to purchases" in findings[0]["message"]


def test_renaming_column(repo: Repo) -> None:
    # squawk renaming-column: `ALTER TABLE "table_name" RENAME COLUMN "column_name" TO ...`
    repo.revision(
        "a1",
        """
        op.alter_column("users", "nick", new_column_name="handle", existing_type=sa.String(20))
        with op.batch_alter_table("users") as batch_op:
            batch_op.alter_column("name", new_column_name="full_name")
        op.execute('ALTER TABLE "table_name" RENAME COLUMN "column_name" TO "new_column_name";')
        """,
    )
    assert repo.flagged() == [
        ("MC202", "users", "nick"),
        ("MC202", "users", "name"),
        ("MC202", "table_name", "column_name"),
    ]


def test_creating_the_new_table_renames_nothing(repo: Repo) -> None:
    # squawk's good way: a new table (or column) beside the old one
    repo.revision(
        "a1",
        """
        op.create_table("purchases", sa.Column("id", sa.Integer(), primary_key=True))
        op.alter_column("users", "nick", existing_type=sa.String(20), comment="old")
        """,
    )
    assert repo.findings() == []


# --------------------------------------------------------------------------- MC301, MC302, MC303


@pytest.mark.parametrize(
    ("existing", "new", "narrows"),
    [
        ("sa.String(50)", "sa.String(20)", True),
        ("sa.String(20)", "sa.String(length=50)", False),
        ("sa.Text()", "sa.String(255)", True),
        ("sa.BigInteger()", "sa.Integer()", True),
        ("sa.Integer()", "sa.BigInteger()", False),
        ("sa.Numeric(10, 4)", "sa.Numeric(12, 2)", True),
        ("sa.String(10)", "sa.Integer()", True),
        ("sa.Date()", "sa.DateTime()", False),
    ],
)
def test_narrowing_type(repo: Repo, existing: str, new: str, narrows: bool) -> None:
    repo.revision("a1", f'op.alter_column("t", "c", existing_type={existing}, type_={new})')
    assert repo.rules() == (["MC301"] if narrows else [])


def test_the_old_type_comes_from_the_replay(repo: Repo) -> None:
    repo.revision(
        "a1", 'op.create_table("t", sa.Column("id", sa.Integer()), sa.Column("c", sa.String(50)))'
    )
    repo.revision("b2", 'op.alter_column("t", "c", type_=sa.String(100))')
    repo.revision("c3", 'op.alter_column("t", "c", type_=sa.String(20))')
    findings = repo.findings()
    assert [(f["rule"], f["revision"]) for f in findings] == [("MC301", "c3")]
    assert "sa.String(100) to sa.String(20)" in findings[0]["message"]


def test_an_unknown_old_type_is_flagged_and_said(repo: Repo) -> None:
    repo.revision("a1", 'op.alter_column("t", "c", type_=sa.String(100))')
    [finding] = repo.findings()
    assert finding["rule"] == "MC301"
    assert (
        "without existing_type= and no earlier revision gives the old type" in (finding["message"])
    )


def test_a_type_change_on_a_table_of_the_same_revision_is_not_flagged(pg: Repo) -> None:
    pg.revision(
        "a1",
        """
        op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))
        op.alter_column("t", "id", type_=sa.SmallInteger())
        """,
    )
    assert pg.findings() == []


@pytest.mark.parametrize(
    ("existing", "new", "rewrites"),
    [
        ("sa.Integer()", "sa.BigInteger()", True),  # squawk changing-column-type
        ("sa.VARCHAR(length=5)", "sa.String(length=10)", False),
        ("sa.String(10)", "sa.Text()", False),
        ("sa.String(10)", "sa.String()", False),
        ("sa.TEXT()", "sa.String()", False),
        ("sa.Numeric(10, 2)", "sa.Numeric(12, 2)", False),
        ("sa.Numeric(10, 2)", "sa.Numeric(12, 4)", True),
        ("sa.String(20)", "sa.String(10)", True),
        ("sa.Text()", "sa.String(10)", True),
    ],
)
def test_rewriting_type_on_postgresql(pg: Repo, existing: str, new: str, rewrites: bool) -> None:
    pg.revision("a1", f'op.alter_column("t", "c", existing_type={existing}, type_={new})')
    assert ("MC302" in pg.rules()) is rewrites


def test_rewriting_type_from_raw_sql_and_replay(pg: Repo) -> None:
    pg.revision("a1", 'op.execute("CREATE TABLE users (id integer PRIMARY KEY, code varchar(5))")')
    pg.revision(
        "b2",
        """
        op.execute("ALTER TABLE users ALTER COLUMN code TYPE varchar(10)")
        op.execute("ALTER TABLE users ALTER COLUMN id TYPE bigint")
        """,
    )
    assert pg.flagged() == [("MC302", "users", "id")]


@pytest.mark.parametrize("url", [MYSQL, MARIADB])
def test_copying_alter_on_mysql_and_mariadb(tmp_path: Path, url: str) -> None:
    repo = make_repo(tmp_path, url)
    repo.revision(
        "a1",
        """
        op.alter_column("t", "c", existing_type=sa.Integer(), type_=sa.BigInteger())
        op.create_primary_key("pk_t", "t", ["id", "c"])
        op.alter_column("t", "d", existing_type=sa.Integer(), nullable=True)
        """,
    )
    assert repo.rules() == ["MC303", "MC303"]


def test_copying_alter_is_a_mysql_rule(pg: Repo) -> None:
    pg.revision("a1", 'op.create_primary_key("pk_t", "t", ["id", "c"])')
    assert pg.findings() == []


# --------------------------------------------------------------------------- MC401, MC402


def test_adding_required_column_to_an_existing_table(repo: Repo) -> None:
    # squawk adding-required-field: `ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL;`
    repo.revision("a1", USERS)
    repo.revision(
        "b2",
        """
        op.add_column("users", sa.Column("score", sa.Integer(), nullable=False))
        op.execute('ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL;')
        """,
    )
    assert repo.flagged() == [("MC401", "users", "score"), ("MC401", "recipe", "public")]


def test_a_required_column_with_a_default_or_on_a_new_table_is_fine(repo: Repo) -> None:
    # squawk's good way: `ADD COLUMN "public" boolean NOT NULL DEFAULT true`
    repo.revision(
        "a1",
        """
        op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True))
        op.add_column("fresh", sa.Column("x", sa.Integer(), nullable=False))
        op.add_column("users", sa.Column("x", sa.Integer(), nullable=False, server_default="0"))
        op.add_column("users", sa.Column("y", sa.Integer(), nullable=True))
        op.add_column("users", sa.Column("z", sa.Integer()))
        op.execute('ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL DEFAULT true;')
        """,
    )
    assert repo.findings() == []


def test_set_not_null_on_a_nullable_column(repo: Repo) -> None:
    # squawk adding-not-nullable-field:
    # `ALTER TABLE "recipe" ALTER COLUMN "view_count" SET NOT NULL;`
    repo.revision(
        "a1",
        'op.create_table("recipe", sa.Column("id", sa.Integer()), '
        'sa.Column("view_count", sa.BigInteger(), nullable=True), '
        'sa.Column("name", sa.String(20), nullable=True))',
    )
    repo.revision(
        "b2",
        """
        op.alter_column("recipe", "view_count", existing_type=sa.BigInteger(), nullable=False)
        op.execute('ALTER TABLE "recipe" ALTER COLUMN "name" SET NOT NULL;')
        """,
    )
    findings = repo.findings()
    assert [(f["rule"], f["column"]) for f in findings] == [
        ("MC402", "view_count"),
        ("MC402", "name"),
    ]
    assert "does not know" not in findings[0]["message"]


def test_set_not_null_on_a_column_already_not_null_is_not_flagged(repo: Repo) -> None:
    """The noise of earlier versions: autogenerate repeats nullable=False on type changes."""
    repo.revision(
        "a1",
        'op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("email", sa.String(50), nullable=False))',
    )
    repo.revision(
        "b2",
        """
        op.alter_column("users", "email", type_=sa.String(80), nullable=False)
        op.alter_column("users", "id", nullable=False)
        op.alter_column("legacy", "code", nullable=False, existing_nullable=False)
        """,
    )
    assert repo.findings() == []


def test_set_not_null_with_an_unknown_earlier_state_is_flagged_and_said(repo: Repo) -> None:
    repo.revision("a1", 'op.alter_column("legacy", "code", nullable=False)')
    [finding] = repo.findings()
    assert finding["rule"] == "MC402"
    assert (
        "lint does not know whether it was nullable: pass existing_nullable="
        in (finding["message"])
    )


def test_set_not_null_after_a_not_null_check_is_fine(pg: Repo) -> None:
    """squawk's good way for alembic: a NOT VALID check, VALIDATE, then SET NOT NULL."""
    pg.revision(
        "a1",
        """
        op.create_check_constraint(
            constraint_name="view_count_not_null",
            table_name="recipe",
            condition="view_count IS NOT NULL",
            postgresql_not_valid=True,
        )
        op.execute(
            sa.text("ALTER TABLE recipe VALIDATE CONSTRAINT view_count_not_null"),
        )
        op.alter_column(
            "recipe",
            "view_count",
            existing_type=sa.BigInteger(),
            nullable=False,
        )
        """,
    )
    assert pg.findings() == []


# --------------------------------------------------------------------------- MC403


def test_adding_unique_to_an_existing_table(repo: Repo) -> None:
    # squawk disallowed-unique-constraint
    repo.revision(
        "a1",
        """
        op.create_unique_constraint("uq_email", "users", ["email"])
        op.create_index("ix_code", "items", ["code"], unique=True)
        with op.batch_alter_table("orders") as batch_op:
            batch_op.create_unique_constraint("uq_ref", ["ref"])
        op.execute(
            "ALTER TABLE table_name ADD CONSTRAINT field_name_constraint UNIQUE (field_name);"
        )
        """,
    )
    assert repo.flagged() == [
        ("MC403", "users", None),
        ("MC403", "items", None),
        ("MC403", "orders", None),
        ("MC403", "table_name", None),
    ]


def test_unique_on_a_new_table_or_built_concurrently_is_fine(pg: Repo) -> None:
    # squawk's good way: CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … USING INDEX
    pg.revision(
        "a1",
        """
        op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_unique_constraint("uq_fresh_id", "fresh", ["id"])
        with op.get_context().autocommit_block():
            op.execute(
                "CREATE UNIQUE INDEX CONCURRENTLY dist_id_temp_idx ON distributors (dist_id);"
            )
        op.execute(
            '''ALTER TABLE distributors
                DROP CONSTRAINT distributors_pkey,
                ADD CONSTRAINT distributors_pkey PRIMARY KEY USING INDEX dist_id_temp_idx;'''
        )
        """,
    )
    assert pg.findings() == []


# --------------------------------------------------------------------------- MC404, MC405, MC406


def test_validating_foreign_key(pg: Repo) -> None:
    # squawk adding-foreign-key-constraint, "instead of" (SQL, and alembic)
    pg.revision(
        "a1",
        """
        op.add_column("email", sa.Column("user_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(None, "email", "user", ["user_id"], ["id"])
        op.execute('ALTER TABLE "email" ADD CONSTRAINT "fk_user" '
                   'FOREIGN KEY ("user_id") REFERENCES "user" ("id");')
        op.add_column("post", sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("user.id")))
        """,
    )
    assert pg.flagged() == [
        ("MC404", "email", None),
        ("MC404", "email", None),
        ("MC404", "post", "user_id"),
    ]


def test_a_not_valid_foreign_key_or_one_on_a_new_table_is_fine(pg: Repo) -> None:
    # squawk adding-foreign-key-constraint, "use" (SQL, and alembic for both table kinds)
    pg.revision(
        "a1",
        """
        op.add_column("email", sa.Column("user_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            "fk_user",
            "email",
            "user",
            ["user_id"],
            ["id"],
            postgresql_not_valid=True
        )
        op.execute('ALTER TABLE "email" ADD CONSTRAINT "fk_user" '
                   'FOREIGN KEY ("user_id") REFERENCES "user" ("id") NOT VALID;')
        op.create_table("email2",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ),
        sa.PrimaryKeyConstraint("id")
        )
        op.create_foreign_key("fk_user2", "email2", "user", ["user_id"], ["id"])
        """,
    )
    pg.revision("b2", 'op.execute(sa.text("""ALTER TABLE email VALIDATE CONSTRAINT fk_user"""))')
    assert pg.findings() == []


def test_validating_check(pg: Repo) -> None:
    # squawk constraint-missing-not-valid
    pg.revision(
        "a1",
        """
        op.execute(
            'ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0);'
        )
        op.create_check_constraint("positive_balance", "accounts", "balance >= 0")
        op.create_check_constraint(
            "positive_balance", "accounts", "balance >= 0", postgresql_not_valid=True
        )
        op.execute('ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" '
                   'CHECK ("balance" >= 0) NOT VALID;')
        op.execute("ALTER TABLE accounts VALIDATE CONSTRAINT positive_balance;")
        """,
    )
    assert pg.flagged() == [("MC405", "accounts", None), ("MC405", "accounts", None)]


def test_volatile_default(pg: Repo) -> None:
    # squawk adding-field-with-default
    pg.revision(
        "a1",
        """
        op.execute('ALTER TABLE "account" ADD COLUMN "ab_group" integer DEFAULT random();')
        op.add_column("account", sa.Column("uid", sa.Uuid(),
                                           server_default=sa.text("gen_random_uuid()")))
        op.add_column("account", sa.Column("seen", sa.DateTime(),
                                           server_default=sa.func.clock_timestamp()))
        """,
    )
    assert pg.flagged() == [
        ("MC406", "account", "ab_group"),
        ("MC406", "account", "uid"),
        ("MC406", "account", "seen"),
    ]


def test_a_stable_default_is_fine(pg: Repo) -> None:
    pg.revision(
        "a1",
        """
        op.execute('ALTER TABLE "account" ADD COLUMN "foo" integer DEFAULT 10;')
        op.execute('ALTER TABLE "account" ADD COLUMN "ab_group" integer;')
        op.execute('ALTER TABLE "account" ALTER COLUMN "ab_group" SET DEFAULT random();')
        op.add_column("account", sa.Column("at", sa.DateTime(), server_default=sa.func.now()))
        op.add_column("account", sa.Column("tag", sa.String(5), server_default="random()"))
        """,
    )
    assert pg.findings() == []


# --------------------------------------------------------------------------- MC501–MC504


def test_blocking_index(pg: Repo) -> None:
    # squawk require-concurrent-index-creation: `CREATE INDEX "field_name_idx" ON "table_name" …`
    pg.revision("a1", USERS)
    pg.revision(
        "b2",
        """
        op.create_index("ix_users_id", "users", ["id"])
        op.execute('CREATE INDEX "field_name_idx" ON "table_name" ("field_name");')
        """,
    )
    assert pg.flagged() == [("MC501", "users", None), ("MC501", "table_name", None)]


def test_index_built_concurrently_or_on_a_new_table_is_fine(pg: Repo) -> None:
    # squawk ban-concurrent-index-creation-in-transaction, the alembic way
    pg.revision(
        "a1",
        """
        op.create_table("fresh", sa.Column("id", sa.Integer(), primary_key=True))
        op.create_index("ix_fresh_id", "fresh", ["id"])
        with op.get_context().autocommit_block():
            op.create_index(
                "email_idx",
                "app_user",
                ["email"],
                schema="app",
                unique=False,
                postgresql_concurrently=True,
            )
            op.execute('CREATE INDEX CONCURRENTLY "field_name_idx" ON "table_name" ("field_name");')
        """,
    )
    assert pg.findings() == []


def test_blocking_drop_index(pg: Repo) -> None:
    # squawk require-concurrent-index-deletion: `DROP INDEX IF EXISTS "field_name_idx";`
    pg.revision(
        "a1",
        """
        op.drop_index("ix_users_email", table_name="users")
        op.execute('DROP INDEX IF EXISTS "field_name_idx";')
        """,
    )
    assert pg.rules() == ["MC502", "MC502"]


def test_drop_index_concurrently_in_autocommit_is_fine(pg: Repo) -> None:
    pg.revision(
        "a1",
        """
        with op.get_context().autocommit_block():
            op.drop_index("ix_users_email", table_name="users", postgresql_concurrently=True)
            op.execute('DROP INDEX CONCURRENTLY IF EXISTS "field_name_idx";')
        """,
    )
    assert pg.findings() == []


def test_concurrently_in_transaction(pg: Repo) -> None:
    # squawk ban-concurrent-index-creation-in-transaction, "instead of"
    pg.revision(
        "a1",
        """
        op.create_index("email_idx", "app_user", ["email"], postgresql_concurrently=True)
        op.drop_index("old_idx", table_name="app_user", postgresql_concurrently=True)
        op.execute('CREATE INDEX CONCURRENTLY "email_idx" ON "app_user" ("email");')
        op.execute("REINDEX INDEX CONCURRENTLY email_idx")
        """,
    )
    assert pg.rules() == ["MC503", "MC503", "MC503", "MC503"]


def test_concurrently_after_a_raw_commit_is_fine(pg: Repo) -> None:
    # squawk ban-concurrent-index-creation-in-transaction, the alembic alternative
    pg.revision(
        "a1",
        """
        op.execute("COMMIT;")
        op.execute("SET statement_timeout = 0;")
        op.create_index(
            "email_idx",
            "app_user",
            ["email"],
            schema="app",
            unique=False,
            postgresql_concurrently=True,
        )
        op.execute("BEGIN;")
        op.create_index("late_idx", "app_user", ["name"], postgresql_concurrently=True)
        """,
    )
    assert [(f["rule"], f["line"]) for f in pg.findings()] == [
        ("MC503", pg.line("a1", '"late_idx"'))
    ]


def test_enum_value_in_transaction(pg: Repo) -> None:
    pg.revision(
        "a1",
        """
        op.execute("ALTER TYPE mood ADD VALUE 'happy'")
        with op.get_context().autocommit_block():
            op.execute("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'sad' AFTER 'happy'")
        """,
    )
    assert [(f["rule"], f["line"]) for f in pg.findings()] == [
        ("MC504", pg.line("a1", "'happy'\")"))
    ]


# --------------------------------------------------------------------------- dialects


def test_dialect_rules_do_not_run_on_sqlite_and_are_not_called_skipped(repo: Repo) -> None:
    repo.revision("a1", 'op.create_index("ix", "users", ["id"])\nop.drop_index("ix2")')
    result = repo.project.run("lint")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "Skipped" not in result.stderr


def test_without_a_dialect_lint_says_which_rules_it_skipped(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, None)
    repo.revision("a1", 'op.create_index("ix", "users", ["id"])\nop.drop_column("users", "x")')
    result = repo.project.run("lint")
    assert result.exit_code == 1, result
    assert [line.split(" ")[1] for line in result.stdout.splitlines()] == ["MC102"]
    assert (
        "Skipped the PostgreSQL rules (MC302, MC404, MC405, MC406, MC501, MC502, MC503, MC504) "
        "and the MySQL/MariaDB rules (MC303): no database dialect is known." in result.stderr
    )


@pytest.mark.parametrize(
    ("url", "rules"),
    [
        ("sqlite:///app.db", []),
        (PG, ["MC302", "MC501"]),
        ("postgresql+psycopg://app@db.invalid/app", ["MC302", "MC501"]),
        (MYSQL, ["MC303"]),
        (MARIADB, ["MC303"]),
    ],
)
def test_the_dialect_comes_from_the_url_without_connecting(
    tmp_path: Path, url: str, rules: list[str]
) -> None:
    repo = make_repo(tmp_path, url)
    repo.revision(
        "a1",
        """
        op.alter_column("t", "c", existing_type=sa.Integer(), type_=sa.BigInteger())
        op.create_index("ix", "t", ["c"])
        """,
    )
    assert repo.rules() == rules


def test_the_dialect_and_disabled_rules_as_parameters(tmp_path: Path) -> None:
    import os

    import migratectl as api
    from migratectl.settings import load_settings

    repo = make_repo(tmp_path, None)
    repo.revision("a1", 'op.create_index("ix", "t", ["c"])\nop.drop_table("old")')
    previous = os.getcwd()
    os.chdir(repo.project.path)
    try:
        settings = load_settings()
        everything = api.lint(settings, dialect="postgres")
        fewer = api.lint(settings, dialect="postgresql", disabled={"drop-table"})
        none = api.lint(settings, dialect="mariadb", disabled={"MC101"})
    finally:
        os.chdir(previous)
    assert [f.rule for f in everything.findings] == ["MC501", "MC101"]
    assert everything.skipped_rules == ()
    assert [f.rule for f in fewer.findings] == ["MC501"]
    assert [f.rule for f in none.findings] == []


# --------------------------------------------------------------------------- markers, MC000


def test_markers_by_id_name_and_legacy_name(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        op.drop_table("one")  # migratectl: allow MC101
        # migratectl: allow drop-column
        op.drop_column("users", "age")
        op.rename_table("orders", "purchases")  # migratectl: allow rename
        op.alter_column(
            "users",
            "name",  # migratectl: allow narrow_type -- checked: no name is longer than 20
            existing_type=sa.String(50),
            type_=sa.String(20),
        )
        # migratectl: allow not_null
        op.add_column("users", sa.Column("z", sa.Integer(), nullable=False))
        op.drop_table("two")  # migratectl: allow drop-column
        """,
    )
    findings = repo.findings()
    assert [(f["rule"], f["acknowledged"]) for f in findings] == [
        ("MC101", True),
        ("MC102", True),
        ("MC201", True),
        ("MC301", True),
        ("MC401", True),
        ("MC101", False),  # a marker naming another rule acknowledges nothing here
    ]


def test_a_marker_naming_no_rule_is_a_finding(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        op.drop_table("one")  # migratectl: allow drop-tabel
        # migratectl: allow MC102, whatever
        op.drop_column("users", "age")
        """,
    )
    findings = repo.findings()
    line = repo.line("a1", "drop-tabel")
    assert [(f["rule"], f["line"], f["acknowledged"]) for f in findings] == [
        ("MC101", line, False),
        ("MC000", line, False),
        ("MC000", line + 1, False),
        ("MC102", line + 2, True),
    ]
    assert findings[1]["name"] == "unknown-allow"
    assert "'drop-tabel'" in findings[1]["message"]
    assert findings[1]["operation"] == "comment"


def test_text_output_and_exit_code(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        op.drop_column("users", "age")  # migratectl: allow MC102
        op.drop_table("legacy")
        """,
    )
    result = repo.project.run("lint")
    assert result.exit_code == 1, result
    path = "migrations/versions/a1.py"
    line = repo.line("a1", "drop_column")
    assert result.stdout.splitlines() == [
        f"{path}:{line}: MC102 drop-column a1 users.age — Drops column users.age and its "
        "values. (allowed)",
        f"{path}:{line + 1}: MC101 drop-table a1 legacy — Drops table legacy and every row in it.",
    ]
    assert "1 of 2 finding(s) in 1 revision(s) not acknowledged" in result.stderr


# --------------------------------------------------------------------------- helpers, raw SQL


HELPERS = """
def drop_legacy():
    op.drop_table("legacy")
    _drop_index_of("legacy")


def _drop_index_of(table):
    op.execute(f"DROP TABLE {table}_archive")


def shrink(batch_op):
    batch_op.drop_column("age")


def never_called():
    op.drop_table("untouched")
"""


def test_helper_functions_are_followed_once_each(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        drop_legacy()
        with op.batch_alter_table("users") as batch_op:
            shrink(batch_op)
        drop_legacy()  # called twice: reported once

        def local():
            op.drop_table("only_if_called")
        """,
        helpers=HELPERS,
    )
    findings = repo.findings()
    assert [(f["rule"], f["table"], f["column"], f["line"]) for f in findings] == [
        ("MC101", "legacy", None, repo.line("a1", 'op.drop_table("legacy")')),
        ("MC101", None, None, repo.line("a1", "_archive")),
        ("MC102", "users", "age", repo.line("a1", 'batch_op.drop_column("age")')),
    ]


def test_a_marker_at_the_helpers_call_acknowledges_its_operations(repo: Repo) -> None:
    repo.revision("a1", "drop_legacy()  # migratectl: allow MC101", helpers=HELPERS)
    assert [(f["rule"], f["acknowledged"]) for f in repo.findings()] == [
        ("MC101", True),
        ("MC101", True),
    ]


def test_raw_sql_several_statements_and_computed_parts(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        op.execute("DROP TABLE a; ALTER TABLE b DROP COLUMN c; DELETE FROM d WHERE x = 1")
        op.execute("ALTER TABLE " + "users" + " DROP COLUMN " + name)
        op.execute("DROP TABLE %s" % table)
        op.execute("DELETE FROM {}".format(table))
        """,
    )
    assert repo.flagged() == [
        ("MC101", "a", None),
        ("MC102", "b", "c"),
        ("MC102", "users", None),
        ("MC101", None, None),
        ("MC103", None, None),
    ]


def test_sql_lint_cannot_read_is_said_and_no_crash(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        op.execute(sql_built_elsewhere)
        op.execute("THIS IS NOT SQL AT ALL (")
        op.execute("DROP TABLE ok_table; NOT SQL EITHER (")
        """,
    )
    result = repo.project.run("lint")
    assert result.exit_code == 1, result
    assert [line.split(" ")[1:3] for line in result.stdout.splitlines()] == [
        ["MC101", "drop-table"]
    ]
    path = "migrations/versions/a1.py"
    first = repo.line("a1", "sql_built_elsewhere")
    assert (
        f"{path}:{first}: a1: the SQL of this call was not checked: its SQL is not a string "
        "in the file." in result.stderr
    )
    assert f"{path}:{first + 1}: a1: the SQL of this call was not checked: sqlglot cannot" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_sql_through_the_connection_is_read(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        connection = op.get_bind()
        connection.execute(sa.text("DELETE FROM sessions"))
        op.get_bind().exec_driver_sql("TRUNCATE audit")
        """,
    )
    assert repo.flagged() == [("MC103", "sessions", None), ("MC103", "audit", None)]


# --------------------------------------------------------------------------- replay


def test_replay_across_revisions(pg: Repo) -> None:
    pg.revision(
        "a1",
        """
        op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("email", sa.String(50), nullable=True))
        op.create_index("ix_users_email", "users", ["email"])
        op.add_column("users", sa.Column("code", sa.Integer(), nullable=False))
        """,
    )
    pg.revision(
        "b2",
        """
        op.rename_table("users", "members")  # migratectl: allow rename-table
        op.add_column("members", sa.Column("age", sa.Integer(), nullable=False))
        op.alter_column("members", "code", nullable=False)
        """,
    )
    pg.revision(
        "c3",
        """
        op.alter_column("members", "email", nullable=False)
        op.drop_index("ix_users_email")
        """,
    )
    findings = pg.findings()
    assert [(f["rule"], f["revision"], f["table"], f["column"]) for f in findings] == [
        ("MC201", "b2", "users", None),
        ("MC401", "b2", "members", "age"),
        ("MC402", "c3", "members", "email"),
        ("MC502", "c3", "members", None),
    ]
    # a range reports its revisions only, but the replay still reads the earlier ones
    assert [(f["rule"], f["revision"]) for f in pg.findings("c3:")] == [
        ("MC402", "c3"),
        ("MC502", "c3"),
    ]


def test_a_table_dropped_and_created_again_is_new(pg: Repo) -> None:
    pg.revision("a1", USERS)
    pg.revision(
        "b2",
        """
        op.drop_table("users")  # migratectl: allow MC101
        op.execute("CREATE TABLE users (id integer, email text)")
        op.create_index("ix_users_email", "users", ["email"])
        op.add_column("users", sa.Column("age", sa.Integer(), nullable=False))
        """,
    )
    assert pg.rules() == ["MC101"]


def test_multidb_upgrade_functions(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, PG)
    path = repo.project.path / "migrations" / "versions" / "a1.py"
    path.write_text(
        textwrap.dedent(
            '''\
            """a1"""
            from alembic import op as alembic_op

            revision = "a1"
            down_revision = None


            def upgrade(engine_name=""):
                globals()[f"upgrade_{engine_name}"]()


            def upgrade_():
                alembic_op.drop_table("main_table")


            def upgrade_users():
                alembic_op.drop_column("accounts", "email")
            '''
        )
    )
    assert repo.flagged() == [("MC101", "main_table", None), ("MC102", "accounts", "email")]


# --------------------------------------------------------------------------- installed command


def test_installed_command_text_and_json(pg: Repo) -> None:
    pg.revision(
        "a1",
        """
        op.execute("ALTER TABLE users DROP COLUMN age")  # migratectl: allow drop-column
        op.create_index("ix_users_name", "users", ["name"])
        """,
    )
    text = pg.project.run_cli("lint")
    assert text.exit_code == 1, text
    path = "migrations/versions/a1.py"
    assert text.stdout.splitlines()[1].startswith(f"{path}:13: MC501 blocking-index a1 users — ")
    document = pg.project.run_cli("lint", "--json")
    assert document.exit_code == 1, document
    assert json.loads(document.stdout)["findings"][0] == {
        "rule": "MC102",
        "name": "drop-column",
        "revision": "a1",
        "path": path,
        "line": 12,
        "operation": "execute",
        "table": "users",
        "column": "age",
        "message": "Drops column users.age and its values.",
        "acknowledged": True,
    }
    clean = pg.project.run_cli("lint", "--json", "base:base")
    assert (clean.exit_code, json.loads(clean.stdout)) == (0, {"findings": []})


def test_a_do_block_is_said_to_be_unread(pg: Repo) -> None:
    pg.revision("a1", 'op.execute("DO $$ BEGIN DELETE FROM x; END $$; DROP TABLE y")')
    result = pg.project.run("lint")
    assert [line.split(" ")[1] for line in result.stdout.splitlines()] == ["MC101"]
    assert "lint does not read the statements inside a DO block." in result.stderr


@pytest.mark.parametrize(
    "carried",
    [
        {"lint_dialect": "postgresql", "lint_disable": frozenset({"MC101"})},
        {"lint": {"dialect": "postgresql", "disable": ["drop-table"]}},
    ],
)
def test_lint_settings_are_read_from_the_settings_object(
    tmp_path: Path, carried: dict[str, Any]
) -> None:
    """``[lint] dialect`` / ``disable``, as the settings carry them."""
    import os

    import migratectl as api
    from migratectl.settings import load_settings

    repo = make_repo(tmp_path, None)
    repo.revision("a1", 'op.create_index("ix", "t", ["c"])\nop.drop_table("old")')
    previous = os.getcwd()
    os.chdir(repo.project.path)
    try:
        settings = load_settings()
        for key, value in carried.items():
            setattr(settings, key, value)
        result = api.lint(settings)
    finally:
        os.chdir(previous)
    assert [f.rule for f in result.findings] == ["MC501"]
    assert result.disabled_rules == {"MC101"}


def test_sqlalchemy_core_statements_without_where(repo: Repo) -> None:
    repo.revision(
        "a1",
        """
        op.execute(queries.update().values({"old": queries.c.schedule}))
        op.execute(sa.delete(sessions))
        op.execute(queries.update().where(queries.c.id == 1).values(old=None))
        op.execute(sa.delete(sessions).where(sessions.c.expired))
        op.execute(queries.insert().values(id=1))
        connection = op.get_bind()
        for row in connection.execute(queries.select()):
            connection.execute(queries.update().where(queries.c.id == row.id).values(old=None))
        """,
        helpers="""
        queries = sa.table("queries", sa.column("id"), sa.column("old"), sa.column("schedule"))
        sessions = sa.Table("sessions", sa.MetaData(), sa.Column("expired", sa.Boolean()))
        """,
    )
    result = repo.project.run("lint")
    assert [line.split(" — ")[1] for line in result.stdout.splitlines()] == [
        "UPDATE without WHERE on table queries overwrites every row of it.",
        "DELETE without WHERE on table sessions deletes every row of it.",
    ]
    assert "not checked" not in result.stderr


def test_a_required_identity_or_computed_column_fills_itself(repo: Repo) -> None:
    # squawk adding-required-field exempts generated columns too
    repo.revision(
        "a1",
        """
        op.add_column("users", sa.Column("n", sa.BigInteger(), sa.Identity(), nullable=False))
        op.add_column("users", sa.Column("d", sa.Integer(), sa.Computed("n * 2"), nullable=False))
        op.execute("ALTER TABLE t ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY NOT NULL")
        """,
    )
    assert repo.findings() == []


README = Path(__file__).parent.parent / "README.md"
DEMO_FIRST = '''\
"""initial"""
from alembic import op
import sqlalchemy as sa

revision = "1a2b3c4d5e6f"
down_revision = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_users_name", "users", ["name"])
'''
DEMO_SECOND = '''\
"""email"""
from alembic import op
import sqlalchemy as sa

revision = "2b3c4d5e6f7a"
down_revision = "1a2b3c4d5e6f"


def drop_sessions():
    op.execute("DELETE FROM sessions")
    op.drop_table("sessions")


def upgrade():
'''
DEMO_BEFORE = """\
    op.add_column("users", sa.Column("email", sa.String(length=120), nullable=False))
    op.alter_column("users", "name", existing_type=sa.String(length=50), nullable=False)
    op.create_index("ix_users_email", "users", ["email"], unique=True)
    op.alter_column("users", "bio", existing_type=sa.Text(), type_=sa.String(length=200))
    drop_sessions()
"""


def test_the_readme_shows_real_output(pg: Repo) -> None:
    """The README's lint example, before and after the allow-markers, is what lint prints."""
    readme = README.read_text()
    versions = pg.project.path / "migrations" / "versions"
    (versions / "1a2b3c4d5e6f_initial.py").write_text(DEMO_FIRST)
    second = versions / "2b3c4d5e6f7a_email.py"
    second.write_text(DEMO_SECOND + DEMO_BEFORE)
    before = pg.project.run("lint")
    assert before.exit_code == 1
    marked = readme.split("```python\ndef upgrade():\n", 1)[1].split("```", 1)[0]
    second.write_text(DEMO_SECOND + marked)
    after = pg.project.run("lint")
    assert after.exit_code == 1
    for result in (before, after):
        block = "$ migratectl lint\n" + result.stdout + result.stderr + "exit 1\n"
        assert block in readme


def test_an_upgrade_helper_named_upgrade_something_is_a_helper(pg: Repo) -> None:
    pg.revision(
        "a1",
        "upgrade_data()",
        helpers="""
        def upgrade_data():
            op.create_index("ix", "t", ["c"])
        """,
    )
    result = pg.project.run("lint")
    assert [line.split(" ")[1] for line in result.stdout.splitlines()] == ["MC501"]
    assert "Skipped" not in result.stderr


def test_each_database_of_a_multidb_repository_has_its_dialect(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    project = Project(folder, PG)
    project.config(
        '\n[binds.users]\ndatabase_url = "mariadb://app@db.invalid/users"\n', models=None
    )
    assert project.run("init", "--multidb").exit_code == 0
    (folder / "migrations" / "versions" / "a1.py").write_text(
        textwrap.dedent(
            '''\
            """a1"""
            from alembic import op
            import sqlalchemy as sa

            revision = "a1"
            down_revision = None


            def upgrade(engine_name=""):
                globals()[f"upgrade_{engine_name}"]()


            def upgrade_():
                op.create_index("ix", "t", ["c"])
                op.alter_column("t", "c", existing_type=sa.Integer(), type_=sa.BigInteger())


            def upgrade_users():
                op.create_index("ix", "accounts", ["c"])
                op.alter_column("accounts", "c", existing_type=sa.Integer(), type_=sa.BigInteger())
            '''
        )
    )
    assert Repo(project).flagged() == [
        ("MC501", "t", None),
        ("MC302", "t", "c"),
        ("MC303", "accounts", "c"),
    ]
