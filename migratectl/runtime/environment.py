"""``run_migrations(context)``: env.py for one database. Offline it prints SQL; online it
connects, takes the migration lock (re-reading the revisions under it), sets the session's
timeouts and runs each revision in its own transaction, with failures described.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from migratectl.database.engines import parse_url, run_with_connection, with_available_driver
from migratectl.errors import (
    MigrationFailed,
)
from migratectl.output import Output
from migratectl.runtime.applied import AppliedRevisions, StatementLog
from migratectl.runtime.context import (
    APPLIED,
    LOCK_TIMEOUT,
    OUTPUT,
    WRITES,
    chain_callbacks,
    check_targets,
    configure_options,
    load_target_metadata,
    reclaim_logging,
    settings_of,
    wants_models,
)
from migratectl.runtime.failures import failures_reported
from migratectl.runtime.progress import RevisionProgress

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def run_migrations(context: Any, **overrides: Any) -> None:
    """Run this migration repository's migrations: the body of a migratectl env.py.

    Keyword arguments are passed on to ``context.configure()`` and win over migratectl.toml
    (for example ``include_object=my_filter``).
    """
    config = context.config
    check_targets(context)
    settings = settings_of(config)
    settings.activate_sys_path()
    options = configure_options(settings, overrides)
    if wants_models(context) and "target_metadata" not in overrides:
        options["target_metadata"] = load_target_metadata(settings.models, settings)
    reclaim_logging(context)

    if context.is_offline_mode():
        url = settings.require_database_url()
        if parse_url(url).get_backend_name() == "sqlite":
            from migratectl.runtime.sqlite_offline import run_offline_on_scratch

            with failures_reported(context, None):
                run_offline_on_scratch(context, options)
            return
        context.configure(
            url=with_available_driver(parse_url(url)),
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        with failures_reported(context, None), context.begin_transaction():
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
    with migration_locks(context, {"": connection}, options):
        configure_and_run(context, connection, options, owns_engine=owns_engine)


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
def migration_locks(
    context: Any, connections: dict[str, Connection], options: dict[str, Any]
) -> Iterator[None]:
    """Hold the migration lock of every database (in name order, so two runs never deadlock)."""
    from migratectl.database.locking import migration_lock

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


def configure_and_run(
    context: Any,
    connection: Connection,
    options: dict[str, Any],
    *,
    owns_engine: bool,
    **run_kwargs: Any,
) -> None:
    """configure() the context on ``connection`` and run the migrations (or comparison)."""
    from sqlalchemy import event

    from migratectl.database.table_locks import table_lock_timeout

    log = StatementLog(implicit_ddl_commit=connection.dialect.name in ("mysql", "mariadb"))
    output: Output = context.config.attributes.get(OUTPUT) or Output()
    progress = RevisionProgress(output)
    options = dict(options)
    applied: AppliedRevisions | None = context.config.attributes.get(APPLIED)
    options["on_version_apply"] = chain_callbacks(
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
    settings = settings_of(context.config)
    migrates = owns_engine and context.config.attributes.get(WRITES, True)
    ddl_timeout = settings.ddl_lock_timeout if migrates and not wants_models(context) else None
    event.listen(connection, "after_cursor_execute", log.after_execute)
    event.listen(connection, "commit", log.commit)
    try:
        with table_lock_timeout(connection, ddl_timeout, settings.ddl_retries, output.info) as ddl:
            context.configure(connection=connection, **options)
            if wants_models(context):
                from migratectl.database.reflection import install

                install(context.get_context())
            else:
                progress.watch(context.get_context())
                if applied is not None:
                    applied.watch(context.get_context())
                log.watch(context.get_context())
            while True:
                try:
                    with progress, failures_reported(context, log), context.begin_transaction():
                        context.run_migrations(**run_kwargs)
                    break
                except MigrationFailed as failure:
                    if ddl is None or not ddl.retry(failure):  # ddl_retries: run it again
                        raise
    finally:
        event.remove(connection, "commit", log.commit)
        event.remove(connection, "after_cursor_execute", log.after_execute)
