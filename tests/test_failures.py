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
