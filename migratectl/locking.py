"""The database-wide migration lock held by ``upgrade``, ``downgrade`` and ``stamp``.

PostgreSQL: a session-level advisory lock. MySQL/MariaDB: a named ``GET_LOCK``. SQLite: an
exclusive ``flock`` on a file beside the database file. Each is released when the command
ends, and by the server (or the kernel) if the process dies holding it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from migratectl.errors import LockTimeout

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection

_POLL_START = 0.05
_POLL_MAX = 0.5


def _wait(
    try_acquire: Callable[[], bool], *, timeout: float, what: str, notify: Callable[[str], None]
) -> None:
    """Call ``try_acquire`` until it succeeds or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    delay = _POLL_START
    announced = False
    while not try_acquire():
        now = time.monotonic()
        if now >= deadline:
            raise LockTimeout(
                f"Another migratectl process held the migration lock ({what}) for longer than "
                f"the lock timeout of {timeout:g} s.",
                hint="Nothing was changed; it is safe to retry. Raise --lock-timeout / "
                "lock_timeout to wait longer.",
            )
        if not announced:
            notify(f"Waiting for the migration lock ({what}), held by another process…")
            announced = True
        time.sleep(min(delay, max(deadline - now, 0.0)))
        delay = min(delay * 2, _POLL_MAX)


def lock_key(version_table: str) -> int:
    """A stable signed 64-bit advisory-lock key for this version table."""
    digest = hashlib.blake2b(f"migratectl:{version_table}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def mysql_lock_name(database: str, version_table: str) -> str:
    """The ``GET_LOCK`` name for this database's version table (names are server-wide)."""
    return f"migratectl:{database}:{version_table}"[:64]  # MySQL allows at most 64 characters


@contextmanager
def migration_lock(
    connection: Connection,
    *,
    timeout: float,
    version_table: str,
    notify: Callable[[str], None],
) -> Iterator[None]:
    """Hold the migration lock for the database behind ``connection``."""
    from sqlalchemy import text

    dialect = connection.dialect.name
    if dialect == "postgresql":
        key = lock_key(version_table)

        def try_pg() -> bool:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            acquired = bool(got.scalar())
            connection.commit()  # end the autobegun transaction; the lock is per session
            return acquired

        _wait(try_pg, timeout=timeout, what="PostgreSQL advisory lock", notify=notify)
        try:
            yield
        finally:
            _release(connection, "SELECT pg_advisory_unlock(:k)", {"k": key})
    elif dialect in ("mysql", "mariadb"):
        database = connection.exec_driver_sql("SELECT DATABASE()").scalar() or ""
        connection.commit()
        name = mysql_lock_name(database, version_table)

        def try_mysql() -> bool:
            got = connection.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name})
            acquired = got.scalar() == 1
            connection.commit()
            return acquired

        _wait(try_mysql, timeout=timeout, what=f"MySQL lock {name!r}", notify=notify)
        try:
            yield
        finally:
            _release(connection, "SELECT RELEASE_LOCK(:n)", {"n": name})
    elif dialect == "sqlite":
        database = sqlite_file(connection.engine.url)
        if database is None:
            yield  # a private in-memory database cannot be shared
            return
        with _file_lock(database, timeout=timeout, notify=notify):
            yield
    else:
        yield


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


def lock_file_of(database: Path) -> Path:
    """The file whose ``flock`` is the migration lock of a SQLite database."""
    return database.with_name(database.name + ".migratectl-lock")


def _open_lock_file(database: Path) -> BinaryIO:
    """The lock file, created if need be; the database file itself when its folder is
    read-only (``flock`` needs no write access, and SQLite's own locks are ``fcntl`` ones)."""
    lock_file = lock_file_of(database)
    try:
        return open(lock_file, "a+b")
    except OSError:
        if lock_file.is_file():  # another user's: reading is enough to flock it
            return open(lock_file, "rb")
        if database.is_file():
            return open(database, "rb")
        raise


@contextmanager
def _file_lock(database: Path, *, timeout: float, notify: Callable[[str], None]) -> Iterator[None]:
    import fcntl

    with _open_lock_file(database) as handle:
        lock_path = Path(handle.name)

        def try_flock() -> bool:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _wait(try_flock, timeout=timeout, what=f"lock file {lock_path.name}", notify=notify)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
