"""lint learns the revision graph from the files' source: no revision file is imported, so a
history whose revisions import the application lints where the application is not installed,
and Alembic's range syntax and errors stay Alembic's (the graph is Alembic's RevisionMap)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import Project, Result
from lint_support import lint_project

from migratectl.commands.lint.engine import range_bounds


def flask_revision(
    rev: str,
    down: str | tuple[str, ...] | None,
    body: str,
    *,
    imports: str = "",
    labels: tuple[str, ...] | None = None,
    depends_on: str | None = None,
    revision_line: str | None = None,
) -> str:
    """A revision as Flask-Migrate's script.py.mako writes it, with the imports the
    application's types need."""
    return (
        f'"""change {rev}\n\nRevision ID: {rev}\nRevises: {down or ""}\n'
        'Create Date: 2026-01-02 03:04:05.000000\n\n"""\n'
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        f"{imports}\n"
        "# revision identifiers, used by Alembic.\n"
        f"{revision_line or f'revision = {rev!r}'}\n"
        f"down_revision = {down!r}\n"
        f"branch_labels = {labels!r}\n"
        f"depends_on = {depends_on!r}\n"
        "\n\n"
        "def upgrade():\n"
        + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
        + "\n\n\ndef downgrade():\n    pass\n"
    )


def write(project: Project, rev: str, source: str) -> Path:
    target = project.path / "migrations" / "versions" / f"{rev}_change.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)
    return target


@pytest.fixture
def app_history(sqlite_project: Project) -> Project:
    """Revisions that import ``myapp``, which is installed nowhere."""
    project = lint_project(sqlite_project)
    write(
        project,
        "a1",
        flask_revision(
            "a1",
            None,
            """
            op.create_table(
                "users",
                sa.Column("id", myapp.models.GUID(), primary_key=True),
                sa.Column("age", sa.Integer()),
            )
            """,
            imports="import myapp\n",
        ),
    )
    write(
        project,
        "b2",
        flask_revision(
            "b2",
            "a1",
            'op.drop_column("users", "age")',
            imports="from myapp.models import thing\n",
        ),
    )
    with pytest.raises(ImportError):
        __import__("myapp")
    return project


def test_revisions_that_import_a_missing_application_are_linted(app_history: Project) -> None:
    result = app_history.run("lint")
    assert result.exit_code == 1, result
    assert result.stdout.splitlines() == [
        "migrations/versions/b2_change.py:20: MC102 drop-column b2 users.age — Drops column "
        "users.age and its values."
    ]
    assert "in 2 revision(s)" in result.stderr
    assert "myapp" not in result.output

    github = app_history.run("lint", "--format", "github")
    assert github.exit_code == 1, github
    assert github.stdout.startswith("::error file=migrations/versions/b2_change.py,line=20,"), (
        github.stdout
    )
    assert "MC102" in github.stdout

    only_a1 = app_history.run("lint", "a1")
    assert (only_a1.exit_code, only_a1.stdout) == (0, ""), only_a1


def test_a_syntax_error_is_named_with_its_line_beside_files_that_import_the_application(
    app_history: Project,
) -> None:
    path = app_history.path / "migrations" / "versions" / "b2_change.py"
    path.write_text(path.read_text().replace("def downgrade():", "def downgrade(:"))
    result = app_history.run("lint")
    assert result.exit_code == 2, result
    assert "migrations/versions/b2_change.py" in result.stderr
    assert "line 23" in result.stderr
    assert "myapp" not in result.stderr
    assert "Traceback" not in result.output


# A plain history that imports fine: two branches from b2 (one labelled, depending on the
# other), a second labelled root, each revision dropping its own table so that every revision
# read shows in the findings. Each file records that it was imported.
HISTORY: list[tuple[str, str | None, dict[str, object]]] = [
    ("a1f0e2", None, {}),
    ("b2f0e2", "a1f0e2", {}),
    ("c3f0e2", "b2f0e2", {}),
    ("d4f0e2", "b2f0e2", {"labels": ("feature",)}),
    ("e5f0e2", "d4f0e2", {"depends_on": "c3f0e2"}),
    ("f6f0e2", None, {"labels": ("other",)}),
]
MARK = "import pathlib\npathlib.Path(__file__).with_suffix('.imported').touch()\n"


def plain_history(project: Project, computed: str | None = None) -> None:
    """HISTORY written out; the revision ``computed`` states its id as an expression."""
    for rev, down, extra in HISTORY:
        line = f"revision = {rev[:3]!r} + {rev[3:]!r}" if rev == computed else None
        source = flask_revision(
            rev,
            down,
            f'op.drop_table("t_{rev}")',
            imports=MARK,
            labels=extra.get("labels"),  # type: ignore[arg-type]
            depends_on=extra.get("depends_on"),  # type: ignore[arg-type]
            revision_line=line,
        )
        write(project, rev, source)


def imported(project: Project) -> list[str]:
    found = sorted((project.path / "migrations" / "versions").glob("*.imported"))
    for path in found:
        path.unlink()
    return [path.name for path in found]


def linted(result: Result) -> list[str]:
    return [finding["revision"] for finding in json.loads(result.stdout)["findings"]]


