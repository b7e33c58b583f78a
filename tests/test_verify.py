"""``verify``: each check catches its defect, by name, on every backend, on a scratch database.

The configured database is never touched: every test checks it afterwards.
"""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Project, Result, _admin_engine, fresh_database
from sqlalchemy import text
from sqlalchemy.engine import make_url

from migratectl.database.scratch import scratch_database
from migratectl.settings import load_settings

USERS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""

CREATE_USERS = """op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )"""


def write_revision(
    project: Project,
    rev: str,
    down: str | None,
    upgrade: str = "pass",
    downgrade: str = "pass",
    message: str | None = None,
) -> Path:
    """A hand-written revision file ``rev`` with the given upgrade() and downgrade() bodies."""
    body = textwrap.dedent(
        '''\
        """{message}

        Revision ID: {rev}
        """
        from alembic import op
        import sqlalchemy as sa

        revision = {rev!r}
        down_revision = {down!r}
        branch_labels = None
        depends_on = None


        def upgrade():
            {upgrade}


        def downgrade():
            {downgrade}
        '''
    ).format(
        message=message or f"{rev} step", rev=rev, down=down, upgrade=upgrade, downgrade=downgrade
    )
    return project.write(f"migrations/versions/{rev}.py", body)


def initialised(project: Project, models: str = USERS) -> Project:
    project.models(models)
    project.config()
    assert project.run("init").exit_code == 0
    return project


def good_history(project: Project) -> None:
    """users, then posts with a foreign key and an index, as autogenerate would write them."""
    write_revision(project, "r1", None, CREATE_USERS, 'op.drop_table("users")', "create users")
    write_revision(
        project,
        "r2",
        "r1",
        """op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_posts_title", "posts", ["title"])""",
        """op.drop_index("ix_posts_title", table_name="posts")
    op.drop_table("posts")""",
        "create posts",
    )


POSTS = (
    USERS
    + """

class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(sa.String(200), index=True)
"""
)


def verify(project: Project, *args: str) -> tuple[Result, dict[str, dict[str, object]]]:
    """Run ``verify --json``; the result and its checks by name."""
    result = project.run("verify", "--json", *args)
    assert "Traceback" not in result.output, result
    document = json.loads(result.stdout)
    assert set(document) == {"ok", "checks"}
    checks = {check["name"]: check for check in document["checks"]}
    assert list(checks) == [
        "single_head",
        "upgrade",
        "models_match",
        "stairway",
        "data_kept",
        "downgrade_to_base",
    ]
    for check in checks.values():
        assert set(check) == {"name", "ok", "detail"}
    assert document["ok"] == all(check["ok"] for check in checks.values())
    assert result.exit_code == (0 if document["ok"] else 1), result
    return result, checks


def failed(checks: dict[str, dict[str, object]]) -> list[str]:
    return [name for name, check in checks.items() if not check["ok"]]


def test_good_history_passes_and_leaves_the_configured_database_alone(project: Project) -> None:
    initialised(project, POSTS)
    good_history(project)

    result, checks = verify(project)
    assert failed(checks) == [], result
    assert "2 revision(s)" in str(checks["upgrade"]["detail"])
    assert project.tables() == set()

    human = project.run("verify")
    assert human.exit_code == 0, human
    assert human.stdout.splitlines() == [
        "ok single_head: one head: r2",
        "ok upgrade: 2 revision(s) applied one at a time",
        "ok models_match: the schema at head matches the models",
        "ok stairway: 2 revision(s) downgraded and upgraded again",
        "ok data_kept: 2 revision(s) applied with a row in every table; every table kept its rows",
        "ok downgrade_to_base: nothing but the version table is left at base",
    ]
    assert project.tables() == set()


def test_a_database_at_a_revision_keeps_it(project: Project) -> None:
    initialised(project, POSTS)
    good_history(project)
    assert project.run("upgrade", "r1").exit_code == 0
    project.query("INSERT INTO users (id, name) VALUES (1, 'ada')")

    _, checks = verify(project)
    assert failed(checks) == []
    assert project.version() == ["r1"]
    assert project.tables() == {"alembic_version", "users"}
    assert project.query("SELECT name FROM users") == [("ada",)]


