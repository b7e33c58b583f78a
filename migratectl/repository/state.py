"""Where each database is: its version table read read-only (without Alembic where it
can), and :class:`CurrentState`, what ``current`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migratectl.database.engines import run_with_connections
from migratectl.output import Output, mask_url
from migratectl.repository.config import (
    build_config,
    is_multidb,
    require_repository,
    script_directory,
)
from migratectl.repository.revisions import check_known
from migratectl.repository.translation import translate_errors
from migratectl.settings import Settings

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


@dataclass
class CurrentState:
    database: str
    current: list[str]
    heads: list[str]
    # The other databases of a multi-database repository: name -> (masked URL, revisions).
    binds: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return all(set(revs) == set(self.heads) for _, revs in self.databases().values())

    def databases(self) -> dict[str, tuple[str, list[str]]]:
        """Every database: name ("" for the default) -> (masked URL, current revisions)."""
        return {"": (self.database, self.current), **self.binds}

    def as_json(self) -> dict[str, Any]:
        """``current --json``: a multi-database repository's other databases under "binds"."""
        document: dict[str, Any] = {
            "database": self.database,
            "current": self.current,
            "heads": self.heads,
            "up_to_date": self.up_to_date,
        }
        if self.binds:
            document["binds"] = {
                name: {
                    "database": url,
                    "current": revs,
                    "up_to_date": set(revs) == set(self.heads),
                }
                for name, (url, revs) in self.binds.items()
            }
        return document


def version_table(settings: Settings) -> tuple[str, str | None]:
    """The version table's name and schema, from ``[configure]`` (Alembic's defaults)."""
    configure = settings.configure
    return configure.get("version_table", "alembic_version"), configure.get("version_table_schema")


def database_urls(settings: Settings) -> dict[str, str]:
    """The databases this repository migrates: name ("" for the default) -> URL."""
    if is_multidb(settings):
        return settings.all_database_urls()
    return {"": settings.require_database_url()}


def read_all_heads(settings: Settings, connection: Any = None) -> dict[str, list[str]]:
    """Each database's stamped revisions (read-only: creates nothing, not even a file).

    ``connection``: the (only) database's, already open. The version table is read as
    Alembic's MigrationContext reads it, without importing Alembic.
    """
    name, schema = version_table(settings)

    def read(connections: dict[str, Any]) -> dict[str, list[str]]:
        from sqlalchemy import column, select, table

        version = table(name, column("version_num"), schema=schema)
        return {
            db: (
                [row[0] for row in conn.execute(select(version.c.version_num))]
                if conn.dialect.has_table(conn, name, schema)
                else []
            )
            for db, conn in connections.items()
        }

    if connection is not None:
        return read({"": connection})
    return run_with_connections(database_urls(settings), read, readonly=True)


def read_database_heads(settings: Settings) -> list[str]:
    """The revisions the (default) database is stamped with (read-only: creates nothing)."""
    return read_all_heads(settings)[""]


def current_state(
    settings: Settings,
    output: Output | None,
    connection: Any,
    all_heads: dict[str, list[str]] | None = None,
    *,
    script: ScriptDirectory | None = None,
) -> CurrentState:
    """``current``, given the databases' revisions when they were read already, and the
    scripts when the caller loaded them with Alembic already."""
    from migratectl.repository.revision_graph import read_heads

    require_repository(settings)
    url = settings.require_database_url()
    urls = database_urls(settings)
    graph = None if script is not None else read_heads(settings)  # without Alembic if it can
    if all_heads is None:
        with translate_errors(settings):
            all_heads = read_all_heads(settings, connection)
    if graph is not None and all(rev in graph[1] for revs in all_heads.values() for rev in revs):
        heads = graph[0]
    else:  # Alembic reads the files, and names what is wrong with them or the database
        with translate_errors(settings):
            if script is None:
                script = script_directory(build_config(settings, output))
            heads = list(script.get_heads())
            for db_heads in all_heads.values():
                check_known(script, db_heads, settings)
    binds = {name: (mask_url(urls[name]), revs) for name, revs in all_heads.items() if name}
    return CurrentState(mask_url(url), all_heads[""], heads, binds=binds)
