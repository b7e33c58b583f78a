"""``check``: is the database at head, and do the models agree with it? On a server, the
connection and the catalogue are read in a thread while the models import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migratectl.database.engines import connection_ahead, connects_over_network, run_with_connection
from migratectl.output import Output
from migratectl.repository.comparison import compare, describe_operations
from migratectl.repository.config import (
    build_config,
    in_project,
    is_multidb,
    require_repository,
    resolve_settings,
    script_directory,
)
from migratectl.repository.revisions import pending_revisions
from migratectl.repository.state import CurrentState, current_state, read_all_heads, version_table
from migratectl.repository.translation import translate_errors
from migratectl.runtime.context import load_target_metadata
from migratectl.settings import Settings

if TYPE_CHECKING:
    pass


@in_project
def check(settings: Settings | None = None, *, output: Output | None = None) -> CheckResult:
    """Do the models and the database agree, and is the database at head?"""
    settings = resolve_settings(settings)
    if is_multidb(settings):
        return _check(settings, output, None)
    require_repository(settings)
    url = settings.require_database_url()
    if not connects_over_network(url):
        return run_with_connection(
            url, lambda connection: _check(settings, output, connection), readonly=True
        )
    # One connection for both questions. Behind a network, connecting and reading the
    # catalogue is mostly waiting: a thread does it while this one imports the models.
    with connection_ahead(url, lambda connection: _read_ahead(settings, connection)) as (wait):
        _import_ahead(settings)
        with translate_errors(settings):
            connection, heads = wait()
        return _check(settings, output, connection, heads)


def _read_ahead(settings: Settings, connection: Any) -> dict[str, list[str]]:
    """The version table, then the catalogue as autogenerate will ask for it."""
    from migratectl.database.reflection import prefetch

    heads = read_all_heads(settings, connection)
    if not settings.configure.get("include_schemas"):
        # With every schema compared Alembic asks its questions otherwise: nothing to serve.
        name, schema = version_table(settings)
        prefetch(connection, version_table=name, version_table_schema=schema)
    return heads


def _import_ahead(settings: Settings) -> None:
    """Import what the comparison will use: Alembic's autogenerate and the models. A failure
    is left for the comparison to report, as it would without this."""
    try:
        import alembic.autogenerate  # noqa: F401

        if settings.models:
            load_target_metadata(settings.models, settings)
    except Exception:
        return


def _check(
    settings: Settings,
    output: Output | None,
    connection: Any,
    heads: dict[str, list[str]] | None = None,
) -> CheckResult:
    state, by_database = _pending_by_database(settings, output, connection, heads)
    pending = list(dict.fromkeys(rev for revs in by_database.values() for rev in revs))
    if pending:
        behind = {name: revs for name, revs in by_database.items() if revs}
        return CheckResult(state.database, [], pending, pending_by_database=behind)
    multidb = bool(state.binds)
    operations: list[str] = []
    # No revision yet: the models' tables the database already holds make it one for adopt.
    present: list[str] | None = [] if not state.heads else None
    for ops in compare(settings, output, connection, tables_present=present):
        name = (getattr(ops, "upgrade_token", "") or "").removesuffix("_upgrades")
        prefix = f"[{name or 'default'}] " if multidb else ""
        operations.extend(prefix + line for line in describe_operations(ops))
    return CheckResult(
        state.database, operations=operations, pending=[], needs_adopt=sorted(present or [])
    )


def _pending_by_database(
    settings: Settings,
    output: Output | None,
    connection: Any,
    heads: dict[str, list[str]] | None,
) -> tuple[CurrentState, dict[str, list[str]]]:
    """Each database's pending revisions. The scripts loaded here are let go before the
    comparison loads them again (a large initial revision is megabytes of code)."""
    with translate_errors(settings):
        script = script_directory(build_config(settings, output))
    state = current_state(settings, output, connection, heads, script=script)
    with translate_errors(settings):
        by_database = {
            name: [s.revision for s in pending_revisions(script, revs)]
            for name, (_, revs) in state.databases().items()
        }
    return state, by_database


@dataclass
class CheckResult:
    database: str
    operations: list[str]
    pending: list[str]
    # Multi-database repositories: name -> pending revision ids, for databases behind head.
    pending_by_database: dict[str, list[str]] = field(default_factory=dict)
    # The repository has no revision, and the database already holds these models' tables.
    needs_adopt: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not self.operations and not self.pending and not self.needs_adopt

    def as_json(self) -> dict[str, Any]:
        """``check --json``."""
        return {
            "up_to_date": self.up_to_date,
            "operations": self.operations,
            "pending": self.pending,
        }
