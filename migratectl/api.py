"""The public Python API: one function per command. The CLI is a thin layer over these.

Every function takes the project's :class:`~migratectl.settings.Settings` (``None`` loads them
from the current directory and environment, as the CLI does) and an optional
:class:`~migratectl.output.Output` for progress messages, and returns data, not text.

    from migratectl import api
    from migratectl.settings import load_settings

    settings = load_settings(database_url="sqlite:///app.db", models="app.models")
    api.upgrade(settings, "head")
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from migratectl import guards, runtime
from migratectl.errors import (
    ConfigError,
    DatabaseError,
    MigratectlError,
    UsageError,
)
from migratectl.output import Output, mask_url
from migratectl.project import project_environment
from migratectl.settings import Settings, load_settings

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory

    from migratectl.adopt import AdoptResult
    from migratectl.autogen.renames import ConfirmRename
    from migratectl.lint import LintResult
    from migratectl.verify import VerifyCheck, VerifyResult


# --------------------------------------------------------------------------- results


@dataclass
class RevisionInfo:
    revision: str
    down_revisions: list[str]
    message: str
    branch_labels: list[str]
    is_head: bool
    path: str
    is_branch_point: bool = False
    is_merge_point: bool = False
    dependencies: list[str] = field(default_factory=list)
    create_date: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "down_revisions": self.down_revisions,
            "message": self.message,
            "branch_labels": self.branch_labels,
            "is_head": self.is_head,
            "path": self.path,
        }


@dataclass
class CurrentState:
    database: str
    current: list[str]
    heads: list[str]
    # The other databases of a multi-database repository: name -> (masked URL, revisions).
    binds: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return all(set(revs) == set(self.heads) for _, revs in self.databases().values())

    def databases(self) -> dict[str, tuple[str, list[str]]]:
        """Every database: name ("" for the default) -> (masked URL, current revisions)."""
        return {"": (self.database, self.current), **self.binds}


@dataclass
class CheckResult:
    database: str
    operations: list[str]
    pending: list[str]
    # Multi-database repositories: name -> pending revision ids, for databases behind head.
    pending_by_database: dict[str, list[str]] = field(default_factory=dict)
    # The repository has no revision, and the database already holds these models' tables.
    needs_adopt: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not self.operations and not self.pending and not self.needs_adopt


@dataclass
class StatusResult:
    database: str
    current: list[str]
    heads: list[str]
    pending: list[RevisionInfo]
    sql: str | None = None
    binds: dict[str, CurrentState] = field(default_factory=dict)
    pending_by_database: dict[str, list[RevisionInfo]] = field(default_factory=dict)


@dataclass
class VersioningResult:
    """What ``upgrade``, ``downgrade`` or ``stamp`` did to the (default) database: its
    revisions before and after, and each revision applied, reverted or stamped, in order
    (``{"revision", "direction", "seconds"}``). Offline (``sql``), nothing is known."""

    database: str
    before: list[str]
    after: list[str]
    applied: list[dict[str, Any]]
    sql: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "from": self.before,
            "to": self.after,
            "applied": self.applied,
        }


# --------------------------------------------------------------------------- plumbing


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else load_settings()


P = ParamSpec("P")
R = TypeVar("R")


def in_project(
    command: Callable[Concatenate[Settings | None, P], R],
) -> Callable[Concatenate[Settings | None, P], R]:
    """Run ``command`` inside the project: its folders on sys.path and its ``run_within``
    entered, around everything that loads env.py, revisions, models and hooks."""

    @functools.wraps(command)
    def run(settings: Settings | None = None, *args: P.args, **kwargs: P.kwargs) -> R:
        resolved = _settings(settings)
        with project_environment(resolved):
            return command(resolved, *args, **kwargs)

    return run


def require_repository(settings: Settings) -> None:
    env_py = settings.directory / "env.py"
    if not env_py.is_file():
        raise UsageError(
            f"No migration repository at {_display(settings.directory)}.",
            hint="Run `migratectl init` to create it, or point --directory / `directory` "
            "at an existing one.",
        )
    if settings.binds and not is_multidb(settings):
        binds = ", ".join(f"[binds.{name}]" for name in settings.binds)
        where = _display(settings.config_file) if settings.config_file else "the configuration"
        raise ConfigError(
            f"{where} has {binds}, but the repository {_display(settings.directory)} serves one "
            "database (it was not made with `init --multidb`): the binds would be ignored.",
            hint="To migrate several databases, create a multi-database repository with "
            "`migratectl init --multidb -d NEW_DIRECTORY`, or convert this one with "
            "`migratectl init --convert --multidb`; otherwise remove the [binds] tables.",
        )


def _display(path: Path | str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def build_config(
    settings: Settings,
    output: Output | None = None,
    *,
    autogenerate: bool = False,
    writes: bool = False,
    lock_timeout: float | None = None,
) -> Config:
    """An Alembic Config for this project, without any alembic.ini."""
    from alembic.config import Config

    config = Config(
        cmd_opts=argparse.Namespace(x=list(settings.x_args), quiet=True),
        attributes={
            runtime.SETTINGS: settings,
            runtime.OUTPUT: output or Output(),
            runtime.AUTOGENERATE: autogenerate,
            runtime.WRITES: writes,
            runtime.LOCK_TIMEOUT: lock_timeout,
        },
    )
    config.set_main_option("script_location", _escape(str(settings.directory)))
    # The multi-database script.py.mako writes one function pair per name ("" = default).
    config.set_main_option("databases", ",".join(["", *settings.binds]))
    if settings.file_template:
        config.set_main_option("file_template", _escape(settings.file_template))
    for key, value in settings.alembic.items():
        if isinstance(value, dict):
            # [alembic.NAME] is an Alembic section; `fmt.type = "exec"` is a nested table in
            # TOML, but Alembic's option name is the dotted "fmt.type".
            for option, option_value in _dotted_options(value):
                config.set_section_option(key, option, _escape(_ini_value(option_value)))
        else:
            config.set_main_option(key, _escape(_ini_value(value)))
    if "version_locations" in settings.alembic:
        _set_version_locations(config, settings)
    if settings.database_url:
        # For tools that read it from the Config (never printed: masked in all output).
        config.set_main_option("sqlalchemy.url", _escape(settings.database_url))
    for hook in settings.configure_hooks:
        config = _run_configure_hook(hook, config, settings)
    return config


def _run_configure_hook(hook: str, config: Config, settings: Settings) -> Config:
    """Call one ``configure_hook``; it may change the Config or return a replacement."""
    from alembic.config import Config

    from migratectl.models import describe_exception, describe_type, import_callable

    settings.activate_sys_path()
    function = import_callable(hook, what="configure_hook")
    try:
        replaced = function(config)
    except MigratectlError:
        raise
    except Exception as exc:
        raise ConfigError(
            f'configure_hook "{hook}" raised an error: {describe_exception(exc)}',
            hint="Run with -v to see the traceback.",
        ) from exc
    if replaced is None:
        return config
    if not isinstance(replaced, Config):
        raise ConfigError(
            f'configure_hook "{hook}" returned {describe_type(replaced)}, not an Alembic Config.',
            hint="Return nothing to keep the Config it was given (changed in place), "
            "or return a replacement Config.",
        )
    return replaced


def _dotted_options(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _dotted_options(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _escape(value: str) -> str:
    """Config values go through ConfigParser interpolation: a literal % is written %%."""
    return value.replace("%", "%%")


def _set_version_locations(config: Config, settings: Settings) -> None:
    """[alembic] version_locations, a string or a list, relative to the configuration file.

    Alembic would resolve them against the current folder; migratectl resolves every relative
    path in its file against the file's folder, so commands work from any sub-folder.
    """
    from migratectl.revision_graph import path_separator, version_locations

    separator = path_separator(settings)
    if separator is None:
        separator = os.pathsep
        config.set_main_option("path_separator", "os")
    if not hasattr(config, "get_version_locations_list"):
        # Alembic before 1.16 splits version_locations on version_path_separator instead.
        chosen = config.get_main_option("path_separator") or "os"
        config.set_main_option("version_path_separator", chosen)
    locations = [str(path) for path in version_locations(settings)]
    config.set_main_option("version_locations", _escape(separator.join(locations)))


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def script_directory(config: Config) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config)


_UNKNOWN_REVISION = re.compile(
    r"(?:Can't locate revision identified by|No such revision or branch) '([^']*)'"
)


@contextmanager
def translate_errors(settings: Settings, *, user_revisions: Sequence[str] = ()) -> Iterator[None]:
    """Turn Alembic's and SQLAlchemy's exceptions into MigratectlErrors with exit codes."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    try:
        yield
    except MigratectlError:
        raise
    except SyntaxError as exc:
        raise runtime.unloadable_file_error(exc) or UsageError(
            f"Cannot load {_display(exc.filename or '?')}: {exc.msg} (line {exc.lineno}).",
            hint="Fix the revision file.",
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated or _is_connection_failure(exc):
            raise runtime._database_error(exc, settings.database_url or "") from exc
        raise DatabaseError(
            f"The database reported an error: {str(exc.orig).strip().splitlines()[0]}"
        ) from exc
    except SQLAlchemyError as exc:
        raise ConfigError(f"SQLAlchemy error: {str(exc).splitlines()[0]}") from exc
    except OSError as exc:
        if exc.filename:
            raise UsageError(
                f"Cannot access {_display(exc.filename)}: {exc.strerror}.",
                hint="Check that the folder exists and is writable.",
            ) from exc
        raise
    except Exception as exc:
        files = runtime.revision_files_error(exc)
        if files is not None:
            raise files from exc
        if _is_command_error(exc):
            raise _command_error(str(exc), settings, user_revisions) from exc
        # e.g. a NameError at the top of a revision file
        unloadable = runtime.unloadable_file_error(exc)
        if unloadable is None:
            raise
        raise unloadable from exc
    except SystemExit as exc:  # sys.exit() in env.py or in a file it imports
        unloadable = runtime.unloadable_file_error(exc)
        if unloadable is None:
            raise
        raise unloadable from exc


def _is_command_error(exc: Exception) -> bool:
    """Alembic's CommandError (never raised unless Alembic was imported; not imported here)."""
    alembic_util = sys.modules.get("alembic.util")
    return alembic_util is not None and isinstance(exc, alembic_util.CommandError)


def _is_connection_failure(exc: Any) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


def _command_error(
    message: str, settings: Settings, user_revisions: Sequence[str]
) -> MigratectlError:
    unknown = _UNKNOWN_REVISION.search(message)
    if unknown:
        rev = unknown.group(1)
        typed = {r for r in user_revisions if r} | {
            part for r in user_revisions for part in re.split(r"[:@+\-]", r or "") if part
        }
        if rev in typed or not rev:
            return UsageError(
                f"Unknown revision {rev!r}: no script in {_display(settings.directory)} has it.",
                hint="Run `migratectl history` to list the revisions.",
            )
        return UsageError(
            f"The database is at revision {rev!r}, which no script in "
            f"{_display(settings.directory)} has.",
            hint="Pull the latest migration scripts (the database was migrated by a newer "
            "version of the project); if that revision was deleted on purpose, record where "
            "the schema really is with `migratectl stamp --purge REVISION`.",
        )
    if "Multiple head revisions are present" in message or "Multiple heads are present" in message:
        return UsageError(
            "The repository has more than one head revision, so 'head' is ambiguous.",
            hint="Run `migratectl merge heads -m \"merge\"` to join them, or use 'heads' to "
            "upgrade every branch.",
        )
    if "Target database is not up to date" in message:
        return UsageError(
            "The database is not at the head revision, so the models cannot be compared.",
            hint="Run `migratectl upgrade` first.",
        )
    not_head = re.search(r"Revision (\S+) is not a head revision", message)
    if not_head:
        return UsageError(
            f"Revision {not_head.group(1)} is not a head revision.",
            hint="Pass --splice to `revision` or `migrate` to start a new branch from it; "
            "`migratectl heads` lists the heads.",
        )
    if "revision_environment is not configured" in message:
        return UsageError(
            "revision --sql needs env.py to run when a revision is written.",
            hint="Set revision_environment = true under [alembic] in the configuration, "
            "or leave out --sql.",
        )
    if "not represented in current version locations" in message:
        return UsageError(
            f"{message}.",
            hint="List the folder in version_locations under [alembic] in the configuration "
            '(for example version_locations = "migrations/versions other/versions").',
        )
    relative = re.fullmatch(
        r"Relative revision ([+-]?)(\d+) didn't produce \d+ migrations", message
    )
    if relative:
        sign, steps = relative.groups()
        if sign == "-" and steps == "1":
            return UsageError(
                "The database is at base (no revision applied); there is nothing to downgrade.",
                hint="`migratectl current` shows where the database is.",
            )
        if sign == "-":
            return UsageError(
                f"The database has fewer than {steps} revisions applied, so it cannot go "
                f"{steps} revisions down.",
                hint="`migratectl current` shows where it is; name the revision to go to, "
                "or `base` to revert every revision.",
            )
        return UsageError(
            f"There are fewer than {steps} revisions to apply above the current one.",
            hint="`migratectl status` lists the pending revisions; `migratectl upgrade` "
            "applies all of them.",
        )
    if message == "Ambiguous walk":
        return UsageError(
            "A relative step (such as -1) cannot cross a merge point or branch point: "
            "which branch to follow is ambiguous.",
            hint="Name the revision to go to instead (`migratectl history -i` shows them).",
        )
    return UsageError(message)


@contextmanager
def alembic_logging(output: Output, config: Config | None = None) -> Iterator[None]:
    """Alembic's log lines: all of them with -v, otherwise just "Running upgrade …", whatever
    the application's logging configuration (env.py takes the hold again through
    ``config``, once the application is imported)."""
    from migratectl.logs import AlembicLogging

    hold = AlembicLogging(output)
    if config is not None:
        config.attributes[runtime.LOGGING] = hold
    hold.take()
    try:
        yield
    finally:
        hold.release()


def revision_info(script: Script) -> RevisionInfo:
    from alembic.util import to_tuple

    return RevisionInfo(
        revision=script.revision,
        down_revisions=list(to_tuple(script.down_revision, default=())),
        message=(script.doc or "").strip(),
        branch_labels=sorted(script.branch_labels),
        is_head=script.is_head,
        path=str(script.path),
        is_branch_point=script.is_branch_point,
        is_merge_point=script.is_merge_point,
        dependencies=list(to_tuple(script.dependencies, default=())),
        create_date=_create_date(script),
    )


def _create_date(script: Script) -> str | None:
    match = re.search(r"^Create Date: (.+)$", script.longdoc or "", re.MULTILINE)
    return match.group(1).strip() if match else None


def _version_table(settings: Settings) -> tuple[str, str | None]:
    """The version table's name and schema, from ``[configure]`` (Alembic's defaults)."""
    configure = settings.configure
    return configure.get("version_table", "alembic_version"), configure.get("version_table_schema")


def is_multidb(settings: Settings) -> bool:
    """Whether the repository was created with ``init --multidb``."""
    env_py = settings.directory / "env.py"
    try:
        return "run_multidb_migrations" in env_py.read_text(errors="replace")
    except OSError:
        return False


def database_urls(settings: Settings) -> dict[str, str]:
    """The databases this repository migrates: name ("" for the default) -> URL."""
    if is_multidb(settings):
        return runtime.database_urls(settings)
    return {"": settings.require_database_url()}


def read_all_heads(settings: Settings, connection: Any = None) -> dict[str, list[str]]:
    """Each database's stamped revisions (read-only: creates nothing, not even a file).

    ``connection``: the (only) database's, already open. The version table is read as
    Alembic's MigrationContext reads it, without importing Alembic.
    """
    name, schema = _version_table(settings)

    def read(connections: dict[str, Any]) -> dict[str, list[str]]:
        from sqlalchemy import column, select, table

        version = table(name, column("version_num"), schema=schema)
        return {
            db: (
                [row[0] for row in conn.execute(select(version.c.version_num))]
                if conn.dialect.has_table(conn, name, schema)
                else []
            )
            for db, conn in connections.items()
        }

    if connection is not None:
        return read({"": connection})
    return runtime.run_with_connections(database_urls(settings), read, readonly=True)


def read_database_heads(settings: Settings) -> list[str]:
    """The revisions the (default) database is stamped with (read-only: creates nothing)."""
    return read_all_heads(settings)[""]


def _check_known(script: ScriptDirectory, heads: Sequence[str], settings: Settings) -> None:
    from alembic.util import CommandError

    for rev in heads:
        try:
            script.get_revision(rev)
        except CommandError:
            message = f"Can't locate revision identified by '{rev}'"
            raise _command_error(message, settings, ()) from None


def _pending(script: ScriptDirectory, current: Sequence[str]) -> list[Script]:
    """The revisions ``upgrade heads`` would apply, oldest first."""
    lower = tuple(current) if current else "base"
    # implicit_base, as Alembic's upgrade: branches not below ``current`` are pending too.
    revs = list(script.iterate_revisions("heads", lower, implicit_base=True))
    revs.reverse()
    return [r for r in revs if r is not None]


# --------------------------------------------------------------------------- commands


def list_templates() -> list[tuple[str, str]]:
    """The bundled repository templates with their one-line synopsis."""
    from migratectl.scaffold import bundled_templates

    return bundled_templates()


def init(
    settings: Settings | None = None,
    *,
    multidb: bool = False,
    template: str | None = None,
    package: bool = False,
    convert: bool = False,
    alembic_ini: str | None = None,
    output: Output | None = None,
) -> list[Path]:
    """Create the migration repository (or convert an Alembic / Flask-Migrate one, carrying
    its alembic.ini / ``[tool.alembic]`` and env.py settings over)."""
    from migratectl import scaffold

    settings = _settings(settings)
    if convert:
        return scaffold.convert_repository(
            settings, multidb=multidb, template=template, alembic_ini=alembic_ini, output=output
        )
    if alembic_ini is not None:
        raise UsageError("--alembic-ini goes with --convert.", hint="Add --convert.")
    return scaffold.create_repository(settings, multidb=multidb, template=template, package=package)


@in_project
def revision(
    settings: Settings | None = None,
    *,
    message: str | None = None,
    autogenerate: bool = False,
    sql: bool = False,
    head: str = "head",
    splice: bool = False,
    branch_label: str | None = None,
    version_path: str | None = None,
    rev_id: str | None = None,
    depends_on: Sequence[str] | None = None,
    process_revision_directives: Callable[..., None] | None = None,
    output: Output | None = None,
) -> list[Path]:
    """Create a revision script (autogenerated from the models with ``autogenerate``)."""
    from alembic import command

    settings = _settings(settings)
    output = output or Output()
    require_repository(settings)
    config = build_config(settings, output, autogenerate=autogenerate)
    revisions = [head, *(depends_on or [])]
    if rev_id is not None:
        with translate_errors(settings):
            guards.check_rev_id(rev_id, script_directory(config))
    after_all = _after_all_databases(settings, process_revision_directives)

    def guarded(context: Any, revision: Any, directives: list[Any]) -> None:
        if autogenerate:
            guards.check_autogenerate(context, directives, settings)
        if after_all is not None:
            after_all(context, revision, directives)

    with translate_errors(settings, user_revisions=revisions), alembic_logging(output, config):
        scripts = command.revision(
            config,
            message=guards.docstring_text(message),
            autogenerate=autogenerate,
            sql=sql,
            head=head,
            splice=splice,
            branch_label=branch_label,
            version_path=version_path,
            rev_id=rev_id,
            depends_on=cast(Any, list(depends_on)) if depends_on else None,
            process_revision_directives=guarded,
        )
    if scripts is None:
        return []
    found = scripts if isinstance(scripts, list) else [scripts]
    return [Path(s.path) for s in found if s is not None]


def _after_all_databases(
    settings: Settings, hook: Callable[..., None] | None
) -> Callable[..., None] | None:
    """Alembic calls a revision hook after each database's comparison; run ``hook`` once, after
    the last one, when every database's operations are in the script."""
    if hook is None:
        return None
    expected = 1 + len(settings.binds) if is_multidb(settings) else 1

    def when_complete(context: Any, revision: Any, directives: list[Any]) -> None:
        if all(len(script.upgrade_ops_list) >= expected for script in directives):
            hook(context, revision, directives)

    return when_complete


@in_project
def migrate(
    settings: Settings | None = None,
    *,
    message: str | None = None,
    sql: bool = False,
    head: str = "head",
    splice: bool = False,
    branch_label: str | None = None,
    version_path: str | None = None,
    rev_id: str | None = None,
    depends_on: Sequence[str] | None = None,
    renames: Sequence[str] = (),
    confirm_rename: ConfirmRename | None = None,
    output: Output | None = None,
) -> list[Path]:
    """``revision --autogenerate``; writes no file when the models and database agree.

    A dropped and an added column (or table) that look like a rename are written as a rename
    when ``renames`` holds it (``"TABLE.OLD=NEW"`` / ``"OLDTABLE=NEWTABLE"``) or
    ``confirm_rename`` says yes; otherwise a warning names the candidate. After the file is
    written, each operation in it that drops data is warned about.
    """
    from migratectl.autogen.destructive import data_loss_warnings
    from migratectl.autogen.renames import RenameResolver

    output = output or Output()
    resolve_renames = RenameResolver(renames, confirm=confirm_rename, output=output)

    def renames_then_skip_empty(context: Any, revision: Any, directives: list[Any]) -> None:
        resolve_renames(context, revision, directives)
        scripts_ops = [ops for script in directives for ops in script.upgrade_ops_list]
        if scripts_ops and all(ops.is_empty() for ops in scripts_ops):
            directives[:] = []

    paths = revision(
        settings,
        message=message,
        autogenerate=True,
        sql=sql,
        head=head,
        splice=splice,
        branch_label=branch_label,
        version_path=version_path,
        rev_id=rev_id,
        depends_on=depends_on,
        process_revision_directives=renames_then_skip_empty,
        output=output,
    )
    for path in paths:
        for warning in data_loss_warnings(path):
            output.warn(warning)
    return paths


def compare(
    settings: Settings,
    output: Output | None = None,
    connection: Any = None,
    *,
    tables_present: list[str] | None = None,
) -> list[Any]:
    """Autogenerate's operations for the models against the database, writing nothing.

    ``connection``: the (only) database's, already open; otherwise env.py connects.
    ``tables_present``: filled with the models' tables each database already holds.
    """
    from alembic import command

    captured: list[Any] = []

    def capture(context: Any, revision: Any, directives: list[Any]) -> None:
        for script in directives:
            captured.extend(script.upgrade_ops_list)
        directives[:] = []

    after_all = _after_all_databases(settings, capture)

    def per_database(context: Any, revision: Any, directives: list[Any]) -> None:
        if tables_present is not None:
            tables_present.extend(guards.model_tables_in_database(context))
        if after_all is not None:
            after_all(context, revision, directives)

    config = build_config(settings, output, autogenerate=True)
    if connection is not None:
        config.attributes["connection"] = connection
    with translate_errors(settings), alembic_logging(output or Output(), config):
        command.revision(config, autogenerate=True, process_revision_directives=per_database)
    return captured


def describe_operations(upgrade_ops: Any) -> list[str]:
    """One line per change, e.g. "add_column users.email" (flattened autogenerate diffs)."""
    lines: list[str] = []
    for diff in upgrade_ops.as_diffs():
        lines.append(_describe_diff(diff))
    return lines


def schema_differences(settings: Settings, output: Output | None = None) -> list[str]:
    """What autogenerate would change for the models against the database, one line each
    (read-only, like ``compare``)."""
    return [line for ops in compare(settings, output) for line in describe_operations(ops)]


def _describe_diff(diff: Any) -> str:
    if isinstance(diff, list):  # column modifications come as a list of tuples
        return "; ".join(_describe_diff(d) for d in diff)
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        return f"{kind} {_qualified(diff[1].schema, diff[1].name)}"
    if kind in ("add_column", "remove_column"):
        return f"{kind} {_qualified(diff[1], diff[2])}.{diff[3].name}"
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        return f"{kind} {index.name} on {_qualified(index.table.schema, index.table.name)}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = diff[1]
        table = constraint.table
        name = constraint.name or "(unnamed)"
        return f"{kind} {name} on {_qualified(table.schema, table.name)}"
    if kind.startswith("modify_"):
        schema, table, column = diff[1], diff[2], diff[3]
        old, new = _readable_value(diff[5]), _readable_value(diff[6])
        return f"{kind} {_qualified(schema, table)}.{column}: {old} -> {new}"
    if kind in ("add_table_comment", "remove_table_comment"):
        return f"{kind} {_qualified(diff[1].schema, diff[1].name)}"
    return " ".join(str(part) for part in diff)


def _readable_value(value: Any) -> str:
    """A type, default or flag of a column change as a user reads it: VARCHAR(50),
    CURRENT_TIMESTAMP, 'a', True — not the Python repr of SQLAlchemy objects."""
    from sqlalchemy.sql.elements import ClauseElement
    from sqlalchemy.types import TypeEngine

    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, TypeEngine):
        try:
            return str(value.compile())
        except Exception:  # a type the default dialect cannot compile (a dialect's own)
            return repr(value)
    # A server default, as SQL: a plain string is a literal, text() and expressions as written.
    arg = getattr(value, "arg", value)
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    if isinstance(arg, ClauseElement):
        text = getattr(arg, "text", None)
        return text if isinstance(text, str) else str(arg)
    return repr(value)


