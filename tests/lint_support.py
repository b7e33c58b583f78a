"""Revision files and projects for the lint output tests, written as Alembic writes them."""

from __future__ import annotations

import textwrap

from conftest import Project

# The body of upgrade() starts on this line of a file made by revision_source().
FIRST_BODY_LINE = 19


def revision_source(rev: str, down: str | None, body: str, message: str = "change") -> str:
    header = (
        f'"""{message}\n'
        "\n"
        f"Revision ID: {rev}\n"
        f"Revises: {down or ''}\n"
        "Create Date: 2026-01-02 03:04:05.000000\n"
        "\n"
        '"""\n'
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        "\n"
        "# revision identifiers, used by Alembic.\n"
        f"revision = {rev!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        "\n"
        "\n"
        "def upgrade():\n"
    )
    assert header.count("\n") == FIRST_BODY_LINE - 1
    return (
        header
        + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
        + "\n\n\ndef downgrade():\n    pass\n"
    )


def add_revision(
    project: Project, rev: str, down: str | None, body: str, filename: str | None = None
) -> str:
    """Write the revision into migrations/versions; its path as lint shows it."""
    relative = f"migrations/versions/{filename or rev + '_change.py'}"
    target = project.path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(revision_source(rev, down, body))
    return relative


def lint_project(project: Project, config: str | None = None) -> Project:
    """An initialised repository on SQLite, ``config`` (TOML) as its migratectl.toml."""
    if not (project.path / "migrations").exists():
        project.config(models=None)
        result = project.run("init")
        assert result.exit_code == 0, result
    if config is not None:  # written after init: it may be one lint must refuse
        project.write("migratectl.toml", config)
    return project
