"""How results are shown as text: revisions in Alembic's forms, status blocks, and the
line that says nothing was done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from migratectl.cli.app import Invocation
from migratectl.errors import (
    UsageError,
)

if TYPE_CHECKING:
    from migratectl.commands.versioning import VersioningResult
    from migratectl.repository.revisions import RevisionInfo


def short_line(rev: RevisionInfo, *, current: list[str] | None = None) -> str:
    """Alembic's one-line form: ``down -> rev (head) (branchpoint), message``."""
    down = ", ".join(rev.down_revisions) if rev.down_revisions else "<base>"
    return f"{down} -> {rev.revision}{marks(rev, current)}, {rev.message}"


def marks(rev: RevisionInfo, current: list[str] | None = None) -> str:
    marks = ""
    if rev.is_head:
        marks += " (head)"
    if rev.is_branch_point:
        marks += " (branchpoint)"
    if rev.is_merge_point:
        marks += " (mergepoint)"
    if current and rev.revision in current:
        marks += " (current)"
    return marks


def long_form(rev: RevisionInfo, *, current: list[str] | None = None) -> str:
    lines = [f"Rev: {rev.revision}{marks(rev, current)}"]
    lines.append("Parent: " + (", ".join(rev.down_revisions) or "<base>"))
    if rev.branch_labels:
        lines.append("Branch names: " + ", ".join(rev.branch_labels))
    if rev.dependencies:
        lines.append("Also depends on: " + ", ".join(rev.dependencies))
    lines.append(f"Path: {rev.path}")
    lines.append("")
    lines.append("    " + (rev.message or "(no message)"))
    if rev.create_date:
        lines.append("")
        lines.append(f"    Revision ID: {rev.revision}")
        lines.append(f"    Revises: {', '.join(rev.down_revisions)}")
        lines.append(f"    Create Date: {rev.create_date}")
    return "\n".join(lines) + "\n"


def print_revisions(
    inv: Invocation,
    revisions: list[RevisionInfo],
    *,
    verbose: bool,
    current: list[str] | None = None,
) -> None:
    for rev in revisions:
        inv.output.result(
            long_form(rev, current=current) if verbose else short_line(rev, current=current)
        )


def shown_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def revisions_text(revisions: list[str]) -> str:
    return ", ".join(revisions) if revisions else "base (no revision)"


def refuse_json_with_sql(json_output: bool, sql: bool) -> None:
    if json_output and sql:
        raise UsageError(
            "--json and --sql cannot be used together: --sql prints the SQL script on stdout.",
            hint="Leave out one of them.",
        )


def report_versioning(
    inv: Invocation, result: VersioningResult, json_output: bool, nothing: str
) -> None:
    """The JSON document, or the line that says nothing was done (nothing happens silently)."""
    if json_output:
        inv.output.json(result.as_json())
    elif not result.sql and not result.applied:
        inv.output.info(nothing)


def print_status(
    inv: Invocation,
    label: str,
    database: str,
    current: list[str],
    heads: list[str],
    pending: list[RevisionInfo],
) -> None:
    inv.output.result(f"{label}: {database}")
    inv.output.result("Current:  " + revisions_text(current))
    inv.output.result("Heads:    " + (", ".join(heads) or "none"))
    if pending:
        inv.output.result(f"Pending:  {len(pending)} revision(s)")
        for rev in pending:
            inv.output.result(f"  {rev.revision}  {rev.message}")
    else:
        inv.output.result("Pending:  none (up to date)")
