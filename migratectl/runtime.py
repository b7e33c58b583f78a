"""What a migratectl ``env.py`` calls: engines, the migration lock, ``configure()`` arguments.

``run_migrations(context)`` is the whole of a generated env.py. It reads the settings that
``migratectl.api`` left in ``config.attributes`` (or loads them itself when Alembic is driven
by another tool, such as pytest-alembic), and runs offline or online.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from migratectl.errors import (
    ConfigError,
    DatabaseError,
    Interrupted,
    MigratectlError,
    MigrationFailed,
    SigtermReceived,
    Terminated,
    UsageError,
)
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
TARGETS = "migratectl.targets"  # the revisions upgrade / downgrade / stamp were given
LOGGING = "migratectl.logging"  # migratectl.logs.AlembicLogging, the hold on Alembic's loggers
APPLIED = "migratectl.applied"  # AppliedRevisions: what upgrade / downgrade / stamp did


# The drivers migratectl's extras install: (backend, async) -> (drivername, extra).
_OUR_DRIVERS = {
    ("postgresql", False): ("postgresql+psycopg", "postgres"),
    ("postgresql", True): ("postgresql+asyncpg", "async"),
    ("mysql", False): ("mysql+pymysql", "mysql"),
    ("mariadb", False): ("mariadb+pymysql", "mysql"),
    ("sqlite", True): ("sqlite+aiosqlite", "async"),
}
# Driver modules of the dialects' default drivers, and of ours.
_FALLBACK_DRIVERS = {
    "postgresql": ("psycopg2", "psycopg"),
    "mysql": ("MySQLdb", "pymysql"),
    "mariadb": ("MySQLdb", "pymysql"),
}
CONNECT_TIMEOUT = 10
# What PostgreSQL shows for migratectl's sessions (pg_stat_activity), e.g. as a lock's holder.
APPLICATION_NAME = "migratectl"


# --------------------------------------------------------------------------- engines


def parse_url(url: str) -> Any:
    """``make_url`` with errors a user can act on (the URL itself is never echoed)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(
            f"The database URL {mask_url(url)!r} is not a valid SQLAlchemy URL.",
            hint="It has the form dialect+driver://user@host:port/database (a password goes "
            "after the user name, behind a colon), "
            "e.g. postgresql+psycopg://app@localhost/app or sqlite:///app.db.",
        ) from None


def _with_available_driver(url: Any) -> Any:
    """``postgresql://`` means psycopg2; use psycopg 3 (our extra) when only it is installed
    (and SQLAlchemy has a dialect for it: 1.4 has none for psycopg 3)."""
    import importlib.util

    backend, _, driver = url.drivername.partition("+")
    if driver or backend not in _FALLBACK_DRIVERS:
        return url
    default, ours = _FALLBACK_DRIVERS[backend]
    if (
        importlib.util.find_spec(default) is None
        and importlib.util.find_spec(ours) is not None
        and _has_dialect(f"{backend}+{ours}")
    ):
        return url.set(drivername=f"{backend}+{ours}")
    return url


def _has_dialect(drivername: str) -> bool:
    """Whether this SQLAlchemy has a dialect named ``drivername`` (the driver may be absent)."""
    from sqlalchemy.dialects import registry
    from sqlalchemy.exc import NoSuchModuleError

    backend, _, driver = drivername.partition("+")
    try:
        registry.load(f"{backend}.{driver}" if driver else backend)
    except NoSuchModuleError:
        return False
    return True


def _connect_args(url: Any) -> dict[str, Any]:
    """A connect timeout, and on PostgreSQL an ``application_name`` the URL does not set."""
    args = _connect_timeout_args(url)
    if url.get_backend_name() == "postgresql" and "application_name" not in url.query:
        driver = url.get_driver_name()
        if driver in ("psycopg", "psycopg2"):
            # libpq's fallback: PGAPPNAME and the URL's own setting still win.
            args["fallback_application_name"] = APPLICATION_NAME
        elif driver == "asyncpg" and not os.environ.get("PGAPPNAME"):
            args["server_settings"] = {"application_name": APPLICATION_NAME}
    return args


