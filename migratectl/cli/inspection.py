"""Read-only commands: ``current``, ``history``, ``show``, ``heads``, ``branches``,
``status``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
import typer.core

from migratectl.cli.app import Invocation, command
from migratectl.cli.params import JsonOption, StatusSqlOption, VerboseOption, complete_revisions
from migratectl.cli.render import long_form, marks, print_revisions, print_status
from migratectl.errors import (
    EXIT_CHECK_FAILED,
)

if TYPE_CHECKING:
    pass


@command(own_verbose=True)
def current(
    inv: Invocation,
    verbose: VerboseOption = False,
    check_heads: Annotated[
        bool, typer.Option("--check-heads", help="Exit 1 unless the database is at head.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the database's current revision(s)."""
    import migratectl

    settings = inv.settings()
    state = migratectl.current(settings, output=inv.output)
    if json_output:
        inv.output.json(state.as_json())
    elif state.binds:
        for name, (url, revs) in state.databases().items():
            label = name or "(default)"
            shown = ", ".join(r + (" (head)" if r in state.heads else "") for r in revs)
            inv.output.result(f"{label}: {shown or 'base (no revision)'}")
            if verbose:
                inv.output.info(f"  {url}")
    else:
        if verbose:
            inv.output.info(f"Current revision(s) for {state.database}:")
        if not state.current:
            inv.output.info("The database has no revision (base).")
        for rev in state.current:
            if verbose:
                info = migratectl.show(settings, rev)[0]
                inv.output.result(long_form(info))
            else:
                inv.output.result(rev + (" (head)" if rev in state.heads else ""))
    if check_heads and not state.up_to_date:
        if not json_output:  # a check's finding (exit 1), not an error
            inv.output.info(
                "The database is not at head (heads: " + (", ".join(state.heads) or "none") + ")."
            )
        raise typer.Exit(EXIT_CHECK_FAILED)


@command(own_verbose=True)
def history(
    inv: Invocation,
    rev_range: Annotated[
        str | None,
        typer.Option(
            "--rev-range", "-r", help="Range [start]:[end], e.g. base:head or -3:current."
        ),
    ] = None,
    verbose: VerboseOption = False,
    indicate_current: Annotated[
        bool, typer.Option("--indicate-current", "-i", help="Mark the database's current revision.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """List revisions, newest first."""
    import migratectl

    revisions = migratectl.history(
        inv.settings(url_needed=indicate_current or "current" in (rev_range or "")),
        rev_range,
        indicate_current=indicate_current,
    )
    if json_output:
        inv.output.json(revisions.as_json())
        return
    if not revisions:
        inv.output.info(
            "No revisions in that range."
            if rev_range
            else "No revisions yet: the repository "
            'is empty (`migratectl migrate -m "..."` writes the first one).'
        )
    print_revisions(inv, revisions.revisions, verbose=verbose, current=revisions.current)


@command()
def show(
    inv: Invocation,
    rev: Annotated[
        str, typer.Argument(help="Revision to show.", autocompletion=complete_revisions)
    ] = "head",
    json_output: JsonOption = False,
) -> None:
    """Show one revision."""
    import migratectl

    revisions = migratectl.show(inv.settings(url_needed=False), rev)
    if json_output:
        one = len(revisions) == 1  # `show REV` is one revision; a branch label may name more
        inv.output.json(revisions[0].as_json() if one else revisions.as_json())
        return
    print_revisions(inv, revisions.revisions, verbose=True)


@command(own_verbose=True)
def heads(
    inv: Invocation,
    verbose: VerboseOption = False,
    resolve_dependencies: Annotated[
        bool, typer.Option("--resolve-dependencies", help="Treat dependencies as down revisions.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the head revisions."""
    import migratectl

    revisions = migratectl.heads(
        inv.settings(url_needed=False), resolve_dependencies=resolve_dependencies
    )
    if json_output:
        inv.output.json(revisions.as_json())
        return
    if not revisions:
        inv.output.info("No heads: the repository has no revision yet.")
    for rev in revisions:
        inv.output.result(long_form(rev) if verbose else f"{rev.revision}{marks(rev)}")


@command(own_verbose=True)
def branches(
    inv: Invocation, verbose: VerboseOption = False, json_output: JsonOption = False
) -> None:
    """Show the branch points."""
    import migratectl
    from migratectl.repository.revisions import next_revisions

    settings = inv.settings(url_needed=False)
    revisions = migratectl.branches(settings)
    if json_output:
        inv.output.json(revisions.as_json())
        return
    if not revisions:
        inv.output.info("No branch points.")
    for rev in revisions:
        inv.output.result(long_form(rev) if verbose else f"{rev.revision}{marks(rev)}")
        for next_rev in next_revisions(settings, rev.revision):
            inv.output.result(f"    -> {next_rev}")


@command()
def status(inv: Invocation, sql: StatusSqlOption = False, json_output: JsonOption = False) -> None:
    """Show the database's revision, the heads, and the pending revisions."""
    import migratectl

    result = migratectl.status(inv.settings(), sql=sql, output=inv.output)
    if json_output:
        inv.output.json(result.as_json())
        return
    if not result.binds:
        print_status(inv, "Database", result.database, result.current, result.heads, result.pending)
    else:  # every database in the same form, the default one first
        print_status(
            inv,
            "Database (default)",
            result.database,
            result.current,
            result.heads,
            result.pending,
        )
        for name, state in result.binds.items():
            inv.output.result()
            print_status(
                inv,
                f"Database {name!r}",
                state.database,
                state.current,
                result.heads,
                result.pending_by_database.get(name, []),
            )
    if sql and result.sql:
        inv.output.raw(result.sql)
