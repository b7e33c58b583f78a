"""The scratch database of ``adopt`` and ``verify``: empty, same dialect, never the real one.

SQLite gets a temporary file (an in-memory database would not survive the several connections
Alembic opens). A server gets a temporary database created beside the configured one and
dropped afterwards, even when the command fails or is interrupted. ``--scratch-url`` names one
explicitly: for a login that may not create databases; it is emptied afterwards (tables, views,
the version table, PostgreSQL sequences and types), whatever happened, so a rerun finds it
empty again.

A multi-database repository gets a twin per database, chosen by the same rules from each
database's own URL; ``--scratch-url NAME=URL`` names the twin of ``[binds.NAME]``.
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
    with scratch_databases(
        settings, {"": scratch_url} if scratch_url else {}, output=output, binds=False
    ) as urls:
        yield urls[""]


@contextmanager
def scratch_databases(
    settings: Settings,
    explicit: dict[str, str] | None = None,
    *,
    output: Output | None = None,
    binds: bool = True,
) -> Iterator[dict[str, str]]:
    """A scratch twin for every database (name -> URL; "" is the default one), each of the
    dialect of the database it stands for; ``explicit`` names some of them (``--scratch-url``).

    Whatever happens in the block — a failed revision, an interrupt — each twin is left as
    empty as it was found: an explicit one is emptied, a temporary one removed.
    """
    from contextlib import ExitStack

    output = output or Output()
    explicit = dict(explicit or {})
    configured = {"": settings.require_database_url()}
    if binds:
        configured.update(settings.all_database_urls())
    else:
        require_single_database(settings)
    unknown = sorted(set(explicit) - set(configured))
    if unknown:
        known = ", ".join(repr(name) for name in configured if name) or "none"
        raise UsageError(
            f"--scratch-url names the database {unknown[0]!r}, which the configuration does "
            f"not have (its [binds.NAME] databases: {known}).",
            hint="Write --scratch-url URL for the default database and "
            "--scratch-url NAME=URL for the database of [binds.NAME].",
        )
    version_table = settings.configure.get("version_table", "alembic_version")
    others = list(configured.values())
    with ExitStack() as stack:
        urls: dict[str, str] = {}
        for name, url in configured.items():
            if name in explicit:
                chosen = _explicit_scratch(url, explicit[name], others, version_table, output)
                urls[name] = chosen
                stack.callback(empty_database, chosen, output)
            else:
                urls[name] = stack.enter_context(_temporary_scratch(url, output))
        chosen_twins = list(urls.values())
        if len(set(chosen_twins)) != len(chosen_twins):
            raise UsageError(
                "Two databases were given the same scratch database.",
                hint="Give each database of the repository its own --scratch-url NAME=URL.",
            )
        yield urls


def parse_scratch_urls(values: list[str] | None) -> dict[str, str]:
    """``--scratch-url URL`` (the default database) and ``--scratch-url NAME=URL`` (the
    database of ``[binds.NAME]``) as name -> URL."""
    found: dict[str, str] = {}
    for value in values or []:
        name, equals, rest = value.partition("=")
        if equals and name and ":" not in name and "/" not in name:
            key, url = name, rest
        else:
            key, url = "", value
        if key in found:
            which = f"the database of [binds.{key}]" if key else "the default database"
            raise UsageError(
                f"--scratch-url is given twice for {which}.",
                hint="Give one --scratch-url per database.",
            )
        found[key] = url
    return found


@contextmanager
def _temporary_scratch(configured: str, output: Output) -> Iterator[str]:
    url = parse_url(configured)
    if url.get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(prefix="migratectl-scratch-") as folder:
            scratch = url.set(database=str(Path(folder) / "scratch.db"), query={})
            yield scratch.render_as_string(hide_password=False)
        return
    with _server_scratch(configured, output) as scratch_url:
        yield scratch_url


def require_single_database(settings: Settings) -> None:
    """Refuse [binds.*]: only the default database is replaced by the scratch one, so the
    revisions would reach the binds' real databases."""
    if settings.binds:
        raise UsageError(
            "adopt and verify do not handle multi-database projects ([binds.*]) yet: the "
            "revisions would reach the binds' real databases.",
            hint="Run them on a single-database project.",
        )