def _qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


@in_project
def check(settings: Settings | None = None, *, output: Output | None = None) -> CheckResult:
    """Do the models and the database agree, and is the database at head?"""
    settings = _settings(settings)
    if is_multidb(settings):
        return _check(settings, output, None)
    require_repository(settings)
    url = settings.require_database_url()
    if not runtime.connects_over_network(url):
        return runtime.run_with_connection(
            url, lambda connection: _check(settings, output, connection), readonly=True
        )
    # One connection for both questions. Behind a network, connecting and reading the
    # catalogue is mostly waiting: a thread does it while this one imports the models.
    with runtime.connection_ahead(url, lambda connection: _read_ahead(settings, connection)) as (
        wait
    ):
        _import_ahead(settings)
        with translate_errors(settings):
            connection, heads = wait()
        return _check(settings, output, connection, heads)


def _read_ahead(settings: Settings, connection: Any) -> dict[str, list[str]]:
    """The version table, then the catalogue as autogenerate will ask for it."""
    from migratectl.reflection import prefetch

    heads = read_all_heads(settings, connection)
    if not settings.configure.get("include_schemas"):
        # With every schema compared Alembic asks its questions otherwise: nothing to serve.
        name, schema = _version_table(settings)
        prefetch(connection, version_table=name, version_table_schema=schema)
    return heads


