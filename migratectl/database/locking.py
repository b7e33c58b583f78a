"""The database-wide migration lock held by ``upgrade``, ``downgrade`` and ``stamp``.

One lock per database and version table, however the URL spells them:

- PostgreSQL: a session-level advisory lock whose key is derived from ``current_database()``
  and the version table's schema as the server resolves it (``current_schema()`` when
  ``version_table_schema`` is unset), so ``"public"`` and unset take the same lock.
- MySQL/MariaDB: a named ``GET_LOCK`` (names are server-wide) derived from the version
  table's database as resolved (``DATABASE()`` when unset), hashed to fit in 64 characters.
- SQLite: an exclusive ``flock`` on the database file itself: a lock belongs to the file (its
  inode), so a symlink, a hard link, a relative or an absolute path all reach the same lock.
  ``flock`` locks do not interact with the ``fcntl`` locks SQLite takes on the same file.

Each is released when the command ends, and by the server (or the kernel) if the process dies
holding it. Waiting is bounded even when the server stops answering: every poll runs under a
watchdog that shuts the connection's socket down once the lock timeout has passed.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from migratectl.errors import DatabaseError, LockTimeout

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection

T = TypeVar("T")

_POLL_START = 0.05
_POLL_MAX = 0.5
# A poll (a query that answers at once) still unanswered this long after the lock timeout
# means the server stopped answering this session.
_POLL_GRACE = 0.5
UNKNOWN_HOLDER = "another session (the server does not say which)"


def lock_key(database: str, schema: str, version_table: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key of this database's version table."""
    identity = f"migratectl:{database}:{schema}.{version_table}"
    digest = hashlib.blake2b(identity.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def mysql_lock_name(database: str, version_table: str) -> str:
    """The ``GET_LOCK`` name of the version table ``database.version_table``.

    Lock names are server-wide and at most 64 characters: a hash of the full identity keeps
    long names apart (a cut-off name could be shared by two databases).
    """
    digest = hashlib.blake2b(f"{database}.{version_table}".encode(), digest_size=20).hexdigest()
    return f"migratectl:{digest}"


@contextmanager
def migration_lock(
    connection: Connection,
    *,
    timeout: float,
    version_table: str,
    version_table_schema: str | None = None,
    notify: Callable[[str], None],
) -> Iterator[None]:
    """Hold the migration lock for the database behind ``connection``."""
    from sqlalchemy import text

    dialect = connection.dialect.name
    deadline = time.monotonic() + timeout
    guard = _Watchdog(connection)

    def scalar(sql: str, **params: Any) -> Any:
        value = connection.execute(text(sql), params).scalar()
        connection.commit()  # end the autobegun transaction: Alembic must start its own
        return value

    if dialect == "postgresql":
        database, schema = guard.run(
            lambda: connection.execute(
                text("SELECT current_database(), coalesce(CAST(:s AS text), current_schema())"),
                {"s": version_table_schema},
            ).one(),
            until=deadline,
            what="the migration lock",
            timeout=timeout,
        )
        connection.commit()
        key = lock_key(database, schema or "", version_table)
        what = "PostgreSQL advisory lock"
        lock = _Lock(
            what,
            try_acquire=lambda: bool(scalar("SELECT pg_try_advisory_lock(:k)", k=key)),
            holder=_server_holder(connection, lambda c: _postgresql_holder(c, key)),
            release=lambda: _release(connection, "SELECT pg_advisory_unlock(:k)", {"k": key}),
        )
    elif dialect in ("mysql", "mariadb"):
        database = guard.run(
            lambda: scalar("SELECT DATABASE()"),
            until=deadline,
            what="the migration lock",
            timeout=timeout,
        )
        name = mysql_lock_name(version_table_schema or database or "", version_table)
        server = "MariaDB" if getattr(connection.dialect, "is_mariadb", False) else "MySQL"
        lock = _Lock(
            f"{server} lock {name!r}",
            try_acquire=lambda: scalar("SELECT GET_LOCK(:n, 0)", n=name) == 1,
            holder=_server_holder(connection, lambda c: _mysql_holder(c, name, server)),
            release=lambda: _release(connection, "SELECT RELEASE_LOCK(:n)", {"n": name}),
        )
    elif dialect == "sqlite":
        database_file = sqlite_file(connection.engine.url)
        if database_file is None:
            yield  # a private in-memory database cannot be shared
            return
        with _file_lock(connection, database_file, timeout=timeout, notify=notify):
            yield
        return
    else:
        yield
        return

    _wait(lock, guard, deadline=deadline, timeout=timeout, notify=notify)
    try:
        yield
    finally:
        lock.release()


class _Lock:
    def __init__(
        self,
        what: str,
        *,
        try_acquire: Callable[[], bool],
        holder: Callable[[], str | None],
        release: Callable[[], None],
    ) -> None:
        self.what = what
        self.try_acquire = try_acquire
        self.holder = holder
        self.release = release


def _wait(
    lock: _Lock,
    guard: _Watchdog,
    *,
    deadline: float,
    timeout: float,
    notify: Callable[[str], None],
) -> None:
    """Poll ``lock`` until it is acquired or ``timeout`` seconds have passed."""
    delay = _POLL_START
    holder: str | None = None
    what = f"the migration lock ({lock.what})"
    while not guard.run(lock.try_acquire, until=deadline, what=what, timeout=timeout):
        now = time.monotonic()
        if holder is None or now >= deadline:
            holder = guard.run(
                lambda: _asked(lock.holder), until=deadline, what=what, timeout=timeout
            ) or (holder or UNKNOWN_HOLDER)
        if now >= deadline:
            raise LockTimeout(
                f"The migration lock ({lock.what}) was held by {holder} for longer than the "
                f"lock timeout of {timeout:g} s.",
                hint="Nothing was changed; it is safe to retry. Raise --lock-timeout / "
                "lock_timeout to wait longer.",
            )
        if delay == _POLL_START:
            notify(f"Waiting for the migration lock ({lock.what}), held by {holder}…")
        time.sleep(min(delay, max(deadline - now, 0.0)))
        delay = min(delay * 2, _POLL_MAX)


def _asked(holder: Callable[[], str | None]) -> str | None:
    """Who holds the lock, or None when the server would not say (privileges, old versions)."""
    from sqlalchemy.exc import DBAPIError

    try:
        return holder()
    except DBAPIError as exc:
        if exc.connection_invalidated or _is_disconnect(exc):
            raise
        return None


def _server_holder(
    connection: Connection, ask: Callable[[Connection], str | None]
) -> Callable[[], str | None]:
    def asked() -> str | None:
        try:
            return ask(connection)
        except Exception:
            if not connection.invalidated:
                connection.rollback()
            raise

    return asked


class _Watchdog:
    """Runs a query that should answer at once, and gives up on a server that stopped answering.

    A driver blocks on its socket with no read timeout; a timer (started here, importing
    nothing) shuts the socket down at the deadline, which makes the driver raise. Then a new
    connection tells a gone server (exit 3) from a stuck session (exit 5).
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.fileno = _socket_fileno(connection)

    def run(self, query: Callable[[], T], *, until: float, what: str, timeout: float) -> T:
        from sqlalchemy.exc import DBAPIError

        fired = threading.Event()
        timer: threading.Timer | None = None
        if self.fileno is not None:
            fire_in = max(until, time.monotonic() + _POLL_GRACE) - time.monotonic()
            timer = threading.Timer(fire_in, _shut_down, (self.fileno, fired))
            timer.daemon = True
            timer.start()
        started = time.monotonic()
        try:
            return query()
        except DBAPIError as exc:
            if fired.is_set():
                raise self._stopped_answering(what, time.monotonic() - started, timeout) from None
            if exc.connection_invalidated or _is_disconnect(exc):
                detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
                raise DatabaseError(
                    f"The connection to the database was lost while waiting for {what}: "
                    f"{detail}. Nothing was changed.",
                    hint="Check that the server is running and reachable, then run the "
                    "command again.",
                ) from None
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _stopped_answering(self, what: str, waited: float, timeout: float) -> Exception:
        silence = f"while migratectl waited for {what} (no answer for {waited:.0f} s)"
        try:
            with self.connection.engine.connect() as probe:  # bounded by the connect timeout
                probe.exec_driver_sql("SELECT 1")
        except Exception as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return DatabaseError(
                f"The database server is gone: it stopped answering {silence}, and a new "
                f"connection failed: {detail[0] if detail else type(exc).__name__}. "
                "Nothing was changed.",
                hint="Check that the server is running and reachable, then run the command again.",
            )
        return LockTimeout(
            f"The migration lock was not acquired within the lock timeout of {timeout:g} s: "
            f"the database server stopped answering this session {silence}, though it "
            "accepts new connections.",
            hint="Nothing was changed; it is safe to retry.",
        )


def _shut_down(fileno: int, fired: threading.Event) -> None:
    """Make the blocked driver return: its socket reads end of file. (Runs in a timer thread;
    everything it uses is imported already.)"""
    fired.set()
    try:
        sock = socket.socket(fileno=os.dup(fileno))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def _socket_fileno(connection: Connection) -> int | None:
    """The file descriptor of the connection's socket, for the drivers that expose it."""
    try:
        driver: Any = connection.connection.driver_connection
    except Exception:
        return None
    for attempt in (
        lambda: driver.fileno(),  # psycopg, psycopg2, mysqlclient
        lambda: driver._sock.fileno(),  # PyMySQL
        lambda: driver._transport.get_extra_info("socket").fileno(),  # asyncpg
    ):
        try:
            fileno = attempt()
        except Exception:
            continue
        if isinstance(fileno, int) and fileno >= 0:
            return fileno
    return None


def _is_disconnect(exc: Exception) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


def _postgresql_holder(connection: Connection, key: int) -> str | None:
    """The session holding advisory lock ``key`` in this database, as the server reports it."""
    from sqlalchemy import text

    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    row = connection.execute(
        text(
            "SELECT a.pid, a.application_name, host(a.client_addr), a.backend_start, a.state "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid::bigint = :high AND l.objid::bigint = :low "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"high": high, "low": low},
    ).first()
    connection.commit()
    if row is None:
        return None
    pid, application, client, since, state = row
    parts = [f"application_name {application!r}" if application else "no application_name"]
    parts.append(f"client {client}" if client else "local socket")
    if since is not None:
        parts.append(f"connected since {since:%Y-%m-%d %H:%M:%S %Z}".rstrip())
    if state:
        parts.append(str(state))
    return f"PostgreSQL session pid {pid} ({', '.join(parts)})"


def _mysql_holder(connection: Connection, name: str, server: str) -> str | None:
    """The connection holding ``GET_LOCK`` ``name``, as the server reports it."""
    from sqlalchemy import text

    holder = connection.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": name}).scalar()
    row = None
    if holder is not None:
        row = connection.execute(
            text(
                "SELECT USER, HOST, COMMAND, TIME FROM information_schema.PROCESSLIST "
                "WHERE ID = :id"
            ),
            {"id": holder},
        ).first()
    connection.commit()
    if holder is None:
        return None
    if row is None:
        return f"{server} connection {holder}"
    user, host, command, seconds = row
    return f"{server} connection {holder} (user {user}@{host}, {command} for {seconds} s)"


def _release(connection: Connection, sql: str, params: dict[str, object]) -> None:
    from sqlalchemy import text

    try:
        if connection.in_transaction():
            connection.rollback()
        connection.execute(text(sql), params)
        connection.commit()
    except Exception:
        # The connection is broken or closing; the server drops a session lock with it.
        pass


def sqlite_file(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database.

    Handles SQLite URI filenames (``sqlite:///file:app.db?mode=ro&uri=true``), whose
    ``database`` part is a ``file:`` URI rather than a path.
    """
    from urllib.parse import unquote, urlsplit

    database = url.database or ""
    uri = str(url.query.get("uri", "")).lower() in ("true", "1", "yes", "on")
    if uri and database.startswith("file:"):
        database = unquote(urlsplit(database).path)
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    return Path(database)


def _open_for_lock(database: Path) -> BinaryIO:
    """The database file, opened for reading only (``flock`` needs no write access).

    Connecting has created it; should it be missing all the same, a lock file beside its real
    path stands in.
    """
    try:
        return open(database, "rb")
    except FileNotFoundError:
        real = Path(os.path.realpath(database))
        return open(real.with_name(real.name + ".migratectl-lock"), "a+b")


@contextmanager
def _file_lock(
    connection: Connection, database: Path, *, timeout: float, notify: Callable[[str], None]
) -> Iterator[None]:
    import fcntl

    from sqlalchemy import event

    handle = _open_for_lock(database)

    def try_flock() -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    lock = _Lock(
        f"flock on {database.name}",
        try_acquire=try_flock,
        holder=lambda: _flock_holder(handle.fileno()),
        release=lambda: fcntl.flock(handle.fileno(), fcntl.LOCK_UN),
    )
    try:
        _wait(
            lock, _NoWatchdog(), deadline=time.monotonic() + timeout, timeout=timeout, notify=notify
        )
        try:
            yield
        finally:
            lock.release()
    finally:
        # Closing any descriptor of the database file drops every fcntl lock this process
        # holds on it — SQLite's own included (an idle WAL connection keeps a shared one).
        # So the file is closed once SQLite's connection is gone: when its engine is disposed.
        event.listen(connection.engine, "engine_disposed", lambda _: handle.close(), once=True)


class _NoWatchdog(_Watchdog):
    """SQLite: no server that could stop answering."""

    def __init__(self) -> None:
        self.fileno = None

    def run(self, query: Callable[[], T], *, until: float, what: str, timeout: float) -> T:
        return query()


def _flock_holder(fileno: int) -> str | None:
    """The process holding a ``flock`` on this file, from Linux's /proc/locks."""
    stat = os.fstat(fileno)
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        with open("/proc/locks") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:2146425 0 EOF"; waiters are marked "->"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
            pid = fields[4]
            if pid == str(os.getpid()):
                continue
            return f"process {pid}{_command_line(pid)}"
    return None


def _command_line(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = [w.decode(errors="replace") for w in cmdline.read().split(b"\0") if w]
    except OSError:
        return ""
    if not words:
        return ""
    words[0] = os.path.basename(words[0])
    if len(words) > 1 and words[0].startswith("python"):
        words = [os.path.basename(words[1]), *words[2:]]
    return " (" + " ".join(words)[:80] + ")"
