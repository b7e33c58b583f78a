"""env.py of a multi-database repository: every database's connection, lock and
``upgrade_<name>()`` / ``downgrade_<name>()`` functions (``[binds.NAME]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migratectl.database.engines import parse_url, run_with_connections, with_available_driver
from migratectl.errors import (
    ConfigError,
    MigrationFailed,
)
from migratectl.output import Output, mask_url
from migratectl.runtime.context import (
    OUTPUT,
    WRITES,
    check_targets,
    configure_options,
    load_target_metadata,
    reclaim_logging,
    settings_of,
    wants_models,
)
from migratectl.runtime.environment import (
    configure_and_run,
    end_statements_of_a_dead_client,
    migration_locks,
)
from migratectl.runtime.failures import failures_reported
from migratectl.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


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
    settings = settings_of(config)
    settings.activate_sys_path()
    options = configure_options(settings, overrides)
    urls = settings.all_database_urls()
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
                url=with_available_driver(parse_url(url)),
                literal_binds=True,
                dialect_opts={"paramstyle": "named"},
                output_buffer=buffer,
                **options_for(name),
            )
            with failures_reported(context, None), context.begin_transaction():
                context.run_migrations(engine_name=name)
        return

    def run_all(connections: dict[str, Connection]) -> None:
        if config.attributes.get(WRITES, True):
            for connection in connections.values():
                end_statements_of_a_dead_client(connection)
        with migration_locks(context, connections, options):
            for name, connection in connections.items():
                if len(connections) > 1 and not wants_models(context):
                    output.info(f"Database {database_label(name)}:")
                try:
                    configure_and_run(
                        context, connection, options_for(name), owns_engine=True, engine_name=name
                    )
                except MigrationFailed as failure:
                    failure.message = f"In database {database_label(name)}: {failure.message}"
                    raise

    run_with_connections(urls, run_all, readonly=not config.attributes.get(WRITES, True))
