"""What a migratectl ``env.py`` calls: engines, the migration lock, ``configure()`` arguments.

``run_migrations(context)`` is the whole of a generated env.py. It reads the settings that
``migratectl.api`` left in ``config.attributes`` (or loads them itself when Alembic is driven
by another tool, such as pytest-alembic), and runs offline or online.
"""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from migratectl.errors import ConfigError, DatabaseError, MigrationFailed, UsageError
from migratectl.output import Output, mask_url
from migratectl.settings import CONFIGURE_CALLABLES, Settings, load_settings

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")

# Keys of Config.attributes through which migratectl.api talks to env.py.
SETTINGS = "migratectl.settings"
OUTPUT = "migratectl.output"
AUTOGENERATE = "migratectl.autogenerate"  # True: load the models for a comparison
WRITES = "migratectl.writes"  # False: the command only reads (no file, no version table)
LOCK_TIMEOUT = "migratectl.lock_timeout"  # seconds, or None for no lock
FAILURE = "migratectl.failure"  # filled by run_migrations when a revision fails

# Driver modules of the dialects' default drivers, and the extra that installs ours.
_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}
_FALLBACK_DRIVERS = {
    "postgresql": ("psycopg2", "psycopg"),
    "mysql": ("MySQLdb", "pymysql"),
    "mariadb": ("MySQLdb", "pymysql"),
}
CONNECT_TIMEOUT = 10


# --------------------------------------------------------------------------- engines


def parse_url(url: str) -> Any:
    """``make_url`` with errors a user can act on (the URL itself is never echoed)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"The database URL {mask_url(url)!r} is not a valid SQLAlchemy URL.",
            hint="It has the form dialect+driver://user:password@host/database, "
            "e.g. postgresql+psycopg://app@localhost/app or sqlite:///app.db.",
        ) from None


def _with_available_driver(url: Any) -> Any:
    """``postgresql://`` means psycopg2; use psycopg 3 (our extra) when only it is installed."""
    import importlib.util

    backend, _, driver = url.drivername.partition("+")
    if driver or backend not in _FALLBACK_DRIVERS:
        return url
    default, ours = _FALLBACK_DRIVERS[backend]
    if importlib.util.find_spec(default) is None and importlib.util.find_spec(ours) is not None:
        return url.set(drivername=f"{backend}+{ours}")
    return url


def _connect_args(url: Any) -> dict[str, Any]:
    """A connect timeout, so an unreachable server fails in seconds, not minutes."""
    driver = url.get_driver_name()
    if "timeout" in url.query or "connect_timeout" in url.query:
        return {}
    if driver in ("psycopg", "psycopg2", "pymysql", "mysqldb", "asyncmy", "aiomysql"):
        return {"connect_timeout": CONNECT_TIMEOUT}
    if driver == "asyncpg":
        return {"timeout": CONNECT_TIMEOUT}
    return {}


def _is_memory_sqlite(url: Any) -> bool:
    return url.get_backend_name() == "sqlite" and (
        not url.database or url.database == ":memory:" or "mode=memory" in str(url)
    )