def _import_ahead(settings: Settings) -> None:
    """Import what the comparison will use: Alembic's autogenerate and the models. A failure
    is left for the comparison to report, as it would without this."""
    try:
        import alembic.autogenerate  # noqa: F401

        if settings.models:
            runtime.load_target_metadata(settings.models, settings)
    except Exception:
        return


def _check(
    settings: Settings,
    output: Output | None,
    connection: Any,
    heads: dict[str, list[str]] | None = None,
) -> CheckResult:
    state, by_database = _pending_by_database(settings, output, connection, heads)
    pending = list(dict.fromkeys(rev for revs in by_database.values() for rev in revs))
    if pending:
        behind = {name: revs for name, revs in by_database.items() if revs}
        return CheckResult(state.database, [], pending, pending_by_database=behind)
    multidb = bool(state.binds)
    operations: list[str] = []
    # No revision yet: the models' tables the database already holds make it one for adopt.
    present: list[str] | None = [] if not state.heads else None
    for ops in compare(settings, output, connection, tables_present=present):
        name = (getattr(ops, "upgrade_token", "") or "").removesuffix("_upgrades")
        prefix = f"[{name or 'default'}] " if multidb else ""
        operations.extend(prefix + line for line in describe_operations(ops))
    return CheckResult(
        state.database, operations=operations, pending=[], needs_adopt=sorted(present or [])
    )