def _connect_timeout_args(url: Any) -> dict[str, Any]:
    """A connect timeout, so an unreachable server fails in seconds, not minutes."""
    driver = url.get_driver_name()
    if "timeout" in url.query or "connect_timeout" in url.query:
        return {}
    if driver == "pymysql" and "read_timeout" not in url.query:
        # PyMySQL's connect_timeout ends with the TCP connect: a server that accepts but never
        # answers would hang the handshake forever. Bound it too (lifted once connected).
        return {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": CONNECT_TIMEOUT}
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
    from sqlalchemy.engine import Connection
    from sqlalchemy.exc import NoSuchModuleError
    from sqlalchemy.pool import NullPool

    from migratectl.locking import sqlite_file

    url = _with_available_driver(parse_url(url_text))
    backend = url.get_backend_name()
    if backend == "sqlite" and readonly:
        database = sqlite_file(url)
        if database is not None and not database.exists():
            url = url.set(database=":memory:", query={})
    try:
        dialect_cls = url.get_dialect()
    except NoSuchModuleError:
        raise ConfigError(
            f"The database URL names an unknown dialect or driver: {url.drivername!r}.",
            hint=_unknown_dialect_hint(url.drivername),
        ) from None
    engine: Any
    kwargs: dict[str, Any] = {"poolclass": NullPool, "connect_args": _connect_args(url)}
    if not hasattr(Connection, "commit"):
        # SQLAlchemy 1.4: the 2.0-style Connection (autobegin, commit()) is asked for.
        kwargs["future"] = True
    try:
        if getattr(dialect_cls, "is_async", False):
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(url, **kwargs)
            sync_engine = engine.sync_engine
        else:
            engine = sync_engine = create_engine(url, **kwargs)
    except ImportError as exc:
        # SQLAlchemy's asyncio support re-raises a missing greenlet without the module's name.
        module = exc.name or getattr(exc.__cause__, "name", None)
        if module is None and "greenlet" in str(exc):
            module = "greenlet"
        if module == "greenlet":
            raise ConfigError(
                f"The database URL {url.drivername!r} is asynchronous, and SQLAlchemy needs the "
                "greenlet package for that; it is not installed.",
                hint="Install it: pip install 'migratectl[async]' (or pip install greenlet).",
            ) from None
        raise ConfigError(
            f"The database driver for {url.drivername!r} is not installed "
            f"(no module named {module!r}).",
            hint=_driver_hint(url, is_async=getattr(dialect_cls, "is_async", False), module=module),
        ) from None
    if backend == "sqlite":
        _make_sqlite_ddl_transactional(sync_engine, event, readonly=readonly)
    if "read_timeout" in kwargs["connect_args"]:
        _lift_pymysql_read_timeout(sync_engine, event)
    if url.get_driver_name() == "pymysql":
        _send_pymysql_password_as_utf8(sync_engine, event)
    return engine


def _send_pymysql_password_as_utf8(engine: Engine, event: Any) -> None:
    """PyMySQL encodes a password as Latin-1 and fails on any other character; the server
    knows such a password by its UTF-8 bytes (what the mysql client and mysqlclient send),
    and PyMySQL sends bytes as they are."""

    @event.listens_for(engine, "do_connect")
    def _utf8_password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        password = cparams.get("password")
        if isinstance(password, str):
            try:
                password.encode("latin-1")
            except UnicodeEncodeError:
                cparams["password"] = password.encode("utf-8")


def _lift_pymysql_read_timeout(engine: Engine, event: Any) -> None:
    """Once connected, statements may run as long as they need (a migration can take hours)."""

    @event.listens_for(engine, "connect")
    def _no_read_timeout(dbapi_connection: Any, _record: Any) -> None:
        if hasattr(dbapi_connection, "_read_timeout"):
            dbapi_connection._read_timeout = None


def _unknown_dialect_hint(drivername: str) -> str:
    if drivername == "postgresql+psycopg":
        import sqlalchemy

        return (
            f"SQLAlchemy {sqlalchemy.__version__} has no dialect for psycopg 3 (it came with "
            "SQLAlchemy 2.0): use a postgresql+psycopg2:// URL with psycopg2 installed "
            "(pip install psycopg2-binary), or upgrade SQLAlchemy."
        )
    return "Check the part before :// (for example postgresql+psycopg, mysql+pymysql, sqlite)."


def _driver_hint(url: Any, *, is_async: bool, module: str | None) -> str:
    """What to install for ``url``: our extra, or the driver itself and our alternative."""
    ours = _OUR_DRIVERS.get((url.get_backend_name(), bool(is_async)))
    if ours is None or not _has_dialect(ours[0]):
        return f"Install the {module} package."
    drivername, extra = ours
    # A URL without a driver ("postgresql://") falls back to ours when it is installed.
    if url.drivername in (drivername, url.get_backend_name()):
        return f"Install it: pip install 'migratectl[{extra}]'."
    return (
        f"Install the {module} package, or use migratectl's driver: "
        f"pip install 'migratectl[{extra}]' and a {drivername}:// URL."
    )


def _make_sqlite_ddl_transactional(engine: Engine, event: Any, *, readonly: bool) -> None:
    """SQLite can roll back DDL, but Python's driver does not BEGIN before it. Take over.

    ``readonly``: no BEGIN at all, so each statement is its own transaction and holds
    SQLite's shared lock only while it runs; a read-only command that imports the models or
    compares for a while between two reads never makes a concurrent writer fail with
    "database is locked".
    """

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    if readonly:
        return

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def _database_error(exc: BaseException, url_text: str, name: str = "") -> DatabaseError:
    original = getattr(exc, "orig", None) or exc
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    if len(args) == 2 and isinstance(args[0], int):  # MySQL drivers: (code, message)
        detail = f"{args[1]} (error {args[0]})"
    else:
        text = str(original).strip()
        detail = text.splitlines()[0] if text else type(original).__name__
    which = f"database {name!r}" if name else "database"
    return DatabaseError(
        f"Cannot connect to the {which} {mask_url(url_text)}: {detail}",
        hint=_connection_hint(url_text, detail),
    )


def _connection_hint(url_text: str, detail: str) -> str:
    """What to do, judged from the driver's message."""
    lowered = detail.lower()
    if url_text.startswith("sqlite"):
        return "Check that the database file's folder exists and is writable."
    if "unknown database" in lowered or ("database" in lowered and "does not exist" in lowered):
        return "Create the database (CREATE DATABASE), or fix its name in the URL."
    if any(
        marker in lowered
        for marker in ("access denied", "authentication failed", "role", "password", "login")
    ):
        return (
            "The server refused the login: check the user name and password in the URL, "
            "and that this user may connect to this database."
        )
    return "Check that the server is running and reachable at that host and port."


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
        import asyncio

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
                    connection = await stack.enter_async_context(engine.connect())
                except (DBAPIError, OSError) as exc:
                    raise _database_error(exc, urls[name], name) from exc
                sync_connections[name] = connection.sync_connection
                first_async = first_async or connection
            else:
                stack.callback(engine.dispose)
                sync_connections[name] = stack.enter_context(_connect(engine, name, urls[name]))
        return await first_async.run_sync(lambda _: fn(sync_connections))


@contextmanager
def _connect(engine: Engine, name: str, url_text: str) -> Iterator[Connection]:
    connection = _open(engine, name, url_text)
    with connection:
        yield connection


def _open(engine: Engine, name: str, url_text: str) -> Connection:
    from sqlalchemy.exc import DBAPIError

    try:
        return engine.connect()
    except (DBAPIError, OSError) as exc:
        raise _database_error(exc, url_text, name) from exc


def connects_over_network(url_text: str) -> bool:
    """A server database with a sync driver: connecting and reading are mostly waiting."""
    from sqlalchemy.exc import NoSuchModuleError

    url = parse_url(url_text)
    try:
        return url.get_backend_name() != "sqlite" and not url.get_dialect().is_async
    except (NoSuchModuleError, ImportError):
        return False  # the usual path reports it


# What the read-ahead thread uses beyond SQLAlchemy's core and the engine's dialect and driver
# (imported with the engine): see migratectl.import_guard. sqlalchemy.orm is among them though
# the thread imports none of it: while it is being imported, it registers its functions in
# SQLAlchemy's inspection registry, which Core consults for every bound parameter, so the
# thread would run code of a half-imported module (the models import it on the main thread).
_READ_AHEAD_MODULES = (
    "sqlalchemy.orm",
    "sqlalchemy.engine.reflection",
    "migratectl.reflection",
    "encodings.idna",  # PyMySQL encodes the host name
    "psycopg2.extras",  # SQLAlchemy's psycopg2 dialect, on connect
)


@contextmanager
def connection_ahead(
    url_text: str, read: Callable[[Connection], T]
) -> Iterator[Callable[[], tuple[Connection, T]]]:
    """Connect (read-only) to ``url_text`` and call ``read`` on the connection in a thread,
    while the caller goes on with its own work (importing the models). The function yielded
    waits for the thread and returns the connection and what ``read`` returned, or raises
    what connecting or reading raised. The connection is closed on leaving.

    The thread imports nothing (migratectl.import_guard): what it uses is imported here,
    before it starts; were it to need anything else, its work is redone on this thread.
    """
    import threading

    from migratectl.import_guard import ImportRefused, guarded, preload

    engine = make_engine(url_text, readonly=True)
    preload(_READ_AHEAD_MODULES)
    outcome: dict[str, Any] = {}

    def work() -> None:
        with guarded(threading.get_ident()):
            try:
                outcome["connection"] = _open(engine, "", url_text)
                outcome["value"] = read(outcome["connection"])
            except BaseException as exc:  # handed to the waiting thread
                outcome["error"] = exc

    thread = threading.Thread(target=work, name="migratectl-connect", daemon=True)
    thread.start()

    def wait() -> tuple[Connection, T]:
        thread.join()
        if isinstance(outcome.get("error"), ImportRefused):
            if "connection" in outcome:
                outcome.pop("connection").close()
            outcome.clear()
            outcome["connection"] = _open(engine, "", url_text)
            outcome["value"] = read(outcome["connection"])
        if "error" in outcome:
            raise outcome["error"]
        return outcome["connection"], outcome["value"]

    try:
        yield wait
    finally:
        # Interrupted while the thread still waits on the network: the process is ending,
        # and the daemon thread with it; otherwise the connection is closed here.
        if not thread.is_alive():
            if "connection" in outcome:
                outcome["connection"].close()
            engine.dispose()


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
    from migratectl.autogen import rewrite_operations
    from migratectl.autogen.imports import render_item_with_imports
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
    # Ours first: the user's own hook sees (and has the last word on) the rewritten operations.
    options["process_revision_directives"] = _chain(
        rewrite_operations, options.get("process_revision_directives")
    )
    # Theirs first here: what the user's render_item renders, it also imports.
    options["render_item"] = render_item_with_imports(options.get("render_item"))
    return options


def _chain(*callbacks: Callable[..., None] | None) -> Callable[..., None]:
    present = [cb for cb in callbacks if cb is not None]

    def call_all(*args: Any, **kw: Any) -> None:
        for cb in present:
            cb(*args, **kw)

    return call_all


class AppliedRevisions:
    """What an upgrade, downgrade or stamp did to the (default) database: its revisions
    before and after (read under the migration lock) and each step, as Alembic reports it
    once the version table records it."""

    def __init__(self) -> None:
        self.before: list[str] | None = None
        self.after: list[str] = []
        self.steps: list[dict[str, Any]] = []
        self._since = time.monotonic()

    def watch(self, migration_context: Any) -> None:
        """Learn the revisions before the run from Alembic itself: it reads them inside the
        run's transaction and hands them to the function that plans the steps."""
        steps_of = getattr(migration_context, "_migrations_fn", None)
        if steps_of is None:
            return

        def planned(heads: Any, ctx: Any) -> Any:
            if self.before is None:  # the default database comes first
                self.before = sorted(heads or ())
                self.after = list(self.before)
            self._since = time.monotonic()
            return steps_of(heads, ctx)

        migration_context._migrations_fn = planned

    def revision_done(self, *, step: Any, heads: Any, **_: Any) -> None:
        now = time.monotonic()
        if step.is_stamp:
            direction, revision = "stamp", ",".join(step.destination_revision_ids) or "base"
        elif step.is_upgrade:
            direction, revision = "upgrade", step.up_revision_id
        else:
            direction, revision = "downgrade", step.up_revision_id
        self.steps.append(
            {"revision": revision, "direction": direction, "seconds": round(now - self._since, 3)}
        )
        self._since = now
        self.after = sorted(heads or ())


class _StatementLog:
    """What the running command has done, and which of it is committed: the statements of
    the running revision (in order, ``statements[:committed]`` committed), the revisions
    completed before it, and the heads the version table held at the last commit.

    A commit is what SQLAlchemy reports (Alembic's per-revision commit, the one that
    ``autocommit_block()`` makes on entry), a statement run in AUTOCOMMIT mode (inside that
    block), or, on MySQL/MariaDB, a DDL statement (which commits everything before it)."""

    def __init__(self, *, implicit_ddl_commit: bool = False) -> None:
        self.implicit_ddl_commit = implicit_ddl_commit
        self.statements: list[str] = []
        self.committed = 0
        self.heads: list[str] | None = None  # at the last commit; None: as before the command
        self.committed_steps: list[Any] = []  # Alembic's MigrationInfo, in order
        self.uncommitted_steps: list[Any] = []
        self._heads_done: list[str] | None = None  # after the last revision that completed
        self._before_commit: tuple[int, list[str] | None, int] = (0, None, 0)

    def watch(self, migration_context: Any) -> None:
        """Know when each revision starts (Alembic's steps are taken one at a time)."""
        steps_of = getattr(migration_context, "_migrations_fn", None)
        if steps_of is None:
            return

        def started_steps(heads: Any, ctx: Any) -> Iterator[Any]:
            self.heads = sorted(head for head in heads if head)  # as Alembic just read them
            for step in steps_of(heads, ctx):
                self.statements.clear()
                self.committed = 0
                yield step

        migration_context._migrations_fn = started_steps

    def after_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        first = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if first not in _NOT_WORK:
            self.statements.append(" ".join(statement.split()))
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT" or (
            self.implicit_ddl_commit and first in _DDL
        ):
            self.commit(conn)

    def commit(self, _conn: Any = None) -> None:
        self._before_commit = (self.committed, self.heads, len(self.committed_steps))
        self.committed = len(self.statements)
        if self._heads_done is not None:
            self.heads = self._heads_done
        self.committed_steps.extend(self.uncommitted_steps)
        self.uncommitted_steps.clear()

    def commit_failed(self) -> Any:
        """SQLAlchemy reports a commit before making it: this one raised, so nothing of it
        was made (the server rolls back a transaction whose COMMIT fails). Returns the step
        whose commit it was, if any."""
        self.committed, self.heads, count = self._before_commit
        self.uncommitted_steps[:0] = self.committed_steps[count:]
        del self.committed_steps[count:]
        return self.uncommitted_steps.pop() if self.uncommitted_steps else None

    def revision_done(self, *, heads: Any = None, step: Any = None, **_: Any) -> None:
        # The statements stay listed until the next revision starts: its commit may fail.
        self._heads_done = sorted(heads or ())
        if step is not None:
            self.uncommitted_steps.append(step)

    @property
    def stayed(self) -> list[str]:
        return self.statements[: self.committed]

    @property
    def undone(self) -> list[str]:
        return self.statements[self.committed :]


