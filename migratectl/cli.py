"""The command line: options in, API calls, results rendered. No Alembic logic lives here.

Global options are accepted before and after the command name: each command's signature is
extended with them (``_command``), and what a command receives wins over what came before it.
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
import typer.core

from migratectl import __version__
from migratectl.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    CheckFailed,
    MigratectlError,
    SigtermReceived,
    UsageError,
)
from migratectl.output import Output, mask_url

if TYPE_CHECKING:
    from migratectl.api import RevisionInfo, VersioningResult
    from migratectl.autogen.renames import Candidate
    from migratectl.settings import Settings
    from migratectl.verify import VerifyCheck

F = TypeVar("F", bound=Callable[..., Any])

GLOBAL_PANEL = "Global options (also accepted before the command)"


class _DeferredCoercion:
    """Stands in for typer's coercion of one parameter until a value needs it.

    typer builds a pydantic TypeAdapter for every parameter of the command line, given or not,
    and importing pydantic is a fifth of a command's start-up. An option left out (None), a
    string for a ``str`` parameter and strings for a ``list[str]`` one come out of typer's
    coercion unchanged (a list); only other values are handed to typer's own, built then.
    This replaces typer's private ``_runtime_param``; a typer without one is left alone.
    """

    def __init__(self, param: Any) -> None:
        descriptor = param.type_descriptor
        plain = descriptor.parameter_info.parser is None and not descriptor.is_path
        self.str_value = plain and descriptor.annotation is str
        self.str_list = plain and descriptor.annotation == list[str]

    @staticmethod
    def install(params: list[Any]) -> list[Any]:
        for param in params:
            if getattr(param, "_runtime_param", False) is None and hasattr(
                param, "type_descriptor"
            ):
                param._runtime_param = _DeferredCoercion(param)
        return params

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None
        if self.str_value and not multiple and isinstance(value, str):
            return value
        strings = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        if self.str_list and strings:
            return list(value)
        param._runtime_param = None
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


# What --help shows for the value of each option and argument (typer would print its Python
# type: <str>, <list[str]>, <float range>). Names not listed fall back to TEXT / N / NUMBER.
_METAVARS = {
    "config": "PATH",
    "database_url": "URL",
    "scratch_url": "URL",
    "models": "MODULE[:ATTR]",
    "directory": "PATH",
    "version_path": "PATH",
    "alembic_ini": "PATH",
    "x_args": "KEY=VALUE",
    "message": "TEXT",
    "rev": "REV",
    "revisions": "REV",
    "head": "REV",
    "depends_on": "REV",
    "rev_id": "ID",
    "branch_label": "LABEL",
    "tag": "TAG",
    "template": "NAME|PATH",
    "rev_range": "[START]:[END]",
    "lock_timeout": "SECONDS",
    "ddl_lock_timeout": "SECONDS",
    "skip": "CHECK",
}
_METAVARS_BY_TYPE = {str: "TEXT", int: "N", float: "NUMBER"}


def _complete_revisions(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion for a revision: the repository's ids, and head, heads, base."""
    root = ctx.find_root().params if ctx is not None else {}
    try:
        from migratectl import api
        from migratectl.settings import load_settings

        settings = load_settings(config=root.get("config"), directory=root.get("directory"))
        ids = sorted(rev.revision for rev in api.history(settings)[0])
    except Exception:  # completion must never print an error into the user's shell
        ids = []
    words = ["head", "heads", "base", *ids]
    return [word for word in words if word.startswith(incomplete)]


def _readable_metavars(params: list[Any]) -> list[Any]:
    """Give every option and argument that takes a value a metavar a person reads."""
    for param in params:
        if getattr(param, "metavar", None) is not None or getattr(param, "is_flag", False):
            continue
        if getattr(param, "count", False) or param.name is None:
            continue
        metavar = _METAVARS.get(param.name)
        descriptor = getattr(param, "type_descriptor", None)
        if metavar is None and descriptor is not None:
            choices = descriptor.choices if descriptor.is_choice else None
            if choices:
                metavar = "|".join(str(getattr(choice, "value", choice)) for choice in choices)
            else:
                metavar = _METAVARS_BY_TYPE.get(descriptor.annotation, "TEXT")
        param.metavar = metavar
    return params


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
        return _readable_metavars(_DeferredCoercion.install(super().get_params(ctx)))

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


