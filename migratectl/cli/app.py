"""The typer application and how one command runs: global options accepted after the
command name, settings loaded with their secrets masked, errors rendered with their exit
code (a JSON document with ``--json``), interrupts and a closed stdout handled.
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import typer
import typer.core

from migratectl.cli.params import GLOBAL_NAMES, GLOBALS, DeferredCoercion, readable_metavars
from migratectl.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    CheckFailed,
    MigratectlError,
    SigtermReceived,
)
from migratectl.output import Output, mask_url

if TYPE_CHECKING:
    from migratectl.settings import Settings


F = TypeVar("F", bound=Callable[..., Any])


# click's UsageError, from whichever click typer uses (recent typers bundle their own copy).
_CLICK_USAGE_ERROR: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "UsageError"
)


@contextmanager
def _masked_usage_errors() -> Iterator[None]:
    """A usage error quotes what was typed ("Got unexpected extra argument(s) (…)", "No such
    command '…'"): a database URL typed in the wrong place must not show its password."""
    try:
        yield
    except _CLICK_USAGE_ERROR as exc:
        exc.message = mask_url(str(getattr(exc, "message", "")))  # type: ignore[attr-defined]
        raise


class _Group(typer.core.TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return readable_metavars(DeferredCoercion.install(super().get_params(ctx)))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        with _masked_usage_errors():
            return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        with _masked_usage_errors():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Group,
    name="migratectl",
    help="Alembic migrations for any SQLAlchemy project, with zero set-up.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help imports rich's markdown and syntax highlighting
    # (pygments), which would double what `migratectl --help` costs. Panels: format_options.
    rich_markup_mode=None,
)


@dataclass
class GlobalOptions:
    config: str | None = None
    database_url: str | None = None
    models: str | None = None
    directory: str | None = None
    x_args: list[str] = field(default_factory=list)
    verbose: bool = False
    quiet: bool = False
    owns_process: bool = False  # run as the `migratectl` command, not inside another program

    def merge(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key == "x_args":
                self.x_args.extend(value or [])
            elif value not in (None, False):
                setattr(self, key, value)


def global_options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = GlobalOptions()
    options: GlobalOptions = root.obj
    return options


@dataclass
class Invocation:
    """What a command needs: its settings and where to write."""

    options: GlobalOptions
    output: Output

    def settings(
        self,
        *,
        config_must_exist: bool = True,
        url_needed: bool = True,  # False: the command reads only the revision files
        lock_timeout: float | None = None,
        ddl_lock_timeout: float | None = None,
    ) -> Settings:
        from migratectl.settings import load_settings

        settings = load_settings(
            config=self.options.config,
            database_url=self.options.database_url,
            models=self.options.models,
            directory=self.options.directory,
            x_args=self.options.x_args,
            lock_timeout=lock_timeout,
            ddl_lock_timeout=ddl_lock_timeout,
            config_must_exist=config_must_exist,
            url_needed=url_needed,
        )
        urls = [settings.database_url, *(bind.database_url for bind in settings.binds.values())]
        for url in urls:
            for password in _passwords_of(url):
                self.output.add_secret(password)
        return settings


def _passwords_of(url: str | None) -> list[str]:
    """The URL's password as written (percent-encoded) and decoded: neither may be printed."""
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password if url else None
    except ValueError:
        return []
    return list({password, unquote(password)}) if password else []


_RELATIVE_REVISION = re.compile(r"^-\d+$")


class RelativeRevisionCommand(typer.core.TyperCommand):
    """A command that reads ``-1`` as a revision (``downgrade -1``), as Alembic's CLI does.

    click would take ``-1`` for an unknown option; such tokens are moved behind ``--``, unless
    they are the value of the option before them.
    """

    def get_params(self, ctx: Any) -> list[Any]:
        return readable_metavars(DeferredCoercion.install(super().get_params(ctx)))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value = {
            name
            for param in self.get_params(ctx)
            if param.param_type_name == "option" and not getattr(param, "is_flag", False)
            for name in (*param.opts, *param.secondary_opts)
        }
        end = args.index("--") if "--" in args else len(args)
        kept: list[str] = []
        relative: list[str] = []
        for position, arg in enumerate(args[:end]):
            follows_option = position > 0 and args[position - 1] in takes_value
            if _RELATIVE_REVISION.match(arg) and not follows_option:
                relative.append(arg)
            else:
                kept.append(arg)
        if relative:
            args = [*kept, "--", *relative, *args[end + 1 :]]
        return super().parse_args(ctx, args)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """Arguments, the command's own options, then the global ones in their own section."""
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                title = "Arguments" if param.param_type_name == "argument" else "Options"
                if title == "Arguments" and param.metavar:  # not typer's "REV <str>"
                    record = (param.metavar, record[1])
                sections.setdefault(getattr(param, "rich_help_panel", None) or title, []).append(
                    record
                )
        for title in ("Arguments", "Options", *sections):
            if title in sections:
                with formatter.section(title):
                    formatter.write_dl(sections.pop(title))


def command(
    name: str | None = None,
    *,
    own_verbose: bool = False,
    shared: Sequence[tuple[str, Any, Any]] = (),
) -> Callable[[F], F]:
    """Register a command that also accepts the global options after its name.

    ``shared``: options several commands declare alike, as (name, annotation, default); they
    come after the command's own and reach it through its ``**options``.
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        keyword = inspect.Parameter.KEYWORD_ONLY
        common = [inspect.Parameter(n, keyword, annotation=a, default=d) for n, a, d in shared]
        extra = [
            inspect.Parameter(pname, keyword, annotation=ann, default=dflt)
            for pname, ann, dflt in GLOBALS
            if not (own_verbose and pname == "verbose") and pname not in signature.parameters
        ]

        @functools.wraps(fn)
        def wrapper(ctx: typer.Context, **kwargs: Any) -> Any:
            options = global_options(ctx)
            given = {
                key: kwargs.pop(key)
                for key in list(kwargs)
                if key in GLOBAL_NAMES and not (own_verbose and key == "verbose")
            }
            options.merge(given)
            output = Output(quiet=options.quiet, verbose=options.verbose)
            return _run(fn, Invocation(options, output), kwargs)

        context_param = inspect.Parameter(
            "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
        )
        own = [
            p
            for p in signature.parameters.values()
            if p.name != "inv" and p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        full_signature = signature.replace(parameters=[context_param, *own, *common, *extra])
        wrapper.__signature__ = full_signature  # type: ignore[attr-defined]
        # Already evaluated: typer need not evaluate the annotations' strings again.
        wrapper.__annotations__ = {p.name: p.annotation for p in full_signature.parameters.values()}
        app.command(
            name or fn.__name__.replace("_", "-"),
            cls=RelativeRevisionCommand,
            short_help=_summary(fn),  # whole: click would cut it at 45 characters
        )(wrapper)
        return fn

    return decorate


def _summary(fn: Callable[..., Any]) -> str | None:
    """The first paragraph of a command's docstring, on one line: its summary in --help."""
    doc = inspect.getdoc(fn)
    return " ".join(doc.split("\n\n", 1)[0].split()) if doc else None


def _run(fn: Callable[..., Any], inv: Invocation, kwargs: dict[str, Any]) -> None:
    try:
        fn(inv, **kwargs)
    except typer.Exit:
        raise
    except MigratectlError as exc:
        if kwargs.get("json_output") and not isinstance(exc, CheckFailed):
            # One JSON document on stdout, failures too; the message goes to stderr as well.
            inv.output.json(
                {"error": {"message": exc.message, "hint": exc.hint, "exit_code": exc.exit_code}}
            )
        _render_error(inv, exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:  # SIGTERM too, outside a revision
        what = "Terminated (SIGTERM)" if isinstance(exc, SigtermReceived) else "Interrupted"
        if fn.__name__ in ("upgrade", "downgrade", "stamp"):
            # An interrupt inside a revision comes as Interrupted, saying what it left; this
            # one came while none ran (connecting, waiting for the lock, loading the files).
            inv.output.error(
                f"{what} while no revision was running: nothing was left half done, and the "
                "lock, if it was taken, is released. `migratectl current` shows where the "
                "database is."
            )
        else:  # nothing ran that a rollback or a lock would concern
            inv.output.error(f"{what}.")
        raise typer.Exit(interrupt_exit_code(exc)) from None
    except BrokenPipeError:  # stdout closed early (`migratectl history | head -1`)
        raise typer.Exit(closed_stdout(inv.options.owns_process)) from None
    except Exception as exc:  # a bug, or an error nobody translated: still no raw traceback
        if inv.options.verbose:
            inv.output.err.print(inv.output._clean(traceback.format_exc()), markup=False)
        advice = (
            "please report it, with the traceback above."
            if inv.options.verbose
            else "Run with -v for the traceback, and please report it."
        )
        inv.output.error(f"Unexpected {type(exc).__name__}: {exc}. {advice}")
        raise typer.Exit(EXIT_USAGE) from None


EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `yes | head -1`'s `yes`


def closed_stdout(owns_process: bool = True) -> int:
    """The reader of stdout went away: end quietly, as a command killed by SIGPIPE does.

    When the command is the whole process, whatever is still buffered for stdout goes to
    /dev/null, so that Python's own flush at exit does not report the broken pipe again."""
    if not owns_process:
        return EXIT_CLOSED_PIPE
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a file (an application calling the CLI): nothing to flush there
    return EXIT_CLOSED_PIPE


def _render_error(inv: Invocation, exc: MigratectlError) -> None:
    if isinstance(exc, CheckFailed):
        return  # the command already printed what it found
    if inv.options.verbose and exc.__cause__ is not None:
        text = "".join(traceback.format_exception(exc.__cause__))
        inv.output.err.print(inv.output._clean(text), markup=False)
    hint = exc.hint
    if hint and inv.options.verbose:  # the traceback is printed: no "run with -v" advice
        hint = _RUN_WITH_V.sub("", hint).strip() or None
    message = f"{exc.message} {hint}" if hint else exc.message
    if hint and not exc.message.rstrip().endswith((".", "?", "!", ":")):
        # A driver's message has no full stop; the hint must not run on from it.
        message = f"{exc.message.rstrip()}. {hint}"
    inv.output.error(message)


_RUN_WITH_V = re.compile(r"\s*\(-v shows the traceback\)|\s*Run with -v to see the traceback\.")


def without_cycle_collection(inv: Invocation) -> None:
    """For a command that compares the models with the database, when it is the whole process.

    A comparison builds two large object graphs that live until the process ends (the models,
    the reflected schema) and leaves little cyclic garbage: the collector would only re-scan
    them, a fifth of a 500-table `check`. Inside another program (tests, an application
    calling the CLI) its collector is left alone.
    """
    if inv.options.owns_process:
        gc.disable()


def interrupt_exit_code(exc: KeyboardInterrupt) -> int:
    return EXIT_TERMINATED if isinstance(exc, SigtermReceived) else EXIT_INTERRUPTED