def _pending_by_database(
    settings: Settings,
    output: Output | None,
    connection: Any,
    heads: dict[str, list[str]] | None,
) -> tuple[CurrentState, dict[str, list[str]]]:
    """Each database's pending revisions. The scripts loaded here are let go before the
    comparison loads them again (a large initial revision is megabytes of code)."""
    with translate_errors(settings):
        script = script_directory(build_config(settings, output))
    state = _current(settings, output, connection, heads, script=script)
    with translate_errors(settings):
        by_database = {
            name: [s.revision for s in _pending(script, revs)]
            for name, (_, revs) in state.databases().items()
        }
    return state, by_database


@in_project
def edit(settings: Settings | None = None, rev: str = "head") -> Path:
    """Open a revision in ``$VISUAL`` or ``$EDITOR``."""
    settings = _settings(settings)
    require_repository(settings)
    # As git does: VISUAL first, then EDITOR.
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        raise UsageError(
            "No editor is set.",
            hint="Set the VISUAL or EDITOR environment variable, e.g. EDITOR=vim.",
        )
    config = build_config(settings)
    with translate_errors(settings, user_revisions=[rev]):
        scripts = script_directory(config).get_revisions(rev)
    if not scripts:
        raise UsageError(f"No revision matches {rev!r}.", hint="Run `migratectl history`.")
    if len(scripts) > 1:
        raise UsageError(
            f"{rev!r} names {len(scripts)} revisions: "
            + ", ".join(s.revision for s in scripts if s)
            + ".",
            hint="Name one of them.",
        )
    path = Path(scripts[0].path) if scripts[0] is not None else None
    if path is None:
        raise UsageError(f"No revision matches {rev!r}.")
    try:
        code = subprocess.call([*shlex.split(editor), str(path)])
    except OSError as exc:
        raise UsageError(f"Cannot run the editor {editor!r}: {exc.strerror}.") from None
    if code != 0:
        raise UsageError(f"The editor {editor!r} exited with status {code}.")
    return path