# Typer parameters for the global options, as (name, annotation, default).
_GLOBALS: list[tuple[str, Any, Any]] = [
    (
        "config",
        Annotated[
            str | None,
            typer.Option(
                "--config", "-c", help="Configuration file.", rich_help_panel=GLOBAL_PANEL
            ),
        ],
        None,
    ),
    (
        "database_url",
        Annotated[
            str | None,
            typer.Option("--database-url", help="SQLAlchemy URL.", rich_help_panel=GLOBAL_PANEL),
        ],
        None,
    ),
    (
        "models",
        Annotated[
            str | None,
            typer.Option(
                "--models", help="Models: module or module:attr.", rich_help_panel=GLOBAL_PANEL
            ),
        ],
        None,
    ),
    (
        "directory",
        Annotated[
            str | None,
            typer.Option(
                "--directory", "-d", help="Migration repository.", rich_help_panel=GLOBAL_PANEL
            ),
        ],
        None,
    ),
    (
        "x_args",
        Annotated[
            list[str] | None,
            typer.Option(
                "--x-arg",
                "-x",
                help="KEY=VALUE for env.py and revision scripts (repeatable).",
                rich_help_panel=GLOBAL_PANEL,
            ),
        ],
        None,
    ),
    (
        "verbose",
        Annotated[
            bool,
            typer.Option(
                "--verbose",
                "-v",
                help="Alembic's log lines and tracebacks.",
                rich_help_panel=GLOBAL_PANEL,
            ),
        ],
        False,
    ),
    (
        "quiet",
        Annotated[
            bool,
            typer.Option(
                "--quiet", "-q", help="Only results and errors.", rich_help_panel=GLOBAL_PANEL
            ),
        ],
        False,
    ),
]
_GLOBAL_NAMES = {name for name, _, _ in _GLOBALS}


def _state(ctx: typer.Context) -> GlobalOptions:
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
        return _readable_metavars(_DeferredCoercion.install(super().get_params(ctx)))

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


def _command(name: str | None = None, *, own_verbose: bool = False) -> Callable[[F], F]:
    """Register a command that also accepts the global options after its name."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        extra = [
            inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=dflt)
            for pname, ann, dflt in _GLOBALS
            if not (own_verbose and pname == "verbose") and pname not in signature.parameters
        ]

        @functools.wraps(fn)
        def wrapper(ctx: typer.Context, **kwargs: Any) -> Any:
            options = _state(ctx)
            given = {
                key: kwargs.pop(key)
                for key in list(kwargs)
                if key in _GLOBAL_NAMES and not (own_verbose and key == "verbose")
            }
            options.merge(given)
            output = Output(quiet=options.quiet, verbose=options.verbose)
            return _run(fn, Invocation(options, output), kwargs)

        context_param = inspect.Parameter(
            "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
        )
        own = [p for p in signature.parameters.values() if p.name != "inv"]
        full_signature = signature.replace(parameters=[context_param, *own, *extra])
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
        raise typer.Exit(_interrupt_exit_code(exc)) from None
    except BrokenPipeError:  # stdout closed early (`migratectl history | head -1`)
        raise typer.Exit(_closed_stdout(inv.options.owns_process)) from None
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


def _closed_stdout(owns_process: bool = True) -> int:
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
    _state(ctx).merge(
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


def _json_revisions(revisions: list[RevisionInfo]) -> dict[str, Any]:
    return {"revisions": [r.as_json() for r in revisions]}


def _short(rev: RevisionInfo, *, current: list[str] | None = None) -> str:
    """Alembic's one-line form: ``down -> rev (head) (branchpoint), message``."""
    down = ", ".join(rev.down_revisions) if rev.down_revisions else "<base>"
    return f"{down} -> {rev.revision}{_marks(rev, current)}, {rev.message}"


def _marks(rev: RevisionInfo, current: list[str] | None = None) -> str:
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


def _long(rev: RevisionInfo, *, current: list[str] | None = None) -> str:
    lines = [f"Rev: {rev.revision}{_marks(rev, current)}"]
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


