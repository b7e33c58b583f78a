"""``ddl_lock_timeout`` / ``ddl_retries``: how long a migration's statement may wait for a table
lock, so a blocked ``ALTER TABLE`` never queues the application's traffic behind it for long.

- PostgreSQL: ``SET LOCAL lock_timeout`` at the start of every transaction of the run (each
  revision's, with ``transaction_per_migration``). A revision that hits it (SQLSTATE 55P03) is
  rolled back and, while ``ddl_retries`` lasts, retried after 1, 2, 4, … seconds. While the
  revisions run, a second connection watches ``pg_blocking_pids()`` of the migration's
  session, so the final failure can name the sessions that held the lock.
- MySQL / MariaDB: ``SET SESSION lock_wait_timeout`` (whole seconds, at least 1). No retry:
  the revision's DDL before the blocked statement has already committed. The failure names the
  sessions with an open transaction (any of them may hold the table's metadata lock).
- SQLite: not applicable (a whole-database lock, waited for by SQLite's busy timeout).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from migratectl.database.import_guard import guarded
from migratectl.errors import MigrationFailed

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout hit
MYSQL_LOCK_WAIT_TIMEOUT = 1205
_WATCH_EVERY = 0.1  # seconds between two looks at pg_blocking_pids()

_BLOCKERS = """
SELECT pid, application_name, state, query_start, left(regexp_replace(query, '\\s+', ' ', 'g'), 120)
FROM pg_stat_activity WHERE pid = ANY(pg_blocking_pids(%(pid)s)) ORDER BY pid
"""
_MYSQL_TRANSACTIONS = """
SELECT t.trx_mysql_thread_id, p.USER, p.HOST, p.COMMAND, p.TIME, t.trx_started
FROM information_schema.INNODB_TRX t
JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
WHERE t.trx_mysql_thread_id <> CONNECTION_ID() ORDER BY t.trx_started
"""


class TableLockTimeout:
    """The ``ddl_lock_timeout`` of one migration connection, and its retries."""

    def __init__(
        self, connection: Connection, timeout: float, retries: int, notify: Callable[[str], None]
    ) -> None:
        self.connection = connection
        self.timeout = timeout
        self.retries = retries
        self.notify = notify
        self.attempt = 0
        self.watcher: _BlockerWatch | None = None

    def retry(self, failure: MigrationFailed) -> bool:
        """After a failed run: True when it hit the lock timeout and should run again (after
        the pause); otherwise False, with what held the lock added to ``failure``."""
        cause = failure.__cause__
        dialect = self.connection.dialect.name
        if dialect == "postgresql" and _sqlstate(cause) == LOCK_NOT_AVAILABLE:
            held_by = self.watcher.describe() if self.watcher else None
            if self.watcher:
                self.watcher.forget()
            who = f", held by {held_by}" if held_by else ""
            if self.attempt < self.retries:
                self.attempt += 1
                pause = 2 ** (self.attempt - 1)
                self.notify(
                    f"A table lock was not granted within ddl_lock_timeout ({self.timeout:g} s)"
                    f"{who}; the revision was rolled back. Retrying in {pause} s "
                    f"(retry {self.attempt} of {self.retries})…"
                )
                time.sleep(pause)
                return True
            tries = f" (tried {self.attempt + 1} times)" if self.attempt else ""
            failure.message += (
                f" A table lock was not granted within ddl_lock_timeout "
                f"({self.timeout:g} s){tries}; "
                + (f"it was held by {held_by}." if held_by else "what held it was not seen.")
            )
            failure.hint = _HINT
        elif dialect in ("mysql", "mariadb") and _mysql_code(cause) == MYSQL_LOCK_WAIT_TIMEOUT:
            open_transactions = _mysql_open_transactions(self.connection)
            failure.message += (
                f" A table lock was not granted within ddl_lock_timeout ({self.timeout:g} s)"
                + (
                    f"; sessions with an open transaction (one holds the table's metadata "
                    f"lock): {open_transactions}."
                    if open_transactions
                    else "."
                )
            )
            failure.hint = _HINT
        return False


_HINT = (
    "End or wait for the sessions that hold the table, then run the command again "
    "(ddl_retries retries on PostgreSQL; ddl_lock_timeout / --ddl-lock-timeout waits longer)."
)


@contextmanager
def table_lock_timeout(
    connection: Connection, timeout: float | None, retries: int, notify: Callable[[str], None]
) -> Iterator[TableLockTimeout | None]:
    """Apply ``timeout`` (seconds, or None for the server's own) to ``connection`` while
    inside. Call this before Alembic is configured on the connection (it ends the
    transaction it reads in)."""
    if timeout is None or connection.dialect.name not in ("postgresql", "mysql", "mariadb"):
        yield None
        return
    from sqlalchemy import event

    limit = TableLockTimeout(connection, timeout, retries, notify)
    if connection.dialect.name != "postgresql":
        seconds = max(1, math.ceil(timeout))
        connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {seconds}")
        connection.commit()
        yield limit
        return

    milliseconds = max(1, round(timeout * 1000))

    def on_begin(conn: Connection) -> None:
        if limit.watcher is not None:
            limit.watcher.new_episode()  # what blocked an earlier transaction is not this one's
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        scope = "" if autocommit else "LOCAL "  # autocommit_block(): no transaction to scope
        conn.exec_driver_sql(f"SET {scope}lock_timeout = '{milliseconds}ms'")

    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    connection.commit()
    event.listen(connection, "begin", on_begin)
    try:
        with _watching(connection, int(pid or 0)) as watcher:
            limit.watcher = watcher
            yield limit
    finally:
        event.remove(connection, "begin", on_begin)


@contextmanager
def _watching(connection: Connection, pid: int) -> Iterator[_BlockerWatch | None]:
    """A thread with its own connection that notes what blocks session ``pid``."""
    if connection.dialect.is_async or not pid:
        yield None  # an async driver's connection belongs to its event loop
        return
    try:
        watch_connection = connection.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        )
    except Exception:
        yield None  # no second connection (connection limit): the failure says less
        return
    watch = _BlockerWatch(watch_connection, pid)
    try:
        watch.look()  # once here: whatever the query needs is imported on the main thread
        watch.start()
        yield watch
    finally:
        watch.stop()
        watch_connection.close()


class _BlockerWatch:
    def __init__(self, connection: Connection, pid: int) -> None:
        self.connection = connection
        self.pid = pid
        self.seen: dict[int, tuple[Any, ...]] = {}
        self.fresh = False  # True: the next blockers seen replace those seen before
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="migratectl-blockers", daemon=True)

    def look(self) -> None:
        rows = self.connection.exec_driver_sql(_BLOCKERS, {"pid": self.pid}).all()
        if rows and self.fresh:
            self.seen, self.fresh = {}, False
        for row in rows:
            self.seen[row[0]] = tuple(row)

    def new_episode(self) -> None:
        self.fresh = True

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        with guarded(threading.get_ident()):
            while not self.stopped.wait(_WATCH_EVERY):
                try:
                    self.look()
                except Exception:
                    return

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def forget(self) -> None:
        self.seen = {}

    def describe(self) -> str | None:
        if not self.seen:
            return None
        return "; ".join(_describe_session(row) for row in self.seen.values())


def _describe_session(row: tuple[Any, ...]) -> str:
    pid, application, state, query_start, query = row
    parts = [f"application_name {application!r}" if application else "no application_name"]
    if state:
        parts.append(f"state {state}")
    if query_start is not None:
        parts.append(f"query started {query_start:%Y-%m-%d %H:%M:%S %Z}".rstrip())
    if query:
        parts.append(f"query {query!r}")
    return f"PostgreSQL session pid {pid} ({', '.join(parts)})"


def _sqlstate(exc: BaseException | None) -> str | None:
    original = getattr(exc, "orig", None) or exc
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def _mysql_code(exc: BaseException | None) -> int | None:
    original = getattr(exc, "orig", None) or exc
    args = getattr(original, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _mysql_open_transactions(connection: Connection) -> str:
    try:
        if connection.in_transaction():
            connection.rollback()
        rows = connection.exec_driver_sql(_MYSQL_TRANSACTIONS).all()
        connection.rollback()
    except Exception:
        return ""
    return "; ".join(
        f"connection {thread_id} (user {user}@{host}, {command} for {seconds} s, "
        f"transaction started {started})"
        for thread_id, user, host, command, seconds, started in rows
    )