@in_project
def merge(
    settings: Settings | None = None,
    revisions: Sequence[str] = ("heads",),
    *,
    message: str | None = None,
    branch_label: str | None = None,
    rev_id: str | None = None,
    output: Output | None = None,
) -> Path:
    """Create a merge revision joining ``revisions``."""
    from alembic import command

    settings = _settings(settings)
    require_repository(settings)
    config = build_config(settings, output)
    with translate_errors(settings, user_revisions=revisions):
        scripts = script_directory(config)
        guards.check_merge(scripts, revisions)
        if rev_id is not None:
            guards.check_rev_id(rev_id, scripts)
        script = command.merge(
            config,
            list(revisions),
            message=guards.docstring_text(message),
            branch_label=branch_label,
            rev_id=rev_id,
        )
    if script is None:
        raise UsageError("Nothing to merge.")
    return Path(script.path)


def _run_versioning(
    settings: Settings,
    output: Output | None,
    action: Callable[[Config], None],
    *,
    sql: bool,
    no_lock: bool,
    user_revisions: Sequence[str],
) -> VersioningResult:
    """Run upgrade / downgrade / stamp: under the migration lock unless offline."""
    output = output or Output()
    require_repository(settings)
    lock = None if (sql or no_lock) else settings.lock_timeout
    config = build_config(settings, output, writes=not sql, lock_timeout=lock)
    config.attributes[runtime.TARGETS] = list(user_revisions)
    applied = runtime.AppliedRevisions()
    config.attributes[runtime.APPLIED] = applied
    if settings.database_url:
        output.add_secret(runtime.parse_url(settings.database_url).password)
    with translate_errors(settings, user_revisions=user_revisions), alembic_logging(output, config):
        action(config)
    database = mask_url(settings.database_url) if settings.database_url else ""
    return VersioningResult(database, applied.before or [], applied.after, applied.steps, sql)


