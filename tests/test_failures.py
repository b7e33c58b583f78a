"""A revision that fails: exit 4, a message naming the revision, its file and line, and where
the database is now; earlier revisions stay applied; DDL rolls back where the database can."""

from __future__ import annotations

import textwrap

import pytest
from conftest import Project

REV1, REV2, REV3 = "fa11ed000001", "fa11ed000002", "fa11ed000003"

AUTHORS = f'''
    """create authors"""
    import sqlalchemy as sa
    from alembic import op

    revision = "{REV1}"
    down_revision = None
    branch_labels = None
    depends_on = None


    def upgrade():
        op.create_table("authors", sa.Column("id", sa.Integer, primary_key=True))


    def downgrade():
        op.drop_table("authors")
    '''

# The second revision creates a table, then fails in the way the test chooses.
BOOKS = f'''
    """create books"""
    import sqlalchemy as sa
    from alembic import op

    revision = "{REV2}"
    down_revision = "{REV1}"
    branch_labels = None
    depends_on = None


    def upgrade():
        op.create_table("books", sa.Column("id", sa.Integer, primary_key=True))
        {{failure}}


    def downgrade():
        op.drop_table("books")
    '''

FAILURES = {
    "raise": 'raise RuntimeError("the data is not what this revision expected")',
    "sql": 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")',
}

LATER = f'''
    """create reviews"""
    import sqlalchemy as sa
    from alembic import op

    revision = "{REV3}"
    down_revision = "{REV2}"
    branch_labels = None
    depends_on = None


    def upgrade():
        op.create_table("reviews", sa.Column("id", sa.Integer, primary_key=True))


    def downgrade():
        op.drop_table("reviews")
    '''


def write_revisions(project: Project, failure: str, config: str = "") -> int:
    """Three revisions, the second failing; the 1-based line of the failing statement."""
    project.config(config, models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_authors.py", textwrap.dedent(AUTHORS))
    body = textwrap.dedent(BOOKS).replace("{failure}", FAILURES[failure])
    path = project.write("migrations/versions/r2_books.py", body)
    project.write("migrations/versions/r3_reviews.py", textwrap.dedent(LATER))
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if FAILURES[failure] in line)


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_failing_revision_exits_4_and_says_where_the_database_is(
    project: Project, backend: str, failure: str
) -> None:
    line = write_revisions(project, failure)
    result = project.run_cli("upgrade")

    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert f"Revision {REV2}" in message
    assert f"r2_books.py, line {line}" in message
    assert f"The database is at {REV1}." in message
    assert "Traceback" not in result.output
    if failure == "raise":
        assert "RuntimeError: the data is not what this revision expected" in message
    else:
        assert "The statement that failed: INSERT INTO no_such_table (id) VALUES (1)." in message
    # The revision before stays applied; the one after never ran.
    assert project.version() == [REV1]
    tables = project.tables()
    assert "authors" in tables
    assert "reviews" not in tables
    if backend == "mariadb":
        # DDL cannot roll back: the table stays, and the message says so.
        assert "books" in tables
        assert "MariaDB cannot roll back DDL" in message
        assert "had already run and stayed: CREATE TABLE books (" in message
        stayed = message.split("stayed:", 1)[1].split(". ", 1)[0]
        assert "no_such_table" not in stayed  # it failed: it did not run
    else:
        assert "books" not in tables
        assert "The failed revision was rolled back." in message


def test_verbose_failure_shows_the_traceback(project: Project, backend: str) -> None:
    write_revisions(project, "raise")
    result = project.run_cli("-v", "upgrade")
    assert result.exit_code == 4, result
    assert "Traceback" in result.stderr
    assert "r2_books.py" in result.stderr
    assert project.version() == [REV1]


def test_failing_first_revision_leaves_the_database_at_base(project: Project, backend: str) -> None:
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write(
        "migrations/versions/r1_authors.py",
        textwrap.dedent(AUTHORS).replace(
            'op.create_table("authors", sa.Column("id", sa.Integer, primary_key=True))',
            'op.create_table("authors", sa.Column("id", sa.Integer, primary_key=True))\n'
            '    raise ValueError("first revision broken")',
        ),
    )
    result = project.run_cli("upgrade")
    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert f"Revision {REV1}" in message
    assert "The database is at base (no revision)." in message
    assert project.version() == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_fixed_revision_then_applies(project: Project, backend: str) -> None:
    """After a rolled-back failure, fixing the file and rerunning is all it takes."""
    write_revisions(project, "raise")
    assert project.run_cli("upgrade").exit_code == 4
    path = project.path / "migrations/versions/r2_books.py"
    path.write_text(path.read_text().replace(FAILURES["raise"], "pass"))
    result = project.run_cli("upgrade")
    assert result.exit_code == 0, result
    assert project.version() == [REV3]
    assert {"authors", "books", "reviews"} <= project.tables()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_one_transaction_for_all_revisions_rolls_all_back(project: Project, backend: str) -> None:
    """With transaction_per_migration off, the version table still tells the truth."""
    write_revisions(project, "raise", config="[configure]\ntransaction_per_migration = false\n")
    result = project.run_cli("upgrade")
    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert "The database is at base (no revision)." in message
    assert project.version() == []
    assert "authors" not in project.tables()