_RELATIVE_SUFFIX = re.compile(r"[+-]\d+$")


def check_targets(context: Any) -> None:
    """Resolve the revisions the command was given before connecting, so an unknown one (or
    "head" among several heads) is refused before anything is written: no SQLite file, no
    lock file, no version table (MySQL's DDL would keep one). The revision files are all
    loaded here, before the run: one that imports the application (and its logging set-up)
    has done so before migratectl's output takes Alembic's log lines again."""
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    script: ScriptDirectory = context.script
    script.get_heads()
    for target in context.config.attributes.get(TARGETS) or ():
        for token in str(target).split(":"):
            token = token.strip()
            if token in ("", "base", "heads", "current") or _RELATIVE_SUFFIX.fullmatch(token):
                continue
            try:
                script.get_revisions(token)
                continue
            except (RevisionError, CommandError) as exc:
                error: Exception = exc
            relative_to = _RELATIVE_SUFFIX.sub("", token).rstrip("@")
            if relative_to and relative_to != token:
                try:  # "ae10+2", "head-1", "branch@+1": Alembic resolves the step itself
                    script.get_revisions(relative_to)
                    continue
                except (RevisionError, CommandError) as exc:
                    error = exc
            raise CommandError(str(error)) from None


def reclaim_logging(context: Any) -> None:
    """Route Alembic's log lines to migratectl's output again: env.py, the models or the
    application they import may have configured logging since the command started."""
    hold = context.config.attributes.get(LOGGING)
    if hold is not None:
        hold.take()