@in_project
def upgrade(
    settings: Settings | None = None,
    rev: str = "head",
    *,
    sql: bool = False,
    tag: str | None = None,
    no_lock: bool = False,
    output: Output | None = None,
) -> VersioningResult:
    """Apply revisions up to ``rev``."""
    from alembic import command

    settings = _settings(settings)
    if re.fullmatch(r"-\d+", rev.strip()):
        raise UsageError(
            f"`upgrade {rev}` asks for a revision below the current one; upgrade only goes up.",
            hint=f"To revert revisions run `migratectl downgrade {rev}`; to apply a number of "
            "revisions use +N (`migratectl upgrade +1`).",
        )
    return _run_versioning(
        settings,
        output,
        lambda config: command.upgrade(config, rev, sql=sql, tag=tag),
        sql=sql,
        no_lock=no_lock,
        user_revisions=[rev],
    )


@in_project
def downgrade(
    settings: Settings | None = None,
    rev: str = "-1",
    *,
    sql: bool = False,
    tag: str | None = None,
    no_lock: bool = False,
    output: Output | None = None,
) -> VersioningResult:
    """Revert revisions down to ``rev``."""
    from alembic import command

    settings = _settings(settings)
    if re.fullmatch(r"\+\d+", rev.strip()):
        raise UsageError(
            f"`downgrade {rev}` asks for a revision above the current one; downgrade only "
            "goes down.",
            hint=f"To apply revisions run `migratectl upgrade {rev}`; to revert a number of "
            "revisions use -N (`migratectl downgrade -1`).",
        )
    if sql and ":" not in rev:
        rev = f"head:{rev}"  # offline downgrades need a starting point: the scripts' head
    return _run_versioning(
        settings,
        output,
        lambda config: command.downgrade(config, rev, sql=sql, tag=tag),
        sql=sql,
        no_lock=no_lock,
        user_revisions=[rev],
    )