def _print_revisions(
    inv: Invocation,
    revisions: list[RevisionInfo],
    *,
    verbose: bool,
    current: list[str] | None = None,
) -> None:
    for rev in revisions:
        inv.output.result(_long(rev, current=current) if verbose else _short(rev, current=current))


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
SqlOption = Annotated[
    bool, typer.Option("--sql", help="Print the SQL instead of running it (offline mode).")
]
TagOption = Annotated[
    str | None, typer.Option("--tag", help="An arbitrary tag for custom env.py scripts.")
]
LockTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--lock-timeout", help="Seconds to wait for the migration lock (default 600).", min=0
    ),
]
DdlLockTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--ddl-lock-timeout",
        metavar="SECONDS",
        help="Seconds a statement may wait for a table lock (default ddl_lock_timeout).",
    ),
]
NoLockOption = Annotated[bool, typer.Option("--no-lock", help="Do not take the migration lock.")]
MessageOption = Annotated[str | None, typer.Option("--message", "-m", help="Revision message.")]
RevIdOption = Annotated[
    str | None, typer.Option("--rev-id", help="Revision id to use instead of a generated one.")
]
BranchLabelOption = Annotated[
    str | None, typer.Option("--branch-label", help="Branch label for the new revision.")
]
RenameOption = Annotated[
    list[str] | None,
    typer.Option(
        "--rename",
        metavar="TABLE.OLD=NEW|OLD=NEW",
        help="Write this dropped-and-added column (TABLE.OLD=NEW) or table (OLDTABLE=NEWTABLE) "
        "as a rename (repeatable).",
    ),
]


# --------------------------------------------------------------------------- commands


@_command()
def init(
    inv: Invocation,
    multidb: Annotated[
        bool, typer.Option("--multidb", help="A repository for several databases ([binds.NAME]).")
    ] = False,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            "-t",
            help="Bundled template name or a folder with env.py, script.py.mako and README.",
        ),
    ] = None,
    package: Annotated[
        bool,
        typer.Option("--package", help="Write __init__.py files in the repository and versions/."),
    ] = False,
    convert: Annotated[
        bool,
        typer.Option(
            "--convert", help="Convert an existing Alembic or Flask-Migrate repository in place."
        ),
    ] = False,
    alembic_ini: Annotated[
        str | None,
        typer.Option(
            "--alembic-ini",
            metavar="PATH",
            help="With --convert: the project's alembic.ini (or pyproject.toml) to carry over "
            "(default ./alembic.ini, else the repository's).",
        ),
    ] = None,
) -> None:
    """Create a migration repository (and migratectl.toml when there is no configuration)."""
    from migratectl import api
    from migratectl.scaffold import password_variable
    from migratectl.settings import CONFIG_FILENAME

    settings = inv.settings(config_must_exist=False)
    variable = password_variable(settings)
    written = api.init(
        settings,
        multidb=multidb,
        template=template,
        package=package,
        convert=convert,
        alembic_ini=alembic_ini,
        output=inv.output,
    )
    for path in written:
        inv.output.info(f"Created {_rel(path)}")
    if variable and settings.database_url:
        config = _rel(settings.config_file) if settings.config_file else CONFIG_FILENAME
        inv.output.info(
            f"The database password is not written into {config}: its database_url reads it "
            f"from ${{{variable}}}. Set the environment variable {variable} to the password "
            "(percent-encoded, as in the URL) before running migratectl."
        )
    if convert:
        inv.output.info(
            f"Converted {_rel(written[0].parent)}: the old env.py is kept as env.py.orig; "
            "versions/ is unchanged. Check database_url and models, then `migratectl current`."
        )
    else:
        from migratectl import scaffold

        recorded = scaffold.record_directory(settings)
        if recorded is not None:
            written_it, said = recorded
            (inv.output.info if written_it else inv.output.warn)(said)
        next_steps = (
            'run `migratectl migrate -m "Initial migration."`, review the script it writes in '
            f"{_rel(settings.directory / 'versions')}, and run `migratectl upgrade`."
        )
        missing = [key for key in ("database_url", "models") if not getattr(settings, key)]
        if missing:
            config = _rel(settings.config_file) if settings.config_file else CONFIG_FILENAME
            inv.output.info(f"Set {' and '.join(missing)} in {config}; then {next_steps}")
        else:
            inv.output.info(f"Next: {next_steps}")


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


@_command("list-templates")
def list_templates(inv: Invocation) -> None:
    """List the bundled repository templates."""
    from migratectl.scaffold import bundled_templates

    for name, synopsis in bundled_templates():
        inv.output.result(f"{name} - {synopsis}")