def run_migrations(context: Any, **overrides: Any) -> None:
    """Run this migration repository's migrations: the body of a migratectl env.py.

    Keyword arguments are passed on to ``context.configure()`` and win over migratectl.toml
    (for example ``include_object=my_filter``).
    """
    config = context.config
    check_targets(context)
    settings = _settings_of(config)
    settings.activate_sys_path()
    options = configure_options(settings, overrides)
    if wants_models(context) and "target_metadata" not in overrides:
        options["target_metadata"] = load_target_metadata(settings.models, settings)
    reclaim_logging(context)

    if context.is_offline_mode():
        url = settings.require_database_url()
        if parse_url(url).get_backend_name() == "sqlite":
            from migratectl.sqlite_offline import run_offline_on_scratch

            with _failures_reported(context, None):
                run_offline_on_scratch(context, options)
            return
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
    if owns_engine and context.config.attributes.get(WRITES, True):
        end_statements_of_a_dead_client(connection)
    with _locks(context, {"": connection}, options):
        _configure_and_run(context, connection, options, owns_engine=owns_engine)


# How often a PostgreSQL server checks that migratectl's session still has its client.
CLIENT_CONNECTION_CHECK_INTERVAL = "2s"


def end_statements_of_a_dead_client(connection: Connection) -> None:
    """On PostgreSQL 14 and later, have the server look every few seconds whether this
    session's client is still there while a statement runs: a migratectl killed with
    ``kill -9`` (or whose machine died) cannot cancel its statement, and without the check
    the orphaned session would run it to the end, holding the migration lock meanwhile."""
    if connection.dialect.name != "postgresql":
        return
    if (connection.dialect.server_version_info or (0,)) < (14,):
        return
    from sqlalchemy.exc import DBAPIError

    try:
        connection.exec_driver_sql(
            f"SET client_connection_check_interval = '{CLIENT_CONNECTION_CHECK_INTERVAL}'"
        )
        connection.commit()  # a SET in a transaction that rolls back would be undone
    except DBAPIError:  # a platform without the check: "must be set to 0 on this platform"
        connection.rollback()


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
                        version_table=options.get("version_table", "alembic_version"),
                        version_table_schema=options.get("version_table_schema"),
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

    from migratectl.table_locks import table_lock_timeout

    log = _StatementLog(implicit_ddl_commit=connection.dialect.name in ("mysql", "mariadb"))
    output: Output = context.config.attributes.get(OUTPUT) or Output()
    progress = _RevisionProgress(output)
    options = dict(options)
    applied: AppliedRevisions | None = context.config.attributes.get(APPLIED)
    options["on_version_apply"] = _chain(
        log.revision_done,
        progress.revision_done,
        applied.revision_done if applied is not None else None,
        # A revision may import the application (and its logging set-up) as it runs.
        lambda **_: reclaim_logging(context),
        options.get("on_version_apply"),
    )
    if owns_engine and connection.dialect.name == "sqlite":
        options.setdefault("transactional_ddl", True)
    if not context.config.attributes.get(WRITES, True):
        # Alembic creates the version table before any comparison; MySQL's DDL would keep it.
        options.setdefault("dont_mutate", True)
    settings = _settings_of(context.config)
    migrates = owns_engine and context.config.attributes.get(WRITES, True)
    ddl_timeout = settings.ddl_lock_timeout if migrates and not wants_models(context) else None
    event.listen(connection, "after_cursor_execute", log.after_execute)
    event.listen(connection, "commit", log.commit)
    try:
        with table_lock_timeout(connection, ddl_timeout, settings.ddl_retries, output.info) as ddl:
            context.configure(connection=connection, **options)
            if wants_models(context):
                from migratectl.reflection import install

                install(context.get_context())
            else:
                progress.watch(context.get_context())
                if applied is not None:
                    applied.watch(context.get_context())
                log.watch(context.get_context())
            while True:
                try:
                    with progress, _failures_reported(context, log), context.begin_transaction():
                        context.run_migrations(**run_kwargs)
                    break
                except MigrationFailed as failure:
                    if ddl is None or not ddl.retry(failure):  # ddl_retries: run it again
                        raise
    finally:
        event.remove(connection, "commit", log.commit)
        event.remove(connection, "after_cursor_execute", log.after_execute)