def test_failing_downgrade_exits_4(project: Project, backend: str) -> None:
    write_revisions(project, "raise")
    path = project.path / "migrations/versions/r2_books.py"
    path.write_text(path.read_text().replace(FAILURES["raise"], "pass"))
    assert project.run_cli("upgrade").exit_code == 0
    text = path.read_text().replace(
        '    op.drop_table("books")', '    raise RuntimeError("cannot undo books")'
    )
    path.write_text(text)
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "cannot undo books" in x)

    result = project.run_cli("downgrade", "base")
    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert f"Revision {REV2} (migrations/versions/r2_books.py, line {line})" in message
    assert f"The database is at {REV2}." in message
    assert project.version() == [REV2]
    assert "reviews" not in project.tables()
    assert "books" in project.tables()


@pytest.mark.parametrize("backend", ["mariadb"])
def test_mariadb_names_what_stayed_and_what_rolled_back(project: Project, backend: str) -> None:
    """Each DDL statement commits everything before it; what came after the last one is undone."""
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_authors.py", textwrap.dedent(AUTHORS))
    body = textwrap.dedent(BOOKS).replace(
        "{failure}",
        'op.execute("INSERT INTO authors (id) VALUES (1)")\n'
        '    op.create_index("ix_books_id", "books", ["id"])\n'
        '    op.execute("INSERT INTO books (id) VALUES (7)")\n'
        '    raise RuntimeError("stop")',
    )
    project.write("migrations/versions/r2_books.py", body)

    result = project.run_cli("upgrade")
    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert (
        "had already run and stayed: CREATE TABLE books ( id INTEGER NOT NULL AUTO_INCREMENT, "
        "PRIMARY KEY (id) ); INSERT INTO authors (id) VALUES (1); "
        "CREATE INDEX ix_books_id ON books (id). Rolled back: INSERT INTO books (id) VALUES (7)."
    ) in message
    # What the message says is what the database holds.
    assert project.query("SELECT id FROM authors") == [(1,)]
    assert project.query("SELECT id FROM books") == []
    assert project.version() == [REV1]


# Creates a table, commits it and an index through autocommit_block(), then fails.
AUTOCOMMIT_FAILURE = (
    "with op.get_context().autocommit_block():\n"
    '        op.execute("CREATE INDEX {concurrently}ix_books_id ON books (id)")\n'
    '    op.execute("INSERT INTO authors (id) VALUES (1)")\n'
    '    raise RuntimeError("stop after the index")'
)


def test_partial_commit_by_autocommit_block_is_reported(project: Project, backend: str) -> None:
    """autocommit_block() commits what ran before it and in it: the message lists those
    statements as stayed, and says "rolled back" only of what was."""
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_authors.py", textwrap.dedent(AUTHORS))
    failure = AUTOCOMMIT_FAILURE.replace(
        "{concurrently}", "CONCURRENTLY " if backend == "postgresql" else ""
    )
    project.write(
        "migrations/versions/r2_books.py", textwrap.dedent(BOOKS).replace("{failure}", failure)
    )

    result = project.run_cli("upgrade")

    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert f"Revision {REV2} (migrations/versions/r2_books.py, line " in message
    assert "RuntimeError: stop after the index." in message
    assert f"The database is at {REV1}." in message
    assert "The failed revision was rolled back" not in message
    concurrently = "CONCURRENTLY " if backend == "postgresql" else ""
    assert "stayed: CREATE TABLE books (" in message
    assert f"; CREATE INDEX {concurrently}ix_books_id ON books (id). " in message
    assert "Rolled back: INSERT INTO authors (id) VALUES (1)." in message
    assert "Undo them by hand (or finish the revision's work) before running it again." in message
    # What the message says is what the database holds.
    assert project.version() == [REV1]
    assert "books" in project.tables()
    assert project.query("SELECT id FROM authors") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_one_transaction_rolled_back_names_the_revisions_undone_with_it(
    project: Project, backend: str
) -> None:
    write_revisions(project, "raise", config="[configure]\ntransaction_per_migration = false\n")
    result = project.run_cli("upgrade")
    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert (
        f"The failed revision was rolled back, and with it {REV1}, which this command had "
        "applied in the same transaction." in message
    )
    assert project.version() == []