@in_project
def stamp(
    settings: Settings | None = None,
    revisions: Sequence[str] = ("head",),
    *,
    sql: bool = False,
    tag: str | None = None,
    purge: bool = False,
    no_lock: bool = False,
    output: Output | None = None,
) -> VersioningResult:
    """Set the version table to ``revisions`` without running migrations."""
    from alembic import command

    settings = _settings(settings)
    revs = list(revisions)
    return _run_versioning(
        settings,
        output,
        lambda config: command.stamp(
            config, revs[0] if len(revs) == 1 else revs, sql=sql, tag=tag, purge=purge
        ),
        sql=sql,
        no_lock=no_lock,
        user_revisions=revs,
    )


@in_project
def current(
    settings: Settings | None = None, *, output: Output | None = None, connection: Any = None
) -> CurrentState:
    """The database's revision(s) and the repository's heads (``connection``: the database's,
    already open)."""
    return _current(_settings(settings), output, connection)


def _current(
    settings: Settings,
    output: Output | None,
    connection: Any,
    all_heads: dict[str, list[str]] | None = None,
    *,
    script: ScriptDirectory | None = None,
) -> CurrentState:
    """``current``, given the databases' revisions when they were read already, and the
    scripts when the caller loaded them with Alembic already."""
    from migratectl.revision_graph import read_heads

    require_repository(settings)
    url = settings.require_database_url()
    urls = database_urls(settings)
    graph = None if script is not None else read_heads(settings)  # without Alembic if it can
    if all_heads is None:
        with translate_errors(settings):
            all_heads = read_all_heads(settings, connection)
    if graph is not None and all(rev in graph[1] for revs in all_heads.values() for rev in revs):
        heads = graph[0]
    else:  # Alembic reads the files, and names what is wrong with them or the database
        with translate_errors(settings):
            if script is None:
                script = script_directory(build_config(settings, output))
            heads = list(script.get_heads())
            for db_heads in all_heads.values():
                _check_known(script, db_heads, settings)
    binds = {name: (mask_url(urls[name]), revs) for name, revs in all_heads.items() if name}
    return CurrentState(mask_url(url), all_heads[""], heads, binds=binds)