class _RevisionProgress:
    """On a terminal, a bar over the revisions an upgrade or downgrade applies.

    The count is known once Alembic has read the current revision and asked for the steps;
    until then (and with one step, or none) nothing is shown. The per-revision log lines
    still print, above the bar.
    """

    def __init__(self, output: Output) -> None:
        self.output = output
        self.bar = ExitStack()
        self.advance: Callable[[], None] | None = None

    def watch(self, migration_context: Any) -> None:
        steps_of = getattr(migration_context, "_migrations_fn", None)
        if steps_of is None or not self.output.shows_progress():
            return

        def counted_steps(heads: Any, ctx: Any) -> list[Any]:
            steps = list(steps_of(heads, ctx))
            if len(steps) > 1:
                verb = "Upgrading" if getattr(steps[0], "is_upgrade", True) else "Downgrading"
                self.advance = self.bar.enter_context(self.output.progress(len(steps), verb))
            return steps

        migration_context._migrations_fn = counted_steps

    def revision_done(self, **_: Any) -> None:
        if self.advance is not None:
            self.advance()

    def __enter__(self) -> _RevisionProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.advance = None
        self.bar.close()


@contextmanager
def _failures_reported(context: Any, log: _StatementLog | None) -> Iterator[None]:
    """Turn whatever a revision script raised into MigrationFailed (exit 4), a lost
    connection into DatabaseError (exit 3) when nothing of the revision was committed, and
    Ctrl-C / SIGTERM into Interrupted (exit 130 / 143)."""
    if wants_models(context):
        yield
        return
    from alembic.util import CommandError

    try:
        yield
    except (MigratectlError, CommandError):
        raise  # already a clear message, or Alembic refusing (unknown revision, …)
    except KeyboardInterrupt as exc:  # SIGTERM too (SigtermReceived)
        raise _describe_interrupt(context, exc, log) from exc
    except Exception as exc:
        # Alembic imports the revision files lazily, so one that cannot even be loaded
        # fails in here too; no revision ran, so it is not a migration failure.
        unloadable = unloadable_file_error(exc)
        if unloadable is not None:
            raise unloadable from exc
        committing = None
        if log is not None and _raised_by_commit(exc):
            committing = log.commit_failed()
        if getattr(exc, "connection_invalidated", False) and log is not None:
            raise _describe_lost_connection(context, exc, log, committing) from exc
        raise _describe_failure(context, exc, log, committing) from exc
    except BaseException as exc:  # sys.exit() in a data migration, GeneratorExit, …
        raise _describe_failure(context, exc, log) from exc


