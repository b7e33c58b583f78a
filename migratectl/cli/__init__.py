"""The command line: options in, results rendered; the commands are :mod:`migratectl`'s
public API (:mod:`migratectl.commands`). No Alembic logic lives here.

``app`` (the typer application) and how one command runs are in :mod:`.app`, the options
in :mod:`.params`, the rendering of results in :mod:`.render`, and the commands in one
module per family: :mod:`.authoring` (init, list-templates, revision, migrate, check, edit,
merge), :mod:`.versioning` (upgrade, downgrade, stamp), :mod:`.inspection` (current,
history, show, heads, branches, status) and :mod:`.checks` (adopt, verify, lint).

Global options are accepted before and after the command name: each command's signature is
extended with them (``command``), and what a command receives wins over what came before it.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Annotated

import typer
import typer.core

from migratectl import __version__
from migratectl.cli.app import (
    GlobalOptions,
    app,
    closed_stdout,
    global_options,
    interrupt_exit_code,
)
from migratectl.errors import (
    CheckFailed,
    SigtermReceived,
)

# isort: split
# The command families register their commands on ``app``, in the order --help lists them.
from migratectl.cli import authoring, checks, inspection, versioning  # noqa: F401


def _version(value: bool) -> None:
    if value:
        print(f"migratectl {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            help="Configuration file (default: migratectl.toml or pyproject.toml, upwards).",
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="SQLAlchemy database URL.")
    ] = None,
    models: Annotated[
        str | None, typer.Option("--models", help="Models: package.module or package.module:attr.")
    ] = None,
    directory: Annotated[
        str | None,
        typer.Option("--directory", "-d", help="Migration repository (default: migrations)."),
    ] = None,
    x_args: Annotated[
        list[str] | None,
        typer.Option(
            "--x-arg", "-x", help="KEY=VALUE passed to env.py and revision scripts (repeatable)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Alembic's log lines and tracebacks.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only results and errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Alembic migrations for any SQLAlchemy project, with zero set-up.

    Configure with migratectl.toml (or [tool.migratectl] in pyproject.toml) or MIGRATECTL_*
    environment variables, then: init, migrate -m "...", upgrade.
    """
    global_options(ctx).merge(
        {
            "config": config,
            "database_url": database_url,
            "models": models,
            "directory": directory,
            "x_args": x_args,
            "verbose": verbose,
            "quiet": quiet,
        }
    )


# --------------------------------------------------------------------------- rendering


# --------------------------------------------------------------------------- commands


_SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def _completion_for_named_shell(argv: list[str]) -> None:
    """``--install-completion zsh`` / ``--show-completion zsh``: the shell named, not the one
    typer would detect (it reads a name only with its shell detection off)."""
    for flag in ("--install-completion", "--show-completion"):
        if flag in argv:
            position = argv.index(flag)
            if position + 1 < len(argv) and argv[position + 1] in _SHELLS:
                os.environ["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"


def _handle_sigterm() -> None:
    """SIGTERM (docker stop, Kubernetes, systemd) takes Ctrl-C's path: the statement running
    on the server is cancelled, the revision rolled back, the lock released, exit 143.
    Only the first one: a second must not break into that clean-up."""
    import signal

    def terminate(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SigtermReceived()

    signal.signal(signal.SIGTERM, terminate)


def main() -> None:
    """Console-script entry point."""
    _completion_for_named_shell(sys.argv[1:])
    _handle_sigterm()
    try:
        app(obj=GlobalOptions(owns_process=True))
    except KeyboardInterrupt as exc:  # outside a command (while parsing or importing)
        sys.exit(interrupt_exit_code(exc))
    finally:
        # The process ends here. Python's last collection would walk every object still
        # alive (over a second after a 500-table `check`) to free memory the system takes
        # back anyway; frozen objects are left out of it. Nothing is skipped: atexit
        # handlers, buffered output and open files are still finished as usual.
        gc.freeze()
        try:  # output still buffered for a reader that went away
            sys.stdout.flush()
        except BrokenPipeError:
            sys.exit(closed_stdout())


__all__ = ["CheckFailed", "app", "main"]
