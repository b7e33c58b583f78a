"""The options and arguments: the global ones, the shared annotations, what ``--help``
shows for a value, revision completion, and the deferred coercion of typer's parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core

if TYPE_CHECKING:
    pass


GLOBAL_PANEL = "Global options (also accepted before the command)"


class DeferredCoercion:
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
                param._runtime_param = DeferredCoercion(param)
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


def complete_revisions(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion for a revision: the repository's ids, and head, heads, base."""
    root = ctx.find_root().params if ctx is not None else {}
    try:
        import migratectl
        from migratectl.settings import load_settings

        settings = load_settings(config=root.get("config"), directory=root.get("directory"))
        ids = sorted(rev.revision for rev in migratectl.history(settings))
    except Exception:  # completion must never print an error into the user's shell
        ids = []
    words = ["head", "heads", "base", *ids]
    return [word for word in words if word.startswith(incomplete)]


def readable_metavars(params: list[Any]) -> list[Any]:
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


# Typer parameters for the global options, as (name, annotation, default).
GLOBALS: list[tuple[str, Any, Any]] = [
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


GLOBAL_NAMES = {name for name, _, _ in GLOBALS}


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


VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="More detail per revision.")]


StatusSqlOption = Annotated[
    bool, typer.Option("--sql", help="Also print the SQL that `upgrade` would run (nothing runs).")
]


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


# The options upgrade, downgrade and stamp share, as (name, annotation, default), in --help order.
VERSIONING_OPTIONS: list[tuple[str, Any, Any]] = [
    ("sql", SqlOption, False),
    ("tag", TagOption, None),
    ("lock_timeout", LockTimeoutOption, None),
    ("ddl_lock_timeout", DdlLockTimeoutOption, None),
    ("no_lock", NoLockOption, False),
    ("json_output", JsonOption, False),
]

# The options revision and migrate share, after their own.
REVISION_OPTIONS: list[tuple[str, Any, Any]] = [
    (
        "head",
        Annotated[str, typer.Option("--head", help="Head revision to build on, or 'branch@head'.")],
        "head",
    ),
    (
        "splice",
        Annotated[bool, typer.Option("--splice", help="Allow a non-head revision as --head.")],
        False,
    ),
    ("branch_label", BranchLabelOption, None),
    (
        "version_path",
        Annotated[
            str | None, typer.Option("--version-path", help="Folder to write the revision in.")
        ],
        None,
    ),
    ("rev_id", RevIdOption, None),
    (
        "depends_on",
        Annotated[
            list[str] | None,
            typer.Option("--depends-on", help="Revision this one depends on (repeatable)."),
        ],
        None,
    ),
    ("rename", RenameOption, None),
]