def test_failing_downgrade_names_the_revisions_reverted_and_committed(
    project: Project, backend: str
) -> None:
    """A downgrade over several revisions that fails part-way: each revision it reverted
    before the failure was committed, and the message names them."""
    project.config(models=None)
    assert project.run("init").exit_code == 0
    previous = None
    revisions = [f"d0e5{i:08d}" for i in range(1, 7)]
    for index, revision in enumerate(revisions):
        body = textwrap.dedent(AUTHORS)
        body = body.replace(f'revision = "{REV1}"', f'revision = "{revision}"')
        body = body.replace("down_revision = None", f"down_revision = {previous!r}")
        body = body.replace('"authors"', f'"t{index}"')
        if index == 1:
            body = body.replace('op.drop_table("t1")', 'raise RuntimeError("cannot undo t1")')
        project.write(f"migrations/versions/r{index}.py", body)
        previous = revision
    assert project.run_cli("upgrade").exit_code == 0

    result = project.run_cli("downgrade", "base")

    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert f"Revision {revisions[1]} (migrations/versions/r1.py, line " in message
    assert f"The database is at {revisions[1]}." in message
    reverted = ", ".join(reversed(revisions[2:]))
    assert f"Reverted and committed before it failed: {reverted}." in message
    assert "The failed revision was rolled back." in message or backend == "mariadb"
    assert project.version() == [revisions[1]]
    assert {"t0", "t1"} <= project.tables()
    assert not {"t2", "t3", "t4", "t5"} & project.tables()


# Whatever a revision raises fails the command; a BaseException too.
BASE_EXCEPTIONS = {
    "sys.exit(0)": "import sys; sys.exit(0)",
    "sys.exit(3)": "import sys; sys.exit(3)",
    "GeneratorExit": "raise GeneratorExit()",
    "BaseException": 'raise type("Abort", (BaseException,), {})("no more")',
}


@pytest.mark.parametrize("raised", sorted(BASE_EXCEPTIONS))
def test_base_exception_in_a_revision_fails_the_command(
    project: Project, backend: str, raised: str
) -> None:
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_authors.py", textwrap.dedent(AUTHORS))
    project.write(
        "migrations/versions/r2_books.py",
        textwrap.dedent(BOOKS).replace("{failure}", BASE_EXCEPTIONS[raised]),
    )
    project.write("migrations/versions/r3_reviews.py", textwrap.dedent(LATER))

    result = project.run_cli("upgrade")

    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert f"Revision {REV2} (migrations/versions/r2_books.py, line " in message
    assert f"The database is at {REV1}." in message
    assert "Traceback" not in result.output
    assert project.version() == [REV1]
    assert "reviews" not in project.tables()
    if raised.startswith("sys.exit"):
        assert f"SystemExit: {raised[-2]}." in message
        assert "A revision must not end the process" in message
    if backend != "mariadb":
        assert "books" not in project.tables()
        assert "The failed revision was rolled back." in message


def test_sys_exit_in_a_revision_fails_the_python_api_too(sqlite_project: Project) -> None:
    """In-process (the Python API, and the CLI run inside another program) SystemExit from a
    revision is a MigrationFailed too, never an exit of the caller."""
    import os
    import signal

    import migratectl
    from migratectl.errors import MigrationFailed
    from migratectl.settings import load_settings

    project = sqlite_project
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_authors.py", textwrap.dedent(AUTHORS))
    project.write(
        "migrations/versions/r2_books.py",
        textwrap.dedent(BOOKS).replace("{failure}", BASE_EXCEPTIONS["sys.exit(0)"]),
    )
    handler = signal.getsignal(signal.SIGTERM)

    result = project.run("upgrade")  # typer's runner would report SystemExit(0) as exit 0
    assert result.exit_code == 4, result
    assert f"Revision {REV2} (migrations/versions/r2_books.py, line " in result.stderr

    os.chdir(project.path)
    with pytest.raises(MigrationFailed, match=f"Revision {REV2} .* SystemExit: 0"):
        migratectl.upgrade(load_settings(database_url=project.database_url))
    assert project.version() == [REV1]
    # In-process use leaves the host program's SIGTERM handling alone.
    assert signal.getsignal(signal.SIGTERM) is handler


@pytest.mark.parametrize("backend", ["postgresql"])
def test_revision_failing_at_its_commit_is_named_and_rolled_back(
    project: Project, backend: str
) -> None:
    """A deferred constraint fails at COMMIT, after the revision's code returned: the
    revision is still named, and its work (which never committed) is not reported stayed."""
    project.config(models=None)
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_authors.py", textwrap.dedent(AUTHORS))
    project.write(
        "migrations/versions/r2_books.py",
        textwrap.dedent(BOOKS)
        .replace(
            'op.create_table("books", sa.Column("id", sa.Integer, primary_key=True))',
            'op.execute("CREATE TABLE books (id integer, '
            'CONSTRAINT uq_books UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)")',
        )
        .replace("{failure}", 'op.execute("INSERT INTO books (id) VALUES (1), (1)")'),
    )
    project.write("migrations/versions/r3_reviews.py", textwrap.dedent(LATER))

    result = project.run_cli("upgrade")

    assert result.exit_code == 4, result
    message = " ".join(result.stderr.split())
    assert f"Revision {REV2} (at its COMMIT) failed: UniqueViolation:" in message
    assert f"The database is at {REV1}." in message
    assert "The failed revision was rolled back." in message
    assert "stayed" not in message
    assert project.version() == [REV1]
    assert "books" not in project.tables()
