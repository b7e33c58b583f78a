"""The scratch database of ``adopt`` and ``verify``: empty, same dialect, never the real one.

SQLite gets a temporary file (an in-memory database would not survive the several connections
Alembic opens). A server gets a temporary database created beside the configured one and
dropped afterwards, even when the command fails or is interrupted. ``--scratch-url`` names one
explicitly: for a login that may not create databases.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migratectl.database.engines import is_memory_sqlite, parse_url, run_with_connection
from migratectl.errors import UsageError
from migratectl.output import Output, mask_url
from migratectl.settings import Settings
from migratectl.settings.sources import resolve_sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


@contextmanager
def scratch_database(
    settings: Settings, *, scratch_url: str | None = None, output: Output | None = None
) -> Iterator[str]:
    """The URL of an empty database of the configured database's dialect, for this block."""
    output = output or Output()
    configured = settings.require_database_url()
    require_single_database(settings)
    if scratch_url:
        yield _explicit_scratch(configured, scratch_url, settings, output)
        return
    url = parse_url(configured)
    if url.get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(prefix="migratectl-scratch-") as folder:
            scratch = url.set(database=str(Path(folder) / "scratch.db"), query={})
            yield scratch.render_as_string(hide_password=False)
        return
    with _server_scratch(configured, output) as url:
        yield url


def require_single_database(settings: Settings) -> None:
    """Refuse [binds.*]: only the default database is replaced by the scratch one, so the
    revisions would reach the binds' real databases."""
    if settings.binds:
        raise UsageError(
            "adopt and verify do not handle multi-database projects ([binds.*]) yet: the "
            "revisions would reach the binds' real databases.",
            hint="Run them on a single-database project.",
        )


def _explicit_scratch(configured: str, scratch_url: str, settings: Settings, output: Output) -> str:
    url = resolve_sqlite_path(scratch_url, Path.cwd())
    output.add_secret(parse_url(url).password)
    if same_database(url, configured):
        raise UsageError(
            f"The scratch database {mask_url(url)} is the configured database.",
            hint="--scratch-url must name another, empty database: the scratch database's "
            "tables are created and dropped.",
        )
    scratch_backend = _family(parse_url(url).get_backend_name())
    configured_backend = _family(parse_url(configured).get_backend_name())
    if scratch_backend != configured_backend:
        output.warn(
            f"The scratch database is {scratch_backend}, the configured database "
            f"{configured_backend}: what is proved there may not hold for the real one."
        )
    version_table = settings.configure.get("version_table", "alembic_version")
    found = run_with_connection(
        url, lambda connection: user_objects(connection, version_table), readonly=True
    )
    if found:
        raise UsageError(
            f"The scratch database {mask_url(url)} is not empty: " + ", ".join(found) + ".",
            hint="Give --scratch-url an empty database (drop and re-create it).",
        )
    return url


def user_objects(connection: Connection, version_table: str) -> list[str]:
    """The tables (but the version table) and PostgreSQL enum types in the default schema."""
    from sqlalchemy import inspect

    tables = [
        f"table {name}"
        for name in sorted(inspect(connection).get_table_names())
        if name != version_table
    ]
    return tables + [f"enum type {name}" for name in enum_types(connection)]


def enum_types(connection: Connection) -> list[str]:
    """PostgreSQL's enum types in the current schema (other dialects have none to leave)."""
    from sqlalchemy import text

    if connection.dialect.name != "postgresql":
        return []
    rows = connection.execute(
        text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.typtype = 'e' AND n.nspname = current_schema() ORDER BY t.typname"
        )
    )
    return [row[0] for row in rows]


@contextmanager
def _server_scratch(configured: str, output: Output) -> Iterator[str]:
    """CREATE DATABASE on the configured database's server; DROP it when the block ends."""
    from sqlalchemy.exc import DBAPIError

    url = parse_url(configured)
    name = f"migratectl_scratch_{uuid.uuid4().hex[:12]}"

    def create(connection: Connection) -> None:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
            raise UsageError(
                f"Cannot create a scratch database on the server of {mask_url(configured)}: "
                f"{reason}",
                hint="Let the login create databases (PostgreSQL: CREATEDB; MariaDB/MySQL: the "
                "CREATE privilege), or pass --scratch-url URL naming an empty database to use.",
            ) from None

    admin = _admin_url(configured)
    run_with_connection(admin, create, readonly=False)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name, output)


def _admin_url(configured: str) -> str:
    """Where to send CREATE / DROP DATABASE: the server itself, not the configured database.

    MySQL needs no database; PostgreSQL connects to one, and the configured database may not
    exist yet, so its maintenance database is the fallback.
    """
    from migratectl.errors import DatabaseError

    url = parse_url(configured)
    if _family(url.get_backend_name()) == "mysql":
        return url.set(database=None).render_as_string(hide_password=False)
    try:
        run_with_connection(configured, lambda connection: None, readonly=True)
        return configured
    except DatabaseError:
        fallback = url.set(database="postgres").render_as_string(hide_password=False)
        try:
            run_with_connection(fallback, lambda connection: None, readonly=True)
        except DatabaseError:
            pass
        else:
            return fallback
        raise


def _drop(admin: str, name: str, output: Output) -> None:
    def drop(connection: Connection) -> None:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        force = connection.dialect.name == "postgresql" and (
            connection.dialect.server_version_info or (0,)
        ) >= (13,)
        connection.exec_driver_sql(
            f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if force else "")
        )

    try:
        run_with_connection(admin, drop, readonly=False)
    except Exception as exc:  # the command's own outcome matters more; say what is left
        output.warn(f"Could not drop the scratch database {name}: {exc}. Drop it by hand.")


def same_database(first: str, second: str) -> bool:
    """Whether two URLs name the same database (same server and name, or same SQLite file)."""
    a, b = parse_url(first), parse_url(second)
    family = _family(a.get_backend_name())
    if family != _family(b.get_backend_name()):
        return False
    if family == "sqlite":
        if is_memory_sqlite(a) or is_memory_sqlite(b):
            return False  # every in-memory database is private to its connection
        return os.path.realpath(a.database) == os.path.realpath(b.database)
    return _server_key(a, family) == _server_key(b, family)


def _server_key(url: Any, family: str) -> tuple[str, int | None, str | None]:
    host = (url.host or "").lower()
    host = "localhost" if host in _LOCAL_HOSTS else host
    return host, url.port or _DEFAULT_PORTS.get(family), url.database


def _family(backend: str) -> str:
    return "mysql" if backend == "mariadb" else backend