def _explicit_scratch(
    configured: str,
    scratch_url: str,
    every_configured: list[str],
    version_table: str,
    output: Output,
) -> str:
    url = resolve_sqlite_path(scratch_url, Path.cwd())
    output.add_secret(parse_url(url).password)
    if any(same_database(url, real) for real in every_configured):
        which = (
            "the configured database"
            if same_database(url, configured)
            else ("one of the configured databases")
        )
        raise UsageError(
            f"The scratch database {mask_url(url)} is {which}.",
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
    """The tables (but the version table), views, and PostgreSQL enum types and sequences in
    the default schema."""
    from sqlalchemy import inspect

    inspector = inspect(connection)
    tables = [
        f"table {name}" for name in sorted(inspector.get_table_names()) if name != version_table
    ]
    views = [f"view {name}" for name in sorted(inspector.get_view_names())]
    sequences = [f"sequence {name}" for name in _sequences(connection)]
    return tables + views + [f"enum type {name}" for name in enum_types(connection)] + sequences


def enum_types(connection: Connection) -> list[str]:
    """PostgreSQL's enum types in the current schema (other dialects have none to leave)."""
    return _postgresql_types(connection, "e")


def _postgresql_types(connection: Connection, kind: str) -> list[str]:
    from sqlalchemy import text

    if connection.dialect.name != "postgresql":
        return []
    rows = connection.execute(
        text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.typtype = :kind AND n.nspname = current_schema() ORDER BY t.typname"
        ),
        {"kind": kind},
    )
    return [row[0] for row in rows]


def _sequences(connection: Connection) -> list[str]:
    """PostgreSQL's sequences in the current schema (MariaDB's are tables to its inspector)."""
    from sqlalchemy import text

    if connection.dialect.name != "postgresql":
        return []
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema() ORDER BY c.relname"
        )
    )
    return [row[0] for row in rows]


def empty_database(url: str, output: Output) -> None:
    """Drop everything a history can leave in a scratch database — views, tables, the version
    table, PostgreSQL sequences, enum and domain types — so that it is as empty as it was
    found. Never raises: the command's own outcome matters more, so a failure is a warning
    that says what to drop by hand."""
    try:
        run_with_connection(url, drop_everything, readonly=False)
    except BaseException as exc:
        output.warn(
            f"Could not empty the scratch database {mask_url(url)}: "
            f"{_first_line(exc) or type(exc).__name__}. Drop what is left in it by hand."
        )
        if not isinstance(exc, Exception):
            raise


def drop_everything(connection: Connection) -> None:
    """Drop every view, table (the version table too), and PostgreSQL sequence, enum and
    domain type in the connection's default schema; commits."""
    from sqlalchemy import inspect

    dialect = connection.dialect.name
    quote = connection.dialect.identifier_preparer.quote
    inspector = inspect(connection)
    views = inspector.get_view_names()
    tables = inspector.get_table_names()
    if dialect == "postgresql":
        for name in views:
            connection.exec_driver_sql(f"DROP VIEW IF EXISTS {quote(name)} CASCADE")
        for name in tables:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)} CASCADE")
        for name in _sequences(connection):
            connection.exec_driver_sql(f"DROP SEQUENCE IF EXISTS {quote(name)} CASCADE")
        for kind, word in (("d", "DOMAIN"), ("e", "TYPE")):
            for name in _postgresql_types(connection, kind):
                connection.exec_driver_sql(f"DROP {word} IF EXISTS {quote(name)} CASCADE")
    else:
        # Foreign keys between the tables must not decide the order they are dropped in:
        # SQLite checks them at commit, when every table is gone; MySQL not at all meanwhile.
        if dialect == "sqlite":
            connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        else:
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        for name in views:
            connection.exec_driver_sql(f"DROP VIEW IF EXISTS {quote(name)}")
        for name in tables:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")
        if dialect != "sqlite":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    if connection.in_transaction():
        connection.commit()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else ""


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