@_command()
def revision(
    inv: Invocation,
    message: MessageOption = None,
    autogenerate: Annotated[
        bool, typer.Option("--autogenerate", help="Compare the models with the database.")
    ] = False,
    sql: SqlOption = False,
    head: Annotated[
        str, typer.Option("--head", help="Head revision to build on, or 'branch@head'.")
    ] = "head",
    splice: Annotated[
        bool, typer.Option("--splice", help="Allow a non-head revision as --head.")
    ] = False,
    branch_label: BranchLabelOption = None,
    version_path: Annotated[
        str | None, typer.Option("--version-path", help="Folder to write the revision in.")
    ] = None,
    rev_id: RevIdOption = None,
    depends_on: Annotated[
        list[str] | None,
        typer.Option("--depends-on", help="Revision this one depends on (repeatable)."),
    ] = None,
    rename: RenameOption = None,
) -> None:
    """Create a revision script (empty, or autogenerated with --autogenerate)."""
    from migratectl import api
    from migratectl.errors import UsageError

    if rename and not autogenerate:
        raise UsageError("--rename needs --autogenerate.", hint="Add --autogenerate, or drop it.")

    kwargs: dict[str, Any] = dict(
        message=message,
        sql=sql,
        head=head,
        splice=splice,
        branch_label=branch_label,
        version_path=version_path,
        rev_id=rev_id,
        depends_on=depends_on,
    )
    settings = inv.settings()
    if autogenerate:
        _without_cycle_collection(inv)
        paths = api.migrate(
            settings,
            output=inv.output,
            renames=rename or [],
            confirm_rename=_rename_prompt(),
            **kwargs,
        )
        _report_generated(inv, paths)
    else:
        paths = api.revision(settings, output=inv.output, **kwargs)
        _report_generated(inv, paths)


def _rename_prompt() -> Callable[[Candidate], bool] | None:
    """On a terminal, ask about each likely rename; elsewhere (CI, pipes) don't ask."""
    if not sys.stdin.isatty():
        return None

    def ask(candidate: Candidate) -> bool:
        # Ctrl-D (end of input) answers no, as an empty answer does; Ctrl-C stops the
        # command and writes nothing.
        while True:
            sys.stderr.write(f"{candidate.question} [y/N]: ")
            sys.stderr.flush()
            try:
                answer = input().strip().lower()
            except EOFError:
                sys.stderr.write("\n")
                return False
            if answer in ("", "n", "no"):
                return False
            if answer in ("y", "yes"):
                return True
            sys.stderr.write("Please answer y or n.\n")

    return ask


def _report_generated(inv: Invocation, paths: list[Path]) -> None:
    if not paths:
        inv.output.info("No changes in schema detected.")
    for path in paths:
        inv.output.result(f"Generated {_rel(path)}")


@_command()
def migrate(
    inv: Invocation,
    message: MessageOption = None,
    # Accepted (Flask-Migrate's `db migrate` has it) but not offered: it cannot work.
    sql: Annotated[bool, typer.Option("--sql", hidden=True)] = False,
    head: Annotated[
        str, typer.Option("--head", help="Head revision to build on, or 'branch@head'.")
    ] = "head",
    splice: Annotated[
        bool, typer.Option("--splice", help="Allow a non-head revision as --head.")
    ] = False,
    branch_label: BranchLabelOption = None,
    version_path: Annotated[
        str | None, typer.Option("--version-path", help="Folder to write the revision in.")
    ] = None,
    rev_id: RevIdOption = None,
    depends_on: Annotated[
        list[str] | None,
        typer.Option("--depends-on", help="Revision this one depends on (repeatable)."),
    ] = None,
    rename: RenameOption = None,
) -> None:
    """Autogenerate a revision from the models (revision --autogenerate).

    A column (or table) dropped and one added with the same type may be a rename.
    On a terminal you are asked; elsewhere pass --rename, or it stays drop + add.
    """
    from migratectl import api

    if sql:
        raise UsageError(
            "migrate has no --sql: it compares the models with the database, so it needs a "
            "connection, and it writes a revision file rather than running SQL.",
            hint="Run `migratectl migrate`, then `migratectl upgrade --sql` to print the "
            "revision's SQL.",
        )
    _without_cycle_collection(inv)
    paths = api.migrate(
        inv.settings(),
        message=message,
        sql=sql,
        head=head,
        splice=splice,
        branch_label=branch_label,
        version_path=version_path,
        rev_id=rev_id,
        depends_on=depends_on,
        renames=rename or [],
        confirm_rename=_rename_prompt(),
        output=inv.output,
    )
    _report_generated(inv, paths)


