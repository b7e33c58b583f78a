"""Projects written for SQLAlchemy 1.4: models in the legacy style (``declarative_base()``,
``Column``), on every backend, through the whole command set, ``adopt``, ``verify`` and ``lint``.

These tests use nothing that SQLAlchemy 1.4 lacks, so they run on every supported version: in
the full suite on the newest, and (``pytest -m legacy_sqlalchemy``) in .ci/run's second
environment with the oldest supported SQLAlchemy and Alembic (constraints-oldest.txt).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy
from conftest import Project, fresh_database
from sqlalchemy.dialects import registry
from sqlalchemy.exc import NoSuchModuleError

pytestmark = pytest.mark.legacy_sqlalchemy

HEADER = """\
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


"""

MODELS = """
class User(Base):
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(50), nullable=False)
    email = sa.Column(sa.String(120), unique=True)
    posts = relationship("Post", back_populates="author")


class Post(Base):
    __tablename__ = "posts"
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True)
    title = sa.Column(sa.String(200), nullable=False)
    state = sa.Column(
        sa.Enum("draft", "published", name="post_state"), nullable=False, server_default="draft"
    )
    author = relationship("User", back_populates="posts")
"""

# The second version of the models: a column more, and a wider title.
MODELS_V2 = MODELS.replace("sa.String(200)", "sa.String(300)") + (
    '    summary = sa.Column(sa.Text, nullable=True, comment="shown in lists")\n'
)


def legacy_models(project: Project, body: str = MODELS) -> None:
    project.write("models.py", HEADER + textwrap.dedent(body).strip() + "\n")


def ok(result: object) -> None:
    assert getattr(result, "exit_code", None) == 0, result


def only_revision(project: Project, before: set[Path]) -> Path:
    (path,) = set(project.revision_files()) - before
    return path


def test_the_flask_migrate_command_set_through_the_command(project: Project, backend: str) -> None:
    """init, migrate, check, upgrade, current, history, show, heads, revision, branches,
    merge, downgrade, stamp and edit, as a user runs them, on a 1.4-style project."""
    legacy_models(project)
    project.config()
    ok(project.run_cli("init"))
    assert (project.path / "migrations" / "env.py").is_file()

    unmigrated = project.run_cli("check")
    assert unmigrated.exit_code == 1, unmigrated
    assert "add_table users" in unmigrated.stdout
    assert "add_table posts" in unmigrated.stdout

    ok(project.run_cli("migrate", "-m", "initial", "--rev-id", "a1"))
    assert [p.name for p in project.revision_files()] == ["a1_initial.py"]
    pending = project.run_cli("check")
    assert pending.exit_code == 1, pending
    assert "pending revisions: a1" in pending.stdout

    upgraded = project.run_cli("upgrade")
    ok(upgraded)
    assert "Upgrade <base> -> a1, initial" in upgraded.stderr
    assert project.version() == ["a1"]
    assert {"users", "posts"} <= project.tables()
    project.query("INSERT INTO users (id, name) VALUES (1, 'ada')")
    project.query("INSERT INTO posts (id, user_id, title) VALUES (1, 1, 'hello')")
    assert project.query("SELECT state FROM posts") == [("draft",)]
    clean = project.run_cli("check")
    ok(clean)
    assert "No changes" in clean.stdout

    # A change of the models: autogenerate finds it, upgrade applies it, rows stay.
    legacy_models(project, MODELS_V2)
    changed = project.run_cli("check")
    assert changed.exit_code == 1, changed
    assert "add_column posts.summary" in changed.stdout
    ok(project.run_cli("migrate", "-m", "summary", "--rev-id", "b2"))
    ok(project.run_cli("upgrade"))
    assert "summary" in project.columns("posts")
    assert project.columns("posts")["title"]["type"].length == 300
    assert project.query("SELECT title FROM posts") == [("hello",)]
    ok(project.run_cli("check"))

    current = project.run_cli("current")
    ok(current)
    assert current.stdout.strip() == "b2 (head)"
    history = project.run_cli("history")
    ok(history)
    assert history.stdout.splitlines() == [
        "a1 -> b2 (head), summary",
        "<base> -> a1, initial",
    ]
    shown = project.run_cli("show", "a1")
    ok(shown)
    assert "Revision ID: a1" in shown.stdout
    heads = project.run_cli("heads")
    ok(heads)
    assert heads.stdout.strip() == "b2 (head)"

    # Two branches from b2, joined by a merge.
    ok(project.run_cli("revision", "-m", "left", "--rev-id", "c3"))
    ok(project.run_cli("revision", "-m", "right", "--rev-id", "d4", "--head", "b2", "--splice"))
    two = project.run_cli("heads")
    ok(two)
    assert sorted(two.stdout.split()) == sorted(["c3", "(head)", "d4", "(head)"])
    branches = project.run_cli("branches")
    ok(branches)
    assert branches.stdout.startswith("b2 (branchpoint)")
    ok(project.run_cli("merge", "heads", "-m", "join", "--rev-id", "e5"))
    ok(project.run_cli("upgrade"))
    assert project.version() == ["e5"]

    # Down and back: the data of the first revision's tables survives.
    ok(project.run_cli("downgrade", "b2"))
    assert project.version() == ["b2"]
    ok(project.run_cli("downgrade", "a1"))
    assert "summary" not in project.columns("posts")
    assert project.query("SELECT title FROM posts") == [("hello",)]
    ok(project.run_cli("stamp", "b2"))
    assert project.version() == ["b2"]
    ok(project.run_cli("stamp", "a1"))
    ok(project.run_cli("upgrade", "heads"))
    assert project.version() == ["e5"]
    ok(project.run_cli("downgrade", "base"))
    assert project.tables() == {"alembic_version"}
    if backend == "postgresql":
        types = project.query("SELECT typname FROM pg_type WHERE typname = 'post_state'")
        assert types == [], "the downgrade left the enum type behind"

    editor = project.write("editor.py", "import sys\nopen(sys.argv[1], 'a').write('# seen\\n')\n")
    ok(project.run_cli("edit", "a1", env={"EDITOR": f"{sys.executable} {editor}"}))
    first = project.path / "migrations" / "versions" / "a1_initial.py"
    assert first.read_text().endswith("# seen\n")


def test_the_commands_in_process(project: Project) -> None:
    legacy_models(project)
    project.config()
    ok(project.run("init"))
    ok(project.run("migrate", "-m", "initial", "--rev-id", "a1"))
    ok(project.run("upgrade", "--sql"))
    assert project.tables() <= {"alembic_version"}  # offline: nothing ran
    ok(project.run("upgrade"))
    ok(project.run("check"))
    status = project.run("status")
    ok(status)
    assert "a1" in status.stdout
    legacy_models(project, MODELS_V2)
    ok(project.run("migrate", "-m", "summary", "--rev-id", "b2"))
    offline = project.run("upgrade", "a1:b2", "--sql")
    ok(offline)
    assert "summary" in offline.stdout
    ok(project.run("upgrade"))
    ok(project.run("downgrade"))
    assert project.version() == ["a1"]
    history = project.run("history", "-i")
    ok(history)
    assert "a1 (current), initial" in history.stdout


# --------------------------------------------------------------------------- adopt


LEGACY_TABLES = {
    "sqlite": "id INTEGER NOT NULL",
    "postgresql": "id SERIAL NOT NULL",
    "mariadb": "id INTEGER NOT NULL AUTO_INCREMENT",
}

ADOPTED_MODELS = """
class User(Base):
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(50), nullable=False)
"""


def test_adopt_stamps_a_matching_database_and_keeps_its_rows(
    project: Project, backend: str
) -> None:
    project.query(
        f"CREATE TABLE users ({LEGACY_TABLES[backend]}, name VARCHAR(50) NOT NULL, "
        "PRIMARY KEY (id))"
    )
    project.query("INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')")
    legacy_models(project, ADOPTED_MODELS)
    project.config()
    ok(project.run("init"))

    adopted = project.run_cli("adopt")
    ok(adopted)
    (revision,) = project.revision_files()
    assert project.version() == [revision.name.split("_")[0]]
    assert project.query("SELECT id, name FROM users ORDER BY id") == [(1, "ada"), (2, "grace")]
    ok(project.run("check"))


def test_adopt_refuses_a_database_that_differs(project: Project, backend: str) -> None:
    project.query(f"CREATE TABLE users ({LEGACY_TABLES[backend]}, PRIMARY KEY (id))")
    legacy_models(project, ADOPTED_MODELS)
    project.config()
    ok(project.run("init"))

    refused = project.run("adopt")
    assert refused.exit_code == 1, refused
    assert "add_column users.name" in refused.output
    assert project.revision_files() == []
    assert project.version() == []


# --------------------------------------------------------------------------- verify


def test_verify_proves_the_history(project: Project) -> None:
    legacy_models(project)
    project.config()
    ok(project.run("init"))
    ok(project.run("migrate", "-m", "initial", "--rev-id", "a1"))
    ok(project.run("upgrade"))
    legacy_models(project, MODELS_V2)
    ok(project.run("migrate", "-m", "summary", "--rev-id", "b2"))

    verified = project.run_cli("verify")
    ok(verified)
    assert [line.split(":")[0] for line in verified.stdout.splitlines()] == [
        "ok single_head",
        "ok upgrade",
        "ok models_match",
        "ok stairway",
        "ok data_kept",
        "ok downgrade_to_base",
    ]
    assert project.version() == ["a1"]  # the configured database was left alone


def test_verify_finds_a_downgrade_that_leaves_a_column(project: Project) -> None:
    legacy_models(project)
    project.config()
    ok(project.run("init"))
    ok(project.run("migrate", "-m", "initial", "--rev-id", "a1"))
    ok(project.run("upgrade"))
    legacy_models(project, MODELS_V2)
    before = set(project.revision_files())
    ok(project.run("migrate", "-m", "summary", "--rev-id", "b2"))
    path = only_revision(project, before)
    text = path.read_text()
    assert "op.drop_column('posts', 'summary')" in text or "drop_column('summary')" in text
    path.write_text(
        text.replace("batch_op.drop_column('summary')", "pass").replace(
            "op.drop_column('posts', 'summary')", "pass"
        )
    )

    verified = project.run("verify")
    assert verified.exit_code == 1, verified
    assert "FAIL stairway: revision b2 (summary): downgrade does not undo it" in verified.stdout
    assert "left behind: table posts, column summary" in verified.stdout


# --------------------------------------------------------------------------- lint


def test_lint_reads_the_generated_history(project: Project) -> None:
    legacy_models(project, MODELS_V2)
    project.config()
    ok(project.run("init"))
    ok(project.run("migrate", "-m", "initial", "--rev-id", "a1"))
    ok(project.run("upgrade"))
    legacy_models(project)  # summary removed, title narrowed again
    ok(project.run("migrate", "-m", "shrink", "--rev-id", "b2"))

    linted = project.run_cli("lint")
    assert linted.exit_code == 1, linted
    findings = [line.split(" — ")[0].split(": ", 1)[1] for line in linted.stdout.splitlines()]
    # and, by dialect, what rewrites (PostgreSQL) or copies (MariaDB) the table
    by_dialect = {
        "sqlite": [],
        "postgresql": ["MC302 rewriting-type b2 posts.title"],
        "mysql": ["MC303 copying-alter b2 posts.title"],
    }[project.engine().dialect.name]
    assert sorted(findings) == sorted(
        ["MC102 drop-column b2 posts.summary", "MC301 narrowing-type b2 posts.title", *by_dialect]
    )
    ok(project.run("lint", "a1"))


# --------------------------------------------------------------------------- versions


def test_version_locations_in_two_folders(sqlite_project: Project) -> None:
    """Alembic before 1.16 splits version_locations on version_path_separator, not
    path_separator: both folders are read on every supported Alembic."""
    project = sqlite_project
    legacy_models(project, ADOPTED_MODELS)
    project.config('[alembic]\nversion_locations = ["migrations/versions", "more/versions"]\n')
    ok(project.run("init"))
    (project.path / "more" / "versions").mkdir(parents=True)
    for rev, message, folder in (("a1", "one", "migrations"), ("b2", "two", "more")):
        written = project.run(
            "revision", "-m", message, "--rev-id", rev, "--version-path", f"{folder}/versions"
        )
        ok(written)
        assert (project.path / folder / "versions" / f"{rev}_{message}.py").is_file()
    history = project.run_cli("history")
    ok(history)
    assert history.stdout.splitlines() == ["a1 -> b2 (head), two", "<base> -> a1, one"]
    ok(project.run_cli("upgrade"))
    assert project.version() == ["b2"]


def has_dialect(name: str) -> bool:
    try:
        registry.load(name)
    except NoSuchModuleError:
        return False
    return True


@pytest.mark.skipif(
    has_dialect("postgresql.psycopg"), reason="this SQLAlchemy has the psycopg 3 dialect"
)
def test_a_psycopg3_url_names_what_this_sqlalchemy_lacks(sqlite_project: Project) -> None:
    sqlite_project.database_url = "postgresql+psycopg://app:s3cret@127.0.0.1/app"
    sqlite_project.config(models=None)
    ok(sqlite_project.run("init"))
    refused = sqlite_project.run_cli("upgrade")
    assert refused.exit_code == 2, refused
    assert refused.stderr.strip() == (
        "Error: The database URL names an unknown dialect or driver: 'postgresql+psycopg'. "
        f"SQLAlchemy {sqlalchemy.__version__} has no dialect for psycopg 3 (it came with "
        "SQLAlchemy 2.0): use a postgresql+psycopg2:// URL with psycopg2 installed "
        "(pip install psycopg2-binary), or upgrade SQLAlchemy."
    )
    assert "s3cret" not in refused.output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])  # the async extra's drivers
def test_an_async_url(tmp_path: Path, backend: str) -> None:
    """asyncpg and aiosqlite, with SQLAlchemy 1.4's asyncio extension too."""
    for url in fresh_database(backend, tmp_path):
        async_url = url.replace("sqlite://", "sqlite+aiosqlite://").replace(
            "postgresql+psycopg2://", "postgresql+asyncpg://"
        )
        async_url = async_url.replace("postgresql+psycopg://", "postgresql+asyncpg://")
        folder = tmp_path / "project"
        folder.mkdir()
        project = Project(folder, async_url)
        inspected = Project(folder, url)  # the same database through the sync driver
        legacy_models(project)
        project.config()
        ok(project.run("init"))
        ok(project.run_cli("migrate", "-m", "initial", "--rev-id", "a1"))
        ok(project.run_cli("upgrade"))
        ok(project.run_cli("check"))
        assert inspected.version() == ["a1"]
        ok(project.run("downgrade", "base"))
        assert inspected.version() == []


DATA_REVISION = '''
"""data"""
import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None


def upgrade():
    op.create_table(
        "notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text)
    )
    op.execute("INSERT INTO notes (id, body) VALUES (1, 'by op.execute')")
    bind = op.get_bind()
    insert = sa.text("INSERT INTO notes (id, body) VALUES (:id, :body)")
    bind.execute(insert, {"id": 2, "body": "by text"})
    count = bind.execute(sa.text("SELECT count(*) FROM notes")).scalar()
    op.execute(f"INSERT INTO notes (id, body) VALUES (3, 'counted {count}')")


def downgrade():
    op.drop_table("notes")
'''


def test_data_statements_in_a_revision(sqlite_project: Project) -> None:
    """op.execute with a string, and the bind's execute with text(): both work on 1.4's
    2.0-style connection as on 2.0."""
    project = sqlite_project
    project.config(models=None)
    ok(project.run("init"))
    project.write("migrations/versions/a1_data.py", DATA_REVISION)
    ok(project.run_cli("upgrade"))
    assert project.query("SELECT id, body FROM notes ORDER BY id") == [
        (1, "by op.execute"),
        (2, "by text"),
        (3, "counted 2"),
    ]