def make_engine(url_text: str, *, readonly: bool = False) -> Any:
    """An Engine (or AsyncEngine for async drivers) with NullPool and a connect timeout.

    ``readonly``: a SQLite file that does not exist is not created; an empty in-memory
    database of the same dialect stands in for it.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import NoSuchModuleError
    from sqlalchemy.pool import NullPool

    url = _with_available_driver(parse_url(url_text))
    backend = url.get_backend_name()
    missing_file = not _is_memory_sqlite(url) and not Path(url.database or "").exists()
    if backend == "sqlite" and readonly and missing_file:
        url = url.set(database=":memory:")
    try:
        dialect_cls = url.get_dialect()
    except NoSuchModuleError:
        raise ConfigError(
            f"The database URL names an unknown dialect or driver: {url.drivername!r}.",
            hint="Check the part before :// (for example postgresql+psycopg, mysql+pymysql, "
            "sqlite).",
        ) from None
    engine: Any
    kwargs: dict[str, Any] = {"poolclass": NullPool, "connect_args": _connect_args(url)}
    try:
        if getattr(dialect_cls, "is_async", False):
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(url, **kwargs)
            sync_engine = engine.sync_engine
        else:
            engine = sync_engine = create_engine(url, **kwargs)
    except ImportError as exc:
        extra = "async" if getattr(dialect_cls, "is_async", False) else _EXTRAS.get(backend)
        install = f"pip install 'migratectl[{extra}]'" if extra else f"install {exc.name}"
        raise ConfigError(
            f"The database driver for {url.drivername!r} is not installed "
            f"(no module named {exc.name!r}).",
            hint=f"Install it: {install}.",
        ) from None
    if backend == "sqlite":
        _make_sqlite_ddl_transactional(sync_engine, event)
    return engine


def _make_sqlite_ddl_transactional(engine: Engine, event: Any) -> None:
    """SQLite can roll back DDL, but Python's driver does not BEGIN before it. Take over."""

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def _database_error(exc: BaseException, url_text: str, name: str = "") -> DatabaseError:
    original = getattr(exc, "orig", None) or exc
    detail = str(original).strip().splitlines()[0] if str(original).strip() else type(original)
    which = f"database {name!r}" if name else "database"
    return DatabaseError(
        f"Cannot connect to the {which} {mask_url(url_text)}: {detail}",
        hint="Check that the server is running and reachable, that the database exists, "
        "and the user name and password in the URL.",
    )


def run_with_connection(url_text: str, fn: Callable[[Connection], T], *, readonly: bool) -> T:
    """Connect to ``url_text`` and call ``fn`` with a (sync) Connection, async drivers too."""
    return run_with_connections(
        {"": url_text}, lambda connections: fn(connections[""]), readonly=readonly
    )


def run_with_connections(
    urls: dict[str, str], fn: Callable[[dict[str, Connection]], T], *, readonly: bool
) -> T:
    """Connect to every database in ``urls`` (name -> URL) at once and call ``fn`` with a
    sync Connection per name. Async drivers run in one event loop; ``fn`` runs in
    SQLAlchemy's greenlet bridge so sync and async connections can be mixed.
    """
    engines = {name: make_engine(url, readonly=readonly) for name, url in urls.items()}
    if any(hasattr(engine, "sync_engine") for engine in engines.values()):
        return asyncio.run(_run_async(engines, urls, fn))
    with ExitStack() as stack:
        for engine in engines.values():
            stack.callback(engine.dispose)
        connections = {
            name: stack.enter_context(_connect(engine, name, urls[name]))
            for name, engine in engines.items()
        }
        return fn(connections)


async def _run_async(
    engines: dict[str, Any], urls: dict[str, str], fn: Callable[[dict[str, Connection]], T]
) -> T:
    from sqlalchemy.exc import DBAPIError

    async with AsyncExitStack() as stack:
        sync_connections: dict[str, Connection] = {}
        first_async: Any = None
        for name, engine in engines.items():
            if hasattr(engine, "sync_engine"):
                stack.push_async_callback(engine.dispose)
                try:
                    connection = await engine.connect()
                except (DBAPIError, OSError) as exc:
                    raise _database_error(exc, urls[name], name) from None
                await stack.enter_async_context(connection)
                sync_connections[name] = connection.sync_connection
                first_async = first_async or connection
            else:
                stack.callback(engine.dispose)
                sync_connections[name] = stack.enter_context(_connect(engine, name, urls[name]))
        return await first_async.run_sync(lambda _: fn(sync_connections))


@contextmanager
def _connect(engine: Engine, name: str, url_text: str) -> Iterator[Connection]:
    from sqlalchemy.exc import DBAPIError

    try:
        connection = engine.connect()
    except (DBAPIError, OSError) as exc:
        raise _database_error(exc, url_text, name) from None
    with connection:
        yield connection


# --------------------------------------------------------------------------- env.py


def _environment(context: Any) -> Any:
    """The EnvironmentContext behind the ``alembic.context`` module proxy."""
    return getattr(context, "_proxy", None) or context


def _settings_of(config: Any) -> Settings:
    settings = config.attributes.get(SETTINGS)
    if settings is None:
        # Driven by something other than migratectl (pytest-alembic, alembic's own API).
        settings = load_settings()
        config.attributes[SETTINGS] = settings
    return settings