@in_project
def status(
    settings: Settings | None = None, *, sql: bool = False, output: Output | None = None
) -> StatusResult:
    """The database's revision, the heads, and the revisions an upgrade would apply."""
    settings = _settings(settings)
    state = current(settings, output=output)
    config = build_config(settings, output)
    with translate_errors(settings):
        script = script_directory(config)
        by_database = {
            name: [revision_info(s) for s in _pending(script, revs)]
            for name, (_, revs) in state.databases().items()
        }
    pending = by_database[""]
    result = StatusResult(state.database, state.current, state.heads, pending)
    result.binds = {
        name: CurrentState(url, revs, state.heads) for name, (url, revs) in state.binds.items()
    }
    result.pending_by_database = {name: revs for name, revs in by_database.items() if name}
    if sql and pending:
        import io

        from alembic import command

        buffer = io.StringIO()
        config.output_buffer = buffer
        start = ",".join(state.current) if state.current else "base"
        # Nothing runs, so no "Upgrade a -> b" progress lines (they would say otherwise).
        silent = Output(quiet=True, verbose=bool(output and output.verbose))
        with translate_errors(settings), alembic_logging(silent, config):
            command.upgrade(config, f"{start}:heads", sql=True)
        result.sql = buffer.getvalue()
    return result


@in_project
def adopt(
    settings: Settings | None = None,
    *,
    message: str = "initial",
    scratch_url: str | dict[str, str] | None = None,
    output: Output | None = None,
) -> AdoptResult:
    """Bring an existing, populated database under migrations: write the initial revision and
    stamp the database, only when it matches the models (otherwise list the differences).
    ``scratch_url``: the scratch database, or name -> URL for several ("" the default)."""
    from migratectl.adopt import adopt as adopt_database

    return adopt_database(
        _settings(settings), message=message, scratch_url=scratch_url, output=output
    )


@in_project
def verify(
    settings: Settings | None = None,
    *,
    scratch_url: str | dict[str, str] | None = None,
    skip: Collection[str] = (),
    output: Output | None = None,
    on_check: Callable[[VerifyCheck], None] | None = None,
) -> VerifyResult:
    """Prove the history on a scratch database: single_head, upgrade, models_match, stairway,
    downgrade_to_base (``on_check`` hears of each check as soon as it is known; ``skip``
    names checks to leave out; ``scratch_url`` as for ``adopt``)."""
    from migratectl.verify import verify as verify_history

    return verify_history(
        _settings(settings), scratch_url=scratch_url, skip=skip, output=output, on_check=on_check
    )


@in_project
def history(
    settings: Settings | None = None,
    rev_range: str | None = None,
    *,
    indicate_current: bool = False,
) -> tuple[list[RevisionInfo], list[str]]:
    """Revisions newest first (within ``rev_range``, Alembic's ``base:head`` syntax), and the
    database's current revisions when ``indicate_current`` (else an empty list)."""
    settings = _settings(settings)
    require_repository(settings)
    config = build_config(settings)
    current_heads: list[str] = []
    if indicate_current or (rev_range and "current" in rev_range):
        current_heads = read_database_heads(settings)
        with translate_errors(settings):
            _check_known(script_directory(config), current_heads, settings)
    if rev_range:
        if ":" not in rev_range:
            raise UsageError(
                f"History range {rev_range!r} must have the form [start]:[end].",
                hint="For example -r base:head, -r ae10:, or -r -3:current.",
            )
        base, end = rev_range.split(":", 1)
    else:
        base, end = "", ""
    base, end = base or "base", end or "heads"
    with translate_errors(settings, user_revisions=[base, end]):
        script = script_directory(config)
        current_text = ",".join(current_heads) if current_heads else "base"
        base = current_text if base == "current" else base
        end = current_text if end == "current" else end
        revisions = [revision_info(s) for s in script.walk_revisions(base=base, head=end)]
    return revisions, current_heads


@in_project
def show(settings: Settings | None = None, rev: str = "head") -> list[RevisionInfo]:
    """The revision(s) ``rev`` names."""
    settings = _settings(settings)
    require_repository(settings)
    config = build_config(settings)
    with translate_errors(settings, user_revisions=[rev]):
        scripts = script_directory(config).get_revisions(rev)
    found = [revision_info(s) for s in scripts if s is not None]
    if not found:
        raise UsageError(f"No revision matches {rev!r}.", hint="Run `migratectl history`.")
    return found


@in_project
def heads(
    settings: Settings | None = None, *, resolve_dependencies: bool = False
) -> list[RevisionInfo]:
    """The head revisions."""
    settings = _settings(settings)
    require_repository(settings)
    config = build_config(settings)
    with translate_errors(settings):
        script = script_directory(config)
        found = (
            script.get_revisions("heads")
            if resolve_dependencies
            else script.get_revisions(script.get_heads())
        )
    return [revision_info(s) for s in found if s is not None]


@in_project
def branches(settings: Settings | None = None) -> list[RevisionInfo]:
    """The branch points: revisions with more than one revision after them."""
    settings = _settings(settings)
    require_repository(settings)
    config = build_config(settings)
    with translate_errors(settings):
        script = script_directory(config)
        found = [s for s in script.walk_revisions() if s.is_branch_point]
    return [revision_info(s) for s in found]


@in_project
def lint(settings: Settings | None = None, rev_range: str | None = None) -> LintResult:
    """The operations in the ``upgrade()`` of the revisions in ``rev_range`` (Alembic's
    ``start:end``, default all) that lose data or lock tables. Reads no database."""
    from migratectl.lint import lint_revisions

    settings = _settings(settings)
    require_repository(settings)
    return lint_revisions(settings, rev_range)


def next_revisions(settings: Settings, rev: str) -> list[str]:
    """The revisions directly after ``rev`` (for rendering branch points)."""
    config = build_config(settings)
    script = script_directory(config)
    found = script.get_revision(rev)
    return list(found.nextrev) if found is not None else []