@_command()
def check(inv: Invocation, json_output: JsonOption = False) -> None:
    """Exit 1 when the database is behind head or the models have changes to migrate."""
    from migratectl import api

    _without_cycle_collection(inv)
    result = api.check(inv.settings(), output=inv.output)
    if json_output:
        inv.output.json(
            {
                "up_to_date": result.up_to_date,
                "operations": result.operations,
                "pending": result.pending,
            }
        )
    elif result.pending_by_database and set(result.pending_by_database) != {""}:
        for name, revs in result.pending_by_database.items():
            label = f"database {name!r}" if name else "the default database"
            inv.output.result(f"{label} is not at head; pending revisions: " + ", ".join(revs))
    elif result.pending:
        inv.output.result(
            "The database is not at head; pending revisions: " + ", ".join(result.pending)
        )
    elif result.needs_adopt:
        inv.output.result(
            "The repository has no revision yet, but the database already holds the models' "
            "tables (" + ", ".join(result.needs_adopt) + "): a fresh database would get none "
            "of them."
        )
        for operation in result.operations:
            inv.output.result(f"  {operation}")
        inv.output.info(
            "Run `migratectl adopt`: it writes the initial revision from the models and "
            "stamps this database at it."
        )
    elif result.operations:
        inv.output.result("The models have changes that no revision holds:")
        for operation in result.operations:
            inv.output.result(f"  {operation}")
    else:
        inv.output.result("No changes: the database is at head and matches the models.")
    if not result.up_to_date:
        raise typer.Exit(EXIT_CHECK_FAILED)


@_command()
def edit(
    inv: Invocation,
    rev: Annotated[
        str, typer.Argument(help="Revision to edit.", autocompletion=_complete_revisions)
    ] = "head",
) -> None:
    """Open a revision script in $EDITOR."""
    from migratectl import api

    api.edit(inv.settings(), rev)


@_command()
def merge(
    inv: Invocation,
    revisions: Annotated[
        list[str] | None,
        typer.Argument(
            help="Revisions to merge (default: heads).", autocompletion=_complete_revisions
        ),
    ] = None,
    message: MessageOption = None,
    branch_label: BranchLabelOption = None,
    rev_id: RevIdOption = None,
) -> None:
    """Create a merge revision joining two or more revisions."""
    from migratectl import api

    path = api.merge(
        inv.settings(),
        revisions or ["heads"],
        message=message,
        branch_label=branch_label,
        rev_id=rev_id,
        output=inv.output,
    )
    inv.output.result(f"Generated {_rel(path)}")


@_command()
def upgrade(
    inv: Invocation,
    rev: Annotated[
        str, typer.Argument(help="Target revision.", autocompletion=_complete_revisions)
    ] = "head",
    sql: SqlOption = False,
    tag: TagOption = None,
    lock_timeout: LockTimeoutOption = None,
    ddl_lock_timeout: DdlLockTimeoutOption = None,
    no_lock: NoLockOption = False,
    json_output: JsonOption = False,
) -> None:
    """Apply revisions up to REV (default: head)."""
    from migratectl import api

    _refuse_json_with_sql(json_output, sql)
    result = api.upgrade(
        inv.settings(lock_timeout=lock_timeout, ddl_lock_timeout=ddl_lock_timeout),
        rev,
        sql=sql,
        tag=tag,
        no_lock=no_lock,
        output=inv.output,
    )
    if rev in ("head", "heads") and not result.after:
        nothing = "Nothing to apply: the repository has no revision yet."
    elif rev in ("head", "heads"):
        nothing = f"Already at head ({_revisions_text(result.after)})."
    else:
        nothing = f"Nothing to apply: the database is at {_revisions_text(result.after)}."
    _report_versioning(inv, result, json_output, nothing)


@_command()
def downgrade(
    inv: Invocation,
    rev: Annotated[
        str, typer.Argument(help="Target revision.", autocompletion=_complete_revisions)
    ] = "-1",
    sql: SqlOption = False,
    tag: TagOption = None,
    lock_timeout: LockTimeoutOption = None,
    ddl_lock_timeout: DdlLockTimeoutOption = None,
    no_lock: NoLockOption = False,
    json_output: JsonOption = False,
) -> None:
    """Revert revisions down to REV (default: -1, the previous one)."""
    from migratectl import api

    _refuse_json_with_sql(json_output, sql)
    result = api.downgrade(
        inv.settings(lock_timeout=lock_timeout, ddl_lock_timeout=ddl_lock_timeout),
        rev,
        sql=sql,
        tag=tag,
        no_lock=no_lock,
        output=inv.output,
    )
    nothing = f"Nothing to revert: the database is at {_revisions_text(result.after)}."
    _report_versioning(inv, result, json_output, nothing)