def wants_models(context: Any) -> bool:
    """True when this run compares the models with the database (autogenerate)."""
    config = context.config
    if AUTOGENERATE in config.attributes:
        return bool(config.attributes[AUTOGENERATE])
    revision_context = _environment(context).context_opts.get("revision_context")
    command_args = getattr(revision_context, "command_args", None) or {}
    return bool(command_args.get("autogenerate"))


def load_target_metadata(models: str | None, settings: Settings) -> Any:
    from migratectl.models import resolve_metadata

    settings.activate_sys_path()
    return resolve_metadata(models or settings.require_models())


def configure_options(settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``context.configure()``: defaults, ``[configure]``, env.py's."""
    from migratectl.models import import_callable

    options: dict[str, Any] = {
        "compare_type": settings.compare_type,
        "render_as_batch": settings.render_as_batch,
        "transaction_per_migration": True,
    }
    for key, value in settings.configure.items():
        if key in CONFIGURE_CALLABLES and isinstance(value, str):
            value = import_callable(value, what=f"[configure] {key}")
        options[key] = value
    options.update(overrides)
    return options


def version_table_of(options: dict[str, Any]) -> str:
    schema = options.get("version_table_schema")
    table = options.get("version_table", "alembic_version")
    return f"{schema}.{table}" if schema else table


def _chain(*callbacks: Callable[..., None] | None) -> Callable[..., None]:
    present = [cb for cb in callbacks if cb is not None]

    def call_all(**kw: Any) -> None:
        for cb in present:
            cb(**kw)

    return call_all


class _StatementLog:
    """The statements the running revision has executed so far (for MySQL failure reports)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def after_execute(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        first = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if first not in ("SELECT", "SHOW", "PRAGMA"):
            self.statements.append(" ".join(statement.split()))

    def revision_done(self, **_: Any) -> None:
        self.statements.clear()


def run_migrations(context: Any, **overrides: Any) -> None:
    """Run this migration repository's migrations: the body of a migratectl env.py.

    Keyword arguments are passed on to ``context.configure()`` and win over migratectl.toml
    (for example ``include_object=my_filter``).
    """
    config = context.config
    settings = _settings_of(config)
    settings.activate_sys_path()
    options = configure_options(settings, overrides)
    if wants_models(context) and "target_metadata" not in overrides:
        options["target_metadata"] = load_target_metadata(settings.models, settings)

    if context.is_offline_mode():
        url = settings.require_database_url()
        context.configure(
            url=_with_available_driver(parse_url(url)),
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        with _failures_reported(context, None), context.begin_transaction():
            context.run_migrations()
        return

    connectable = config.attributes.get("connection")
    if connectable is None:
        url = settings.require_database_url()
        run_with_connection(
            url,
            lambda connection: _run_online(context, connection, options, owns_engine=True),
            readonly=not config.attributes.get(WRITES, True),
        )
        return
    if hasattr(connectable, "connect") and not hasattr(connectable, "execute"):
        with connectable.connect() as connection:  # an Engine (pytest-alembic hands one)
            _run_online(context, connection, options, owns_engine=False)
            if connection.in_transaction():
                connection.commit()
    else:
        _run_online(context, connectable, options, owns_engine=False)


def _run_online(
    context: Any, connection: Connection, options: dict[str, Any], *, owns_engine: bool
) -> None:
    with _locks(context, {"": connection}, options):
        _configure_and_run(context, connection, options, owns_engine=owns_engine)


@contextmanager
def _locks(
    context: Any, connections: dict[str, Connection], options: dict[str, Any]
) -> Iterator[None]:
    """Hold the migration lock of every database (in name order, so two runs never deadlock)."""
    from migratectl.locking import migration_lock

    lock_timeout = context.config.attributes.get(LOCK_TIMEOUT)
    output: Output = context.config.attributes.get(OUTPUT) or Output()
    with ExitStack() as stack:
        if lock_timeout is not None:
            for name in sorted(connections):
                stack.enter_context(
                    migration_lock(
                        connections[name],
                        timeout=lock_timeout,
                        version_table=version_table_of(options),
                        notify=output.info,
                    )
                )
        yield


def _configure_and_run(
    context: Any,
    connection: Connection,
    options: dict[str, Any],
    *,
    owns_engine: bool,
    **run_kwargs: Any,
) -> None:
    """configure() the context on ``connection`` and run the migrations (or comparison)."""
    from sqlalchemy import event

    log = _StatementLog()
    options = dict(options)
    options["on_version_apply"] = _chain(log.revision_done, options.get("on_version_apply"))
    if owns_engine and connection.dialect.name == "sqlite":
        options.setdefault("transactional_ddl", True)
    event.listen(connection, "after_cursor_execute", log.after_execute)
    try:
        context.configure(connection=connection, **options)
        with _failures_reported(context, log), context.begin_transaction():
            context.run_migrations(**run_kwargs)
    finally:
        event.remove(connection, "after_cursor_execute", log.after_execute)


@contextmanager
def _failures_reported(context: Any, log: _StatementLog | None) -> Iterator[None]:
    """Turn an exception raised by a revision script into MigrationFailed (exit 4)."""
    if wants_models(context):
        yield
        return
    from alembic.util import CommandError

    try:
        yield
    except (ConfigError, DatabaseError, MigrationFailed, CommandError):
        raise  # already a clear message, or Alembic refusing (unknown revision, …)
    except Exception as exc:
        # Alembic imports the revision files lazily, so one that cannot even be loaded
        # fails in here too; no revision ran, so it is not a migration failure.
        raise unloadable_file_error(exc) or _describe_failure(context, exc, log) from exc


def _describe_failure(context: Any, exc: Exception, log: _StatementLog | None) -> MigrationFailed:
    script: ScriptDirectory = context.script
    revision, where = _failing_revision(script, exc)
    error = traceback.format_exception_only(type(exc), exc)[-1].strip()
    error = error.splitlines()[0]
    message = f"Revision {revision} ({where}) failed: {error}" if revision else f"Failed: {error}"
    details: list[str] = []
    migration_context = context.get_context()
    if not context.is_offline_mode():
        try:
            heads = migration_context.get_current_heads()
            details.append(
                "The database is at " + (", ".join(heads) if heads else "base (no revision)") + "."
            )
        except Exception:
            pass
        if log is not None and not migration_context.impl.transactional_ddl:
            if log.statements:
                ran = "; ".join(log.statements)
                details.append(
                    f"{migration_context.dialect.name} cannot roll back DDL; these statements "
                    f"of the failed revision had already run and stayed: {ran}"
                )
            else:
                details.append("No statement of the failed revision had run.")
        else:
            details.append("The failed revision was rolled back.")
    return MigrationFailed(
        " ".join([message, *details]),
        hint="Fix the revision and run the command again (-v shows the traceback).",
    )


def _failing_revision(script: ScriptDirectory, exc: BaseException) -> tuple[str | None, str]:
    """The revision whose file is deepest in the traceback, and "file, line N"."""
    by_path: dict[str, str] = {}
    try:
        for rev in script.walk_revisions():
            if rev.path:
                by_path[os.path.realpath(rev.path)] = rev.revision
    except Exception:
        return None, "unknown file"
    found: tuple[str | None, str] = (None, "unknown file")
    for frame in traceback.extract_tb(exc.__traceback__):
        revision = by_path.get(os.path.realpath(frame.filename))
        if revision:
            found = (revision, f"{_relative(frame.filename)}, line {frame.lineno}")
    return found


def unloadable_file_error(exc: BaseException) -> UsageError | None:
    """A UsageError naming file and line when ``exc`` was raised while Alembic imported a
    revision file (or env.py) rather than while one ran; otherwise None."""
    frames = traceback.extract_tb(exc.__traceback__)
    loader = next(
        (i for i, f in enumerate(frames) if f.name == "load_module_py" and "alembic" in f.filename),
        None,
    )
    if loader is None:
        return None
    if isinstance(exc, SyntaxError) and exc.filename:
        where, error = f"{_relative(exc.filename)}, line {exc.lineno}", f"{exc.msg}"
    else:
        # The loaded file is the first frame below the loader that is not importlib's.
        loaded = next(
            (f for f in frames[loader + 1 :] if not f.filename.startswith("<")),
            None,
        )
        where = f"{_relative(loaded.filename)}, line {loaded.lineno}" if loaded else "unknown"
        error = traceback.format_exception_only(type(exc), exc)[-1].strip().splitlines()[0]
    return UsageError(
        f"Cannot load {where}: {error}.",
        hint="Fix the file and run the command again (-v shows the traceback).",
    )


def _relative(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


class AlembicLogRelay(logging.Handler):
    """Shows Alembic's "Running upgrade a -> b, message" lines without its other chatter."""

    def __init__(self, output: Output) -> None:
        super().__init__(logging.INFO)
        self.output = output

    # Alembic's step names, as shown: "Running stamp_revision  -> ab12" -> "Stamp <base> -> ab12"
    _STEPS = {"upgrade": "Upgrade", "downgrade": "Downgrade", "stamp_revision": "Stamp"}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Running "):
            return
        step, _, rest = message[len("Running ") :].partition(" ")
        moves, comma, doc = rest.partition(", ")
        source, arrow, target = moves.partition(" -> ")
        if arrow:
            rest = f"{source.strip() or '<base>'} -> {target.strip() or '<base>'}{comma}{doc}"
        self.output.info(f"{self._STEPS.get(step, step)} {rest.strip()}")


# --------------------------------------------------------------------------- several databases


def database_urls(settings: Settings) -> dict[str, str]:
    """Name -> URL of every database of a multi-database repository ("" is the default one)."""
    urls = {"": settings.require_database_url()}
    for name, bind in settings.binds.items():
        if not bind.database_url:
            raise ConfigError(
                f"[binds.{name}] has no database_url.",
                hint=f"Set database_url in [binds.{name}] (it may read the environment: "
                '"${VAR}").',
            )
        urls[name] = bind.database_url
    return urls


def _models_of(settings: Settings, name: str) -> str:
    if not name:
        return settings.require_models()
    models = settings.binds[name].models
    if not models:
        raise ConfigError(
            f"[binds.{name}] has no models, and this command compares them with the database.",
            hint=f'Set models = "package.module" in [binds.{name}].',
        )
    return models


def database_label(name: str) -> str:
    return repr(name) if name else "(default)"


def run_multidb_migrations(context: Any, **overrides: Any) -> None:
    """The body of a multi-database env.py: run every database's functions of each revision.

    Each revision script has ``upgrade_<name>()`` / ``downgrade_<name>()`` per database; the
    default database's name is empty. Keyword arguments go to ``context.configure()``.
    """
    config = context.config
    settings = _settings_of(config)
    settings.activate_sys_path()
    options = configure_options(settings, overrides)
    urls = database_urls(settings)
    metadata: dict[str, Any] = {}
    if wants_models(context):
        metadata = {
            name: load_target_metadata(_models_of(settings, name), settings) for name in urls
        }
    output: Output = config.attributes.get(OUTPUT) or Output()

    def options_for(name: str) -> dict[str, Any]:
        return {
            **options,
            "upgrade_token": f"{name}_upgrades",
            "downgrade_token": f"{name}_downgrades",
            "target_metadata": metadata.get(name),
        }

    if context.is_offline_mode():
        import sys

        buffer = config.output_buffer or sys.stdout
        for name, url in urls.items():
            buffer.write(f"\n-- Database {database_label(name)}: {mask_url(url)}\n\n")
            context.configure(
                url=_with_available_driver(parse_url(url)),
                literal_binds=True,
                dialect_opts={"paramstyle": "named"},
                output_buffer=buffer,
                **options_for(name),
            )
            with _failures_reported(context, None), context.begin_transaction():
                context.run_migrations(engine_name=name)
        return

    def run_all(connections: dict[str, Connection]) -> None:
        with _locks(context, connections, options):
            for name, connection in connections.items():
                if len(connections) > 1 and not wants_models(context):
                    output.info(f"Database {database_label(name)}:")
                try:
                    _configure_and_run(
                        context, connection, options_for(name), owns_engine=True, engine_name=name
                    )
                except MigrationFailed as failure:
                    failure.message = f"In database {database_label(name)}: {failure.message}"
                    raise

    run_with_connections(urls, run_all, readonly=not config.attributes.get(WRITES, True))
