"""``upgrade``, ``downgrade``, ``stamp`` on the command line: one path for the three.

The three share their options (:data:`~migratectl.cli.params.VERSIONING_OPTIONS`, added to
each command's signature by :func:`~migratectl.cli.app.command`), call their twin in
:mod:`migratectl.commands.versioning`, and report the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from migratectl.cli.app import Invocation, command
from migratectl.cli.params import VERSIONING_OPTIONS, complete_revisions
from migratectl.cli.render import refuse_json_with_sql, report_versioning, revisions_text

if TYPE_CHECKING:
    from migratectl.commands.versioning import VersioningResult


@command(shared=VERSIONING_OPTIONS)
def upgrade(
    inv: Invocation,
    rev: Annotated[
        str, typer.Argument(help="Target revision.", autocompletion=complete_revisions)
    ] = "head",
    **options: Any,
) -> None:
    """Apply revisions up to REV (default: head)."""
    import migratectl

    def nothing(result: VersioningResult) -> str:
        if rev in ("head", "heads") and not result.after:
            return "Nothing to apply: the repository has no revision yet."
        if rev in ("head", "heads"):
            return f"Already at head ({revisions_text(result.after)})."
        return f"Nothing to apply: the database is at {revisions_text(result.after)}."

    _run_versioning(inv, migratectl.upgrade, rev, nothing, options)


@command(shared=VERSIONING_OPTIONS)
def downgrade(
    inv: Invocation,
    rev: Annotated[
        str, typer.Argument(help="Target revision.", autocompletion=complete_revisions)
    ] = "-1",
    **options: Any,
) -> None:
    """Revert revisions down to REV (default: -1, the previous one)."""
    import migratectl

    def nothing(result: VersioningResult) -> str:
        return f"Nothing to revert: the database is at {revisions_text(result.after)}."

    _run_versioning(inv, migratectl.downgrade, rev, nothing, options)


@command(shared=VERSIONING_OPTIONS)
def stamp(
    inv: Invocation,
    revisions: Annotated[
        list[str] | None,
        typer.Argument(
            help="Revision(s) to stamp (default: head).", autocompletion=complete_revisions
        ),
    ] = None,
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete every version row before stamping.")
    ] = False,
    **options: Any,
) -> None:
    """Set the database's revision without running migrations."""
    import migratectl

    def nothing(result: VersioningResult) -> str:
        return f"Already stamped: the database is at {revisions_text(result.after)}."

    _run_versioning(inv, migratectl.stamp, revisions or ["head"], nothing, options, purge=purge)


def _run_versioning(
    inv: Invocation,
    action: Callable[..., VersioningResult],
    target: str | list[str],
    nothing: Callable[[VersioningResult], str],
    options: dict[str, Any],
    **extra: Any,
) -> None:
    """Run one of the three with the shared options, then report what it did."""
    refuse_json_with_sql(options["json_output"], options["sql"])
    settings = inv.settings(
        lock_timeout=options["lock_timeout"], ddl_lock_timeout=options["ddl_lock_timeout"]
    )
    result = action(
        settings,
        target,
        sql=options["sql"],
        tag=options["tag"],
        no_lock=options["no_lock"],
        output=inv.output,
        **extra,
    )
    report_versioning(inv, result, options["json_output"], nothing(result))