def test_two_heads(project: Project) -> None:
    initialised(project)
    write_revision(project, "r1", None, CREATE_USERS, 'op.drop_table("users")')
    write_revision(project, "left", "r1")
    write_revision(project, "right", "r1")

    result, checks = verify(project)
    assert failed(checks) == list(checks), result
    detail = str(checks["single_head"]["detail"])
    assert "2 heads" in detail and "left" in detail and "right" in detail
    assert all(str(checks[name]["detail"]).startswith("skipped") for name in list(checks)[1:])
    human = project.run("verify")
    assert human.exit_code == 1
    assert human.stdout.splitlines()[0].startswith("FAIL single_head: 2 heads")
    assert human.stdout.splitlines()[1] == "skip upgrade: needs a single head"
    assert project.tables() == set()


def test_a_downgrade_that_leaves_a_table(project: Project) -> None:
    initialised(project)
    write_revision(project, "r1", None, CREATE_USERS, 'op.drop_table("users")')
    write_revision(
        project,
        "r2",
        "r1",
        'op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))',
        "pass",
        "add audit",
    )
    project.models(
        USERS + '\n\nclass Audit(Base):\n    __tablename__ = "audit"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    )

    result, checks = verify(project)
    assert failed(checks) == ["stairway", "downgrade_to_base"], result
    assert checks["stairway"]["detail"] == (
        "revision r2 (add audit): downgrade does not undo it: left behind: table audit"
    )
    assert checks["downgrade_to_base"]["detail"] == "left behind: table audit"
    assert project.tables() == set()


def test_a_downgrade_that_raises(project: Project) -> None:
    initialised(project)
    write_revision(project, "r1", None, CREATE_USERS, 'raise RuntimeError("no way back")', "users")

    result, checks = verify(project)
    assert failed(checks) == ["stairway", "downgrade_to_base"], result
    expected = "revision r1 (users): downgrade raised RuntimeError: no way back"
    assert checks["stairway"]["detail"] == expected
    assert checks["downgrade_to_base"]["detail"] == expected
    assert project.tables() == set()


def test_an_upgrade_that_raises_names_its_revision(project: Project) -> None:
    initialised(project)
    write_revision(project, "r1", None, CREATE_USERS, 'op.drop_table("users")')
    write_revision(project, "r2", "r1", 'op.add_column("nosuch", sa.Column("x", sa.Integer()))')

    result, checks = verify(project)
    assert failed(checks) == [
        "upgrade",
        "models_match",
        "stairway",
        "data_kept",
        "downgrade_to_base",
    ], result
    detail = str(checks["upgrade"]["detail"])
    assert detail.startswith("revision r2 (r2 step): upgrade raised "), detail
    assert "nosuch" in detail
    assert str(checks["stairway"]["detail"]) == "skipped: the upgrade failed"
    assert project.tables() == set()


def test_a_model_column_no_revision_creates(project: Project) -> None:
    initialised(
        project,
        USERS + "    email: Mapped[str | None] = mapped_column(sa.String(120))\n",
    )
    write_revision(project, "r1", None, CREATE_USERS, 'op.drop_table("users")')

    result, checks = verify(project)
    assert failed(checks) == ["models_match"], result
    assert "add_column users.email" in str(checks["models_match"]["detail"])
    human = project.run("verify")
    assert "FAIL models_match: " in human.stdout and "users.email" in human.stdout


def test_no_models_configured_fails_models_match(sqlite_project: Project) -> None:
    sqlite_project.config(models=None)
    assert sqlite_project.run("init").exit_code == 0
    write_revision(sqlite_project, "r1", None, CREATE_USERS, 'op.drop_table("users")')

    _, checks = verify(sqlite_project)
    assert failed(checks) == ["models_match"]
    assert "no models are configured" in str(checks["models_match"]["detail"])


def test_an_empty_history_fails_single_head(sqlite_project: Project) -> None:
    initialised(sqlite_project)
    _, checks = verify(sqlite_project)
    assert "no revisions" in str(checks["single_head"]["detail"])


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_enum_type_left_behind_on_postgresql(project: Project) -> None:
    initialised(project)
    write_revision(project, "r1", None, CREATE_USERS, 'op.drop_table("users")')
    write_revision(
        project,
        "r2",
        "r1",
        """op.create_table(
        "moods",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mood", sa.Enum("happy", "sad", name="mood"), nullable=False),
    )""",
        'op.drop_table("moods")',
        "moods",
    )
    project.models(
        USERS + '\n\nclass Mood(Base):\n    __tablename__ = "moods"\n'
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        '    mood: Mapped[str] = mapped_column(sa.Enum("happy", "sad", name="mood"))\n'
    )

    result, checks = verify(project)
    assert failed(checks) == ["stairway", "downgrade_to_base"], result
    assert str(checks["stairway"]["detail"]).startswith("revision r2 (moods): ")
    assert "enum type mood" in str(checks["stairway"]["detail"])
    assert checks["downgrade_to_base"]["detail"] == "left behind: enum type mood"
    assert project.tables() == set()


# --------------------------------------------------------------------------- the scratch database


def test_a_scratch_url_naming_the_configured_database_is_refused(project: Project) -> None:
    initialised(project, POSTS)
    good_history(project)
    url = make_url(project.database_url)
    if url.get_backend_name() == "sqlite":  # relative to the project folder: the same file
        spelled = f"sqlite:///{os.path.relpath(url.database or '', project.path)}"
    else:  # the same server and database, another host name and the default port spelled out
        host = "localhost" if url.host in ("127.0.0.1", None) else url.host
        port = url.port or {"postgresql": 5432}.get(url.get_backend_name(), 3306)
        spelled = url.set(host=host, port=port).render_as_string(hide_password=False)

    for scratch in (project.database_url, spelled):
        result = project.run("verify", "--scratch-url", scratch)
        assert result.exit_code == 2, result
        assert "is the configured database" in result.stderr
        assert result.stdout == ""
    assert project.tables() == set()


def test_an_explicit_scratch_database_is_used_and_must_be_empty(
    project: Project, backend: str, tmp_path: Path
) -> None:
    initialised(project, POSTS)
    good_history(project)
    (tmp_path / "scratch").mkdir()
    other = fresh_database(backend, tmp_path / "scratch")
    scratch = next(other)
    try:
        result, checks = verify(project, "--scratch-url", scratch)
        assert failed(checks) == [], result
        scratch_project = Project(tmp_path / "scratch", scratch)
        assert scratch_project.tables() == set()  # as empty as it was found
        assert project.tables() == set()

        scratch_project.query("CREATE TABLE leftover (id INTEGER PRIMARY KEY)")
        refused = project.run("verify", "--scratch-url", scratch)
        assert refused.exit_code == 2, refused
        assert "is not empty: table leftover" in refused.stderr
    finally:
        other.close()


@pytest.mark.parametrize("interrupted", [False, True])
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_server_scratch_database_is_dropped_afterwards(
    backend: str, database_url: str, tmp_path: Path, interrupted: bool
) -> None:
    settings = replace(load_settings(cwd=tmp_path), database_url=database_url)
    expected = pytest.raises(KeyboardInterrupt) if interrupted else nullcontext()
    with expected, scratch_database(settings) as url:
        name = make_url(url).database
        assert name and name.startswith("migratectl_scratch_")
        assert name in server_databases(backend)
        if interrupted:
            raise KeyboardInterrupt
    assert name not in server_databases(backend)


def test_a_sqlite_scratch_file_is_removed_afterwards(tmp_path: Path) -> None:
    configured = f"sqlite:///{tmp_path / 'app.db'}"
    settings = replace(load_settings(cwd=tmp_path), database_url=configured)
    with scratch_database(settings) as url:
        path = Path(make_url(url).database or "")
        assert path.parent.is_dir() and path.parent != tmp_path
    assert not path.parent.exists()
    assert not (tmp_path / "app.db").exists()


def server_databases(backend: str) -> set[str]:
    query = "SELECT datname FROM pg_database" if backend == "postgresql" else "SHOW DATABASES"
    admin = _admin_engine(backend)
    try:
        with admin.connect() as connection:
            return {row[0] for row in connection.execute(text(query))}
    finally:
        admin.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_login_that_may_not_create_databases_is_pointed_at_scratch_url(
    project: Project, backend: str
) -> None:
    user, password = f"mc_user_{uuid.uuid4().hex[:8]}", "s3cret-pw-xyz"
    database = make_url(project.database_url).database
    if backend == "postgresql":
        grants = [
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'",
            f"GRANT ALL ON DATABASE {database} TO {user}",
        ]
        drop = [f"REVOKE ALL ON DATABASE {database} FROM {user}", f"DROP ROLE {user}"]
    else:
        grants = [
            f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
            f"GRANT ALL ON {database}.* TO '{user}'@'%'",
        ]
        drop = [f"DROP USER '{user}'@'%'"]
    admin = _admin_engine(backend)
    with admin.connect() as connection:
        for statement in grants:
            connection.execute(text(statement))
    try:
        project.database_url = (
            make_url(project.database_url)
            .set(username=user, password=password)
            .render_as_string(hide_password=False)
        )
        initialised(project, POSTS)
        good_history(project)
        result = project.run("verify")
        assert result.exit_code == 2, result
        assert "Cannot create a scratch database" in result.stderr
        assert "--scratch-url" in result.stderr
        assert password not in result.output
    finally:
        with admin.connect() as connection:
            for statement in drop:
                connection.execute(text(statement))
        admin.dispose()


def test_an_env_py_that_picks_its_own_database_stops_verify(sqlite_project: Project) -> None:
    initialised(sqlite_project, POSTS)
    good_history(sqlite_project)
    env_py = sqlite_project.path / "migrations" / "env.py"
    env_py.write_text(
        "from alembic import context\n"
        "from migratectl.runtime import run_migrations\n"
        "from migratectl.settings import load_settings\n\n"
        "context.config.attributes['migratectl.settings'] = load_settings()  # its own choice\n"
        "run_migrations(context)\n"
    )
    # A table of the configured database, empty: verify must not put a row into it.
    sqlite_project.query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    result = sqlite_project.run("verify")
    assert result.exit_code == 2, result
    assert "env.py did not migrate the scratch database" in result.stderr
    # It stopped after the first upgrade, before any downgrade could empty that database,
    # and before any of data_kept's rows.
    assert sqlite_project.version() == ["r1"]
    assert sqlite_project.tables() == {"alembic_version", "users", "notes"}
    assert sqlite_project.query("SELECT count(*) FROM notes") == [(0,)]
    assert sqlite_project.query("SELECT count(*) FROM users") == [(0,)]


def test_an_env_py_that_keeps_all_revisions_in_one_transaction_is_verified_too(
    project: Project,
) -> None:
    """verify takes its steps in one run of env.py, reading and writing rows between them;
    an env.py that asks for one transaction around all the revisions gets a command per step
    instead, with the same checks."""
    initialised(project, POSTS)
    good_history(project)
    env_py = project.path / "migrations" / "env.py"
    env_py.write_text(
        "from alembic import context\n"
        "from migratectl.runtime import run_migrations\n\n"
        "run_migrations(context, transaction_per_migration=False)\n"
    )
    result, checks = verify(project)
    assert failed(checks) == [], result
    assert checks["data_kept"]["detail"] == (
        "2 revision(s) applied with a row in every table; every table kept its rows"
    )
    assert project.tables() == set()


def test_a_history_with_a_merge_is_walked_one_revision_at_a_time(sqlite_project: Project) -> None:
    tables = ("users", "left_t", "right_t")
    initialised(
        sqlite_project,
        USERS
        + "".join(
            f'\n\nclass T{i}(Base):\n    __tablename__ = "{name}"\n'
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            for i, name in enumerate(tables[1:])
        ),
    )
    write_revision(sqlite_project, "a", None, CREATE_USERS, 'op.drop_table("users")')
    for rev, table in (("b", "left_t"), ("c", "right_t")):
        create = f'op.create_table("{table}", sa.Column("id", sa.Integer(), primary_key=True))'
        downgrade = f'op.drop_table("{table}")' if rev == "b" else "pass"
        write_revision(sqlite_project, rev, "a", create, downgrade)
    sqlite_project.write(
        "migrations/versions/m.py",
        '"""merge"""\nrevision = "m"\ndown_revision = ("b", "c")\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n",
    )

    result, checks = verify(sqlite_project)
    assert failed(checks) == ["stairway", "downgrade_to_base"], result
    assert checks["upgrade"]["detail"] == "4 revision(s) applied one at a time"
    assert str(checks["stairway"]["detail"]).startswith("revision c (c step): downgrade does")
    assert checks["downgrade_to_base"]["detail"] == "left behind: table right_t"

    write_revision(
        sqlite_project,
        "c",
        "a",
        'op.create_table("right_t", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("right_t")',
    )
    result, checks = verify(sqlite_project)
    assert failed(checks) == [], result
    assert sqlite_project.tables() == set()