@_command()
def stamp(
    inv: Invocation,
    revisions: Annotated[
        list[str] | None,
        typer.Argument(
            help="Revision(s) to stamp (default: head).", autocompletion=_complete_revisions
        ),
    ] = None,
    sql: SqlOption = False,
    tag: TagOption = None,
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete every version row before stamping.")
    ] = False,
    lock_timeout: LockTimeoutOption = None,
    ddl_lock_timeout: DdlLockTimeoutOption = None,
    no_lock: NoLockOption = False,
    json_output: JsonOption = False,
) -> None:
    """Set the database's revision without running migrations."""
    from migratectl import api

    _refuse_json_with_sql(json_output, sql)
    result = api.stamp(
        inv.settings(lock_timeout=lock_timeout, ddl_lock_timeout=ddl_lock_timeout),
        revisions or ["head"],
        sql=sql,
        tag=tag,
        purge=purge,
        no_lock=no_lock,
        output=inv.output,
    )
    nothing = f"Already stamped: the database is at {_revisions_text(result.after)}."
    _report_versioning(inv, result, json_output, nothing)


def _revisions_text(revisions: list[str]) -> str:
    return ", ".join(revisions) if revisions else "base (no revision)"


def _refuse_json_with_sql(json_output: bool, sql: bool) -> None:
    if json_output and sql:
        raise UsageError(
            "--json and --sql cannot be used together: --sql prints the SQL script on stdout.",
            hint="Leave out one of them.",
        )


def _report_versioning(
    inv: Invocation, result: VersioningResult, json_output: bool, nothing: str
) -> None:
    """The JSON document, or the line that says nothing was done (nothing happens silently)."""
    if json_output:
        inv.output.json(result.as_json())
    elif not result.sql and not result.applied:
        inv.output.info(nothing)


VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="More detail per revision.")]