RANGES = [
    None,
    "a1f0e2:",
    ":b2f0e2",
    "b2f0e2:c3f0e2",
    "a1f0:e5f0",  # partial ids
    "feature@head",
    "d4f0e2:feature@head",
    ":feature@head",
    "feature@base:",
    "other@head",
    "heads",
    "base:heads",
    "c3f0e2",
]
BAD_RANGES = ["head", "zz:", "c3f0e2:d4f0e2", "nobranch@head", "feature@head:a1f0e2"]


def test_ranges_walk_the_revisions_alembic_walks(sqlite_project: Project) -> None:
    from alembic.script import ScriptDirectory

    project = lint_project(sqlite_project)
    plain_history(project)
    from_source = {
        rev_range: project.run("lint", "--format", "json", *([rev_range] if rev_range else []))
        for rev_range in RANGES + BAD_RANGES
    }
    assert imported(project) == []  # lint imported no revision file

    directory = ScriptDirectory(str(project.path / "migrations"))
    for rev_range in RANGES:
        result = from_source[rev_range]
        assert result.exit_code == 1, (rev_range, result)
        start, end = range_bounds(rev_range)
        walked = [script.revision for script in directory.walk_revisions(start, end)]
        assert sorted(linted(result)) == sorted(walked), rev_range
        assert len(walked) == len(set(walked)) and walked, rev_range
    for rev_range in BAD_RANGES:
        assert from_source[rev_range].exit_code == 2, (rev_range, from_source[rev_range])

    # The same history with one id computed: Alembic imports the files, with the same answers
    # (findings in the same order, the same error messages).
    plain_history(project, computed="c3f0e2")
    for rev_range in RANGES + BAD_RANGES:
        by_alembic = project.run("lint", "--format", "json", *([rev_range] if rev_range else []))
        assert by_alembic.exit_code == from_source[rev_range].exit_code, rev_range
        assert by_alembic.stdout == from_source[rev_range].stdout, rev_range
        assert by_alembic.stderr == from_source[rev_range].stderr, rev_range
    assert len(imported(project)) == len(HISTORY)


def test_a_computed_revision_id_falls_back_to_alembic(app_history: Project) -> None:
    """Alembic then imports every file, so the application must be importable again; its
    missing module is the error, as before."""
    path = app_history.path / "migrations" / "versions" / "b2_change.py"
    path.write_text(path.read_text().replace("revision = 'b2'", "revision = 'b' + '2'"))
    missing = app_history.run("lint")
    assert missing.exit_code == 2, missing
    assert "No module named 'myapp'" in missing.stderr
    assert "Traceback" not in missing.output

    app_history.write("myapp/__init__.py", "from myapp import models\n")
    app_history.write(
        "myapp/models.py",
        "import sqlalchemy as sa\n\nthing = 1\n\n\nclass GUID(sa.types.TypeDecorator):\n"
        "    impl = sa.String(36)\n",
    )
    found = app_history.run("lint")
    assert found.exit_code == 1, found
    assert "MC102 drop-column b2 users.age" in found.stdout


@pytest.mark.parametrize(
    "identifiers",
    [
        "revision = 'b2'\nrevision = 'b3'",  # assigned twice: the last one counts
        "if True:\n    revision = 'b2'",
        "revision = 'b2'\nfrom myapp.ids import *",
        "revision: str = 'b2'\nglobals()['revision'] = 'b3'",
    ],
)
def test_identifiers_that_are_not_plain_literals_are_left_to_alembic(
    app_history: Project, identifiers: str
) -> None:
    path = app_history.path / "migrations" / "versions" / "b2_change.py"
    path.write_text(path.read_text().replace("revision = 'b2'", identifiers))
    result = app_history.run("lint")
    assert result.exit_code == 2, result  # Alembic imported the files: myapp is missing
    assert "No module named 'myapp'" in result.stderr


def test_annotated_identifiers_as_newer_templates_write_them(app_history: Project) -> None:
    path = app_history.path / "migrations" / "versions" / "b2_change.py"
    text = path.read_text()
    for name, value in [
        ("revision", "'b2'"),
        ("down_revision", "'a1'"),
        ("branch_labels", "None"),
        ("depends_on", "None"),
    ]:
        kind = "str" if name == "revision" else "Union[str, Sequence[str], None]"
        text = text.replace(f"{name} = {value}", f"{name}: {kind} = {value}")
    path.write_text("from typing import Sequence, Union\n" + text)
    result = app_history.run("lint")
    assert result.exit_code == 1, result
    assert "MC102 drop-column b2 users.age" in result.stdout


def test_run_within_is_not_entered_when_no_file_is_imported(app_history: Project) -> None:
    """``run_within`` is entered around what loads project code; lint from the source loads
    none, so a pre-commit environment without the application lints all the same."""
    app_history.config('run_within = "myapp.app:context"\n', models=None)
    result = app_history.run("lint")
    assert result.exit_code == 1, result
    assert "MC102 drop-column b2 users.age" in result.stdout

    path = app_history.path / "migrations" / "versions" / "b2_change.py"
    path.write_text(path.read_text().replace("revision = 'b2'", "revision = 'b' + '2'"))
    imports = app_history.run("lint")  # Alembic imports the files within run_within
    assert imports.exit_code == 2, imports
    assert 'Cannot import run_within "myapp.app"' in imports.stderr