def _describe_interrupt(
    context: Any, exc: KeyboardInterrupt, log: _StatementLog | None
) -> Interrupted:
    """What Ctrl-C (or SIGTERM) left behind, told without asking the database (its
    connection may be in the middle of a statement)."""
    revision, where = _failing_revision(context.script, exc)
    terminated = isinstance(exc, SigtermReceived)
    error = Terminated if terminated else Interrupted
    what = "Terminated (SIGTERM)" if terminated else "Interrupted"
    parts = [f"{what} during revision {revision} ({where})." if revision else f"{what}."]
    if context.is_offline_mode() or log is None:
        return error(" ".join(parts))
    parts.append(_database_is_at(log.heads))
    parts.extend(_what_stayed(context.get_context().dialect, log, "interrupted"))
    hint = "Then run the command again." if log.stayed else "Run the command again to continue."
    return error(" ".join(parts), hint=hint)


def _raised_by_commit(exc: BaseException) -> bool:
    return any(frame.name == "_commit_impl" for frame in traceback.extract_tb(exc.__traceback__))


def _describe_lost_connection(
    context: Any, exc: Exception, log: _StatementLog, committing: Any = None
) -> DatabaseError | MigrationFailed:
    """The connection broke while a revision ran: what the server kept is what was
    committed; it rolls back the open transaction when it sees the connection gone."""
    hint = (
        "Check the server and the network between (a restart, a failover, a proxy or "
        "firewall that ends connections), then run the command again."
    )
    revision, where = _failing_revision(context.script, exc)
    if committing is not None and revision is None:
        return DatabaseError(
            "The connection to the database was lost while committing revision "
            f"{committing.up_revision_id}: {_error_text(exc)} Whether the server made that "
            "commit is not known: `migratectl current` shows the revision the database is at.",
            hint=hint,
        )
    during = f" during revision {revision} ({where})" if revision else ""
    parts = [f"The connection to the database was lost{during}: {_error_text(exc)}"]
    parts.append(_database_is_at(log.heads))
    dialect = context.get_context().dialect
    parts.extend(_what_stayed(dialect, log, "interrupted", lost=True))
    statement = getattr(exc, "statement", None)
    if statement and log.implicit_ddl_commit and statement.split(None, 1)[0].upper() in _DDL:
        parts.append(
            f"The statement that was running ({_shorten(statement)}) may still complete on the "
            f"server, which commits DDL by itself: look before running the revision again."
        )
    if log.stayed:
        return MigrationFailed(" ".join(parts), hint=hint)
    return DatabaseError(" ".join(parts), hint=hint)