@_command(own_verbose=True)
def current(
    inv: Invocation,
    verbose: VerboseOption = False,
    check_heads: Annotated[
        bool, typer.Option("--check-heads", help="Exit 1 unless the database is at head.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the database's current revision(s)."""
    from migratectl import api

    settings = inv.settings()
    state = api.current(settings, output=inv.output)
    if json_output:
        document: dict[str, Any] = {
            "database": state.database,
            "current": state.current,
            "heads": state.heads,
            "up_to_date": state.up_to_date,
        }
        if state.binds:
            document["binds"] = {
                name: {
                    "database": url,
                    "current": revs,
                    "up_to_date": set(revs) == set(state.heads),
                }
                for name, (url, revs) in state.binds.items()
            }
        inv.output.json(document)
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
                info = api.show(settings, rev)[0]
                inv.output.result(_long(info))
            else:
                inv.output.result(rev + (" (head)" if rev in state.heads else ""))
    if check_heads and not state.up_to_date:
        if not json_output:  # a check's finding (exit 1), not an error
            inv.output.info(
                "The database is not at head (heads: " + (", ".join(state.heads) or "none") + ")."
            )
        raise typer.Exit(EXIT_CHECK_FAILED)


@_command(own_verbose=True)
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
    from migratectl import api

    revisions, current_heads = api.history(
        inv.settings(), rev_range, indicate_current=indicate_current
    )
    if json_output:
        document = _json_revisions(revisions)
        if indicate_current:
            document["current"] = current_heads
        inv.output.json(document)
        return
    if not revisions:
        inv.output.info(
            "No revisions in that range."
            if rev_range
            else "No revisions yet: the repository "
            'is empty (`migratectl migrate -m "..."` writes the first one).'
        )
    _print_revisions(inv, revisions, verbose=verbose, current=current_heads)


@_command()
def show(
    inv: Invocation,
    rev: Annotated[
        str, typer.Argument(help="Revision to show.", autocompletion=_complete_revisions)
    ] = "head",
    json_output: JsonOption = False,
) -> None:
    """Show one revision."""
    from migratectl import api

    revisions = api.show(inv.settings(), rev)
    if json_output:
        if len(revisions) == 1:
            inv.output.json(revisions[0].as_json())
        else:
            inv.output.json(_json_revisions(revisions))
        return
    _print_revisions(inv, revisions, verbose=True)


@_command(own_verbose=True)
def heads(
    inv: Invocation,
    verbose: VerboseOption = False,
    resolve_dependencies: Annotated[
        bool, typer.Option("--resolve-dependencies", help="Treat dependencies as down revisions.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the head revisions."""
    from migratectl import api

    revisions = api.heads(inv.settings(), resolve_dependencies=resolve_dependencies)
    if json_output:
        inv.output.json(_json_revisions(revisions))
        return
    if not revisions:
        inv.output.info("No heads: the repository has no revision yet.")
    for rev in revisions:
        inv.output.result(_long(rev) if verbose else f"{rev.revision}{_marks(rev)}")


@_command(own_verbose=True)
def branches(
    inv: Invocation, verbose: VerboseOption = False, json_output: JsonOption = False
) -> None:
    """Show the branch points."""
    from migratectl import api

    settings = inv.settings()
    revisions = api.branches(settings)
    if json_output:
        inv.output.json(_json_revisions(revisions))
        return
    if not revisions:
        inv.output.info("No branch points.")
    for rev in revisions:
        inv.output.result(_long(rev) if verbose else f"{rev.revision}{_marks(rev)}")
        for next_rev in api.next_revisions(settings, rev.revision):
            inv.output.result(f"    -> {next_rev}")


StatusSqlOption = Annotated[
    bool, typer.Option("--sql", help="Also print the SQL that `upgrade` would run (nothing runs).")
]


@_command()
def status(inv: Invocation, sql: StatusSqlOption = False, json_output: JsonOption = False) -> None:
    """Show the database's revision, the heads, and the pending revisions."""
    from migratectl import api

    result = api.status(inv.settings(), sql=sql, output=inv.output)
    if json_output:
        document: dict[str, Any] = {
            "database": result.database,
            "current": result.current,
            "heads": result.heads,
            "pending": [r.as_json() for r in result.pending],
        }
        if sql:
            document["sql"] = result.sql or ""
        if result.binds:
            document["binds"] = {
                name: {
                    "database": state.database,
                    "current": state.current,
                    "pending": [r.as_json() for r in result.pending_by_database.get(name, [])],
                }
                for name, state in result.binds.items()
            }
        inv.output.json(document)
        return
    if not result.binds:
        _print_status(
            inv, "Database", result.database, result.current, result.heads, result.pending
        )
    else:  # every database in the same form, the default one first
        _print_status(
            inv,
            "Database (default)",
            result.database,
            result.current,
            result.heads,
            result.pending,
        )
        for name, state in result.binds.items():
            inv.output.result()
            _print_status(
                inv,
                f"Database {name!r}",
                state.database,
                state.current,
                result.heads,
                result.pending_by_database.get(name, []),
            )
    if sql and result.sql:
        inv.output.raw(result.sql)


def _print_status(
    inv: Invocation,
    label: str,
    database: str,
    current: list[str],
    heads: list[str],
    pending: list[RevisionInfo],
) -> None:
    inv.output.result(f"{label}: {database}")
    inv.output.result("Current:  " + _revisions_text(current))
    inv.output.result("Heads:    " + (", ".join(heads) or "none"))
    if pending:
        inv.output.result(f"Pending:  {len(pending)} revision(s)")
        for rev in pending:
            inv.output.result(f"  {rev.revision}  {rev.message}")
    else:
        inv.output.result("Pending:  none (up to date)")


ScratchUrlOption = Annotated[
    list[str] | None,
    typer.Option(
        "--scratch-url",
        metavar="URL",
        help="An empty database to work in, instead of a temporary one created on the "
        "configured database's server (never the configured database itself); emptied "
        "afterwards. NAME=URL: the one for the database of [binds.NAME] (repeatable).",
    ),
]


@_command()
def adopt(
    inv: Invocation,
    message: Annotated[
        str, typer.Option("--message", "-m", help="Message of the initial revision.")
    ] = "initial",
    scratch_url: ScratchUrlOption = None,
) -> None:
    """Bring an existing, populated database under migrations in one step.

    Writes the initial revision (autogenerated against an empty scratch database) and stamps
    the database at it, only when the database matches the models. When they differ, lists
    the differences and writes nothing: no revision file, no version table. Rows are never
    touched.
    """
    from migratectl import api

    _without_cycle_collection(inv)
    from migratectl.scratch import parse_scratch_urls

    result = api.adopt(
        inv.settings(),
        message=message,
        scratch_url=parse_scratch_urls(scratch_url),
        output=inv.output,
    )
    if not result.adopted and result.empty:
        inv.output.info(
            "Nothing was written: the database has none of the models' tables, so there is "
            "nothing to adopt. A new database needs no adopt: run "
            '`migratectl migrate -m "initial"` and `migratectl upgrade`.'
        )
        raise typer.Exit(EXIT_CHECK_FAILED)
    if not result.adopted:
        inv.output.result("The database does not match the models:")
        for difference in result.differences:
            inv.output.result(f"  {difference}")
        inv.output.info(
            "Nothing was written: no revision file, no version table. Make the models describe "
            "the database as it is (or exclude tables with [configure] include_object), then "
            "run adopt again."
        )
        raise typer.Exit(EXIT_CHECK_FAILED)
    if result.path is not None:
        inv.output.result(f"Generated {_rel(result.path)}")
    inv.output.result(
        f"Stamped {result.database} at {result.revision}: the database is under migrations, "
        "its rows untouched."
    )


@_command()
def verify(
    inv: Invocation,
    scratch_url: ScratchUrlOption = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            "--skip",
            metavar="NAME",
            help="Leave this check out (repeatable): single_head, upgrade, models_match, "
            "stairway, data_kept, downgrade_to_base.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Prove the migration history on a scratch database (never the configured one).

    Checks single_head, upgrade (base to head, one revision at a time), models_match,
    stairway (each revision downgraded and upgraded again) and downgrade_to_base (nothing
    but the version table left), on every database of a multi-database repository. Exits 1
    when any check fails.
    """
    from migratectl import api
    from migratectl.scratch import parse_scratch_urls

    def report(check: VerifyCheck) -> None:  # each line as soon as its check is known
        word = "skip" if check.skipped else "ok" if check.ok else "FAIL"
        inv.output.result(f"{word} {check.name}: {check.detail}")

    result = api.verify(
        inv.settings(),
        scratch_url=parse_scratch_urls(scratch_url),
        skip=skip or (),
        output=inv.output,
        on_check=None if json_output else report,
    )
    if json_output:
        inv.output.json(result.as_json())
    if not result.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


@_command()
def lint(
    inv: Invocation,
    rev_range: Annotated[
        str | None,
        typer.Argument(
            metavar="RANGE",
            help="Revisions to read: start:end (Alembic's syntax, e.g. ae10:head), or one "
            "revision. Default: all.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Flag operations that lose data or lock tables (reads files, no database).

    Flags drop_table, drop_column, narrow_type, not_null and rename operations.
    Acknowledge one with `# migratectl: allow <operation>` on its line or above.
    Exits 1 while any finding is not acknowledged.
    """
    from migratectl import api

    result = api.lint(inv.settings(), rev_range)
    if json_output:
        inv.output.json({"findings": [finding.as_json() for finding in result.findings]})
    else:
        for finding in result.findings:
            inv.output.result(str(finding))
        open_count, total = len(result.unacknowledged), len(result.findings)
        if open_count:
            inv.output.info(
                f"{open_count} of {total} finding(s) in {result.revisions} revision(s) not "
                "acknowledged. Review each; if it is intended, add `# migratectl: allow "
                "<operation>` on its line or the line above."
            )
        else:
            inv.output.info(
                f"{total} finding(s), all acknowledged, in {result.revisions} revision(s)."
                if total
                else f"No findings in {result.revisions} revision(s)."
            )
    if result.unacknowledged:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _without_cycle_collection(inv: Invocation) -> None:
    """For a command that compares the models with the database, when it is the whole process.

    A comparison builds two large object graphs that live until the process ends (the models,
    the reflected schema) and leaves little cyclic garbage: the collector would only re-scan
    them, a fifth of a 500-table `check`. Inside another program (tests, an application
    calling the CLI) its collector is left alone.
    """
    if inv.options.owns_process:
        gc.disable()


_SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def _completion_for_named_shell(argv: list[str]) -> None:
    """``--install-completion zsh`` / ``--show-completion zsh``: the shell named, not the one
    typer would detect (it reads a name only with its shell detection off)."""
    for flag in ("--install-completion", "--show-completion"):
        if flag in argv:
            position = argv.index(flag)
            if position + 1 < len(argv) and argv[position + 1] in _SHELLS:
                os.environ["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"


def _interrupt_exit_code(exc: KeyboardInterrupt) -> int:
    return EXIT_TERMINATED if isinstance(exc, SigtermReceived) else EXIT_INTERRUPTED


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
        sys.exit(_interrupt_exit_code(exc))
    finally:
        # The process ends here. Python's last collection would walk every object still
        # alive (over a second after a 500-table `check`) to free memory the system takes
        # back anyway; frozen objects are left out of it. Nothing is skipped: atexit
        # handlers, buffered output and open files are still finished as usual.
        gc.freeze()
        try:  # output still buffered for a reader that went away
            sys.stdout.flush()
        except BrokenPipeError:
            sys.exit(_closed_stdout())


__all__ = ["CheckFailed", "app", "main"]
