"""Engines and drivers: a URL made into an engine with the right driver, timeouts and
SQLite's transactional DDL; connections opened with database errors translated (exit 3);
and the read-ahead connection that ``check`` opens in a thread while the models import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from migratectl.errors import (
    ConfigError,
    DatabaseError,
)
from migratectl.output import mask_url

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


T = TypeVar("T")


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


def with_available_driver(url: Any) -> Any:
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


def is_memory_sqlite(url: Any) -> bool:
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

    from migratectl.database.locking import sqlite_file

    url = with_available_driver(parse_url(url_text))
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


def database_error(exc: BaseException, url_text: str, name: str = "") -> DatabaseError:
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
        raise database_error(exc, url_text, name) from exc


def connects_over_network(url_text: str) -> bool:
    """A server database with a sync driver: connecting and reading are mostly waiting."""
    from sqlalchemy.exc import NoSuchModuleError

    url = parse_url(url_text)
    try:
        return url.get_backend_name() != "sqlite" and not url.get_dialect().is_async
    except (NoSuchModuleError, ImportError):
        return False  # the usual path reports it


# What the read-ahead thread uses beyond SQLAlchemy's core and the engine's dialect and driver
# (imported with the engine): see migratectl.database.import_guard. sqlalchemy.orm is among
# them though the thread imports none of it: while it is being imported, it registers its
# functions in SQLAlchemy's inspection registry, which Core consults for every bound parameter,
# so the thread would run code of a half-imported module (the models import it on the main thread).
_READ_AHEAD_MODULES = (
    "sqlalchemy.orm",
    "sqlalchemy.engine.reflection",
    "migratectl.database.reflection",
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

    The thread imports nothing (migratectl.database.import_guard): what it uses is imported here,
    before it starts; were it to need anything else, its work is redone on this thread.
    """
    import threading

    from migratectl.database.import_guard import ImportRefused, guarded, preload

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
                    raise database_error(exc, urls[name], name) from exc
                sync_connections[name] = connection.sync_connection
                first_async = first_async or connection
            else:
                stack.callback(engine.dispose)
                sync_connections[name] = stack.enter_context(_connect(engine, name, urls[name]))
        return await first_async.run_sync(lambda _: fn(sync_connections))