def _database_is_at(heads: list[str] | None) -> str:
    """Where the version table is, from this command's last commit (None: none yet)."""
    if heads is None:
        return "The database is still at the revision it had before this command."
    return "The database is at " + (", ".join(heads) or "base (no revision)") + "."


def _describe_failure(
    context: Any, exc: BaseException, log: _StatementLog | None, committing: Any = None
) -> MigrationFailed:
    script: ScriptDirectory = context.script
    revision, where = _failing_revision(script, exc)
    if revision is None and committing is not None:  # a deferred constraint, say
        revision, where = committing.up_revision_id, "at its COMMIT"
    error = _error_text(exc)
    message = f"Revision {revision} ({where}) failed: {error}" if revision else f"Failed: {error}"
    details: list[str] = []
    statement = getattr(exc, "statement", None)
    if statement:
        details.append(f"The statement that failed: {_shorten(statement)}.")
    migration_context = context.get_context()
    if not context.is_offline_mode():
        try:
            details.append(_database_is_at(list(migration_context.get_current_heads())))
        except Exception:
            if log is not None:
                details.append(_database_is_at(log.heads))
        if log is not None:
            details.extend(_what_stayed(migration_context.dialect, log))
        else:
            details.append("The failed revision was rolled back.")
    hint = "Fix the revision and run the command again (-v shows the traceback)."
    if isinstance(exc, SystemExit):
        hint = (
            "A revision must not end the process: call a click command's function with "
            "standalone_mode=False (or its callback) rather than the command itself, and run "
            "the command again (-v shows the traceback)."
        )
    elif _is_read_only(exc):
        hint = (
            "The database is read-only for this connection: check the file's permissions or "
            "mode=ro in the URL (SQLite), or the user's privileges, then run the command again."
        )
    return MigrationFailed(" ".join([message, *details]), hint=hint)


def _error_text(exc: BaseException) -> str:
    """``Type: first line``; for a database error, the driver's error rather than the wrapper."""
    original = getattr(exc, "orig", None)
    if isinstance(original, BaseException):
        lines = str(original).strip().splitlines()
        text = f"{type(original).__name__}: {lines[0] if lines else ''}".strip()
    else:
        text = traceback.format_exception_only(type(exc), exc)[-1].strip().splitlines()[0]
    return text if text.endswith((".", "!", "?")) else text + "."


def _shorten(statement: str, limit: int = 200) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_DDL = ("CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE")
# Statements that change nothing a user would have to undo.
_NOT_WORK = ("SELECT", "SHOW", "PRAGMA", "DESCRIBE", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT")


def _what_stayed(
    dialect: Any, log: _StatementLog, which: str = "failed", *, lost: bool = False
) -> list[str]:
    """Sentences on what of this command stayed committed and what was rolled back."""
    parts: list[str] = []
    reverted = [
        step.up_revision_id
        for step in log.committed_steps
        if not step.is_upgrade and not step.is_stamp
    ]
    if reverted:
        before = "it failed" if which == "failed" else "the interrupt"
        parts.append(f"Reverted and committed before {before}: " + ", ".join(reverted) + ".")
    stayed, undone = log.stayed, log.undone
    if not stayed:
        if lost:
            text = (
                f"Nothing of the {which} revision was committed: the server rolls back its "
                "open transaction when it sees the connection gone"
            )
        else:
            text = f"The {which} revision was rolled back"
        earlier = [step.up_revision_id for step in log.uncommitted_steps]
        if earlier:
            verb = "applied" if log.uncommitted_steps[0].is_upgrade else "reverted"
            text += (
                f", and with it {', '.join(earlier)}, which this command had {verb} in the "
                "same transaction"
            )
        return [*parts, text + "."]
    if log.implicit_ddl_commit:
        name = "MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL"
        text = (
            f"{name} cannot roll back DDL: these statements of the {which} revision had "
            "already run and stayed: "
        )
    else:
        text = (
            f"These statements of the {which} revision had been committed (autocommit_block() "
            "commits what ran before it and in it) and stayed: "
        )
    text += "; ".join(_shorten(sql) for sql in stayed) + "."
    if undone:
        label = "Not committed, so undone by the server" if lost else "Rolled back"
        text += f" {label}: " + "; ".join(_shorten(sql) for sql in undone) + "."
    parts.append(
        text + " Undo them by hand (or finish the revision's work) before running it again."
    )
    return parts


def _is_read_only(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(marker in text for marker in ("readonly database", "read-only", "read only"))


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
    problem = revision_files_error(exc)
    if problem is not None:
        return problem
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost load: env.py loads the revision files (and a revision may fail to load).
    loader = max(
        (i for i, f in enumerate(frames) if f.name == "load_module_py" and "alembic" in f.filename),
        default=None,
    )
    if loader is None:
        return None
    if any(f.name == "run_migrations" and "alembic" in f.filename for f in frames[loader:]):
        return None  # a revision was running: a migration failure, not a file that cannot load
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


def revision_files_error(exc: BaseException) -> UsageError | None:
    """A UsageError for revision files that do not form a history Alembic can read: a cycle
    of down_revisions, a file without ``down_revision``, a broken symbolic link; else None."""
    cycle = _cycle_of(exc)
    if cycle is not None:
        return UsageError(
            f"The revisions {', '.join(cycle)} form a cycle: following their down_revision "
            "never reaches the first revision.",
            hint="Fix down_revision in one of their files so that the "
            "chain ends at a revision whose down_revision is None.",
        )
    # Which file Alembic was reading: the innermost of its loops over the versions folder.
    path: Any = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        if "alembic" in code.co_filename and code.co_name in ("_load_revisions", "_from_path"):
            path = frame.f_locals.get("file_path", path)
    if path is None:
        return None
    name = _relative(str(path))
    link = Path(path)
    if isinstance(exc, AttributeError) and "down_revision" in str(exc):
        return UsageError(
            f"Cannot load {name}: it has no down_revision variable.",
            hint="Add one: down_revision = None in the first revision, otherwise the id of "
            "the revision it follows (as in the other files).",
        )
    if link.is_symlink():
        target = os.readlink(link)
        what = (
            "a symbolic link that loops back on itself"
            if isinstance(exc, RuntimeError) or _loops(link)
            else f"a symbolic link to {target}, which does not exist"
        )
        return UsageError(
            f"Cannot load {name}: it is {what}.",
            hint="Remove the link, or point it at a revision file.",
        )
    return None  # an error inside the file: unloadable_file_error names its line


def _loops(link: Path) -> bool:
    try:
        link.resolve(strict=True)
    except RuntimeError:
        return True
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _cycle_of(exc: BaseException | None) -> list[str] | None:
    """The revision ids of a cycle Alembic found (raised as is, or wrapped in CommandError)."""
    while exc is not None:
        revision = sys.modules.get("alembic.script.revision")
        if revision is not None and isinstance(exc, revision.CycleDetected):
            return list(exc.revisions)
        exc = exc.__cause__
    return None


def _relative(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


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
    check_targets(context)
    settings = _settings_of(config)
    settings.activate_sys_path()
    options = configure_options(settings, overrides)
    urls = database_urls(settings)
    metadata: dict[str, Any] = {}
    if wants_models(context):
        metadata = {
            name: load_target_metadata(_models_of(settings, name), settings) for name in urls
        }
    reclaim_logging(context)
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
        if config.attributes.get(WRITES, True):
            for connection in connections.values():
                end_statements_of_a_dead_client(connection)
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
